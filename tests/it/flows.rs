//! Every call ends: call flows that loop are refused by every command that loads a file, with
//! nothing sent, and the engine's per-call step limit stops what the check cannot see, naming
//! the call, in a dry run, a live run and a load run.

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::cargo::cargo_bin_cmd;

use crate::support::deliver::Receiver;
use crate::support::text;

const LOOPS: [&str; 4] = [
    "tests/broken/loop-queue-fails-over-to-itself.toml",
    "tests/broken/loop-queue-ring-group.toml",
    "tests/broken/loop-through-on-timeout.toml",
    "tests/broken/loop-in-a-flow-step.toml",
];

fn pbxsim(args: &[&str]) -> Output {
    cargo_bin_cmd!("pbxsim")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("PBX_TOKEN")
        .env_remove("PBXSIM_TOKEN")
        .args(args)
        .output()
        .expect("run pbxsim")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_that_loads_a_file_refuses_a_loop_and_sends_nothing() {
    let receiver = Receiver::ok();
    let url = receiver.url.clone();
    tokio::task::spawn_blocking(move || {
        for file in LOOPS {
            let commands: [Vec<&str>; 5] = [
                vec!["validate", file],
                vec!["run", file, "--asap", "--target", &url],
                vec!["run", file, "--dry-run"],
                vec!["call", "inbound", "--scenario", file, "--target", &url],
                vec!["load", file, "--target", &url, "--duration", "1s", "--asap"],
            ];
            for args in commands {
                let out = pbxsim(&args);
                let stderr = text(&out.stderr);
                assert_eq!(out.status.code(), Some(2), "{args:?}:\n{stderr}");
                assert!(stderr.contains("a call nobody answers never ends"), "{args:?}:\n{stderr}");
                assert!(stderr.contains(&format!("[{file}:")), "{args:?}: file:line:col\n{stderr}");
                assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(receiver.count(), 0, "nothing was sent");
}

/// A valid flow longer than the engine lets one call go: 1,001 webhook steps.
fn long_flow_file() -> PathBuf {
    let steps = vec!["\"webhook:CRM\""; 1_001].join(", ");
    let source = format!(
        "start_time = \"2026-03-02T09:00:00Z\"\n\
         [traffic]\nrate = \"1/s\"\noutbound = 0\n\
         [[users]]\nname = \"Alice Nguyen\"\nextension = \"1010\"\n\
         [[webhooks]]\nname = \"CRM\"\n\
         [[numbers]]\nnumber = \"61290000001\"\nflow = [{steps}]\n\
         [[calls]]\nat = \"0s\"\nfrom = \"61400000001\"\nto = \"61290000001\"\n"
    );
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("flows-long-flow.toml");
    std::fs::write(&path, source).expect("write the scenario");
    path
}

fn assert_stopped(out: &Output, what: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: exit code\n{stderr}");
    assert!(
        stderr.contains("error: call 1 of the run (unique_call_id ")
            && stderr.contains("to 61290000001) went past 1000 call-flow steps without ending"),
        "{what}: names the call\n{stderr}"
    );
    assert!(stderr.contains("help: every call may take at most 1000 call-flow steps"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_step_limit_stops_a_call_in_every_command() {
    let file = long_flow_file();
    let file = file.to_str().expect("UTF-8 path").to_string();
    let out = pbxsim(&["validate", &file]);
    assert_eq!(out.status.code(), Some(0), "the flow is valid: {}", text(&out.stderr));

    let out = pbxsim(&["run", &file, "--dry-run"]);
    assert_stopped(&out, "dry run");
    // `run` simulates the calls before it sends (to anchor the clock), so it refuses up front.
    assert_eq!(text(&out.stdout).lines().count(), 0, "nothing printed");

    let receiver = Receiver::ok();
    let url = receiver.url.clone();
    let (run, load) = tokio::task::spawn_blocking(move || {
        let run = pbxsim(&["run", &file, "--asap", "--target", &url]);
        let load = pbxsim(&["load", &file, "--asap", "--max-calls", "1", "--target", &url, "-q"]);
        (run, load)
    })
    .await
    .unwrap();
    assert_stopped(&run, "run");
    assert_stopped(&load, "load");
    // `run` sent nothing; `load` cannot simulate open-ended traffic first: it sent the call's
    // 1,000 events and nothing after the limit.
    assert_eq!(receiver.count(), 1_000, "nothing from run, 1,000 events from load");
}
