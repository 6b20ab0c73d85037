//! The PBX clock and honest latency, end to end: the real binary against a real receiver on
//! loopback that records the wall-clock moment each request arrives.
//!
//! - No `call_start_at`, `connected_at` or `recorded_at` is later than its request's arrival
//!   (1 s tolerance) for `run --asap`, `run --speed N`, `call` and `load` (paced, `--asap`
//!   with a call limit, and open-ended `--asap`), while a pinned start stays as given.
//! - Chaos `reorder`/`delay` holds are not receiver latency: a run holding events for 1 s has a
//!   corrected maximum far below that hold, and reports the holds apart.
//! - A receiver slower than the spacing of a call's events gets the load report's one line.
//! - A load that started no call exits 1 and says why.
//!
//! No assertion compares wall-clock durations with fixed limits, except one generous bound
//! (half a configured 1 s hold) on corrected latency.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support::deliver::{Received, Receiver, Reply};
use crate::support::{args, pbxsim_async, temp};

/// The quickstart scenario without its pinned `start_time`: its clock is anchored.
fn unpinned_quickstart() -> PathBuf {
    let text = std::fs::read_to_string("scenarios/quickstart.toml").unwrap();
    let text: String =
        text.lines().filter(|l| !l.starts_with("start_time")).map(|l| format!("{l}\n")).collect();
    assert!(!text.contains("start_time"));
    let path = temp("timing", "quickstart-unpinned.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Every timestamp field of every body (arrays too), with the request's arrival.
fn timestamps(received: &[Received]) -> Vec<(String, chrono::DateTime<chrono::Utc>, SystemTime)> {
    let mut out = Vec::new();
    for r in received {
        let body = r.json();
        let bodies = match body {
            Value::Array(items) => items,
            one => vec![one],
        };
        for b in bodies {
            for field in ["call_start_at", "connected_at", "recorded_at"] {
                if let Some(text) = b[field].as_str().filter(|t| !t.is_empty() && *t != "null") {
                    let at = chrono::DateTime::parse_from_rfc3339(text)
                        .unwrap_or_else(|e| panic!("{field} {text}: {e}"))
                        .with_timezone(&chrono::Utc);
                    out.push((format!("{} {field}", b["type"]), at, r.wall));
                }
            }
        }
    }
    out
}

/// No timestamp later than its request's arrival (+1 s); returns how many were checked.
fn assert_none_from_the_future(rx: &Receiver, what: &str) -> usize {
    let received = rx.received();
    assert!(!received.is_empty(), "{what}: nothing arrived");
    let stamps = timestamps(&received);
    for (field, at, arrived) in &stamps {
        let arrived = chrono::DateTime::<chrono::Utc>::from(*arrived);
        assert!(
            *at <= arrived + chrono::Duration::seconds(1),
            "{what}: {field} {at} is later than the request's arrival at {arrived}"
        );
    }
    stamps.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_call_send_no_timestamp_from_the_future() {
    let file = unpinned_quickstart();
    let file = file.to_str().unwrap();
    for pacing in [vec!["--asap"], vec!["--speed", "40"]] {
        let rx = Receiver::ok();
        let mut a = args(&["run", file, "--target", &rx.url]);
        a.extend(args(&pacing));
        let out = pbxsim_async(a, vec![]).await;
        assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
        // The header says where the clock starts: the quickstart lasts a PBX minute.
        let header = out.stdout.lines().find(|l| l.starts_with("PBX clock")).unwrap_or_default();
        assert!(header.contains(" back, at "), "{pacing:?}: {}", out.stdout);
        let checked = assert_none_from_the_future(&rx, &format!("run {pacing:?}"));
        assert!(checked > 27, "every event has call_start_at: {checked}");
    }
    // `call` (as fast as possible by default): a queue call answered after a long talk.
    let rx = Receiver::ok();
    let a = args(&["call", "inbound", "--talk", "20m", "--record", "--target", &rx.url, "-q"]);
    let out = pbxsim_async(a, vec![]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert_none_from_the_future(&rx, "call");
    let done = rx
        .received()
        .iter()
        .map(Received::json)
        .find(|b| b["type"] == "user_inbound_completed")
        .expect("the call completes");
    assert!(done["conversation_duration"].as_u64().unwrap() >= 1200, "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_start_stays_where_it_was_put() {
    let rx = Receiver::ok();
    let a = args(&[
        "run",
        "scenarios/quickstart.toml",
        "--asap",
        "--target",
        &rx.url,
        "--start-time",
        "2030-01-01T00:00:00Z",
    ]);
    let out = pbxsim_async(a, vec![]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("PBX clock  pinned at 2030-01-01T00:00:00Z"), "{}", out.stdout);
    let earliest = rx
        .received()
        .iter()
        .filter_map(|r| r.json()["call_start_at"].as_str().map(str::to_string))
        .min()
        .unwrap();
    assert_eq!(earliest, "2030-01-01T00:00:00.000Z");

    // The header speaks the file's utc_offset, as its timestamps do.
    let text = std::fs::read_to_string("scenarios/quickstart.toml").unwrap();
    let text = text.replacen("seed = 42\n", "seed = 42\nutc_offset = \"+10:00\"\n", 1);
    assert!(text.contains("utc_offset"));
    let file = temp("timing", "quickstart-sydney.toml");
    std::fs::write(&file, text).unwrap();
    let a = args(&["run", file.to_str().unwrap(), "--asap", "--target", &rx.url]);
    let out = pbxsim_async(a, vec![]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("PBX clock  pinned at 2026-03-02T19:00:00+10:00"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("(7 calls, 27 events)"), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_sends_no_timestamp_from_the_future() {
    let runs: [&[&str]; 3] = [
        // Paced at the default 60x: the PBX clock runs 59 s ahead per wall second.
        &["--rate", "20/s", "--duration", "2s"],
        // As fast as possible, with a call limit (an exact horizon).
        &["--asap", "--max-calls", "60"],
        // As fast as possible for a wall-clock window: the clock's lead is a bound.
        &["--asap", "--duration", "1s", "--concurrency", "2"],
    ];
    for extra in runs {
        let rx = Receiver::ok();
        let mut a = args(&["load", "--target", &rx.url, "--seed", "5", "-q"]);
        a.extend(args(extra));
        let out = pbxsim_async(a, vec![]).await;
        assert_eq!(out.code, Some(0), "{extra:?}\n{}\n{}", out.stdout, out.stderr);
        assert!(out.stderr.contains("load: PBX clock "), "{}", out.stderr);
        assert_none_from_the_future(&rx, &format!("load {extra:?}"));
    }
}

/// `run FILE --speed 20 --target URL ARGS --report FILE`: the report.
async fn run_report(file: &str, rx: &Receiver, extra: &[&str], name: &str) -> Value {
    let report = temp("timing", name);
    let mut a = args(&["run", file, "--speed", "20", "--target", &rx.url, "-q", "--report"]);
    a.push(report.to_string_lossy().into_owned());
    a.extend(args(extra));
    let out = pbxsim_async(a, vec![]).await;
    assert_eq!(out.code, Some(0), "{extra:?}\n{}\n{}", out.stdout, out.stderr);
    serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_holds_are_reported_apart_and_not_counted_as_latency() {
    let rx = Receiver::ok();
    let file = "scenarios/quickstart.toml";
    let plain = run_report(file, &rx, &[], "plain.json").await;
    let chaos = ["--chaos", "reorder=0.3,delay=0.3:1s"];
    let held = run_report(file, &rx, &chaos, "held.json").await;
    assert_eq!(held["events"]["delivered"], plain["events"]["delivered"]);
    // The holds are there, and reported: at least one 1 s delay.
    let holds = &held["holds"]["chaos"];
    assert!(holds["events"].as_u64().unwrap() >= 2, "{holds}");
    assert!(holds["max_ms"].as_f64().unwrap() >= 1000.0, "{holds}");
    assert_eq!(plain["holds"]["chaos"]["events"], 0);
    // Counted from the end of each hold, the corrected latency stays near the plain run's:
    // far below the 1 s hold that counting it would add.
    let max = |r: &Value| r["latency"]["max_ms"].as_f64().unwrap();
    assert!(max(&held) < 500.0, "held {} vs plain {}", max(&held), max(&plain));
    assert!(max(&held) < max(&plain) + 400.0, "held {} vs plain {}", max(&held), max(&plain));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_slower_than_a_calls_spacing_is_told_to_lower_the_speed() {
    // 20 ms per event, against a call's events a few milliseconds apart at 5000x.
    let rx = Receiver::start(|_, _| Reply { delay: Duration::from_millis(20), ..Reply::ok() });
    let report = temp("timing", "spaced.json");
    let a = args(&[
        "load",
        "--target",
        &rx.url,
        "--rate",
        "20/s",
        "--duration",
        "1s",
        "--speed",
        "5000",
        "--drain",
        "20s",
        "-q",
        "--report",
        report.to_str().unwrap(),
    ]);
    let out = pbxsim_async(a, vec![]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let line = out.stdout.lines().find(|l| l.starts_with("spacing")).unwrap_or_else(|| {
        panic!("no spacing line:\n{}", out.stdout);
    });
    assert!(line.contains("at 5000x"), "{line}");
    // The advice in the flag's words (the library's own name no flag).
    let advice = line.rsplit("; ").next().unwrap();
    let speed = advice.strip_prefix("a lower --speed, like --speed ").unwrap_or_else(|| {
        panic!("{line}");
    });
    assert!(speed.ends_with(", spaces them out"), "{line}");
    // `report show` words the saved report the same way.
    let shown = pbxsim_async(args(&["report", "show", report.to_str().unwrap()]), vec![]).await;
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    assert!(shown.stdout.lines().any(|l| l == line), "{line}\n{}", shown.stdout);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let sp = &r["spacing"];
    assert!(sp["overran"].as_u64().unwrap() * 10 >= sp["pairs"].as_u64().unwrap(), "{sp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_that_started_no_call_exits_1_and_says_why() {
    let rx = Receiver::ok();
    let a = args(&["load", "--target", &rx.url, "--rate", "1/h", "--duration", "2s", "-q"]);
    let out = pbxsim_async(a, vec![]).await;
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("error: no call started"), "{}", out.stderr);
    assert!(out.stderr.contains("raise --rate or --duration"), "{}", out.stderr);
    assert_eq!(rx.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_prints_plain_progress_lines_without_a_terminal() {
    let rx = Receiver::ok();
    let a = args(&["run", "scenarios/quickstart.toml", "--speed", "30", "--target", &rx.url]);
    let out = pbxsim_async(a, vec![("PBXSIM_PROGRESS_EVERY", "300ms")]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    // The header: the length at this speed (a PBX minute at 30x).
    assert!(out.stdout.contains("at 30x speed, seed 42: about 2s"), "{}", out.stdout);
    let lines: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("progress ")).collect();
    assert!(lines.len() >= 2, "{}", out.stderr);
    assert!(lines.iter().all(|l| l.contains("delivered") && l.contains("errors")), "{lines:?}");
    assert!(lines[0].contains("s left"), "{lines:?}");
    // -q turns it off.
    let a = args(&["run", "scenarios/quickstart.toml", "--speed", "30", "--target", &rx.url]);
    let mut quiet = a.clone();
    quiet.push("-q".into());
    let out = pbxsim_async(quiet, vec![("PBXSIM_PROGRESS_EVERY", "300ms")]).await;
    assert_eq!(out.code, Some(0));
    assert!(!out.stderr.contains("progress "), "{}", out.stderr);
}
