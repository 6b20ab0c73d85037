//! Fixtures shared by the integration tests: the binary with a clean environment, temporary
//! files, the shipped scenarios, and (in the submodules) real HTTP receivers on 127.0.0.1:0.
//!
//! Every test of every module runs in this one process, in parallel: nothing here (or in a
//! test) may change the process's environment, working directory or signal handling; what a
//! spawned `pbxsim` needs is set on its own command.

pub mod browser;
pub mod deliver;
pub mod robust;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

/// The repository's root (also the tests' working directory).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Output bytes as text, invalid UTF-8 replaced.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Owned copies of `list`, for commands run on another thread.
pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The shipped scenarios, `scenarios/*.toml` (relative to the repository), sorted.
pub fn scenario_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir("scenarios")
        .expect("scenarios/ exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

/// A fresh directory under the system temp dir, `pbxsim-TAG-PID-N`: a new one every call.
pub fn tempdir(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pbxsim-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `name` in this process's directory for `tag`, `pbxsim-TAG-PID`: the same path every call,
/// so a test can name a file for a command to write and read it afterwards.
pub fn temp(tag: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pbxsim-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The `pbxsim` binary with a clean environment: `NO_COLOR=1` and no `PBXSIM_TOKEN`.
pub fn pbxsim() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pbxsim"));
    cmd.env_remove("PBXSIM_TOKEN")
        .env_remove("PBXSIM_SHARD")
        .env_remove("JOB_COMPLETION_INDEX")
        .env("NO_COLOR", "1");
    cmd
}

/// The PBX clock's start the dry-run tests pin, so that their output is the same every run.
pub const DRY_RUN_START: &str = "2026-01-05T09:00:00Z";

/// `pbxsim load --dry-run --start-time DRY_RUN_START EXTRA`, which must exit 0: its stdout.
pub fn load_dry_run(extra: &[&str]) -> String {
    let mut args = vec!["load", "--dry-run", "--start-time", DRY_RUN_START];
    args.extend_from_slice(extra);
    let out = pbxsim_output(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// `pbxsim ARGS` (see [`pbxsim`]) run to its end.
pub fn pbxsim_output(args: &[&str]) -> Output {
    pbxsim().args(args).output().expect("pbxsim runs")
}

/// What a command printed and how it ended.
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// `pbxsim ARGS` (see [`pbxsim`]) with the extra `env`, run on a blocking thread so that an
/// in-process receiver on the test's runtime keeps answering.
pub async fn pbxsim_async(args: Vec<String>, env: Vec<(&'static str, &'static str)>) -> Out {
    let mut cmd = pbxsim();
    cmd.args(&args).envs(env);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    Out { code: out.status.code(), stdout: text(&out.stdout), stderr: text(&out.stderr) }
}

/// Send `signal` to `child` (a process this test started).
pub fn kill(child: &Child, signal: i32) {
    // SAFETY: kill(2) of the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}
