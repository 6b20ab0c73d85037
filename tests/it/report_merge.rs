//! `pbxsim report merge`: load reports of generators run in parallel against one real
//! receiver merge exactly (counts add up, percentiles are those of every sample together),
//! thresholds are checked again on the whole run, and reports that are not parts of one run
//! are refused.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde_json::Value;

use crate::support::deliver::Receiver;
use crate::support::{pbxsim, pbxsim_output, tempdir, text};

/// Runs `pbxsim load ARGS --target URL --report DIR/NAME` (in a thread, so that several run
/// at once) and returns the report's path.
pub(crate) fn load(
    dir: &Path,
    name: &str,
    url: &str,
    args: &[&str],
) -> std::thread::JoinHandle<PathBuf> {
    let path = dir.join(name);
    let mut cmd = pbxsim();
    cmd.args(["load", "-q", "--target", url, "--report"]).arg(&path).args(args);
    std::thread::spawn(move || {
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        path
    })
}

pub(crate) fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// One histogram fed with every bucket of `hists` (the reports' `[value_us, count]` pairs),
/// built here with the hdrhistogram crate alone.
pub(crate) fn fed_with_all(hists: &[&Value]) -> Histogram<u64> {
    let h0 = hists[0];
    let mut h = Histogram::<u64>::new_with_bounds(
        h0["lowest"].as_u64().unwrap(),
        h0["highest"].as_u64().unwrap(),
        h0["significant_digits"].as_u64().unwrap() as u8,
    )
    .unwrap();
    for hist in hists {
        for pair in hist["buckets"].as_array().unwrap() {
            h.record_n(pair[0].as_u64().unwrap(), pair[1].as_u64().unwrap()).unwrap();
        }
    }
    h
}

pub(crate) fn merge(args: &[&str]) -> std::process::Output {
    let mut all = vec!["report", "merge"];
    all.extend_from_slice(args);
    pbxsim_output(&all)
}

#[test]
fn two_generators_merge_into_the_counts_and_percentiles_of_the_whole_run() {
    let rx = Receiver::ok();
    let dir = tempdir("report-merge");
    let paced = ["--rate", "50/s", "-z", "1s", "--speed", "600"];
    let a = load(&dir, "a.json", &rx.url, &[&paced[..], &["--seed", "1"]].concat());
    let b = load(
        &dir,
        "b.json",
        &rx.url,
        &[&paced[..], &["--seed", "2", "--threshold", "error_rate<1%"]].concat(),
    );
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    let total = dir.join("total.json");
    let out = merge(&[a.to_str().unwrap(), b.to_str().unwrap(), "-o", total.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("pass  error_rate < 1%"), "b's threshold is checked again:\n{shown}");

    let (ra, rb, m) = (json(&a), json(&b), json(&total));
    let sum = |path: &str| {
        let get = |v: &Value| v.pointer(path).and_then(Value::as_u64).unwrap_or(0);
        (get(&ra) + get(&rb), get(&m))
    };
    for path in [
        "/events/generated",
        "/events/delivered",
        "/events/requests",
        "/calls/started",
        "/calls/ended",
        "/calls/answered",
        "/answers/200",
        "/by_type/user_inbound/delivered",
        "/by_type/queue_call/generated",
        "/latency/count",
        "/raw_latency/count",
    ] {
        let (want, got) = sum(path);
        assert!(want > 0, "{path}");
        assert_eq!(got, want, "{path}");
    }
    // The receiver got every event of both runs, and nothing else.
    assert_eq!(rx.count(), m["events"]["delivered"].as_u64().unwrap());
    // Percentiles: those of one histogram fed with both reports' samples.
    for which in ["latency", "raw_latency"] {
        let all = fed_with_all(&[&ra[which], &rb[which]]);
        for (q, field) in [(0.5, "p50_ms"), (0.99, "p99_ms"), (0.999, "p99_9_ms")] {
            let want = all.value_at_quantile(q) as f64 / 1000.0;
            assert_eq!(m[which][field].as_f64(), Some(want), "{which} {field}");
        }
        assert_eq!(m[which]["max_ms"].as_f64(), Some(all.max() as f64 / 1000.0));
    }
    let q = "/by_type/user_inbound/raw_latency";
    let all = fed_with_all(&[ra.pointer(q).unwrap(), rb.pointer(q).unwrap()]);
    assert_eq!(
        m.pointer(q).unwrap()["p99_ms"].as_f64(),
        Some(all.value_at_quantile(0.99) as f64 / 1000.0)
    );
    // Rates add (the generators ran side by side), throughput is over the longer wall time.
    let rate = |v: &Value| v["rate"]["target_per_s"].as_f64().unwrap();
    assert!((rate(&m) - rate(&ra) - rate(&rb)).abs() < 1e-9);
    // KPIs are recomputed from the summed counts.
    let offered = |v: &Value| v["kpis"]["queues"][0]["offered"].as_u64().unwrap();
    assert_eq!(offered(&m), offered(&ra) + offered(&rb));
    // The merged report reads as any report, and merges again.
    let again = pbxsim_output(&["report", "show", total.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));

    // A threshold failing on the merged result: exit 1, the verdict printed.
    let out = merge(&[a.to_str().unwrap(), b.to_str().unwrap(), "--threshold", "p99<1us"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("fail  p99 < 1us"), "{}", text(&out.stdout));

    // Not parts of one run: refused, exit 2, naming both files and what differs.
    let a_text = std::fs::read_to_string(&a).unwrap();
    let same = merge(&[a.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(same.status.code(), Some(2));
    assert!(
        text(&same.stderr).contains(
            "both played with seed 1: the same calls twice, which would count every call twice; \
             give each generator its own --seed\n"
        ),
        "{}",
        text(&same.stderr)
    );
    let mut unpaced: Value = serde_json::from_str(&a_text).unwrap();
    unpaced["seed"] = 9.into();
    unpaced["compression"]["asap"] = true.into();
    let unpaced_path = dir.join("unpaced.json");
    std::fs::write(&unpaced_path, unpaced.to_string()).unwrap();
    let out = merge(&[a.to_str().unwrap(), unpaced_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("compress calls differently (600x and --asap, built at 600x): only parts"),
        "{err}"
    );
    let mut other: Value = serde_json::from_str(&a_text).unwrap();
    other["scenario"] = "callcentre".into();
    other["seed"] = 9.into();
    let other_path = dir.join("other.json");
    std::fs::write(&other_path, other.to_string()).unwrap();
    let out = merge(&[a.to_str().unwrap(), other_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("different scenarios") && err.contains("other.json"), "{err}");
    let mut finer: Value = serde_json::from_str(&a_text).unwrap();
    finer["seed"] = 9.into();
    finer["raw_latency"]["significant_digits"] = 3.into();
    let finer_path = dir.join("finer.json");
    std::fs::write(&finer_path, finer.to_string()).unwrap();
    let out = merge(&[a.to_str().unwrap(), finer_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("raw latency histogram has other settings"), "{err}");
    let out = merge(&[a.to_str().unwrap(), dir.join("missing.json").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing.json"));
}
