//! `pbxsim replay` (the real binary) and the failure journal, against real HTTP receivers on
//! 127.0.0.1:0.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use pbxsim::deliver::{CancelToken, DeliverOptions, Endpoint, Endpoints, Pacing, deliver};
use pbxsim::engine::{Emission, Target};
use pbxsim::event::NullStyle;
use predicates::prelude::*;

use crate::support::deliver::{
    Receiver, Reply, call_and_seq, closed_port, inbound, wait_for_requests,
};
use crate::support::{self, kill, tempdir};

const TOKEN: &str = "tok-s3cret-value";

fn write_bare(path: &Path, calls: u64, per_call: u32) -> Vec<String> {
    let mut lines = Vec::new();
    for seq in 0..per_call {
        for call in 0..calls {
            lines.push(inbound(call, seq).to_json(NullStyle::Null));
        }
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
    lines
}

fn replay(file: &Path) -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("pbxsim");
    cmd.arg("replay").arg(file).env_remove("PBXSIM_TOKEN").timeout(Duration::from_secs(60));
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_events_are_journalled_redacted_and_replay_delivers_them() {
    let dir = tempdir("replay");
    let journal = dir.join("failed.ndjson");
    let down = Receiver::start(|_, _| Reply::status(503));
    let endpoints = Endpoints {
        global: Endpoint::new(format!("{}/global", down.url), Some(TOKEN.into())),
        webhooks: vec![Endpoint {
            url: format!("{}/object", down.url).into(),
            token: Some("object-secret".into()),
            headers: vec![("X-Component".into(), "crm".into())],
            ..Endpoint::default()
        }],
        ..Endpoints::default()
    };
    let mut events: Vec<Emission> = (0..6)
        .map(|i| Emission {
            at: i,
            call: i % 3,
            seq: (i / 3) as u32,
            target: Target::Global,
            event: inbound(i % 3, (i / 3) as u32),
        })
        .collect();
    events.push(Emission {
        at: 9,
        call: 0,
        seq: 2,
        target: Target::Webhook(0),
        event: support::deliver::component(0),
    });
    let opts = DeliverOptions {
        pacing: Pacing::Asap,
        retries: 1,
        failed_journal: Some(journal.clone()),
        ..DeliverOptions::default()
    };
    let summary =
        deliver(events.clone().into_iter(), &endpoints, &opts, CancelToken::new()).await.unwrap();
    assert_eq!(summary.failed, 7, "{}", summary.render());
    assert_eq!(summary.journal.as_ref().unwrap().lines, 7);

    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(!text.contains(TOKEN) && !text.contains("object-secret"), "{text}");
    let lines: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 7);
    for line in &lines {
        assert_eq!(line["headers"]["X-Pbx-Token"], "***");
        assert_eq!(line["error"], "HTTP 503 (after 2 attempts)");
    }
    let object_line = lines.iter().find(|l| l["target"].as_str().unwrap().ends_with("/object"));
    assert_eq!(object_line.unwrap()["headers"]["X-Component"], "crm");

    // Replay the journal to a working receiver, with the token from the environment.
    let up = Receiver::ok();
    let target = format!("{}/again", up.url);
    let out = replay(&journal)
        .args(["--target", &target])
        .env("PBXSIM_TOKEN", TOKEN)
        .assert()
        .success()
        .stdout(predicate::str::contains("delivered 7"))
        .get_output()
        .clone();
    let output =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!output.contains(TOKEN), "{output}");

    let got = up.received();
    assert_eq!(got.len(), 7);
    let mut bodies: Vec<Vec<u8>> = got.iter().map(|r| r.body.to_vec()).collect();
    let mut expected: Vec<Vec<u8>> =
        events.iter().map(|e| e.event.to_json(NullStyle::Null).into_bytes()).collect();
    bodies.sort();
    expected.sort();
    assert_eq!(bodies, expected, "bodies are replayed byte for byte");
    for r in &got {
        assert_eq!(r.path, "/again");
        assert_eq!(r.header("x-pbx-token"), Some(TOKEN));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let component = got.iter().find(|r| r.json()["type"] == "webhook_component_event").unwrap();
    assert_eq!(component.header("x-component"), Some("crm"));
}

#[test]
fn journal_lines_go_to_their_own_target_without_override() {
    let dir = tempdir("replay");
    let up = Receiver::ok();
    let body = inbound(5, 0).to_json(NullStyle::Null);
    let line = format!(
        r#"{{"target":"{}/own","headers":{{"Content-Type":"application/json","X-Pbx-Token":"***"}},"body":{body},"error":"HTTP 500"}}"#,
        up.url
    );
    let file = dir.join("journal.ndjson");
    std::fs::write(&file, format!("{line}\n\n")).unwrap();
    replay(&file).assert().success().stderr(predicate::str::contains("redacted"));
    let got = up.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/own");
    assert_eq!(got[0].body, body.as_bytes());
    assert_eq!(got[0].header("x-pbx-token"), None);
}

#[test]
fn replay_keeps_each_calls_order_under_concurrency() {
    use rand::{RngExt, SeedableRng};
    let dir = tempdir("replay");
    let file = dir.join("events.ndjson");
    write_bare(&file, 100, 4);
    let rng = std::sync::Mutex::new(rand::rngs::ChaCha8Rng::seed_from_u64(9));
    let rx = Receiver::start(move |_, _| Reply {
        delay: Duration::from_millis(rng.lock().unwrap().random_range(0..=20)),
        ..Reply::ok()
    });
    replay(&file)
        .args(["--target", &rx.url, "--token", TOKEN, "--concurrency", "64"])
        .assert()
        .success()
        .stdout(predicate::str::contains("delivered 400"))
        .stdout(predicate::str::contains(TOKEN).not());
    let mut next: BTreeMap<u64, u32> = BTreeMap::new();
    for r in rx.received() {
        assert_eq!(r.header("x-pbx-token"), Some(TOKEN));
        let (call, seq) = call_and_seq(&r.json());
        let expected = next.entry(call).or_default();
        assert_eq!(seq, *expected, "call {call} out of order");
        *expected += 1;
    }
    assert_eq!(next.len(), 100);
    assert!(rx.max_in_flight() > 4);
}

#[test]
fn a_bad_line_is_reported_with_its_place_and_nothing_is_sent() {
    let dir = tempdir("replay");
    let file = dir.join("bad.ndjson");
    let good = inbound(1, 0).to_json(NullStyle::Null);
    std::fs::write(&file, format!("{good}\n{good}\n{{\"unique_call_id\":\"1\"}}\n{good}\n"))
        .unwrap();
    let rx = Receiver::ok();
    replay(&file)
        .args(["--target", &rx.url])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("{}:3:", file.display())))
        .stderr(predicate::str::contains("no `type`"));
    let file2 = dir.join("not-json.ndjson");
    std::fs::write(&file2, format!("{good}\n{{\"type\": oops}}\n")).unwrap();
    replay(&file2)
        .args(["--target", &rx.url])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("{}:2:", file2.display())));
    // A line without a target and no --target.
    replay(&file2.with_file_name("missing.ndjson")).assert().code(2);
    let file3 = dir.join("no-target.ndjson");
    std::fs::write(&file3, format!("{good}\n")).unwrap();
    replay(&file3).assert().code(2).stderr(predicate::str::contains("--target"));
    assert_eq!(rx.count(), 0);
}

#[test]
fn the_journal_may_not_overwrite_the_file_being_replayed() {
    let dir = tempdir("replay");
    let file = dir.join("events.ndjson");
    write_bare(&file, 1, 1);
    replay(&file).args(["--target", "http://127.0.0.1:1/", "--failed"]).arg(&file).assert().code(2);
    assert!(std::fs::read_to_string(&file).unwrap().contains("user_inbound"));
}

#[test]
fn a_closed_port_exits_3_naming_the_url() {
    let dir = tempdir("replay");
    let file = dir.join("events.ndjson");
    write_bare(&file, 2, 2);
    for scheme in ["http", "https"] {
        let url = format!("{scheme}://127.0.0.1:{}/hook", closed_port());
        replay(&file)
            .args(["--target", &url, "--allow-failures"])
            .assert()
            .code(3)
            .stderr(predicate::str::contains(url.as_str()))
            .stderr(predicate::str::contains("Is the receiver running?"));
    }
}

#[test]
fn failures_exit_1_unless_allowed_and_are_journalled() {
    let dir = tempdir("replay");
    let file = dir.join("events.ndjson");
    let lines = write_bare(&file, 2, 2);
    let rx = Receiver::start(|n, _| if n == 0 { Reply::status(500) } else { Reply::ok() });
    let failed = dir.join("again.ndjson");
    replay(&file)
        .args(["--target", &rx.url, "--token", TOKEN, "--concurrency", "1", "--failed"])
        .arg(&failed)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("generated 4  delivered 3  failed 1"));
    let journal = std::fs::read_to_string(&failed).unwrap();
    assert_eq!(journal.lines().count(), 1);
    assert!(journal.contains(&lines[0]) && !journal.contains(TOKEN));
    replay(&failed).args(["--target", &rx.url, "--allow-failures"]).assert().success();
}

fn spawn_replay(file: &Path, target: &str, extra: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_pbxsim"))
        .arg("replay")
        .arg(file)
        .args(["--target", target])
        .args(extra)
        .env_remove("PBXSIM_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn ctrl_c_finishes_requests_in_flight_prints_the_summary_and_journals_the_rest() {
    let dir = tempdir("replay");
    let file = dir.join("events.ndjson");
    write_bare(&file, 25, 2);
    let journal = dir.join("left.ndjson");
    let rx = Receiver::start(|_, _| Reply { delay: Duration::from_millis(500), ..Reply::ok() });
    let journal_arg = journal.to_str().unwrap();
    let child = spawn_replay(&file, &rx.url, &["--concurrency", "2", "--failed", journal_arg]);
    wait_for_requests(&rx, 2);
    kill(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(stdout.contains("interrupted before the end of the run"), "{stdout}");
    // Requests in flight were answered; everything else is in the journal, ready to replay.
    let delivered = rx.count();
    assert!(stdout.contains(&format!("delivered {delivered} ")), "{stdout}");
    let left = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(left.lines().count() as u64, 50 - delivered, "{stdout}");
    assert!(left.lines().all(|l| l.contains("cancelled")));
    let again = Receiver::ok();
    replay(&journal).args(["--target", &again.url]).assert().success();
    assert_eq!(again.count() + delivered, 50);
}

#[test]
fn a_second_ctrl_c_quits_at_once() {
    let dir = tempdir("replay");
    let file = dir.join("events.ndjson");
    write_bare(&file, 4, 1);
    // Answers never come in time: the first Ctrl-C would wait for the grace period.
    let rx = Receiver::start(|_, _| Reply { delay: Duration::from_secs(60), ..Reply::ok() });
    let mut child = spawn_replay(&file, &rx.url, &["--timeout", "60s"]);
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    wait_for_requests(&rx, 4);
    kill(&child, libc::SIGINT);
    // Once the first is seen, a second Ctrl-C a moment later (not a copy of the same signal
    // sent to the process group) quits.
    let mut seen = String::new();
    while !seen.contains("interrupted") {
        assert!(std::io::BufRead::read_line(&mut stderr, &mut seen).unwrap() > 0, "{seen}");
    }
    std::thread::sleep(pbxsim::deliver::QUIT_GAP * 3);
    kill(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    std::io::Read::read_to_string(&mut stderr, &mut seen).unwrap();
    assert_eq!(out.status.code(), Some(130), "{seen}");
    assert!(seen.contains("quitting at once"), "{seen}");
}

#[test]
fn https_with_a_self_signed_certificate_needs_insecure() {
    let dir = tempdir("replay");
    let file = dir.join("events.ndjson");
    write_bare(&file, 3, 2);
    let rx = support::deliver::TlsReceiver::start();
    let target = format!("{}/hook", rx.url);
    replay(&file)
        .args(["--target", &target])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(target.as_str()))
        .stderr(predicate::str::contains("--insecure"));
    assert_eq!(rx.count(), 0);
    replay(&file)
        .args(["--target", &target, "--insecure", "--token", TOKEN])
        .assert()
        .success()
        .stdout(predicate::str::contains("delivered 6"));
    assert_eq!(rx.count(), 6);
}
