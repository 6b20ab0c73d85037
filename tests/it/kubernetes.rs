//! `examples/kubernetes/`: the Indexed Job's settings, and `rehearse.sh`, which plays the Job
//! on this machine (N pbxsim processes with `JOB_COMPLETION_INDEX=0..N-1`, the pods' own
//! arguments, one local receiver, the merge Job's arguments) and checks that the merged report
//! counts exactly what the receiver received.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{repo, tempdir, text};

/// The first container's `args:` of a manifest, as `rehearse.sh` reads them.
fn job_args(manifest: &str) -> Vec<String> {
    let mut lines = manifest.lines().skip_while(|l| l.trim() != "args:").skip(1);
    let mut args = Vec::new();
    for line in lines.by_ref() {
        let Some(arg) = line.trim().strip_prefix("- ") else { break };
        args.push(arg.trim_matches('"').to_owned());
    }
    args
}

/// The value after `flag` in `args`.
fn after<'a>(args: &'a [String], flag: &str) -> &'a str {
    let at = args.iter().position(|a| a == flag).unwrap_or_else(|| panic!("{flag} in {args:?}"));
    &args[at + 1]
}

fn manifest(name: &str) -> String {
    std::fs::read_to_string(repo().join("examples/kubernetes").join(name)).unwrap()
}

/// Whether `manifest` has the line `key: value` (at any indentation).
fn has(manifest: &str, key: &str, value: &str) -> bool {
    manifest.lines().any(|l| l.trim() == format!("{key}: {value}"))
}

#[test]
fn the_job_is_indexed_without_retries_and_the_merge_reads_every_shard() {
    let load = manifest("load-job.yaml");
    let args = job_args(&load);
    assert_eq!(args[0], "load", "{args:?}");
    let shards = after(&args, "--shards");
    for (key, value) in [
        ("completionMode", "Indexed"),
        ("completions", shards),
        ("parallelism", shards),
        ("backoffLimitPerIndex", "0"),
        ("maxFailedIndexes", "0"),
        ("restartPolicy", "Never"),
    ] {
        assert!(has(&load, key, value), "load-job.yaml lacks {key}: {value}");
    }
    let tenants: u32 = after(&args, "--tenants").parse().unwrap();
    assert!(tenants >= shards.parse().unwrap(), "at least as many tenants as shards");
    assert_eq!(after(&args, "--report"), "/reports/shard-$(JOB_COMPLETION_INDEX).json");
    assert_eq!(after(&args, "--start-at"), "$(START_AT)");
    // The token comes from a Secret, never from the arguments.
    assert!(!args.iter().any(|a| a.starts_with("--token")), "{args:?}");
    let secret = load.split("name: PBXSIM_TOKEN").nth(1).expect("PBXSIM_TOKEN is set");
    assert!(secret.trim_start().starts_with("valueFrom:\n"), "{secret}");
    assert!(secret.contains("secretKeyRef:"), "{secret}");

    let merge = manifest("merge-job.yaml");
    let args = job_args(&merge);
    assert_eq!(args[..2], ["report", "merge"]);
    let reports: Vec<&String> = args.iter().filter(|a| a.starts_with("/reports/shard-")).collect();
    let wanted: Vec<String> =
        (0..shards.parse().unwrap()).map(|i: u32| format!("/reports/shard-{i}.json")).collect();
    assert_eq!(reports, wanted.iter().collect::<Vec<_>>(), "one report per index");
    assert_eq!(after(&args, "-o"), "/reports/total.json");
    assert!(has(&merge, "restartPolicy", "Never") && has(&merge, "backoffLimit", "0"));
}

/// The debug build's `examples/bench_receiver`, built when `cargo test` has not built it.
fn bench_receiver() -> PathBuf {
    let debug = Path::new(env!("CARGO_BIN_EXE_pbxsim")).parent().unwrap().to_owned();
    let receiver = debug.join("examples/bench_receiver");
    if !receiver.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", "bench_receiver"])
            .current_dir(repo())
            .status()
            .unwrap();
        assert!(status.success(), "cargo build --example bench_receiver");
    }
    receiver
}

/// `rehearse.sh` with `env` and a short, fast run: what it printed and its exit code.
fn rehearse(env: &[(&str, &str)], receiver: &Path) -> Output {
    Command::new("bash")
        .arg(repo().join("examples/kubernetes/rehearse.sh"))
        .env("PBXSIM", env!("CARGO_BIN_EXE_pbxsim"))
        .env("RECEIVER", receiver)
        .envs([("DURATION", "2s"), ("SPEED", "600"), ("LEAD", "2"), ("NO_COLOR", "1")])
        .envs(env.iter().copied())
        .env_remove("PBXSIM_TOKEN")
        .env_remove("PBXSIM_SHARD")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap()
}

#[test]
fn the_rehearsal_merges_exactly_what_the_receiver_received() {
    let out = rehearse(&[("N", "3")], &bench_receiver());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let counted = stdout
        .lines()
        .find_map(|l| l.strip_prefix("rehearse: the merged report counts "))
        .unwrap_or_else(|| panic!("no count: {stdout}\n{stderr}"));
    let words: Vec<&str> = counted.split_whitespace().collect();
    let delivered: u64 = words[0].parse().unwrap();
    assert!(delivered > 100, "{counted}");
    assert_eq!(words.last().unwrap().parse::<u64>().unwrap(), delivered, "{counted}");
    // The pods' arguments were played: the manifest's tenants, 3 shards, merged.
    assert!(stdout.contains("seed 1, 8 tenants"), "{stdout}");
    for shard in ["shard 1/3", "shard 2/3", "shard 3/3"] {
        assert!(stdout.contains(shard), "{shard}: {stdout}");
    }
    assert!(stdout.contains("error_rate < 0.1%"), "the merge Job's thresholds: {stdout}");
    // The merge Job's verdict is the exit code; on a machine this busy, the p99 may miss.
    match out.status.code() {
        Some(0) => assert!(!stdout.contains("  fail  "), "{stdout}"),
        Some(1) => assert!(stderr.contains("a threshold failed") && stdout.contains("  fail  ")),
        other => panic!("exit {other:?}: {stdout}\n{stderr}"),
    }
}

#[test]
fn more_shards_than_tenants_fail_the_rehearsal_with_exit_2() {
    let out = rehearse(&[("N", "9"), ("DURATION", "1s")], &bench_receiver());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("shard 9/9 (JOB_COMPLETION_INDEX=8) exited with code 2"), "{stderr}");
    assert!(stderr.contains("9 shards of 8 tenants"), "{stderr}");
}

#[test]
fn a_receiver_that_lost_an_event_is_a_mismatch_with_exit_1() {
    // A receiver that answers everything but reports one request fewer than it answered.
    let dir = tempdir("rehearse-short");
    let wrapper = dir.join("short-receiver");
    std::fs::write(
        &wrapper,
        format!(
            r#"#!/usr/bin/env bash
out="{dir}/real.out"
"{real}" >"$out" &
pid=$!
stop() {{
    kill -TERM "$pid"; wait "$pid"
    n="$(sed -n 's/^received //p' "$out")"
    echo "received $((n - 1))"
    exit 0
}}
trap stop TERM
until grep -q '^listening on' "$out"; do sleep 0.05; done
grep '^listening on' "$out"
wait "$pid"
"#,
            dir = dir.display(),
            real = bench_receiver().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = rehearse(&[("N", "2"), ("TENANTS", "2")], &wrapper);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}\n{stderr}", text(&out.stdout));
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("rehearse: MISMATCH: the merged report counts "))
        .unwrap_or_else(|| panic!("no mismatch: {stderr}"));
    let numbers: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(numbers.len(), 2, "{line}");
    assert_eq!(numbers[1] + 1, numbers[0], "one event fewer: {line}");
}
