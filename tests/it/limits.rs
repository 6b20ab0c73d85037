//! The open-files limit, through the real binary started under `prlimit`: a `--concurrency` the
//! hard limit cannot carry is refused before anything is sent (exit 2, with what to do), and a
//! low soft limit is raised up to the hard one so the run succeeds.

use std::time::Duration;

use crate::support::robust::{Lean, OBJECT_TOKEN, Reply, TOKEN, parse_summary};
use crate::support::{self, text};

/// `prlimit --nofile=SOFT:HARD pbxsim ARGS…`, or `None` where prlimit is missing.
fn limited(soft: u64, hard: u64, args: &[&str]) -> Option<std::process::Output> {
    let prlimit =
        ["/usr/bin/prlimit", "/bin/prlimit"].into_iter().find(|p| std::path::Path::new(p).exists());
    let Some(prlimit) = prlimit else {
        eprintln!("prlimit not found: skipped");
        return None;
    };
    let out = assert_cmd::Command::new(prlimit)
        .arg(format!("--nofile={soft}:{hard}"))
        .arg(assert_cmd::cargo::cargo_bin!("pbxsim"))
        .args(args)
        .env_remove("PBXSIM_TOKEN")
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    Some(out)
}

#[test]
fn a_concurrency_beyond_the_hard_limit_is_refused_before_sending() {
    let dir = support::tempdir("limits");
    let scenario = dir.join("s.toml");
    std::fs::write(&scenario, support::robust::scenario(4, 3)).unwrap();
    let file = scenario.to_str().unwrap();
    let rx = Lean::start(&[TOKEN, OBJECT_TOKEN], |_, _| Reply::OK);
    let url = rx.url();

    let Some(out) = limited(256, 256, &["run", file, "--target", &url, "--concurrency", "300"])
    else {
        return;
    };
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "--concurrency 300 with 2 endpoints needs about 700 open files but the limit is 256; \
             raise it with `ulimit -n 1024` or lower --concurrency"
        ),
        "{stderr}"
    );
    assert!(rx.codes().is_empty(), "nothing was sent");

    // The built-in receiver holds the other end of every connection.
    let out = limited(256, 256, &["run", file, "--asap", "--concurrency", "100"]).unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("with 2 endpoints and the built-in receiver needs about 500"),
        "{stderr}"
    );

    // replay too.
    let journal = dir.join("j.ndjson");
    std::fs::write(
        &journal,
        format!("{{\"target\":\"{url}\",\"body\":{{\"type\":\"voicemail\"}}}}\n"),
    )
    .unwrap();
    let out =
        limited(128, 128, &["replay", journal.to_str().unwrap(), "--concurrency", "64"]).unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--concurrency 64 needs about 164 open files but the limit is 128"),
        "{stderr}"
    );
    assert!(rx.codes().is_empty(), "nothing was sent");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_low_soft_limit_is_raised_to_what_the_run_needs() {
    let dir = support::tempdir("limits-raise");
    let scenario = dir.join("s.toml");
    // About 12 events per call, 400 calls: enough calls at once to keep 200 workers busy.
    std::fs::write(&scenario, support::robust::scenario(400, 8)).unwrap();
    let expected = support::robust::expected_bodies(&scenario);
    let delay = Reply { delay: Duration::from_millis(2), ..Reply::OK };
    let rx = Lean::start(&[TOKEN, OBJECT_TOKEN], move |_, _| delay);
    let file = scenario.to_str().unwrap();
    let url = rx.url();
    // 64 open files could not hold 200 workers' connections; the hard limit can.
    let Some(out) =
        limited(64, 4096, &["run", file, "--target", &url, "--asap", "--concurrency", "200"])
    else {
        return;
    };
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let summary = parse_summary(&stdout);
    assert_eq!((summary.delivered, summary.failed), (expected.len() as u64, 0), "{stdout}");
    rx.assert_exactly_once(&expected);
    let _ = std::fs::remove_dir_all(dir);
}
