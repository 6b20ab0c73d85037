//! Secrets never leak: a full run with distinctive tokens (global token, webhook-object token,
//! a webhook object's API-key header) through every command, then every output is searched
//! for them: stdout and stderr of `run` (to a target and to the built-in receiver), `--dry-run`
//! and `--dry-run --envelope`, the `--failed` journal, `replay`, `trigger`, `validate` and its
//! error messages, `load` (with forged-token chaos) and its report, JUnit, CSV and journal files,
//! `listen` and its `--save` file. The target URLs carry a secret query parameter
//! (`?token=…`), which must be masked everywhere too, connection errors included.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;

use crate::support;
use crate::support::robust::{Lean, OBJECT_KEY, OBJECT_TOKEN, Reply, TOKEN, percent};

/// A secret in the target's query string (`?token=…`, `?api_key=…`).
const QUERY_SECRET: &str = "qry-3e8a77c0-in-the-url";

const SECRETS: [&str; 4] = [TOKEN, OBJECT_TOKEN, OBJECT_KEY, QUERY_SECRET];

/// Every output, by name.
#[derive(Default)]
struct Outputs(Vec<(String, String)>);

impl Outputs {
    fn add(&mut self, name: &str, bytes: &[u8]) {
        self.0.push((name.to_string(), String::from_utf8_lossy(bytes).into_owned()));
    }
    fn command(&mut self, name: &str, cmd: &mut assert_cmd::Command) -> std::process::Output {
        let out =
            cmd.env_remove("PBXSIM_TOKEN").timeout(Duration::from_secs(120)).output().unwrap();
        self.add(&format!("{name} (stdout)"), &out.stdout);
        self.add(&format!("{name} (stderr)"), &out.stderr);
        out
    }
    fn file(&mut self, name: &str, path: &Path) {
        self.add(name, &std::fs::read(path).unwrap());
    }
}

fn pbxsim() -> assert_cmd::Command {
    cargo_bin_cmd!("pbxsim")
}

#[test]
fn no_output_of_a_full_run_contains_a_secret() {
    let dir = support::tempdir("secrets");
    let scenario = dir.join("s.toml");
    let text = support::robust::scenario(4, 3);
    std::fs::write(&scenario, &text).unwrap();
    let journal = dir.join("failed.ndjson");
    let saved = dir.join("saved.ndjson");
    let mut outputs = Outputs::default();

    // A run to a receiver that answers 503 to a third of the events: they fail and are
    // journalled.
    let rx = Lean::start(&[TOKEN, OBJECT_TOKEN], |hash, _| match percent(hash, 0, 1) < 33 {
        true => Reply { status: 503, ..Reply::OK },
        false => Reply::OK,
    });
    let target = format!("{}?token={QUERY_SECRET}&tenant=acme", rx.url());
    let out = outputs.command(
        "run --target",
        pbxsim()
            .arg("run")
            .arg(&scenario)
            .args(["--asap", "--target", &target])
            .arg("--failed")
            .arg(&journal),
    );
    assert_eq!(out.status.code(), Some(1), "some events failed");
    outputs.file("--failed journal", &journal);
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    assert!(journal_text.lines().count() > 0);
    assert!(journal_text.contains("/hook?token=***&tenant=acme\""), "{journal_text}");
    // The token from the environment and from --token.
    outputs.command(
        "run PBXSIM_TOKEN",
        pbxsim()
            .arg("run")
            .arg(&scenario)
            .args(["--asap", "--target", &target])
            .env("PBXSIM_TOKEN", TOKEN),
    );
    outputs.command(
        "run --token",
        pbxsim().arg("run").arg(&scenario).args(["--asap", "--target", &target, "--token", TOKEN]),
    );
    // Connection errors quote the URL: a closed port, for run, call and load.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook?api_key={QUERY_SECRET}", l.local_addr().unwrap())
    };
    let out = outputs.command(
        "run unreachable",
        pbxsim().arg("run").arg(&scenario).args(["--asap", "--target", &closed]),
    );
    assert_eq!(out.status.code(), Some(3));
    outputs.command("call unreachable", pbxsim().args(["call", "inbound", "--target", &closed]));
    outputs.command(
        "load unreachable",
        pbxsim().args(["load", "--max-calls", "3", "--asap", "--target", &closed]),
    );
    outputs.command(
        "trigger unreachable",
        pbxsim().args(["trigger", "voicemail", "--target", &closed, "--token", TOKEN]),
    );
    outputs.command(
        "bad --route",
        pbxsim().arg("run").arg(&scenario).args(["--route", &format!("queue_cal={closed}")]),
    );
    // `load` with chaos (forged tokens are derived from the real one): its text report, the
    // --report JSON, --junit, --stats-csv and its --failed journal.
    let (report, junit, csv, load_journal) = (
        dir.join("load.json"),
        dir.join("load.xml"),
        dir.join("load.csv"),
        dir.join("load-failed.ndjson"),
    );
    outputs.command(
        "load",
        pbxsim()
            .arg("load")
            .arg(&scenario)
            .args(["--rate", "20/s", "--duration", "1s", "--target", &target])
            .args(["--threshold", "p99<10s", "--chaos", "wrong_token=0.3,duplicate=0.1"])
            .arg("--report")
            .arg(&report)
            .arg("--junit")
            .arg(&junit)
            .arg("--stats-csv")
            .arg(&csv)
            .arg("--failed")
            .arg(&load_journal),
    );
    for (name, path) in [("load --report", &report), ("load --junit", &junit)] {
        outputs.file(name, path);
    }
    outputs.file("load --stats-csv", &csv);
    outputs.file("load --failed journal", &load_journal);
    // The built-in receiver prints every event and violation.
    let out = outputs.command("run built-in", pbxsim().arg("run").arg(&scenario).arg("--asap"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    outputs.command("dry-run", pbxsim().arg("run").arg(&scenario).arg("--dry-run"));
    outputs.command(
        "dry-run --envelope",
        pbxsim().arg("run").arg(&scenario).args(["--dry-run", "--envelope"]),
    );
    let out = outputs.command(
        "dry-run --envelope --target --route",
        pbxsim()
            .arg("run")
            .arg(&scenario)
            .args(["--dry-run", "--envelope", "--target", &target])
            .args(["--route", &format!("voicemail=http://127.0.0.1:1/vm?sig={QUERY_SECRET}")]),
    );
    let envelopes = String::from_utf8_lossy(&out.stdout);
    assert!(envelopes.contains("?token=***&tenant=acme") && envelopes.contains("vm?sig=***"));
    outputs.command("validate", pbxsim().arg("validate").arg(&scenario));
    // An error next to the secrets: the message quotes the file around the error.
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, text.replacen("[webhook]\n", "[webhook]\nurll = \"x\"\n", 1)).unwrap();
    let out = outputs.command("validate broken", pbxsim().arg("validate").arg(&broken));
    assert_eq!(out.status.code(), Some(2));
    let broken = dir.join("broken2.toml");
    std::fs::write(&broken, text.replacen("[[webhooks]]\n", "[[webhooks]]\nnmae = \"x\"\n", 1))
        .unwrap();
    let out = outputs.command("run broken", pbxsim().arg("run").arg(&broken).arg("--asap"));
    assert_eq!(out.status.code(), Some(2));

    // listen, fed by replay (the journal), a run (with the object's API key), and triggers
    // with the right and a wrong token.
    let mut listen = Command::new(assert_cmd::cargo::cargo_bin!("pbxsim"))
        .args(["listen", "--port", "0", "--token", TOKEN, "--save"])
        .arg(&saved)
        .env_remove("PBXSIM_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(listen.stdout.take().unwrap());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    let url = first.trim().strip_prefix("listening on ").expect(&first).to_string()
        + &format!("/hook?token={QUERY_SECRET}");
    outputs.add("listen (first line)", first.as_bytes());
    outputs.command(
        "replay",
        pbxsim().arg("replay").arg(&journal).args(["--target", &url, "--token", TOKEN]),
    );
    outputs.command(
        "run to listen",
        pbxsim().arg("run").arg(&scenario).args(["--asap", "--target", &url]),
    );
    outputs.command(
        "trigger",
        pbxsim().args(["trigger", "user_inbound", "--target", &url, "--token", TOKEN]),
    );
    outputs.command(
        "trigger wrong token",
        pbxsim().args([
            "trigger",
            "queue_call",
            "--target",
            &url,
            "--token",
            &format!("{TOKEN}-x"),
        ]),
    );
    outputs.command(
        "trigger -H",
        pbxsim()
            .args(["trigger", "voicemail", "--target", &url, "--token", TOKEN])
            .args(["-H", &format!("X-Api-Key: {OBJECT_KEY}")]),
    );
    // Ctrl-C: listen prints its summary and exits.
    // SAFETY: a plain kill(2) of the child we started.
    unsafe { libc::kill(listen.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut lines, &mut rest).unwrap();
    outputs.add("listen (stdout)", rest.as_bytes());
    let finished = listen.wait_with_output().unwrap();
    outputs.add("listen (stderr)", &finished.stderr);
    assert!(rest.contains("summary"), "{rest}");
    outputs.file("listen --save", &saved);
    let saved_text = std::fs::read_to_string(&saved).unwrap();
    assert!(saved_text.contains("x-api-key"), "the object's header was received and saved");
    assert!(saved_text.contains("\"x-pbx-token\":\"***\""), "{saved_text}");

    let mut leaks = Vec::new();
    for (name, text) in &outputs.0 {
        for secret in SECRETS {
            if text.contains(secret) {
                leaks.push(format!("{name} contains {secret}:\n{text}"));
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n\n"));
    assert!(outputs.0.len() > 25, "every output was looked at");
    let _ = std::fs::remove_dir_all(dir);
}
