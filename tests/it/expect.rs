//! `[expect]` thresholds and `[traffic]` under `pbxsim run`: the real binary against a real HTTP
//! receiver on loopback. Thresholds set exit code 1 when one fails, keep 3 for an unreachable
//! target, and are ignored by `--dry-run`; a traffic-only scenario points at `pbxsim load`.

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::cargo::cargo_bin_cmd;

use crate::support::deliver::{Receiver, Reply, closed_port};

const SHIPPED: &str = "scenarios/expect.toml";

/// `scenarios/expect.toml` with its `[expect]` thresholds replaced, written to a file of its own.
fn with_thresholds(name: &str, thresholds: &[&str]) -> PathBuf {
    let source = std::fs::read_to_string(SHIPPED).expect("read the shipped scenario");
    let start = source.find("\n[expect]\n").expect("the scenario has [expect]") + 1;
    let end = start + source[start..].find("\n]\n").expect("the list ends") + 3;
    let list: Vec<String> = thresholds.iter().map(|t| format!("{t:?}")).collect();
    let replaced = format!(
        "{}[expect]\nthresholds = [{}]\n{}",
        &source[..start],
        list.join(", "),
        &source[end..]
    );
    write_scenario(name, &replaced)
}

fn write_scenario(name: &str, source: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("expect-{name}.toml"));
    std::fs::write(&path, source).expect("write the scenario");
    path
}

/// Runs `pbxsim run FILE --asap --target URL ARGS` off the async runtime.
async fn run(file: PathBuf, url: String, args: &[&str]) -> (Output, String) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        cargo_bin_cmd!("pbxsim")
            .arg("run")
            .arg(&file)
            .args(["--asap", "--target", &url, "--token", "t"])
            .args(&args)
            .env("NO_COLOR", "1")
            .env_remove("PBX_TOKEN")
            .output()
            .expect("pbxsim runs")
    })
    .await
    .expect("the command thread");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let shown = format!("{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    (out, shown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passing_thresholds_exit_0_and_are_shown() {
    let receiver = Receiver::ok();
    let file = with_thresholds(
        "pass",
        &["p99 < 1m", "max <= 10m", "mean < 1m", "error_rate < 0.1%", "throughput > 0"],
    );
    let (out, shown) = run(file, receiver.url.clone(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("thresholds 5 passed, 0 failed"), "{shown}");
    assert!(shown.contains("pass  p99 < 60s"), "{shown}");
    assert!(shown.contains("pass  error_rate < 0.1%  (0%)"), "{shown}");
    assert!(receiver.count() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_error_rate_exits_1_even_when_failures_are_allowed() {
    // The second request gets a 500: one event of the run finally fails.
    let receiver = Receiver::start(|n, _| if n == 1 { Reply::status(500) } else { Reply::ok() });
    let file = with_thresholds("error-rate", &["error_rate < 0.1%", "p99_raw < 1m"]);
    let (out, shown) = run(file, receiver.url.clone(), &["--allow-failures"]).await;
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("thresholds 1 passed, 1 failed"), "{shown}");
    assert!(shown.contains("fail  error_rate < 0.1%"), "{shown}");
    assert!(shown.contains("pass  p99_raw < 60s"), "{shown}");

    // Without the threshold, --allow-failures makes the same run exit 0.
    let receiver = Receiver::start(|n, _| if n == 1 { Reply::status(500) } else { Reply::ok() });
    let file = with_thresholds("no-thresholds", &[]);
    let (out, shown) = run(file, receiver.url.clone(), &["--allow-failures"]).await;
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(!shown.contains("thresholds"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impossible_latency_and_an_unmeasured_rate_fail() {
    // Latency is recorded in whole microseconds, at least 1: nothing is below 1us.
    let receiver = Receiver::ok();
    let file = with_thresholds("latency", &["p99 < 1us", "error_rate <= 0", "rate >= 95%"]);
    let (out, shown) = run(file, receiver.url.clone(), &[]).await;
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("thresholds 1 passed, 2 failed"), "{shown}");
    assert!(shown.contains("fail  p99 < 1us"), "{shown}");
    assert!(shown.contains("pass  error_rate <= 0%"), "{shown}");
    let rate = shown.lines().find(|l| l.contains("rate >= 95%")).unwrap_or_default();
    assert!(rate.trim().starts_with("fail") && rate.ends_with("(not measured)"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_keeps_exit_code_3() {
    let url = format!("http://127.0.0.1:{}/hook", closed_port());
    let (out, shown) = run(SHIPPED.into(), url, &[]).await;
    assert_eq!(out.status.code(), Some(3), "{shown}");
    assert!(shown.contains("fail  p99 < 500ms"), "{shown}");
}

#[test]
fn dry_run_ignores_thresholds() {
    let file = with_thresholds("dry-run", &["p99 < 1us"]);
    let out = cargo_bin_cmd!("pbxsim")
        .arg("run")
        .arg(&file)
        .arg("--dry-run")
        .env_remove("PBX_TOKEN")
        .output()
        .expect("pbxsim runs");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("threshold") && stdout.lines().count() > 10, "{stdout}");
}

#[test]
fn a_traffic_only_scenario_points_at_load() {
    let source = std::fs::read_to_string("scenarios/callcentre-load.toml").expect("read");
    let calls = source.find("# Smoke test").expect("the scripted calls");
    let file = write_scenario("traffic-only", &source[..calls]);
    let out = cargo_bin_cmd!("pbxsim")
        .arg("run")
        .arg(&file)
        .args(["--target", "http://127.0.0.1:9/never"])
        .env("NO_COLOR", "1")
        .output()
        .expect("pbxsim runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("has no [[calls]] to play"), "{stderr}");
    assert!(stderr.contains("pbxsim load"), "{stderr}");
    assert!(out.stdout.is_empty());

    // With scripted calls too, `run` plays them and says where the traffic goes.
    let out = cargo_bin_cmd!("pbxsim")
        .args(["run", "scenarios/callcentre-load.toml", "--dry-run"])
        .output()
        .expect("pbxsim runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("for its [traffic] section, use `pbxsim load"), "{stderr}");
    assert!(!out.stdout.is_empty());
}
