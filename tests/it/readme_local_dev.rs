//! The local-development pair agrees with itself: the README's own `pbxsim listen` is started
//! (on port 0), every README example of `trigger`, `call` and `listen`, and every other example
//! aimed at that listen, is run against it with the target replaced, and the listener ends with
//! exit code 0 and no violation. `run` examples get `--asap` so the test does not wait out the
//! scenario's five minutes.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{repo, text};

const BIN: &str = env!("CARGO_BIN_EXE_pbxsim");

/// The `pbxsim …` command lines of the README's code blocks, comments cut, continuation lines
/// joined.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("read README.md");
    let mut out = Vec::new();
    let mut in_code = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            continue;
        }
        let line = match line.find(" #") {
            Some(i) => &line[..i],
            None => line,
        };
        let line = line.trim();
        if let Some(start) = line.strip_suffix('\\') {
            pending.push_str(start.trim());
            pending.push(' ');
            continue;
        }
        let full = format!("{pending}{line}");
        pending.clear();
        if full.starts_with("pbxsim ") {
            out.push(full);
        }
    }
    out
}

/// `command` with its `--target URL` (or `--port N`) replaced.
fn with_flag(command: &str, flag: &str, value: &str) -> String {
    let words: Vec<&str> = command.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        out.push(words[i].to_string());
        if words[i] == flag && i + 1 < words.len() {
            out.push(value.to_string());
            i += 1;
        }
        i += 1;
    }
    out.join(" ")
}

fn flag_value<'a>(command: &'a str, flag: &str) -> Option<&'a str> {
    let words: Vec<&str> = command.split_whitespace().collect();
    words.iter().position(|w| *w == flag).and_then(|i| words.get(i + 1).copied())
}

/// Runs a README command line through the shell, with `pbxsim` being the binary under test.
fn sh(command: &str) -> Output {
    let line = command.replacen("pbxsim", &format!("'{BIN}'"), 1);
    Command::new("sh")
        .args(["-c", &line])
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("PBXSIM_TOKEN")
        .env_remove("PBX_TOKEN")
        .env_remove("CRM_TOKEN")
        .output()
        .expect("run sh")
}

#[test]
fn readme_trigger_call_and_listen_examples_agree_with_the_readme_listen() {
    let commands = readme_commands();
    let listen = commands
        .iter()
        .find(|c| c.starts_with("pbxsim listen "))
        .expect("the README starts a listener")
        .clone();
    assert_eq!(
        flag_value(&listen, "--token"),
        Some("s3cret"),
        "the README's listen checks a token"
    );
    let port = flag_value(&listen, "--port").expect("the README's listen names its port");
    let its_url = format!("http://127.0.0.1:{port}/");

    // What goes to that listener: trigger and call examples with a target, and any other
    // example aimed at its address; trigger/call examples that only print run on their own.
    let sends: Vec<&String> = commands
        .iter()
        .filter(|c| {
            let target = flag_value(c, "--target");
            let local = c.starts_with("pbxsim trigger ") || c.starts_with("pbxsim call ");
            (local && target.is_some()) || target.is_some_and(|t| t.starts_with(&its_url))
        })
        .collect();
    let offline: Vec<&String> = commands
        .iter()
        .filter(|c| {
            (c.starts_with("pbxsim trigger ") || c.starts_with("pbxsim call "))
                && flag_value(c, "--target").is_none()
        })
        .collect();
    assert!(sends.iter().any(|c| c.starts_with("pbxsim trigger ")), "{sends:?}");
    assert!(sends.iter().any(|c| c.starts_with("pbxsim call ")), "{sends:?}");
    assert!(!offline.is_empty(), "the README prints a triggered event: {commands:?}");

    for command in &offline {
        let out = sh(command);
        assert_eq!(out.status.code(), Some(0), "{command}:\n{}", text(&out.stderr));
        let body: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("--print prints the JSON body");
        assert!(body.get("type").is_some(), "{command}: {body}");
    }

    // How many events the listener will get: one per trigger, a dry run's worth per call.
    let mut expected = 0u64;
    for command in &sends {
        expected += if command.starts_with("pbxsim trigger ") {
            1
        } else {
            let dry =
                format!("{} --dry-run", with_flag(command, "--target", "http://127.0.0.1:9/x"));
            let dry = dry.replace(" --asap", "");
            let out = sh(&dry);
            assert_eq!(out.status.code(), Some(0), "{dry}:\n{}", text(&out.stderr));
            text(&out.stdout).lines().count() as u64
        };
    }

    let listen = format!("{} --exit-after {expected}", with_flag(&listen, "--port", "0"));
    let mut child = Command::new("sh")
        .args(["-c", &format!("exec {}", listen.replacen("pbxsim", &format!("'{BIN}'"), 1))])
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("PBXSIM_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start listen");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("the first line");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first}"))
        .to_string();
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
        rest
    });

    for command in &sends {
        let mut line = with_flag(command, "--target", &format!("{url}/hook"));
        if line.starts_with("pbxsim run ") && !line.contains(" --asap") {
            line.push_str(" --asap");
        }
        let out = sh(&line);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{line}:\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }

    // The listener stops by itself after the last event; a hang fails instead of blocking.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for listen") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("listen did not stop after {expected} events");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = rest.join().expect("reader");
    let mut stderr = String::new();
    let _ = child.stderr.take().expect("stderr").read_to_string(&mut stderr);
    assert_eq!(status.code(), Some(0), "listen:\n{out}\n{stderr}");
    assert!(out.contains(&format!("events:     {expected}")), "{out}");
    assert!(out.contains("violations: 0"), "{out}");
    assert!(!out.contains("violation "), "{out}");
    assert!(out.contains("(one-off: checked on its own)"), "the trigger is a one-off: {out}");
}
