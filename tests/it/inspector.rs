//! The live inspector in a real browser: headless Chromium (driven over the DevTools protocol
//! by `headless_chrome`) opens `pbxsim listen --ui` while `pbxsim run` plays a scenario at it.
//! Calls appear without a reload, a call's timeline lists its events in the order sent, a
//! violation is marked, replaying an event (and an edited body) reaches a local receiver with
//! the listen token, the page never holds the token, and a screenshot is non-empty.
//!
//! Without Chromium the test skips loudly, except under `CI=true`, where it fails.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use headless_chrome::Tab;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use serde_json::Value;

use crate::support::browser::{chromium_or_skip, launch};
use crate::support::deliver::Receiver;

const TOKEN: &str = "insp-s3cret-7731";
const SCENARIO: &str = "scenarios/queue-outcomes.toml";
const SEED: &str = "7";
const START: &str = "2024-03-01T09:00:00Z";
/// The longest any one wait in the page may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// Kills the child when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `pbxsim listen --ui` on port 0, and the inspector's URL it prints.
fn listen() -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pbxsim"))
        .args(["listen", "--ui", "--port", "0", "--quiet", "--token", TOKEN])
        .env_remove("PBXSIM_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("pbxsim listen starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("listen prints the inspector's URL").unwrap();
        if let Some(rest) = line.strip_prefix("inspector: ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining its output so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Killed(child), url)
}

/// The events a deterministic run sends, per call, in order: from its dry run.
fn expected_order() -> BTreeMap<String, Vec<String>> {
    let out = Command::new(env!("CARGO_BIN_EXE_pbxsim"))
        .args(["run", SCENARIO, "--dry-run", "--seed", SEED, "--start-time", START])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut calls: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines().filter(|l| l.starts_with('{')) {
        let event: Value = serde_json::from_str(line).unwrap();
        let id = event["unique_call_id"].as_str().unwrap().to_string();
        calls.entry(id).or_default().push(event["type"].as_str().unwrap().to_string());
    }
    assert!(calls.len() >= 3, "{calls:?}");
    calls
}

/// POST a body over plain HTTP/1.1 and return the status code.
fn post(url: &str, body: &str) -> u16 {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) =
        rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         X-Pbx-Token: {TOKEN}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// GET over plain HTTP/1.1: the status code and the body.
fn get(url: &str, key: Option<&str>) -> (u16, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) =
        rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let key = key.map(|k| format!("X-Pbxsim-Key: {k}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\n{key}Connection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let code = answer.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (code, body)
}

/// Evaluate the expression `js` in the page and return its value as JSON.
fn eval(tab: &Tab, js: &str) -> Value {
    let wrapped = format!("JSON.stringify(({js}))");
    let result = tab.evaluate(&wrapped, false).unwrap_or_else(|e| panic!("{js}: {e}"));
    match result.value {
        Some(Value::String(json)) => serde_json::from_str(&json).unwrap(),
        _ => Value::Null,
    }
}

/// Wait until `js` evaluates to something truthy; fail with `what` after [`PATIENCE`].
fn wait_for(tab: &Tab, what: &str, js: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let v = eval(tab, js);
        let truthy = !matches!(&v, Value::Null | Value::Bool(false)) && v != 0 && v != "";
        if truthy {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_inspector_shows_calls_live_with_timelines_violations_and_replay() {
    let Some(chromium) = chromium_or_skip("the inspector's browser test") else { return };
    let expected = expected_order();
    let replay_target = Receiver::ok();
    let (_listen, url) = listen();
    let hook = format!("{url}hook");

    let browser = launch(chromium, "inspector");
    let tab = browser.new_tab().unwrap();
    tab.navigate_to(&url).unwrap().wait_until_navigated().unwrap();
    wait_for(&tab, "the live stream", "document.getElementById('live').textContent === 'live'");
    assert_eq!(eval(&tab, "document.querySelectorAll('#calls tbody tr').length"), 0);
    // A reload would lose this.
    eval(&tab, "window.__notReloaded = true");

    // A scenario plays while the page is open: 3 calls over about 10 s.
    let mut run = Killed(
        Command::new(env!("CARGO_BIN_EXE_pbxsim"))
            .args(["run", SCENARIO, "--target", &hook, "--token", TOKEN, "--speed", "30"])
            .args(["--seed", SEED, "--start-time", START])
            .env_remove("PBXSIM_TOKEN")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&tab, "a first call", "document.querySelectorAll('#calls tbody tr').length >= 1");
    let status = run.0.wait().unwrap();
    assert!(status.success(), "the run exits 0: {status}");
    wait_for(
        &tab,
        "every call of the run",
        &format!("document.querySelectorAll('#calls tbody tr').length === {}", expected.len()),
    );
    assert_eq!(eval(&tab, "window.__notReloaded === true"), true, "the page was not reloaded");
    assert_eq!(
        eval(&tab, "document.querySelectorAll('#calls tbody tr.violation').length"),
        0,
        "a conformant run has no violation"
    );
    // Newest first.
    let keys =
        eval(&tab, "[...document.querySelectorAll('#calls tbody tr')].map(r => r.dataset.key)");
    let mut ids: Vec<String> = expected.keys().cloned().collect();
    ids.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, serde_json::json!(ids), "the newest call first");

    // A call's timeline: its events in the order they were sent.
    for (id, types) in &expected {
        eval(&tab, &format!("document.querySelector('#calls tr[data-key=\"{id}\"]').click()"));
        let shown = wait_for(
            &tab,
            "the timeline",
            &format!(
                "document.querySelector('.call-head h2')?.textContent.includes('{id}') && \
                 document.querySelectorAll('#timeline .event').length === {} && \
                 [...document.querySelectorAll('#timeline .event')].map(e => e.dataset.type)",
                types.len()
            ),
        );
        assert_eq!(shown, serde_json::json!(types), "call {id}");
        let times = eval(
            &tab,
            "[...document.querySelectorAll('#timeline .event .at')].map(e => e.textContent)",
        );
        assert!(
            times.as_array().unwrap().iter().all(|t| t.as_str().unwrap().contains("+")),
            "{times}"
        );
        if types.iter().any(|t| t == "user_inbound") {
            assert!(
                eval(&tab, "document.querySelectorAll('#axis .lane.ring .bar').length").as_u64()
                    > Some(0),
                "who rang is drawn"
            );
        }
    }

    // A violation: marked red in the list and next to the event that broke the rule.
    let bad = r#"{"type":"voicemail","unique_call_id":"777000","caller_id":"61400000009"}"#;
    assert_eq!(post(&hook, bad), 200);
    wait_for(
        &tab,
        "the bad call",
        "document.querySelector('#calls tr[data-key=\"777000\"].violation .mark')",
    );
    assert_eq!(
        eval(&tab, "document.querySelector('#counter-violations').textContent !== '0'"),
        true
    );
    eval(&tab, "document.querySelector('#calls tr[data-key=\"777000\"]').click()");
    let explained = wait_for(
        &tab,
        "the violation beside its event",
        "document.querySelector('#timeline .event[data-type=\"voicemail\"] .violation-box')?.textContent",
    );
    let explained = explained.as_str().unwrap();
    assert!(explained.contains("fields") && explained.contains("rule:"), "{explained}");
    // The violations-only filter keeps just that call.
    eval(&tab, "document.getElementById('filter-violations').click()");
    wait_for(&tab, "the filter", "document.querySelectorAll('#calls tbody tr').length === 1");
    eval(&tab, "document.getElementById('filter-violations').click()");

    // Replay one event of the first call to a local receiver.
    let (first_id, first_types) = expected.iter().next().unwrap();
    eval(&tab, &format!("document.querySelector('#calls tr[data-key=\"{first_id}\"]').click()"));
    wait_for(
        &tab,
        "the first call's timeline",
        &format!("document.querySelector('.call-head h2')?.textContent.includes('{first_id}')"),
    );
    let target = format!("{}/replayed", replay_target.url);
    eval(
        &tab,
        &format!(
            "(() => {{ const i = document.getElementById('replay-url'); i.value = '{target}'; \
             i.dispatchEvent(new Event('input')); \
             const e = document.querySelector('#timeline .event'); e.querySelector('.head').click(); \
             e.querySelector('button.replay-one').click(); return true }})()"
        ),
    );
    wait_for(&tab, "the replay", "document.getElementById('replay-result').dataset.status");
    assert_eq!(eval(&tab, "document.getElementById('replay-result').dataset.status"), "ok");
    let got = replay_target.received();
    assert_eq!(got.len(), 1, "one event replayed");
    assert_eq!(got[0].path, "/replayed");
    assert_eq!(got[0].header("x-pbx-token"), Some(TOKEN), "sent with the listen token");
    assert_eq!(got[0].json()["type"], first_types[0].as_str());
    assert_eq!(got[0].json()["unique_call_id"], first_id.as_str());

    // Edit and replay.
    eval(
        &tab,
        "(() => { const e = document.querySelector('#timeline .event'); \
         e.querySelector('button.edit').click(); const a = e.querySelector('textarea'); \
         const body = JSON.parse(a.value); body.caller_name = 'Edited In Page'; \
         a.value = JSON.stringify(body); delete document.getElementById('replay-result').dataset.status; \
         e.querySelector('button.send-edited').click(); return true })()",
    );
    wait_for(&tab, "the edited replay", "document.getElementById('replay-result').dataset.status");
    let got = replay_target.received();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].json()["caller_name"], "Edited In Page");
    assert_eq!(got[1].header("x-pbx-token"), Some(TOKEN));

    // The token is never in the page (headers show `***`).
    let html = tab.get_content().unwrap();
    assert!(!html.contains(TOKEN), "the page shows the token");
    assert!(html.contains("***"), "the token header is shown redacted");

    eval(&tab, "(document.getElementById('detail').scrollTop = 0, true)");
    let png = tab.capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true).unwrap();
    assert!(
        png.len() > 5_000 && png.starts_with(b"\x89PNG"),
        "a real screenshot: {} bytes",
        png.len()
    );
    let _ = std::fs::write(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("inspector.png"), &png);
}

#[test]
fn ui_needs_the_built_in_receiver() {
    for command in ["run", "load"] {
        let mut args = vec![command];
        if command == "run" {
            args.push(SCENARIO);
        }
        args.extend(["--ui", "--target", "http://127.0.0.1:9/hook"]);
        let out = Command::new(env!("CARGO_BIN_EXE_pbxsim")).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--ui") && err.contains("pbxsim listen --ui"), "{err}");
    }
}

/// `run --ui` with the built-in receiver prints the page's URL, plays, keeps the page open
/// with every call in it, and stops on Ctrl-C (SIGINT) with the receiver's summary.
#[test]
fn run_with_ui_keeps_the_page_open_until_ctrl_c() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pbxsim"))
        .args(["run", SCENARIO, "--ui", "--asap", "--quiet", "--seed", SEED, "--start-time", START])
        .env_remove("PBXSIM_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("inspector: ") {
            url = rest.split_whitespace().next().map(str::to_string);
        }
        let open = line.starts_with("the inspector stays open at");
        seen.push(line);
        if open {
            break;
        }
    }
    let mut child = Killed(child);
    let url = url.unwrap_or_else(|| panic!("no inspector URL in {seen:#?}"));
    let (code, html) = get(&url, None);
    assert_eq!(code, 200);
    let key =
        html.split("name=\"pbxsim-key\" content=\"").nth(1).unwrap().split('"').next().unwrap();
    let (code, list) = get(&format!("{url}_pbxsim/api/calls"), Some(key));
    assert_eq!(code, 200, "{list}");
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["matched"], expected_order().len(), "{list}");
    // Ctrl-C.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = child.0.wait().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "{status}: {rest:#?}");
    assert!(rest.iter().any(|l| l == "built-in receiver"), "{rest:#?}");
}

/// With `--output json`, `run --ui` and `load --ui` keep stdout for the JSON report: the
/// page's URL and "stays open" go to stderr, and after Ctrl-C stdout parses as one document.
#[test]
fn ui_with_output_json_keeps_stdout_for_the_report() {
    let run = ["run", SCENARIO, "--ui", "--asap", "--seed", SEED, "--start-time", START];
    let load = ["load", "--ui", "--asap", "--max-calls", "20", "--seed", SEED];
    for args in [&run[..], &load[..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pbxsim"))
            .args(args)
            .args(["--output", "json"])
            .env_remove("PBXSIM_TOKEN")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            stdout.read_to_string(&mut text).unwrap();
            text
        });
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        for line in stderr.by_ref() {
            let line = line.unwrap();
            let open = line.starts_with("the inspector stays open at");
            seen.push(line);
            if open {
                break;
            }
        }
        let mut child = Killed(child);
        assert!(seen.iter().any(|l| l.starts_with("inspector: http://127.0.0.1:")), "{seen:#?}");
        assert!(seen.iter().any(|l| l.starts_with("the inspector stays open")), "{seen:#?}");
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
        child.0.wait().unwrap();
        let _rest: Vec<String> = stderr.map_while(Result::ok).collect();
        let stdout = reader.join().unwrap();
        let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!("{}: stdout is not one JSON document ({e}): {stdout}", args[0])
        });
        assert!(report.is_object(), "{report}");
    }
}
