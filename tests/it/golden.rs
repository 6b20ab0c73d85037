//! Golden files: the dry-run output of every scenario in `scenarios/` is pinned, byte for byte.
//!
//! A change to the engine that alters any event shows up here as a snapshot diff; accept it
//! with `INSTA_UPDATE=always cargo test --test it golden::` only when the change is intended.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;

use crate::support::scenario_files;

fn dry_run(file: &str, extra: &[&str]) -> String {
    let out = cargo_bin_cmd!("pbxsim")
        .args(["run", file, "--dry-run"])
        .args(extra)
        .env("NO_COLOR", "1")
        .env_remove("PBX_TOKEN")
        .output()
        .expect("pbxsim runs");
    assert!(
        out.status.success(),
        "{file}: exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn every_scenario_dry_run_is_pinned() {
    let files = scenario_files();
    assert!(files.len() >= 15, "expected the feature scenarios, found {files:?}");
    for file in files {
        let name = Path::new(&file).file_stem().unwrap().to_string_lossy().into_owned();
        let output = dry_run(&file, &[]);
        assert!(!output.is_empty(), "{file} produced no events");
        insta::assert_snapshot!(format!("dry_run__{name}"), output);
    }
}

#[test]
fn same_file_seed_and_start_give_identical_bytes() {
    let args = ["--seed", "99", "--start-time", "2030-01-01T00:00:00Z"];
    let a = dry_run("scenarios/quickstart.toml", &args);
    let b = dry_run("scenarios/quickstart.toml", &args);
    assert_eq!(a, b);
    assert!(a.contains("\"call_start_at\":\"2030-01-01T00:00"), "{a}");
    let c = dry_run("scenarios/quickstart.toml", &["--seed", "100"]);
    assert_ne!(a, c, "another seed gives other call ids");
}

#[test]
fn scenarios_together_produce_all_twelve_types() {
    let mut seen = std::collections::BTreeSet::new();
    for file in scenario_files() {
        for line in dry_run(&file, &[]).lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
            seen.insert(v["type"].as_str().expect("type").to_string());
        }
    }
    let all: std::collections::BTreeSet<String> =
        pbxsim::event::EventType::ALL.iter().map(|t| t.as_str().to_string()).collect();
    assert_eq!(seen, all);
}

#[test]
fn envelope_names_target_and_redacts_the_token() {
    let out = cargo_bin_cmd!("pbxsim")
        .args(["run", "scenarios/webhook-object.toml", "--dry-run", "--envelope"])
        .args(["--target", "http://127.0.0.1:9/hook"])
        .env("PBX_TOKEN", "super-secret-token-value")
        .env("CRM_TOKEN", "super-secret-token-value")
        .output()
        .expect("pbxsim runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("super-secret-token-value"), "token leaked: {text}");
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    for key in ["at_ms", "time", "target", "headers", "body"] {
        assert!(first.get(key).is_some(), "envelope lacks {key}: {first}");
    }
    assert!(text.contains("\"x-pbx-token\":\"***\""), "{text}");
}
