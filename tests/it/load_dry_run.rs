//! `pbxsim load --dry-run`: the generated traffic as NDJSON without HTTP, deterministic for
//! its flags, bounded by the run's limits, the same bodies a live run sends, and replayable.

use std::collections::BTreeSet;

use crate::support::deliver::Receiver;
use crate::support::{pbxsim_output, tempdir, text};

use crate::support::{DRY_RUN_START as START, load_dry_run as dry_run};

fn lines(ndjson: &str) -> Vec<serde_json::Value> {
    ndjson.lines().map(|l| serde_json::from_str(l).expect("one JSON object a line")).collect()
}

fn call_ids(bodies: &[serde_json::Value]) -> BTreeSet<String> {
    bodies.iter().map(|b| b["unique_call_id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn the_same_flags_give_the_same_bytes_and_another_seed_other_calls() {
    let a = dry_run(&["--max-calls", "200", "--seed", "7"]);
    let b = dry_run(&["--max-calls", "200", "--seed", "7"]);
    assert!(a.lines().count() > 200, "{} lines", a.lines().count());
    assert_eq!(a, b, "a dry run is deterministic");
    let other = dry_run(&["--max-calls", "200", "--seed", "8"]);
    assert_ne!(a, other);
    // Envelopes too, and the start time is the one given.
    let e1 = dry_run(&["--max-calls", "20", "--envelope", "--seed", "7"]);
    assert_eq!(e1, dry_run(&["--max-calls", "20", "--envelope", "--seed", "7"]));
    let first = &lines(&e1)[0];
    assert!(first["time"].as_str().unwrap().starts_with("2026-01-05T09:"), "{first}");
    // The envelopes hold exactly the bare bodies, in the same order.
    let bodies: Vec<serde_json::Value> =
        lines(&e1).into_iter().map(|e| e["body"].clone()).collect();
    assert_eq!(bodies, lines(&dry_run(&["--max-calls", "20", "--seed", "7"])));
}

#[test]
fn limits_bound_the_output_as_they_bound_a_run() {
    // --max-events: exactly that many (the built-in PBX ticks every type).
    assert_eq!(dry_run(&["--max-events", "333"]).lines().count(), 333);
    // --max-calls: no more calls than that.
    let calls = call_ids(&lines(&dry_run(&["--max-calls", "40"])));
    assert!(!calls.is_empty() && calls.len() <= 40, "{} calls", calls.len());
    // --duration bounds the schedule: 10 calls/s for 2 s arrives 20 calls, 20 s 200 (outbound
    // calls from a user already on a call place no call and send nothing); with --asap the
    // same schedule.
    let short = call_ids(&lines(&dry_run(&["--duration", "2s", "--arrivals", "uniform"])));
    let long = call_ids(&lines(&dry_run(&["--duration", "20s", "--arrivals", "uniform"])));
    assert!((15..=20).contains(&short.len()), "{} calls in 2 s", short.len());
    assert!((160..=200).contains(&long.len()), "{} calls in 20 s", long.len());
    let asap = dry_run(&["--duration", "2s", "--arrivals", "uniform", "--asap"]);
    assert_eq!(call_ids(&lines(&asap)), short);
    // -o FILE holds what stdout would.
    let dir = tempdir("load-dry-run");
    let file = dir.join("events.ndjson");
    let out = pbxsim_output(&[
        "load",
        "--dry-run",
        "--start-time",
        START,
        "-n",
        "30",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), dry_run(&["-n", "30"]));
}

#[test]
fn sending_flags_are_refused_with_dry_run() {
    for flag in [&["--concurrency", "8"][..], &["--report", "r.json"], &["--threshold", "p99<1s"]] {
        let mut args = vec!["load", "--dry-run", "-n", "1"];
        args.extend_from_slice(flag);
        let out = pbxsim_output(&args);
        assert_eq!(out.status.code(), Some(2), "{flag:?}");
        let err = text(&out.stderr);
        assert!(err.contains(flag[0]) && err.contains("does not apply"), "{err}");
    }
    let out = pbxsim_output(&["load", "--envelope", "-n", "1"]);
    assert_eq!(out.status.code(), Some(2), "--envelope needs --dry-run");
}

#[test]
fn a_live_run_sends_exactly_the_dry_runs_bodies_and_replay_sends_them_again() {
    let live = Receiver::ok();
    let out = pbxsim_output(&[
        "load",
        "--asap",
        "-n",
        "60",
        "--seed",
        "11",
        "--start-time",
        START,
        "-q",
        "--target",
        &live.url,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let dry = dry_run(&["--asap", "-n", "60", "--seed", "11"]);
    let mut sent: Vec<String> = live.received().iter().map(|r| r.json().to_string()).collect();
    let mut planned: Vec<String> = lines(&dry).iter().map(|v| v.to_string()).collect();
    sent.sort();
    planned.sort();
    assert_eq!(sent.len(), planned.len());
    assert!(sent == planned, "the live run's bodies are the dry run's");

    let dir = tempdir("load-dry-run-replay");
    for (name, envelope) in [("bodies.ndjson", false), ("envelopes.ndjson", true)] {
        let file = dir.join(name);
        let mut args = vec!["load", "--dry-run", "-n", "60", "--seed", "11", "--start-time", START];
        if envelope {
            args.push("--envelope");
        }
        args.extend(["-o", file.to_str().unwrap()]);
        assert_eq!(pbxsim_output(&args).status.code(), Some(0));
        let rx = Receiver::ok();
        let out = pbxsim_output(&["replay", file.to_str().unwrap(), "--target", &rx.url]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(rx.count(), planned.len() as u64, "{name}");
        let mut got: Vec<String> = rx.received().iter().map(|r| r.json().to_string()).collect();
        got.sort();
        assert!(got == planned, "{name}: replay sends the dry run's bodies");
    }
}
