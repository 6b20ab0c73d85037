//! Build script: `pbxsim --version` names the git commit when built from a checkout.
//!
//! Sets `PBXSIM_VERSION` to `0.1.0 (abc1234 2026-05-01)` when `.git` is here and `git` answers,
//! and to the bare package version otherwise (a crates.io tarball, no git installed): never an
//! error. It reruns when HEAD moves: `.git/HEAD`, the branch's ref and `packed-refs` (resolved
//! with `git rev-parse --git-path`, so worktrees, whose `.git` is a file, work too).

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PBXSIM_BUILD_NO_GIT");
    let mut full = version.to_string();
    let from_checkout =
        Path::new(".git").exists() && std::env::var_os("PBXSIM_BUILD_NO_GIT").is_none();
    if from_checkout && let Some(commit) = git(&["rev-parse", "--short", "HEAD"]) {
        let date = git(&["log", "-1", "--format=%cs", "HEAD"]);
        full = match date {
            Some(date) => format!("{version} ({commit} {date})"),
            None => format!("{version} ({commit})"),
        };
        // What moves HEAD: a checkout (HEAD), a commit on the branch (its ref, loose or packed).
        let mut watch = vec![git(&["rev-parse", "--git-path", "HEAD"])];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch.push(git(&["rev-parse", "--git-path", &branch]));
        }
        watch.push(git(&["rev-parse", "--git-path", "packed-refs"]));
        // A missing path would make cargo rerun this script on every build.
        for path in watch.into_iter().flatten().filter(|p| Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rustc-env=PBXSIM_VERSION={full}");
}
