//! Headless Chromium for the browser tests (the inspector, the HTML report), driven over the
//! DevTools protocol by `headless_chrome`: finding Debian's `chromium` (or `PBXSIM_CHROMIUM`),
//! skipping loudly without it (failing under `CI=true`), and launching it with a profile of its
//! own and nothing in the background.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use headless_chrome::{Browser, LaunchOptions};

/// `PBXSIM_CHROMIUM`, else `chromium` or `chromium-browser` on the `PATH`.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PBXSIM_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
}

/// Chromium, or `None` after a loud note that `what` was skipped; under `CI=true` a missing
/// Chromium fails the test instead.
pub fn chromium_or_skip(what: &str) -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        let message = "chromium not found (install Debian's `chromium`, or set PBXSIM_CHROMIUM)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}: under CI {what} must run");
        }
        eprintln!("\n!!! SKIPPED {what}: {message} !!!\n");
    }
    found
}

/// Headless Chromium with a fresh profile named after `tag`, no sandbox, no GPU, and none of
/// its own background requests (updates, sync, QUIC).
pub fn launch(chromium: PathBuf, tag: &str) -> Browser {
    let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{tag}-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let flags: Vec<&OsStr> = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let options = LaunchOptions::default_builder()
        .path(Some(chromium))
        .headless(true)
        .sandbox(false)
        .user_data_dir(Some(profile))
        .window_size(Some((1400, 900)))
        .idle_browser_timeout(Duration::from_secs(300))
        .args(flags)
        .build()
        .unwrap();
    Browser::new(options).expect("headless Chromium starts")
}
