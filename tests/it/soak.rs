//! Soak and outage tests: the real binary against a lean deduplicating receiver on 127.0.0.1.
//!
//! - soak: at least 200,000 events (`PBXSIM_SOAK_EVENTS` changes the count) with `--retries 5`
//!   against a receiver that answers 503 to about 10% of requests and delays a few others: every
//!   event is answered 2xx exactly once, and the summary's arithmetic holds.
//! - outages: the receiver goes away mid-run and comes back on the same port; with retries
//!   nothing is lost, and without them every failed event is in the `--failed` journal and
//!   `pbxsim replay` delivers them all.
//!
//! The runs are bounded by event counts, never by wall time.

use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin_cmd;

use crate::support::robust::{
    Lean, OBJECT_TOKEN, Reply, TOKEN, expected_bodies, parse_summary, percent,
};
use crate::support::{self, text};

/// Ring-group members per call: about 100 events per call.
const MEMBERS: usize = 96;

fn run(scenario: &std::path::Path, url: &str, args: &[&str]) -> Output {
    cargo_bin_cmd!("pbxsim")
        .arg("run")
        .arg(scenario)
        .args(["--target", url, "--asap"])
        .args(args)
        .env_remove("PBXSIM_TOKEN")
        .timeout(Duration::from_secs(900))
        .output()
        .unwrap()
}

#[test]
fn soak_every_event_is_delivered_exactly_once_despite_503s_and_delays() {
    let wanted: usize =
        std::env::var("PBXSIM_SOAK_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let dir = support::tempdir("soak");
    let scenario = dir.join("soak.toml");
    let calls = wanted / (MEMBERS + 2) + 1;
    std::fs::write(&scenario, support::robust::scenario(calls, MEMBERS)).unwrap();
    let expected = expected_bodies(&scenario);
    assert!(expected.len() >= wanted, "{} events from {calls} calls", expected.len());

    const SEED: u64 = 2026;
    // 10% of the first four attempts of a body are answered 503, nearly always with
    // `Retry-After: 0` (an immediate retry) and sometimes without (pbxsim's backoff); 3% of the
    // others wait 1-3 ms first. The same body and attempt always get the same answer.
    let rx = Lean::start(&[TOKEN, OBJECT_TOKEN], |hash, attempt| {
        let p = percent(hash, attempt, SEED);
        if attempt < 4 && p < 10 {
            let backoff = p == 0 && hash % 4 == 0;
            Reply { status: 503, retry_after: (!backoff).then_some("0"), ..Reply::OK }
        } else if p >= 97 {
            Reply { delay: Duration::from_millis(p - 96), ..Reply::OK }
        } else {
            Reply::OK
        }
    });

    let started = Instant::now();
    let out = run(&scenario, &rx.url(), &["--retries", "5", "--concurrency", "64"]);
    let took = started.elapsed();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let summary = parse_summary(&stdout);
    eprintln!(
        "soak: {} events, {} requests, {} retries (503: {}) in {took:.1?}",
        summary.generated,
        summary.sent,
        summary.retries,
        rx.code(503)
    );

    // The summary's arithmetic.
    assert_eq!(summary.generated, expected.len() as u64, "{stdout}");
    assert_eq!(summary.generated, summary.delivered + summary.failed + summary.filtered);
    assert_eq!((summary.failed, summary.filtered), (0, 0), "{stdout}");
    // Every 503 was retried, and nothing else was: no connection errors, no timeouts.
    let codes = rx.codes();
    assert_eq!(summary.retries, rx.code(503), "{codes:?}\n{stdout}");
    assert_eq!(summary.sent, codes.values().sum::<u64>(), "{codes:?}");
    assert_eq!(codes.keys().copied().collect::<Vec<_>>(), vec![200, 503], "no 401s");
    let share = rx.code(503) as f64 / summary.sent as f64;
    assert!((0.08..0.12).contains(&share), "503 share {share}");
    // The receiver's view: each event answered 2xx exactly once.
    rx.assert_exactly_once(&expected);
    let _ = std::fs::remove_dir_all(dir);
}

/// The receiver goes away after `after` deliveries and comes back on the same port.
fn with_outage(
    rx: &mut Lean,
    after: u64,
    outage: Duration,
    run: impl FnOnce() -> Output + Send,
) -> Output {
    std::thread::scope(|s| {
        let running = s.spawn(run);
        while rx.delivered() < after && !running.is_finished() {
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(!running.is_finished(), "the run ended before the outage");
        rx.stop();
        std::thread::sleep(outage);
        rx.restart();
        running.join().unwrap()
    })
}

#[test]
fn outage_with_retries_loses_nothing() {
    let dir = support::tempdir("outage");
    let scenario = dir.join("outage.toml");
    std::fs::write(&scenario, support::robust::scenario(60, 40)).unwrap();
    let expected = expected_bodies(&scenario);
    // A short delay per request keeps the run going while the receiver is away.
    let delay = Reply { delay: Duration::from_millis(1), ..Reply::OK };
    let mut rx = Lean::start(&[TOKEN, OBJECT_TOKEN], move |_, _| delay);
    let url = rx.url();
    // 8 retries back off for at least 11 s in all (0.05 + 0.1 + … + 5 s): far longer than the
    // outage, which is over when the receiver's port accepts again.
    let out = with_outage(&mut rx, expected.len() as u64 / 3, Duration::from_millis(500), || {
        run(&scenario, &url, &["--retries", "8", "--concurrency", "16"])
    });
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let summary = parse_summary(&stdout);
    assert_eq!(summary.generated, expected.len() as u64);
    assert_eq!((summary.delivered, summary.failed), (summary.generated, 0), "{stdout}");
    assert!(summary.retries > 0, "the outage was noticed: {stdout}");
    eprintln!(
        "outage with retries: {} events, {} retries, {} lost",
        summary.generated,
        summary.retries,
        summary.generated - summary.delivered
    );
    rx.assert_exactly_once(&expected);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn outage_without_retries_journals_every_failure_and_replay_delivers_them() {
    let dir = support::tempdir("outage-journal");
    let scenario = dir.join("outage.toml");
    let journal = dir.join("failed.ndjson");
    std::fs::write(&scenario, support::robust::scenario(60, 40)).unwrap();
    let expected = expected_bodies(&scenario);
    let delay = Reply { delay: Duration::from_millis(1), ..Reply::OK };
    let mut rx = Lean::start(&[TOKEN, OBJECT_TOKEN], move |_, _| delay);
    let url = rx.url();
    let journal_arg = journal.to_str().unwrap().to_string();
    let out = with_outage(&mut rx, expected.len() as u64 / 3, Duration::from_millis(300), || {
        run(&scenario, &url, &["--concurrency", "16", "--failed", &journal_arg])
    });
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", text(&out.stderr));
    let summary = parse_summary(&stdout);
    assert_eq!(summary.generated, expected.len() as u64);
    assert_eq!(summary.generated, summary.delivered + summary.failed, "{stdout}");
    assert!(summary.failed > 0, "{stdout}");
    assert_eq!(summary.delivered, rx.delivered(), "{stdout}");
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(lines.lines().count() as u64, summary.failed, "one journal line per failure");
    assert!(!lines.contains(TOKEN) && !lines.contains(OBJECT_TOKEN), "journal redacted");

    eprintln!(
        "outage without retries: {} events, {} delivered, {} journalled",
        summary.generated, summary.delivered, summary.failed
    );
    // Replay sends each journal line to its own target; the tokens come from the caller. Both
    // endpoints share a URL here, so one --token cannot serve both: replay the two parts
    // separately, as a user with two tokens would.
    let (global, object): (Vec<&str>, Vec<&str>) =
        lines.lines().partition(|l| !l.contains("webhook_component_event"));
    for (part, token) in [(global, TOKEN), (object, OBJECT_TOKEN)] {
        if part.is_empty() {
            continue;
        }
        let file = dir.join(format!("part-{token}.ndjson"));
        std::fs::write(&file, part.join("\n") + "\n").unwrap();
        let out = cargo_bin_cmd!("pbxsim")
            .arg("replay")
            .arg(&file)
            .args(["--token", token])
            .env_remove("PBXSIM_TOKEN")
            .timeout(Duration::from_secs(300))
            .output()
            .unwrap();
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
        assert!(!stdout.contains(token) && !text(&out.stderr).contains(token));
    }
    // The receiver now has every event exactly once.
    rx.assert_exactly_once(&expected);
    let _ = std::fs::remove_dir_all(dir);
}
