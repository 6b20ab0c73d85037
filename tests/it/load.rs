//! `pbxsim load` end to end: the real binary against a real HTTP receiver on loopback.
//! Runs are short (1-2 s of arrivals); no assertion depends on wall-clock speed.

use std::collections::HashMap;
use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use pbxsim::check::{Checker, CheckerConfig};
use serde_json::Value;

use crate::support::deliver::{Receiver, Reply};
use crate::support::temp;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    report: Value,
}

/// `pbxsim load --target URL ARGS --report FILE -q`, in a blocking thread.
async fn load(url: &str, args: &[&str], name: &str) -> Run {
    let report = temp("load", &format!("{name}.json"));
    let mut cmd = cargo_bin_cmd!("pbxsim");
    cmd.args(["load", "--target", url, "--start-time", "2026-03-02T09:00:00Z"])
        .args(args)
        .arg("--report")
        .arg(&report)
        .env("NO_COLOR", "1")
        .env_remove("PBXSIM_TOKEN");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = std::fs::read_to_string(&report)
        .map(|t| serde_json::from_str(&t).expect("the report is JSON"))
        .unwrap_or(Value::Null);
    Run { code: out.status.code(), stdout, stderr, report }
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_run_adds_up_in_order_with_csv_and_plain_progress() {
    let rx = Receiver::ok();
    let csv = temp("load", "open.csv");
    let csv_arg = csv.to_string_lossy().into_owned();
    let args = ["--rate", "25/s", "--duration", "2s", "--seed", "7", "--stats-csv", &csv_arg];
    // Not -q: without a terminal, plain progress lines, here every second.
    let report = temp("load", "open.json");
    let mut cmd = cargo_bin_cmd!("pbxsim");
    cmd.args(["load", "--target", &rx.url, "--start-time", "2026-03-02T09:00:00Z"])
        .args(args)
        .arg("--report")
        .arg(&report)
        .env("PBXSIM_PROGRESS_EVERY", "1s")
        .env_remove("PBXSIM_TOKEN");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.lines().any(|l| l.starts_with("progress ") && l.contains("p99")), "{stderr}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();

    // Events: what the report says was delivered is what the receiver got.
    let e = &r["events"];
    assert_eq!(n(&e["delivered"]), rx.count(), "{r}");
    assert_eq!(n(&e["generated"]), n(&e["delivered"]) + n(&e["failed"]) + n(&e["filtered"]));
    assert_eq!(n(&e["failed"]), 0);
    let by_type: u64 = r["by_type"].as_object().unwrap().values().map(|t| n(&t["delivered"])).sum();
    assert_eq!(by_type, n(&e["delivered"]));
    // Calls: every started call ended; outcomes cover every simulated call.
    let c = &r["calls"];
    assert_eq!(n(&c["started"]), n(&c["ended"]));
    assert_eq!(n(&c["cut_off"]), 0);
    let outcomes: u64 = ["answered", "abandoned", "voicemail", "unanswered", "busy"]
        .iter()
        .map(|k| n(&c[*k]))
        .sum();
    assert_eq!(outcomes, n(&c["simulated"]), "{c}");
    assert!(n(&c["started"]) > 10, "{c}");
    // The achieved rate is the calls started over the 2 s window (or until the last started).
    let achieved = r["rate"]["achieved_per_s"].as_f64().unwrap();
    let span = r["rate"]["span_s"].as_f64().unwrap();
    assert!(span >= 2.0, "{span}");
    let expected = (n(&c["started"]) + n(&c["busy"])) as f64 / span;
    assert!((achieved - expected).abs() < 1e-9, "{achieved} vs {expected}");
    assert_eq!(r["rate"]["target_per_s"].as_f64(), Some(25.0));
    // Latency: corrected and raw, overall and per type, with serialized buckets.
    assert_eq!(n(&r["latency"]["count"]), n(&e["delivered"]));
    assert_eq!(n(&r["raw_latency"]["count"]), n(&e["delivered"]));
    assert!(r["latency"]["p99_ms"].as_f64().unwrap() >= r["latency"]["p50_ms"].as_f64().unwrap());
    assert!(!r["latency"]["buckets"].as_array().unwrap().is_empty());
    assert!(r["by_type"]["user_inbound"]["latency"]["p99_9_ms"].is_number(), "{r}");
    assert_eq!(n(&r["answers"]["200"]), rx.count());
    assert!(stdout.contains("p99.9") && stdout.contains("calls/s"), "{stdout}");

    // Each call's events arrived in an order the PBX could have sent.
    let mut checker = Checker::new(CheckerConfig::default());
    let mut violations = Vec::new();
    for req in rx.received() {
        violations.extend(checker.observe(&req.json()));
    }
    violations.extend(checker.finish());
    assert!(violations.is_empty(), "{violations:?}");

    // The time series: a header and a row per second, periodic and cumulative.
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("elapsed_s,") && header.contains("delivered_total"), "{header}");
    let rows: Vec<&str> = lines.collect();
    assert!(rows.len() >= 2, "{text}");
    let cols = header.split(',').count();
    assert!(rows.iter().all(|r| r.split(',').count() == cols), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_closed_model_caps_calls_in_flight() {
    let rx = Receiver::ok();
    let args = ["--rate", "40/s", "--duration", "1s", "--max-calls-in-flight", "3", "-q"];
    let run = load(&rx.url, &args, "closed").await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let c = &run.report["calls"];
    assert_eq!(run.report["model"], "closed");
    assert!(n(&c["max_in_flight"]) <= 3, "{c}");
    assert!(n(&c["waited"]) > 0, "{c}");
    assert_eq!(n(&c["started"]), n(&c["ended"]), "{c}");
    assert_eq!(n(&run.report["events"]["delivered"]), rx.count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_events_and_max_calls_are_exact() {
    let rx = Receiver::ok();
    let run = load(&rx.url, &["--rate", "50/s", "--max-events", "40", "-q"], "events").await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(n(&run.report["events"]["generated"]), 40);
    assert_eq!(rx.count(), 40);

    let rx = Receiver::ok();
    let run = load(&rx.url, &["--rate", "50/s", "--max-calls", "12", "-q"], "calls").await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let c = &run.report["calls"];
    assert_eq!(n(&c["simulated"]), 12, "{c}");
    assert_eq!(n(&c["started"]) + n(&c["busy"]), 12, "{c}");
    assert_eq!(n(&run.report["events"]["delivered"]), rx.count());
    // Calls end whole.
    let mut per_call: HashMap<String, usize> = HashMap::new();
    for req in rx.received() {
        *per_call.entry(req.json()["unique_call_id"].as_str().unwrap().to_string()).or_default() +=
            1;
    }
    assert_eq!(per_call.len() as u64, n(&c["started"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_drain_limit_cuts_off_is_counted_not_an_interruption() {
    // A slow receiver and one connection: the events back up past the drain limit.
    let rx = Receiver::start(|_, _| Reply { delay: Duration::from_millis(150), ..Reply::ok() });
    let args = ["--rate", "20/s", "--duration", "1s", "--drain", "1s", "--concurrency", "1", "-q"];
    let run = load(&rx.url, &args, "drain").await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let (e, c) = (&run.report["events"], &run.report["calls"]);
    assert!(n(&e["cut_off"]) > 0, "{e}");
    assert_eq!(n(&e["failed"]), n(&e["cut_off"]), "{e}");
    assert!(n(&c["cut_off"]) > 0, "{c}");
    assert_eq!(run.report["interrupted"], false);
    assert_eq!(n(&e["generated"]), n(&e["delivered"]) + n(&e["failed"]) + n(&e["filtered"]));
    assert!(run.stdout.contains("cut off"), "{}", run.stdout);
    // The schedule ran late behind the slow receiver: the corrected latency shows it.
    let corrected = run.report["latency"]["p99_ms"].as_f64().unwrap();
    let raw = run.report["raw_latency"]["p99_ms"].as_f64().unwrap();
    assert!(corrected > raw, "corrected {corrected} raw {raw}");
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        &["load", "--rate", "fast"][..],
        &["load", "--speed", "0"],
        &["load", "--max-calls", "0"],
        &["load", "--duration", "soon"],
    ] {
        let out = cargo_bin_cmd!("pbxsim").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    let out = cargo_bin_cmd!("pbxsim").args(["load", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Examples:") && help.contains("--max-calls-in-flight"), "{help}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_set_the_exit_code_and_land_in_the_report_and_junit() {
    let rx = Receiver::ok();
    let junit = temp("load", "thresholds.xml");
    let junit_arg = junit.to_string_lossy().into_owned();
    let pass = ["--max-calls", "5", "-q", "--threshold", "p99<60s", "--threshold", "error_rate<1%"];
    let run = load(&rx.url, &pass, "pass").await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let verdicts = run.report["thresholds"].as_array().unwrap();
    assert_eq!(verdicts.len(), 2);
    assert!(verdicts.iter().all(|v| v["pass"] == true), "{verdicts:?}");

    let fail = [
        "--max-calls",
        "5",
        "-q",
        "--threshold",
        "p99<1us",
        "--threshold",
        "rate>=95%",
        "--junit",
        &junit_arg,
    ];
    let run = load(&rx.url, &fail, "fail").await;
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("fail  p99 < "), "{}", run.stdout);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 2, "{xml}");
    assert!(xml.contains("<failure"), "{xml}");

    let out = cargo_bin_cmd!("pbxsim").args(["load", "--threshold", "p99<fast"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_rides_along_in_a_closed_model_run() {
    let rx = Receiver::ok();
    let args = [
        "--rate",
        "40/s",
        "--duration",
        "1s",
        "--max-calls-in-flight",
        "3",
        "--token",
        "s3cret",
        "--chaos",
        "duplicate=1,batch=2",
        "-q",
    ];
    let run = load(&rx.url, &args, "chaos").await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let r = &run.report;
    let chaos = r["chaos"].as_str().unwrap_or_else(|| panic!("no chaos in {r}"));
    assert!(chaos.contains("duplicate=1"), "{chaos}");
    let c = &r["calls"];
    assert!(n(&c["max_in_flight"]) <= 3, "{c}");
    assert_eq!(n(&c["started"]), n(&c["ended"]), "{c}");
    // Every POST went twice, and every POST is an array of at most 2 events of one call.
    let received = rx.received();
    assert_eq!(received.len() as u64, 2 * n(&r["events"]["requests"]), "{r}");
    let mut events = 0;
    for req in &received {
        let batch = req.json();
        let items = batch.as_array().expect("batched bodies are arrays");
        assert!((1..=2).contains(&items.len()), "{batch}");
        assert!(items.iter().all(|e| e["unique_call_id"] == items[0]["unique_call_id"]));
        events += items.len() as u64;
    }
    assert_eq!(events, 2 * n(&r["events"]["delivered"]));
}
