//! `pbxsim run` end to end: the real binary against a real HTTP receiver on loopback, and the
//! quickstart against the built-in receiver.

use assert_cmd::cargo::cargo_bin_cmd;

use crate::support::deliver::{Receiver, closed_port};

const START: &str = "2026-03-02T09:00:00Z";

fn dry_run(file: &str) -> Vec<String> {
    let out = cargo_bin_cmd!("pbxsim")
        .args(["run", file, "--dry-run", "--start-time", START])
        .env_remove("PBX_TOKEN")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn quickstart_runs_against_the_built_in_receiver() {
    let out = cargo_bin_cmd!("pbxsim")
        .args(["run", "scenarios/quickstart.toml", "--speed", "200"])
        .env("NO_COLOR", "1")
        .env_remove("PBX_TOKEN")
        .env_remove("CRM_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("built-in receiver at http://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("violations: 0"), "{stdout}");
    let expected = dry_run("scenarios/quickstart.toml").len();
    assert!(
        stdout.contains(&format!("generated {expected}  delivered {expected}  failed 0")),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_and_headers_match_the_dry_run() {
    let receiver = Receiver::ok();
    let url = receiver.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        cargo_bin_cmd!("pbxsim")
            .args(["run", "scenarios/webhook-object.toml", "--asap", "--start-time", START])
            .args(["--target", &url, "--token", "global-secret"])
            .env("CRM_TOKEN", "crm-secret")
            .env_remove("PBX_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("global-secret") && !stdout.contains("crm-secret"), "{stdout}");
    let expected = dry_run("scenarios/webhook-object.toml");
    let received = receiver.received();
    assert_eq!(received.len(), expected.len());
    // Each call's events arrive in order; across calls the order may interleave.
    let mut bodies: Vec<String> =
        received.iter().map(|r| String::from_utf8(r.body.to_vec()).unwrap()).collect();
    let mut want = expected.clone();
    bodies.sort();
    want.sort();
    assert_eq!(bodies, want, "bodies are exactly the engine's JSON");
    for r in &received {
        assert_eq!(r.header("content-type"), Some("application/json"));
        let body = r.json();
        if body["type"] == "webhook_component_event" {
            // The object has no token of its own: it carries the global one.
            assert_eq!(r.header("x-pbx-token"), Some("global-secret"));
            assert_eq!(r.header("x-tenant"), Some("acme"));
            assert_eq!(r.header("x-source"), Some("pbxsim"));
        } else {
            assert_eq!(r.header("x-pbx-token"), Some("global-secret"));
            assert_eq!(r.header("x-tenant"), None);
        }
    }
}

#[test]
fn a_closed_port_exits_3_naming_the_url() {
    let url = format!("http://127.0.0.1:{}/hook", closed_port());
    let out = cargo_bin_cmd!("pbxsim")
        .args(["run", "scenarios/outbound.toml", "--asap", "--target", &url])
        .env_remove("PBX_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&url) && stderr.to_lowercase().contains("is the receiver running?"),
        "{stderr}"
    );
}

#[test]
fn a_bad_scenario_exits_2_and_sends_nothing() {
    let receiver = Receiver::ok();
    let out = cargo_bin_cmd!("pbxsim")
        .args(["run", "tests/broken/unknown-queue-member.toml", "--asap", "--target"])
        .arg(&receiver.url)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown-queue-member.toml:"));
    assert_eq!(receiver.count(), 0);
}
