//! `examples/merge_reports.rs`, the README's way to combine the reports of several
//! `pbxsim load` processes today: two real load runs with their own seeds, merged exactly, and
//! thresholds checked on the whole.

#[path = "../../examples/merge_reports.rs"]
#[allow(dead_code)]
mod example;

use crate::support::{pbxsim_output, tempdir};

/// A `pbxsim load` of the built-in PBX against its built-in receiver, 25 calls, `--report`.
fn load(seed: &str, report: &std::path::Path) -> pbxsim::report::LoadReport {
    let out = pbxsim_output(&[
        "load",
        "--asap",
        "--max-calls",
        "25",
        "--seed",
        seed,
        "-q",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    example::read_report(report.to_str().unwrap()).expect("a load report")
}

#[test]
fn two_load_reports_merge_exactly_and_thresholds_apply_to_the_whole() {
    let dir = tempdir("merge-reports");
    let (a_path, b_path) = (dir.join("load-1.json"), dir.join("load-2.json"));
    let (a, b) = (load("1", &a_path), load("2", &b_path));
    assert!(a.calls.started > 0 && b.calls.started > 0);

    let paths = [a_path.to_str().unwrap().to_string(), b_path.to_str().unwrap().to_string()];
    let mut total = example::merge_files(&paths).expect("the reports merge");
    assert_eq!(total.calls.started, a.calls.started + b.calls.started);
    assert_eq!(total.events.generated, a.events.generated + b.events.generated);
    assert_eq!(total.events.delivered, a.events.delivered + b.events.delivered);
    assert_eq!(total.raw_latency.len(), a.raw_latency.len() + b.raw_latency.len());
    for (ty, t) in &total.by_type {
        let part = |r: &pbxsim::report::LoadReport| r.by_type.get(ty).map_or(0, |t| t.delivered);
        assert_eq!(t.delivered, part(&a) + part(&b), "{ty}");
    }

    let pass = total.check(&["error_rate < 0.1%".parse().unwrap()]);
    assert!(pass[0].pass, "{}", total.render());
    let fail = total.check(&["p99_raw < 1us".parse().unwrap()]);
    assert!(!fail[0].pass, "{}", total.render());
    assert!(total.render().contains("p99_raw"), "{}", total.render());

    let missing = example::merge_files(&[dir.join("nope.json").display().to_string()]);
    assert!(missing.unwrap_err().contains("cannot read"));
    assert!(example::merge_files(&[]).is_err());
}
