//! Pipes and signals like a Unix tool, through the real binary: a closed stdout (`| head -1`)
//! ends printing without a panic and leaves the exit code to the command; SIGTERM and a
//! process-group SIGINT (two copies at once, as `timeout -s INT` sends) stop a run gracefully,
//! with the summary, the `--failed` journal and `load --report` written.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::deliver::{Receiver, Reply, wait_for_requests};
use crate::support::{self, kill, pbxsim, tempdir};

/// A guard against hanging forever, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(120);

/// A scenario of `calls` calls (about 8 events each) in `dir`.
fn scenario(dir: &Path, calls: usize) -> PathBuf {
    let path = dir.join("calls.toml");
    std::fs::write(&path, support::robust::scenario(calls, 4)).unwrap();
    path
}

/// Wait for `child` to end; its exit code, stdout and stderr.
fn finish(mut child: Child) -> (Option<i32>, String, String) {
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pbxsim did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Run `cmd` with stdout to a pipe that is closed after one line has been read, as
/// `cmd | head -1` does; the line, the exit code and stderr.
fn head_1(cmd: &mut Command) -> (String, Option<i32>, String) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    drop(stdout);
    let (code, _, stderr) = finish(child);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    (first, code, stderr)
}

#[test]
fn dry_runs_schema_validate_and_trigger_print_end_quietly_with_0() {
    let dir = tempdir("unix");
    let file = scenario(&dir, 400);
    let cases: Vec<Vec<&str>> = vec![
        vec!["run", file.to_str().unwrap(), "--dry-run"],
        vec!["run", file.to_str().unwrap(), "--dry-run", "--envelope"],
        vec!["run", file.to_str().unwrap(), "--dry-run", "--chaos", "duplicate=0.5"],
        vec!["call", "inbound", "--dry-run"],
        vec!["schema", "scenario"],
        vec!["schema", "events"],
        vec!["validate", file.to_str().unwrap(), file.to_str().unwrap(), file.to_str().unwrap()],
        vec!["trigger", "queue_call", "--print"],
    ];
    for args in cases {
        let (first, code, stderr) = head_1(pbxsim().args(&args));
        assert!(!first.is_empty(), "{args:?}: {stderr}");
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
    }
}

#[test]
fn run_to_a_target_goes_on_after_head_closes_the_pipe_and_keeps_its_own_code() {
    let dir = tempdir("unix");
    let file = scenario(&dir, 6);
    let ok = Receiver::ok();
    let (first, code, stderr) =
        head_1(pbxsim().arg("run").arg(&file).args(["--asap", "--target", &ok.url]));
    assert!(first.starts_with("playing generated"), "{first}");
    assert_eq!(code, Some(0), "{stderr}");
    let all = ok.count();
    assert!(all >= 6 * 5, "the whole run was sent after stdout closed: {all}");
    // A receiver that fails everything: the run's own code, 1.
    let failing = Receiver::start(|_, _| Reply::status(500));
    let (_, code, stderr) =
        head_1(pbxsim().arg("run").arg(&file).args(["--asap", "--target", &failing.url]));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(failing.count(), all, "every event was tried");
}

#[test]
fn run_with_the_built_in_receiver_survives_a_closed_pipe() {
    let dir = tempdir("unix");
    let file = scenario(&dir, 6);
    let (first, code, stderr) = head_1(pbxsim().arg("run").arg(&file).arg("--asap"));
    assert!(first.contains("built-in receiver"), "{first}");
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn load_replay_and_check_survive_a_closed_pipe() {
    let dir = tempdir("unix");
    let rx = Receiver::ok();
    let (first, code, stderr) =
        head_1(pbxsim().args(["load", "--target", &rx.url, "--asap", "--max-calls", "20"]));
    assert!(!first.is_empty(), "{stderr}");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(rx.count() > 0);

    // A journal of 50 events to replay (every one of them refused by a 500).
    let file = scenario(&dir, 6);
    let journal = dir.join("failed.ndjson");
    let failing = Receiver::start(|_, _| Reply::status(500));
    let status = pbxsim()
        .arg("run")
        .arg(&file)
        .args(["--asap", "--target", &failing.url, "--failed"])
        .arg(&journal)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let before = rx.count();
    let (_, code, stderr) =
        head_1(pbxsim().arg("replay").arg(&journal).args(["--target", &rx.url]));
    assert_eq!(code, Some(0), "{stderr}");
    let lines = std::fs::read_to_string(&journal).unwrap().lines().count() as u64;
    assert_eq!(rx.count() - before, lines, "every line was replayed");

    // `check` of a capture with a violation per line: the verdict stays 1.
    let capture = dir.join("capture.ndjson");
    let line = r#"{"type":"user_inbound_answered","unique_call_id":"1","caller_id":"x"}"#;
    std::fs::write(&capture, format!("{line}\n").repeat(2000)).unwrap();
    let (first, code, stderr) = head_1(pbxsim().arg("check").arg(&capture));
    assert!(first.contains("capture.ndjson:1"), "{first}");
    assert_eq!(code, Some(1), "{stderr}");
}

#[test]
fn listen_ends_quietly_when_its_stdout_closes() {
    let mut child = pbxsim()
        .args(["listen", "--port", "0", "--token", "t0k"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut first, mut second) = (String::new(), String::new());
    stdout.read_line(&mut first).unwrap();
    stdout.read_line(&mut second).unwrap();
    assert!(second.contains("Ctrl-C"), "{second}");
    drop(stdout);
    let url = first.trim().strip_prefix("listening on ").unwrap().to_string();
    // The next line listen prints (this event's) finds the pipe closed: listen ends.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        let body = r#"{"type":"voicemail"}"#;
        let _ = rt.block_on(async {
            let post = reqwest::Client::new().post(format!("{url}/hook"));
            post.header("x-pbx-token", "t0k").body(body).send().await
        });
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, _, stderr) = finish(child);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The malformed event is a violation: listen's own code.
    assert_eq!(code, Some(1), "{stderr}");
}

/// Reads a child's stderr line by line as it comes.
struct Lines(mpsc::Receiver<String>, Vec<String>);

impl Lines {
    fn new(stderr: ChildStderr) -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(rx, Vec::new())
    }

    /// Wait for a line containing `text`.
    fn wait_for(&mut self, text: &str) {
        loop {
            let line = self.0.recv_timeout(PATIENCE).unwrap_or_else(|_| {
                panic!("no line with {text:?} on stderr: {:?}", self.1);
            });
            let found = line.contains(text);
            self.1.push(line);
            if found {
                return;
            }
        }
    }

    fn rest(mut self) -> String {
        while let Ok(line) = self.0.recv_timeout(PATIENCE) {
            self.1.push(line);
        }
        self.1.join("\n")
    }
}

/// A receiver slow enough that the run is still going when the signal comes.
fn slow() -> Receiver {
    Receiver::start(|_, _| Reply { delay: Duration::from_millis(300), ..Reply::ok() })
}

/// `pbxsim run` of 60 calls to `url`, two requests at a time, journaling into `journal`.
fn spawn_run(file: &Path, url: &str, journal: &Path) -> Child {
    pbxsim()
        .arg("run")
        .arg(file)
        .args(["--asap", "--concurrency", "2", "--target", url, "--failed"])
        .arg(journal)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The summary is printed, what was delivered is counted, and every event left is in the
/// journal as cancelled.
fn assert_graceful(stdout: &str, rx: &Receiver, journal: &Path) {
    assert!(stdout.contains("interrupted before the end of the run"), "{stdout}");
    let delivered = rx.count();
    assert!(stdout.contains(&format!("delivered {delivered} ")), "{stdout}");
    let left = std::fs::read_to_string(journal).unwrap();
    assert!(left.lines().count() > 0, "the journal holds the events not sent");
    assert!(left.lines().all(|l| l.contains("cancelled")), "{left}");
}

#[test]
fn sigterm_stops_a_run_like_the_first_ctrl_c_and_exits_143() {
    let dir = tempdir("unix");
    let file = scenario(&dir, 60);
    let journal = dir.join("left.ndjson");
    let rx = slow();
    let child = spawn_run(&file, &rx.url, &journal);
    wait_for_requests(&rx, 2);
    kill(&child, libc::SIGTERM);
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, Some(143), "{stdout}\n{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert!(!stderr.contains("quitting at once"), "{stderr}");
    assert_graceful(&stdout, &rx, &journal);
}

#[test]
fn two_sigints_at_once_are_one_interrupt() {
    let dir = tempdir("unix");
    let file = scenario(&dir, 60);
    let journal = dir.join("left.ndjson");
    let rx = slow();
    let child = spawn_run(&file, &rx.url, &journal);
    wait_for_requests(&rx, 2);
    // What a process-group signal does: a copy to the process and one to its group.
    kill(&child, libc::SIGINT);
    kill(&child, libc::SIGINT);
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, Some(130), "{stdout}\n{stderr}");
    assert!(!stderr.contains("quitting at once"), "{stderr}");
    assert_graceful(&stdout, &rx, &journal);
}

#[test]
fn a_second_sigint_a_moment_later_quits_at_once() {
    let dir = tempdir("unix");
    let file = scenario(&dir, 60);
    let journal = dir.join("left.ndjson");
    // Answers never come in time: the first Ctrl-C would wait for the whole grace period.
    let rx = Receiver::start(|_, _| Reply { delay: Duration::from_secs(60), ..Reply::ok() });
    let mut child = spawn_run(&file, &rx.url, &journal);
    let mut stderr = Lines::new(child.stderr.take().unwrap());
    wait_for_requests(&rx, 2);
    kill(&child, libc::SIGINT);
    stderr.wait_for("interrupted");
    // Well past the gap that makes copies of one signal a single interrupt.
    std::thread::sleep(pbxsim::deliver::QUIT_GAP * 3);
    kill(&child, libc::SIGINT);
    let (code, _, _) = finish(child);
    let stderr = stderr.rest();
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("quitting at once"), "{stderr}");
}

#[test]
fn timeout_s_int_on_the_process_group_leaves_the_summary_and_the_journal() {
    let dir = tempdir("unix");
    let file = scenario(&dir, 60);
    let journal = dir.join("left.ndjson");
    let rx = slow();
    // `timeout` signals the child, then its whole process group: two SIGINTs at once.
    let child = Command::new("timeout")
        .args(["--preserve-status", "-s", "INT", "2"])
        .arg(env!("CARGO_BIN_EXE_pbxsim"))
        .arg("run")
        .arg(&file)
        .args(["--asap", "--concurrency", "2", "--target", &rx.url, "--failed"])
        .arg(&journal)
        .env_remove("PBXSIM_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, Some(130), "{stdout}\n{stderr}");
    assert!(!stderr.contains("quitting at once"), "{stderr}");
    assert_graceful(&stdout, &rx, &journal);
}

#[test]
fn timeout_s_term_on_load_writes_the_report_and_exits_143() {
    let dir = tempdir("unix");
    let report = dir.join("load.json");
    let journal = dir.join("left.ndjson");
    let rx = slow();
    let child = Command::new("timeout")
        .args(["--preserve-status", "-s", "TERM", "3"])
        .arg(env!("CARGO_BIN_EXE_pbxsim"))
        .args(["load", "--target", &rx.url, "--rate", "20/s", "--duration", "10m", "-q"])
        .arg("--report")
        .arg(&report)
        .arg("--failed")
        .arg(&journal)
        .env_remove("PBXSIM_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, Some(143), "{stdout}\n{stderr}");
    assert!(stdout.contains("interrupted"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["interrupted"], true, "{json}");
    assert!(json["events"]["delivered"].as_u64().unwrap() > 0, "{json}");
    assert!(std::fs::metadata(&journal).is_ok(), "the journal was written");
}

#[test]
fn sigterm_and_sigint_end_listen_with_its_summary() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut child = pbxsim()
            .args(["listen", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = String::new();
        let mut byte = [0u8];
        while !first.ends_with('\n') {
            assert_eq!(stdout.read(&mut byte).unwrap(), 1);
            first.push(byte[0] as char);
        }
        assert!(first.starts_with("listening on"), "{first}");
        kill(&child, signal);
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        let (code, _, stderr) = finish(child);
        assert_eq!(code, Some(0), "signal {signal}: {rest}\n{stderr}");
        assert!(rest.contains("summary"), "{rest}");
    }
}
