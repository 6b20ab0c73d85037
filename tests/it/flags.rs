//! Consistent, conventional flags, through the real binary against real receivers on
//! 127.0.0.1 port 0: `-H` on every command that posts (and its values never shown), the short
//! flags, `-v`'s per-event lines, `listen --token` more than once, one spelling for ring groups,
//! and flags that cannot apply refused with exit 2 before anything is sent.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::deliver::{Receiver, Reply};
use crate::support::robust::{OBJECT_KEY, TOKEN};
use crate::support::{self, pbxsim_output};

/// A header value that looks like an API key: it must never be printed or saved.
const CLI_KEY: &str = "cli-key-5b7e90aa-secret";

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The generated scenario (global events, and a webhook object `CRM` without a URL whose
/// events carry its own `X-Api-Key`) in a fresh directory.
fn scenario(calls: usize) -> (PathBuf, PathBuf) {
    let dir = support::tempdir("flags");
    let file = dir.join("s.toml");
    std::fs::write(&file, support::robust::scenario(calls, 2)).unwrap();
    (dir, file)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn header_goes_on_global_events_only_and_is_never_shown() {
    let (dir, file) = scenario(4);
    let journal = dir.join("failed.ndjson");
    let header = format!("X-Api-Key: {CLI_KEY}");
    // Every event fails, so each one is journalled.
    let rx = Receiver::start(|_, _| Reply::status(500));
    let run = pbxsim_output(&[
        "run",
        path(&file),
        "--asap",
        "--target",
        &rx.url,
        "-H",
        &header,
        "--header",
        "X-Env: staging",
        "--failed",
        path(&journal),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let received = rx.received();
    assert!(!received.is_empty());
    for r in &received {
        let body = r.json();
        let key = r.header("x-api-key");
        if body["type"] == "webhook_component_event" {
            // The webhook object keeps its own headers.
            assert_eq!(key, Some(OBJECT_KEY));
            assert_eq!(r.header("x-env"), None);
        } else {
            assert_eq!(key, Some(CLI_KEY), "{body}");
            assert_eq!(r.header("x-env"), Some("staging"));
            assert_eq!(r.header("x-pbx-token"), Some(TOKEN));
        }
    }
    let saved = std::fs::read_to_string(&journal).unwrap();
    assert!(saved.contains(r#""X-Api-Key":"***""#), "{saved}");
    assert!(saved.contains(r#""X-Env":"staging""#), "{saved}");

    let dry = pbxsim_output(&["run", path(&file), "--dry-run", "--envelope", "-H", &header]);
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(text(&dry).contains(r#""x-api-key":"***""#));

    // replay: the journal could not keep the key; -H gives it again.
    let again = Receiver::ok();
    let replay = pbxsim_output(&["replay", path(&journal), "--target", &again.url, "-H", &header]);
    assert!(replay.status.success(), "{}", text(&replay));
    let replayed = again.received();
    assert_eq!(replayed.len(), received.len());
    assert!(replayed.iter().all(|r| r.header("x-api-key") == Some(CLI_KEY)));
    let global = |r: &&support::deliver::Received| r.json()["type"] != "webhook_component_event";
    assert!(replayed.iter().filter(global).all(|r| r.header("x-env") == Some("staging")));

    for (name, out) in [("run", &run), ("dry run", &dry), ("replay", &replay)] {
        assert!(!text(out).contains(CLI_KEY), "{name} shows the header's value");
    }
    assert!(!saved.contains(CLI_KEY), "the journal holds the header's value");
}

#[test]
fn header_on_trigger_call_and_load() {
    let rx = Receiver::ok();
    let header = format!("X-Api-Key: {CLI_KEY}");
    let runs: [&[&str]; 3] = [
        &["trigger", "queue_call", "--target", &rx.url, "-H", &header],
        &["call", "inbound", "--target", &rx.url, "-H", &header],
        &["load", "--target", &rx.url, "--asap", "-n", "3", "-q", "-H", &header],
    ];
    for args in runs {
        let before = rx.count();
        let out = pbxsim_output(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(!text(&out).contains(CLI_KEY), "{args:?}");
        let got = &rx.received()[before as usize..];
        // Global events; the built-in PBX's webhook object keeps its own headers.
        let global: Vec<_> =
            got.iter().filter(|r| r.json()["type"] != "webhook_component_event").collect();
        assert!(!global.is_empty(), "{args:?}");
        assert!(global.iter().all(|r| r.header("x-api-key") == Some(CLI_KEY)), "{args:?}");
    }
}

#[test]
fn a_bad_retry_on_list_names_the_flag() {
    let out = pbxsim_output(&["load", "--retry-on", "conect,5xx", "--max-calls", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(
            "cannot read `conect` in --retry-on (did you mean `connect`?); write a comma list of \
             `connect`, `timeout`, `4xx`, `5xx` and status codes, like \
             `connect,timeout,429,5xx`, or `none`"
        ),
        "{}",
        text(&out)
    );
}

#[test]
fn bad_headers_are_usage_errors_that_never_repeat_the_value() {
    let rx = Receiver::ok();
    let (_, file) = scenario(1);
    let cases = [
        (format!("Authorization Bearer {CLI_KEY}"), "no colon"),
        (format!("X-Pbx-Token: {CLI_KEY}"), "--token"),
        (format!("Content-Type: {CLI_KEY}"), "sets this header itself"),
    ];
    for (header, says) in &cases {
        for cmd in [
            vec!["run", path(&file), "--asap", "--target", &rx.url],
            vec!["trigger", "voicemail", "--target", &rx.url],
        ] {
            let mut args = cmd.clone();
            args.extend(["-H", header]);
            let out = pbxsim_output(&args);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
            assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
            assert!(!text(&out).contains(CLI_KEY), "{args:?}: {}", text(&out));
        }
    }
    assert_eq!(rx.count(), 0, "nothing was sent");
}

#[test]
fn verbose_prints_a_line_per_event_delivered_or_failed() {
    let (_, file) = scenario(4);
    // Every second request fails.
    let rx = Receiver::start(|n, _| if n % 2 == 1 { Reply::status(503) } else { Reply::ok() });
    let out = pbxsim_output(&["run", path(&file), "--asap", "--target", &rx.url, "-v", "-c", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(1)
                .is_some_and(|t| pbxsim::event::EventType::ALL.iter().any(|e| e.as_str() == t))
        })
        .collect();
    assert_eq!(events.len() as u64, rx.count(), "{stdout}");
    for line in &events {
        let fields: Vec<&str> = line.split(' ').collect();
        // time, type, call id, status, latency[, failed: why]
        assert_eq!(fields[0].len(), "15:31:29.123".len(), "{line}");
        assert!(fields[2].chars().all(|c| c.is_ascii_digit()), "{line}");
        assert!(fields[4].ends_with("ms"), "{line}");
        match fields[3] {
            "200" => assert_eq!(fields.len(), 5, "{line}"),
            "503" => assert!(line.ends_with("failed: HTTP 503"), "{line}"),
            other => panic!("status {other} in {line}"),
        }
    }
    assert!(events.iter().any(|l| l.contains(" 503 ")), "{stdout}");
}

#[test]
fn short_flags_work_as_their_long_forms() {
    let rx = Receiver::ok();
    let out = pbxsim_output(&[
        "load", "--target", &rx.url, "-c", "2", "-n", "5", "-z", "30s", "-k", "-q",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("started 5"), "{}", text(&out));
    for (cmd, flags) in [
        (
            "run",
            &[
                "-H, --header",
                "-c, --concurrency",
                "-k, --insecure",
                "-v, --verbose",
                "-q, --quiet",
            ][..],
        ),
        ("load", &["-n, --max-calls", "-z, --duration", "-c, --concurrency", "-v, --verbose"][..]),
        ("replay", &["-H, --header", "-c, --concurrency", "-k, --insecure", "-v, --verbose"][..]),
        ("call", &["-H, --header", "-v, --verbose"][..]),
        ("trigger", &["-H, --header", "-k, --insecure"][..]),
        ("listen", &["-p, --port", "-q, --quiet"][..]),
    ] {
        let help = text(&pbxsim_output(&[cmd, "--help"]));
        for flag in flags {
            assert!(help.contains(flag), "{cmd} --help lacks {flag}");
        }
    }
}

#[test]
fn listen_accepts_any_of_several_tokens() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pbxsim"))
        .args(["listen", "-p", "0", "--token", "old-t0ken", "--token", "new-t0ken", "-q"])
        .env_remove("PBXSIM_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut first).unwrap();
    let url = first.trim().strip_prefix("listening on ").unwrap().to_string() + "/hook";
    let mut codes = Vec::new();
    for token in ["old-t0ken", "new-t0ken", "other"] {
        let out = pbxsim_output(&["trigger", "voicemail", "--target", &url, "--token", token]);
        codes.push(out.status.code());
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(codes, [Some(0), Some(0), Some(1)]);
}

#[test]
fn flags_that_cannot_apply_are_refused_before_anything_is_sent() {
    let rx = Receiver::ok();
    let (_, file) = scenario(1);
    let t = rx.url.as_str();
    let cases: &[(&[&str], &str)] = &[
        (&["call", "outbound", "--via", "queue:Support", "--target", t], "--via"),
        (&["call", "inbound", "--from", "1001", "--target", t], "--from"),
        (&["call", "inbound", "--outcome", "voicemail", "--record", "--target", t], "--record"),
        (&["call", "outbound", "--outcome", "no-answer", "--record", "--target", t], "--record"),
        (&["call", "inbound", "--outcome", "abandoned", "--talk", "30s", "--target", t], "--talk"),
        (
            &["call", "inbound", "--via", "user:1002", "--outcome", "timedout", "--target", t],
            "timedout",
        ),
        (&["call", "inbound", "--dry-run", "--retries", "3"], "--retries"),
        (&["run", path(&file), "--dry-run", "--failed", "f.ndjson"], "--failed"),
        (&["run", path(&file), "--dry-run", "-c", "4", "--asap"], "--concurrency, --asap"),
        (&["trigger", "voicemail", "--print", "--target", t], "--target"),
        (&["trigger", "voicemail", "--print", "-H", "X-Env: a"], "--header"),
        (&["replay", path(&file), "--target", t, "--chaos", "duplicate=1"], "--chaos"),
    ];
    for (args, names) in cases {
        let out = pbxsim_output(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(names), "{args:?}: {}", text(&out));
    }
    assert_eq!(rx.count(), 0, "nothing was sent");
    // What does apply still works: the token from the environment with --print, --talk with
    // an answer, the sending flags without --dry-run.
    let out = Command::new(env!("CARGO_BIN_EXE_pbxsim"))
        .args(["trigger", "voicemail", "--print"])
        .env("PBXSIM_TOKEN", "from-env")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out =
        pbxsim_output(&["call", "inbound", "--talk", "30s", "--record", "--target", t, "-c", "4"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(rx.count() > 0);
}

#[test]
fn replay_help_tells_the_truth_about_chaos() {
    let replay = text(&pbxsim_output(&["replay", "--help"]));
    assert!(!replay.contains("--chaos"), "{replay}");
    for cmd in ["run", "call", "load"] {
        assert!(text(&pbxsim_output(&[cmd, "--help"])).contains("--chaos"), "{cmd}");
    }
}

#[test]
fn ring_groups_are_spelled_as_in_files() {
    let help = text(&pbxsim_output(&["call", "--help"]));
    assert!(help.contains("ring_group:"), "{help}");
    assert!(!help.contains("ring-group:"), "{help}");
    // Both spellings route the same call.
    let a = pbxsim_output(&["call", "inbound", "--via", "ring_group:Reception", "--dry-run"]);
    let b = pbxsim_output(&["call", "inbound", "--via", "ring-group:Reception", "--dry-run"]);
    assert!(a.status.success(), "{}", text(&a));
    let types = |o: &Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].to_string())
            .collect()
    };
    assert_eq!(types(&a), types(&b));
    assert!(String::from_utf8_lossy(&a.stdout).contains(r#""ring_group_name":"Reception""#));
    let typo = pbxsim_output(&["call", "inbound", "--via", "ringgroup:Reception", "--dry-run"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(text(&typo).contains("did you mean `ring_group`"), "{}", text(&typo));
}

#[test]
fn one_call_is_one_call() {
    let rx = Receiver::ok();
    let out = pbxsim_output(&["call", "inbound", "--target", &rx.url]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("(1 call, "), "{}", text(&out));
}
