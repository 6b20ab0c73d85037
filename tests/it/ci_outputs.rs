//! Machine outputs for CI, end to end: `run --report/--junit/--threshold/--output json`,
//! `load --output json`, `check --output json` and `validate --output json`, through the real
//! binary against a real receiver on loopback.

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

use crate::support::deliver::Receiver;
use crate::support::{args, pbxsim_async, temp};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_writes_its_report_junit_and_json_and_a_failing_threshold_exits_1() {
    let rx = Receiver::ok();
    let (report, junit) = (temp("ci", "run.json"), temp("ci", "run.xml"));
    let a = args(&[
        "run",
        "scenarios/quickstart.toml",
        "--asap",
        "--target",
        &rx.url,
        "--output",
        "json",
        "--report",
        report.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--threshold",
        "error_rate<1%",
        "--threshold",
        "p99<1us",
    ]);
    let out = pbxsim_async(a, vec![]).await;
    // p99 < 1 µs cannot hold: exit 1, although every event was delivered.
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    // stdout is the report alone; the header went to stderr.
    let doc = json(&out.stdout);
    assert!(out.stderr.contains("playing quickstart"), "{}", out.stderr);
    assert_eq!(doc, json(&std::fs::read_to_string(&report).unwrap()));
    assert_eq!(
        (doc["command"].as_str(), doc["scenario"].as_str()),
        (Some("run"), Some("quickstart"))
    );
    assert_eq!(doc["calls"], 7);
    assert_eq!(doc["exit_code"], 1);
    assert_eq!(doc["pacing"]["asap"], true);
    assert_eq!(doc["clock"]["anchor"], "pinned");
    assert_eq!(doc["clock"]["start"], "2026-03-02T09:00:00Z");
    let e = &doc["events"];
    assert_eq!(e["delivered"].as_u64(), Some(rx.count()));
    assert_eq!(e["generated"], e["delivered"]);
    assert_eq!(doc["answers"]["200"].as_u64(), Some(rx.count()));
    assert!(doc["raw_latency"]["count"].as_u64().unwrap() > 0);
    assert!(doc["receiver"].is_null(), "a target, not the built-in receiver");
    let verdicts = doc["thresholds"].as_array().unwrap();
    let passes: Vec<(String, bool)> = verdicts
        .iter()
        .map(|v| (v["threshold"].as_str().unwrap().to_string(), v["pass"].as_bool().unwrap()))
        .collect();
    assert_eq!(passes, [("error_rate < 1%".to_string(), true), ("p99 < 1us".to_string(), false)]);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
    assert!(xml.contains("<testsuite name=\"pbxsim run quickstart\""), "{xml}");

    // Passing thresholds, text output: verdicts printed, exit 0.
    let a = args(&[
        "run",
        "scenarios/quickstart.toml",
        "--asap",
        "--target",
        &rx.url,
        "--threshold",
        "error_rate<1%",
    ]);
    let out = pbxsim_async(a, vec![]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("thresholds 1 passed, 0 failed"), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_json_with_the_built_in_receiver_carries_its_counts() {
    let out = pbxsim_async(
        args(&["run", "scenarios/quickstart.toml", "--asap", "--output", "json"]),
        vec![],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let doc = json(&out.stdout);
    let rx = &doc["receiver"];
    assert_eq!(rx["check"]["violations"], 0, "{rx}");
    assert_eq!(rx["check"]["events"], doc["events"]["delivered"]);
    // The receiver's per-event lines went to stderr.
    assert!(out.stderr.contains("user_inbound"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_json_is_its_report() {
    let rx = Receiver::ok();
    let report = temp("ci", "load.json");
    let a = args(&[
        "load",
        "--target",
        &rx.url,
        "--asap",
        "--max-calls",
        "30",
        "-q",
        "--output",
        "json",
        "--report",
        report.to_str().unwrap(),
    ]);
    let out = pbxsim_async(a, vec![]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let doc = json(&out.stdout);
    assert_eq!(doc, json(&std::fs::read_to_string(&report).unwrap()));
    assert_eq!(doc["events"]["delivered"].as_u64(), Some(rx.count()));
    assert!(doc["holds"]["chaos"]["events"].is_u64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_asap_reports_calls_over_the_run_not_a_burst_rate() {
    let rx = Receiver::ok();
    let a = args(&["load", "--target", &rx.url, "--asap", "--max-calls", "20", "-q"]);
    let out = pbxsim_async(a, vec![]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let line = out.stdout.lines().find(|l| l.starts_with("rate")).unwrap();
    assert!(line.starts_with("rate       as fast as possible: 20 calls in "), "{line}");
    assert!(!line.contains("target"), "{line}");
}

#[test]
fn check_json_holds_the_counts_and_every_violation() {
    let path = temp("ci", "capture.ndjson");
    std::fs::write(&path, "{\"type\":\"queue_call\",\"unique_call_id\":\"1\"}\nnot json\n")
        .unwrap();
    let out = cargo_bin_cmd!("pbxsim")
        .args(["check", path.to_str().unwrap(), "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(doc["lines"], 2);
    let violations = doc["violations"].as_array().unwrap();
    assert_eq!(violations.len() as u64, doc["summary"]["violations"].as_u64().unwrap());
    assert!(
        violations
            .iter()
            .any(|v| v["rule"] == "fields" && v["at"].as_str().unwrap().ends_with(":1"))
    );
    assert!(violations.iter().any(|v| v["rule"] == "malformed"));
}

#[test]
fn validate_json_gives_each_file_ok_or_its_error_with_its_position() {
    let out = cargo_bin_cmd!("pbxsim")
        .args([
            "validate",
            "scenarios/quickstart.toml",
            "tests/broken/unknown-queue-member.toml",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(doc["ok"], false);
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files[0]["ok"], true);
    assert!(files[0]["summary"].as_str().unwrap().contains("7 calls"));
    let e = &files[1]["error"];
    assert_eq!(files[1]["ok"], false);
    assert_eq!(e["file"], "tests/broken/unknown-queue-member.toml");
    assert!(e["line"].as_u64().unwrap() > 0 && e["column"].as_u64().unwrap() > 0, "{e}");
    assert!(e["help"].as_str().unwrap().contains("did you mean"), "{e}");
}
