//! `pbxsim load --tenants`: several independent copies of the PBX in one run, merged in time
//! order, each with its own `unique_call_id` range, the limits counting the whole run.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::{pbxsim_output, text};

use crate::support::{DRY_RUN_START as START, load_dry_run as dry_run};
const STRIDE: u64 = 1_000_000_000_000;

fn call_id(line: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object a line");
    v["unique_call_id"].as_str().expect("a unique_call_id").parse().expect("digits")
}

#[test]
fn one_tenant_is_exactly_the_single_pbx() {
    let plain = dry_run(&["--max-calls", "100", "--seed", "5"]);
    assert!(plain.lines().count() > 100);
    assert_eq!(dry_run(&["--max-calls", "100", "--seed", "5", "--tenants", "1"]), plain);
    // A [traffic] scenario too.
    let scenario = crate::support::repo().join("scenarios/callcentre-load.toml");
    let file = scenario.to_str().unwrap();
    let plain = dry_run(&[file, "--max-calls", "50"]);
    assert!(!plain.is_empty());
    assert_eq!(dry_run(&[file, "--max-calls", "50", "--tenants", "1"]), plain);
    let three = dry_run(&[file, "--max-calls", "50", "--tenants", "3"]);
    let ids: BTreeSet<u64> = three.lines().map(call_id).collect();
    assert!(ids.iter().any(|id| id / STRIDE == 2), "tenant 2 plays too");
}

/// Whether `value` is a far end's number (a caller's, or a dialled one): eleven digits from
/// `61`, not one of the built-in PBX's own `612900000x`.
fn far_end(value: &str) -> bool {
    value.len() == 11
        && value.starts_with("61")
        && !value.starts_with("612900000")
        && value.bytes().all(|b| b.is_ascii_digit())
}

/// `line` with every far-end number replaced by `N`, and those numbers.
fn without_far_ends(line: &str) -> (String, Vec<String>) {
    let mut v: serde_json::Value = serde_json::from_str(line).expect("one JSON object a line");
    let mut numbers = Vec::new();
    for value in v.as_object_mut().expect("an object").values_mut() {
        if let Some(s) = value.as_str().filter(|s| far_end(s)) {
            numbers.push(s.to_owned());
            *value = "N".into();
        }
    }
    (v.to_string(), numbers)
}

#[test]
fn tenants_have_disjoint_ids_and_numbers_and_tenant_zero_plays_the_single_pbx() {
    // Bounded by the window only, tenant 0 of 3 plays exactly the single tenant's calls, but for
    // the far ends' numbers: each tenant's are its own.
    let flags = ["--duration", "3s", "--seed", "9"];
    let single = dry_run(&flags);
    let mut three_flags = flags.to_vec();
    three_flags.extend(["--tenants", "3"]);
    let three = dry_run(&three_flags);
    assert_eq!(three, dry_run(&three_flags), "deterministic");
    let mut by_tenant: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for line in three.lines() {
        by_tenant.entry(call_id(line) / STRIDE).or_default().push(line);
    }
    assert_eq!(by_tenant.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2]);
    let masked = |lines: &[&str]| -> Vec<String> {
        let mut out: Vec<String> = lines.iter().map(|l| without_far_ends(l).0).collect();
        out.sort_unstable();
        out
    };
    let alone: Vec<&str> = single.lines().collect();
    let same = masked(&by_tenant[&0]) == masked(&alone);
    assert!(same, "tenant 0 of 3 is the single tenant, numbers aside");
    // Each tenant's far ends end in digits that are its index modulo 3: no number is two tenants'.
    let mut owner: BTreeMap<String, u64> = BTreeMap::new();
    for (tenant, lines) in &by_tenant {
        let numbers: Vec<String> = lines.iter().flat_map(|l| without_far_ends(l).1).collect();
        assert!(numbers.len() > 10, "tenant {tenant}: {} numbers", numbers.len());
        for number in numbers {
            let digits: u64 = number[3..].parse().unwrap();
            assert_eq!(digits % 3, *tenant, "tenant {tenant}'s {number}");
            assert_eq!(*owner.entry(number.clone()).or_insert(*tenant), *tenant, "{number}");
        }
    }
    // The other tenants are other calls, not copies.
    let ids =
        |t: u64| -> BTreeSet<u64> { by_tenant[&t].iter().map(|l| call_id(l) % STRIDE).collect() };
    assert_ne!(ids(0), ids(1));
    assert!(by_tenant[&1].len() > 10 && by_tenant[&2].len() > 10);
}

#[test]
fn limits_count_the_whole_run() {
    let three = dry_run(&["--max-calls", "30", "--tenants", "3"]);
    let calls: BTreeSet<u64> = three.lines().map(call_id).collect();
    assert!(calls.len() <= 30 && calls.len() >= 20, "{} calls", calls.len());
    let tenants: BTreeSet<u64> = calls.iter().map(|id| id / STRIDE).collect();
    assert_eq!(tenants.len(), 3, "{tenants:?}");
    assert_eq!(dry_run(&["--max-events", "250", "--tenants", "3"]).lines().count(), 250);
}

/// The lines of `text`, sorted: a run's output as a multiset.
fn sorted(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines
}

#[test]
fn three_shards_play_exactly_the_tenants_run_between_them() {
    for run in [
        vec!["--tenants", "3", "--max-calls", "60", "--seed", "4"],
        vec!["scenarios/callcentre-load.toml", "--tenants", "3", "--max-events", "500"],
    ] {
        let whole = dry_run(&run);
        let parts: Vec<String> = (1..=3)
            .map(|k| dry_run(&[&run[..], &["--shard", &format!("{k}/3")]].concat()))
            .collect();
        assert!(parts.iter().all(|p| !p.is_empty()), "every shard plays some: {run:?}");
        let union = parts.concat();
        assert_eq!(sorted(&union), sorted(&whole), "{run:?}");
        // No call in two shards: each call's id is in exactly one.
        let ids: Vec<BTreeSet<u64>> =
            parts.iter().map(|p| p.lines().map(call_id).collect()).collect();
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                assert!(a.is_disjoint(b), "{run:?}");
            }
        }
    }
}

#[test]
fn job_completion_index_names_the_shard_and_pbxsim_shard_does_too() {
    let run = ["load", "--dry-run", "--start-time", START, "--tenants", "4", "--max-calls", "40"];
    let flag = dry_run(&["--tenants", "4", "--max-calls", "40", "--shard", "3/4"]);
    let by_index = crate::support::pbxsim()
        .args(run)
        .args(["--shards", "4"])
        .env("JOB_COMPLETION_INDEX", "2")
        .output()
        .unwrap();
    assert_eq!(by_index.status.code(), Some(0), "{}", text(&by_index.stderr));
    assert_eq!(text(&by_index.stdout), flag, "index 2 is shard 3/4");
    let by_env = crate::support::pbxsim().args(run).env("PBXSIM_SHARD", "3/4").output().unwrap();
    assert_eq!(text(&by_env.stdout), flag);
}

#[test]
fn a_shard_that_cannot_be_is_a_usage_error_and_nothing_is_sent() {
    let rx = crate::support::deliver::Receiver::ok();
    /// Flags, environment, what the error says.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 7] = [
        (&["--tenants", "3", "--shard", "0/3"], &[], "shards count from 1 to 3"),
        (&["--tenants", "3", "--shard", "4/3"], &[], "shard 4/3 does not exist"),
        (&["--tenants", "3", "--shard", "1/0"], &[], "at least 1"),
        (&["--tenants", "3", "--shard", "two"], &[], "write K/N"),
        (&["--shard", "2/3"], &[], "at least as many tenants as shards"),
        (&["--tenants", "3", "--shards", "3"], &[], "JOB_COMPLETION_INDEX, which is not set"),
        (
            &["--tenants", "3", "--shards", "3"],
            &[("JOB_COMPLETION_INDEX", "3")],
            "the index must be 0 to 2",
        ),
    ];
    for (args, env, want) in cases {
        let out = crate::support::pbxsim()
            .args(["load", "--target", &rx.url, "--max-calls", "5", "--asap"])
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert_eq!(rx.count(), 0, "nothing is sent");
}

#[test]
fn three_shard_reports_merge_into_what_the_receiver_got() {
    use crate::report_merge::{fed_with_all, json, merge};
    let rx = crate::support::deliver::Receiver::ok();
    let dir = crate::support::tempdir("shards");
    let runs: Vec<_> = (0..3)
        .map(|i| {
            let path = dir.join(format!("shard-{i}.json"));
            let mut cmd = crate::support::pbxsim();
            cmd.args(["load", "-q", "--target", &rx.url, "--report"])
                .arg(&path)
                .args(["--tenants", "3", "--shards", "3", "--seed", "7"])
                .args(["--rate", "30/s", "-z", "1s", "--speed", "600"])
                .env("JOB_COMPLETION_INDEX", i.to_string());
            std::thread::spawn(move || {
                let out = cmd.output().unwrap();
                assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
                path
            })
        })
        .collect();
    let paths: Vec<_> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    let names: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
    let reports: Vec<_> = paths.iter().map(|p| json(p)).collect();
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r["shard"], format!("{}/3", i + 1));
        assert_eq!(r["tenants"], 3);
    }
    let total = dir.join("total.json");
    let out = merge(&[&names[..], &["-o", total.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let m = json(&total);
    for path in ["/events/delivered", "/calls/started", "/raw_latency/count"] {
        let each: Vec<u64> =
            reports.iter().map(|r| r.pointer(path).unwrap().as_u64().unwrap()).collect();
        assert!(each.iter().all(|n| *n > 0), "every shard sent: {path} {each:?}");
        assert_eq!(m.pointer(path).unwrap().as_u64(), Some(each.iter().sum()), "{path}");
    }
    assert_eq!(rx.count(), m["events"]["delivered"].as_u64().unwrap(), "what the receiver got");
    let all = fed_with_all(&reports.iter().map(|r| &r["raw_latency"]).collect::<Vec<_>>());
    assert_eq!(m["raw_latency"]["p99_ms"].as_f64(), Some(all.value_at_quantile(0.99) as f64 / 1e3));
    let shown = text(&pbxsim_output(&["report", "show", total.to_str().unwrap()]).stdout);
    assert!(shown.contains("shard 1/3") && shown.contains("shard 3/3"), "{shown}");

    // Two of three shards: merged, and the missing one is named.
    let out = merge(&[names[0], names[2], "-o", total.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&pbxsim_output(&["report", "show", total.to_str().unwrap()]).stdout);
    assert!(shown.contains("missing    shards 2/3"), "{shown}");
    // The same shard twice is refused, and so is a shard beside an unsharded run.
    let out = merge(&[names[0], names[1], names[0]]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("both shard 1/3"), "{}", text(&out.stderr));
    // A threshold that fails on the merged whole exits 1.
    let out = merge(&[&names[..], &["--threshold", "p99_raw<0.001ms"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
}

#[test]
fn a_common_start_in_the_past_is_reported_late_and_one_ahead_is_kept() {
    let dir = crate::support::tempdir("start-at");
    let run = |at: &str, name: &str| {
        let path = dir.join(name);
        let out = crate::support::pbxsim()
            .args(["load", "--rate", "20/s", "-z", "1s", "--speed", "600", "--start-at", at])
            .arg("--report")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        (text(&out.stdout), crate::report_merge::json(&path))
    };
    let (shown, report) = run("2026-01-01T00:00:00Z", "late.json");
    assert!(report["late_start_ms"].as_u64().unwrap() > 86_400_000, "{report}");
    assert!(shown.contains("s late: the schedule started after the common start"), "{shown}");
    let ahead = (chrono::Utc::now() + chrono::Duration::milliseconds(1500))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (shown, report) = run(&ahead, "ahead.json");
    let late = report["late_start_ms"].as_u64().unwrap();
    assert!(late < 1000, "waited for the start, then started: {late} ms after it");
    assert!(shown.contains("start      "), "{shown}");
    let out = pbxsim_output(&["load", "--start-at", "2999-01-01T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("more than 24 hours away"), "{}", text(&out.stderr));
}

#[test]
fn shards_given_one_common_start_play_one_pbx_clock() {
    let at = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let run = |extra: &[&str]| {
        let mut args = vec!["load", "--dry-run", "--tenants", "2", "--max-calls", "20"];
        args.extend_from_slice(&["--start-at", &at]);
        args.extend_from_slice(extra);
        let out = pbxsim_output(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    // No --start-time: the clock is anchored from the common start, the same in every process.
    let union = [run(&["--shard", "1/2"]), run(&["--shard", "2/2"])].concat();
    assert_eq!(sorted(&union), sorted(&run(&[])));
}
