//! `pbxsim load --tenants`: several independent copies of the PBX in one run, merged in time
//! order, each with its own `unique_call_id` range, the limits counting the whole run.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::{pbxsim_output, text};

const START: &str = "2026-01-05T09:00:00Z";
const STRIDE: u64 = 1_000_000_000_000;

fn dry_run(extra: &[&str]) -> String {
    let mut args = vec!["load", "--dry-run", "--start-time", START];
    args.extend_from_slice(extra);
    let out = pbxsim_output(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

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

#[test]
fn tenants_have_disjoint_ids_and_tenant_zero_plays_the_single_pbx() {
    // Bounded by the window only, tenant 0 of 3 plays exactly the single tenant's calls.
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
    let mut zero: Vec<&str> = by_tenant[&0].clone();
    let mut alone: Vec<&str> = single.lines().collect();
    zero.sort_unstable();
    alone.sort_unstable();
    assert_eq!(zero, alone, "tenant 0 of 3 is the single tenant");
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
