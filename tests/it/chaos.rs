//! `--chaos` end to end: the real binary against real receivers on 127.0.0.1:0.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

use crate::support::deliver::{Receiver, Reply};

const START: &str = "2026-03-02T09:00:00Z";
const TOKEN: &str = "s3cret-token";

/// A queue PBX with a webhook object, and `calls` answered calls two seconds apart (about seven
/// events each), written to a temporary file; `extra` is appended (e.g. a `[chaos]` table).
fn scenario(name: &str, calls: usize, extra: &str) -> PathBuf {
    let mut text = String::from(
        r#"
name = "chaos-test"
seed = 5
start_time = "2026-03-02T09:00:00Z"

[webhook]
token = "s3cret-token"

[recording]
emails = ["rec@example.com"]

[[webhooks]]
name = "CRM"
token = "crm-token"

[[users]]
name = "Alice"
extension = "1010"

[[users]]
name = "Bob"
extension = "1011"

[[users]]
name = "Carol"
extension = "1012"

[[queues]]
name = "Support"
members = ["1010", "1011", "1012"]

[[numbers]]
number = "61290000000"
flow = ["webhook:CRM", "record", "queue:Support"]
"#,
    );
    for i in 0..calls {
        text.push_str(&format!(
            "\n[[calls]]\nat = \"{}s\"\nfrom = \"614000000{:02}\"\nto = \"61290000000\"\n\
             answer_after = \"2s\"\ntalk = \"3s\"\n",
            i * 2,
            i
        ));
    }
    text.push_str(extra);
    let dir = std::env::temp_dir().join(format!("pbxsim-chaos-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn pbxsim(args: &[&str]) -> Run {
    let out = cargo_bin_cmd!("pbxsim")
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("PBX_TOKEN")
        .env_remove("PBXSIM_TOKEN")
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `run FILE --asap --target URL` with `args`, in a blocking task.
async fn run(file: &Path, url: &str, args: &[&str]) -> Run {
    let mut all: Vec<String> = ["run", file.to_str().unwrap(), "--asap", "--target", url]
        .iter()
        .map(|s| s.to_string())
        .collect();
    all.extend(args.iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        pbxsim(&refs)
    })
    .await
    .unwrap()
}

/// The number after `label ` in the summary.
fn figure(stdout: &str, label: &str) -> u64 {
    let at = stdout.find(&format!("{label} ")).unwrap_or_else(|| panic!("no `{label}`:\n{stdout}"));
    let rest = &stdout[at + label.len() + 1..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("`{label}` has no number:\n{stdout}"))
}

/// Every event body received (batch arrays flattened), grouped by call in arrival order, as
/// compact JSON strings. Only requests answered 2xx count.
fn by_call(receiver: &Receiver) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in receiver.received().iter().filter(|r| r.status < 300) {
        let value = r.json();
        let events = match value {
            Value::Array(items) => items,
            single => vec![single],
        };
        for e in events {
            let call = e["unique_call_id"].as_str().unwrap().to_string();
            out.entry(call).or_default().push(e.to_string());
        }
    }
    out
}

/// The dry run's bodies (no chaos), grouped by call.
fn expected_by_call(file: &Path, seed: &str) -> BTreeMap<String, Vec<String>> {
    let file = file.to_str().unwrap();
    let run = pbxsim(&["run", file, "--dry-run", "--start-time", START, "--seed", seed]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in run.stdout.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        out.entry(e["unique_call_id"].as_str().unwrap().to_string())
            .or_default()
            .push(e.to_string());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_follow_their_original_and_are_counted() {
    let file = scenario("duplicate", 12, "");
    let rx = Receiver::ok();
    let out = run(&file, &rx.url, &["--chaos", "duplicate=0.3", "--concurrency", "4"]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let generated = figure(&out.stdout, "generated");
    assert_eq!(figure(&out.stdout, "delivered"), generated, "{}", out.stdout);
    let copies = figure(&out.stdout, "copies sent");
    assert!(copies > 0, "{}", out.stdout);
    assert_eq!(figure(&out.stdout, "duplicated"), copies);
    assert_eq!(rx.count(), generated + copies);

    // Each call's stream is its expected stream with some events repeated right after
    // themselves.
    let expected = expected_by_call(&file, "5");
    let mut repeats = 0;
    for (call, got) in by_call(&rx) {
        let mut collapsed: Vec<String> = Vec::new();
        for body in got {
            if collapsed.last() == Some(&body) {
                repeats += 1;
            } else {
                collapsed.push(body);
            }
        }
        assert_eq!(collapsed, expected[&call], "call {call}");
    }
    assert_eq!(repeats, copies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorder_swaps_neighbours_and_the_same_seed_faults_the_same_events() {
    let file = scenario("reorder", 12, "");
    let expected = expected_by_call(&file, "9");
    let chaos = ["--chaos", "reorder=0.3,duplicate=0.1", "--seed", "9", "--start-time", START];
    let (a, b) = (Receiver::ok(), Receiver::ok());
    let first = run(&file, &a.url, &chaos).await;
    let second = run(&file, &b.url, &[&chaos[..], &["--concurrency", "1"]].concat()).await;
    assert_eq!(first.code, Some(0), "{}", first.stdout);
    assert_eq!(second.code, Some(0), "{}", second.stdout);
    let reordered = figure(&first.stdout, "reordered");
    assert!(reordered > 0, "{}", first.stdout);
    assert_eq!(figure(&second.stdout, "reordered"), reordered);
    assert!(first.stdout.contains("e.g. reorder: "), "{}", first.stdout);

    let (got_a, got_b) = (by_call(&a), by_call(&b));
    assert_eq!(got_a, got_b, "same seed, same faults, whatever the concurrency");
    let mut out_of_order = 0;
    for (call, got) in &got_a {
        let mut got = got.clone();
        got.dedup();
        let mut sorted_got = got.clone();
        sorted_got.sort();
        let mut sorted_expected = expected[call].clone();
        sorted_expected.sort();
        assert_eq!(sorted_got, sorted_expected, "call {call}: nothing lost");
        out_of_order += usize::from(got != expected[call]);
    }
    assert!(out_of_order > 0);

    let c = Receiver::ok();
    let other = ["--chaos", "reorder=0.3,duplicate=0.1", "--seed", "10", "--start-time", START];
    let third = run(&file, &c.url, &other).await;
    assert_eq!(third.code, Some(0), "{}", third.stdout);
    assert_ne!(by_call(&c), got_a, "another seed, other faults");
}

/// Answers 401 unless the request carries `token` (or the CRM object's).
fn checks_tokens(n: u64, headers: &axum::http::HeaderMap, _: &axum::body::Bytes) -> Reply {
    let _ = n;
    match headers.get("x-pbx-token").and_then(|v| v.to_str().ok()) {
        Some(TOKEN | "crm-token") => Reply::ok(),
        _ => Reply::status(401),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_refused_and_counted_as_expected_rejections() {
    let file = scenario("tokens", 8, "");
    let rx = Receiver::start_with_headers(checks_tokens);
    let out = run(&file, &rx.url, &["--chaos", "wrong_token=0.4,no_token=0.3"]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let generated = figure(&out.stdout, "generated");
    assert_eq!(figure(&out.stdout, "delivered"), generated, "{}", out.stdout);
    assert!(out.stdout.contains("failed 0"), "{}", out.stdout);
    let wrong = figure(&out.stdout, "wrong token");
    let none = figure(&out.stdout, "no token");
    let rejected = figure(&out.stdout, "answered 401/403");
    assert!(wrong > 0 && none > 0, "{}", out.stdout);
    assert_eq!(rejected, wrong + none, "{}", out.stdout);
    assert!(out.stdout.contains("2xx 0"), "{}", out.stdout);

    let received = rx.received();
    let refused: Vec<_> = received.iter().filter(|r| r.status == 401).collect();
    assert_eq!(refused.len() as u64, wrong + none);
    assert_eq!(refused.iter().filter(|r| r.header("x-pbx-token").is_none()).count() as u64, none);
    for r in refused.iter().filter(|r| r.header("x-pbx-token").is_some()) {
        let forged = r.header("x-pbx-token").unwrap();
        assert!(forged != TOKEN && forged != "crm-token");
    }
    // Every forged request is followed, in its call, by the real one with the same body.
    let bodies: Vec<(&[u8], u16)> = received.iter().map(|r| (&r.body[..], r.status)).collect();
    for (i, (body, status)) in bodies.iter().enumerate() {
        if *status == 401 {
            assert!(bodies[i + 1..].iter().any(|(b, s)| b == body && *s == 200));
        }
    }
    // The token is never printed.
    assert!(!out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN));
}

#[test]
fn the_built_in_receiver_refuses_forged_tokens() {
    let out = pbxsim(&[
        "run",
        "scenarios/quickstart.toml",
        "--speed",
        "200",
        "--quiet",
        "--chaos",
        "wrong_token=0.5,no_token=0.5",
    ]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("violations: 0"), "{}", out.stdout);
    assert!(figure(&out.stdout, "answered 401/403") > 0, "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_accepts_a_bad_token_fails_the_run() {
    let file = scenario("accepts", 2, "");
    let rx = Receiver::ok();
    let out = run(&file, &rx.url, &["--chaos", "wrong_token=1"]).await;
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("the receiver accepted") && out.stderr.contains("wrong or missing"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("ERROR"), "{}", out.stdout);
    assert!(out.stdout.contains("failed 0"), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_arrays_of_one_call_in_order() {
    let file = scenario("batch", 6, "");
    let rx = Receiver::ok();
    let out = run(&file, &rx.url, &["--chaos", "batch=3"]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let generated = figure(&out.stdout, "generated");
    assert_eq!(figure(&out.stdout, "delivered"), generated);
    assert_eq!(figure(&out.stdout, "batched"), generated, "{}", out.stdout);
    let mut sizes = Vec::new();
    for r in rx.received() {
        let Value::Array(items) = r.json() else { panic!("not an array: {:?}", r.body) };
        assert!((1..=3).contains(&items.len()));
        let call = &items[0]["unique_call_id"];
        assert!(items.iter().all(|e| &e["unique_call_id"] == call));
        sizes.push(items.len());
    }
    assert!(sizes.contains(&3));
    assert_eq!(sizes.iter().sum::<usize>() as u64, generated);
    assert_eq!(by_call(&rx), expected_by_call(&file, "5"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_variants_show_in_the_bodies() {
    let file = scenario("variants", 3, "");
    let rx = Receiver::ok();
    let chaos = "numbers=e164,durations=string,nulls=omit";
    let out = run(&file, &rx.url, &["--chaos", chaos]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let mut durations = 0;
    for r in rx.received() {
        let e = r.json();
        let map = e.as_object().unwrap();
        assert!(map.values().all(|v| !v.is_null()), "{e}");
        assert!(e["dest_number"].as_str().unwrap().starts_with("+61"), "{e}");
        if let Some(d) = e.get("call_duration") {
            assert!(d.as_str().unwrap().parse::<u64>().is_ok(), "{e}");
            durations += 1;
        }
    }
    assert!(durations > 0);

    let rx = Receiver::ok();
    let out = run(&file, &rx.url, &["--chaos", "numbers=local"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    let e = rx.received()[0].json();
    assert_eq!(e["dest_number"], "0290000000", "{e}");
}

#[test]
fn the_dry_run_shows_batches_variants_and_faults() {
    let file = scenario("dry", 4, "\n[chaos]\nbatch = 2\nduplicate = \"50%\"\n");
    let args = ["run", file.to_str().unwrap(), "--dry-run", "--envelope", "--start-time", START];
    let out = pbxsim(&[&args[..], &["--chaos", "numbers=e164"]].concat());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.iter().all(|l| l["body"].is_array() && l["events"].as_u64() <= Some(2)));
    assert!(lines.iter().any(|l| l["chaos"] == serde_json::json!(["duplicate"])));
    assert!(lines.iter().all(|l| l["headers"]["x-pbx-token"] == "***"));
    assert!(lines[0]["body"][0]["dest_number"].as_str().unwrap().starts_with('+'));
    assert!(!out.stdout.contains(TOKEN));
    // The flag overrides the file key by key.
    let out = pbxsim(&[&args[..], &["--chaos", "batch=1"]].concat());
    let first: Value = serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    assert!(first["body"].is_object(), "{first}");
    // Same seed, same lines.
    assert_eq!(pbxsim(&args).stdout, pbxsim(&args).stdout);
}

#[test]
fn bad_chaos_is_a_usage_error_with_a_hint() {
    let out = pbxsim(&["call", "inbound", "--dry-run", "--chaos", "dupliate=0.1"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("unknown fault `dupliate`"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `duplicate`?"), "{}", out.stderr);
    let out = pbxsim(&["call", "inbound", "--dry-run", "--chaos", "reorder=2"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("not a probability from 0 to 1"), "{}", out.stderr);

    let file = scenario("broken", 1, "\n[chaos]\nnumbers = \"e146\"\n");
    let out = pbxsim(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("unknown numbers style `e146`"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `e164`?"), "{}", out.stderr);
    assert!(out.stderr.contains("broken.toml:"), "{}", out.stderr);
    let file = scenario("broken-key", 1, "\n[chaos]\nreoder = 0.1\n");
    let out = pbxsim(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("did you mean `reorder`?"), "{}", out.stderr);

    // Forging needs a token to forge.
    let out =
        pbxsim(&["call", "inbound", "--target", "http://127.0.0.1:9/", "--chaos", "no_token=1"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("need a token"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_posts_are_held_and_still_delivered_in_call_order() {
    let file = scenario("delay", 4, "\n[chaos]\ndelay = \"0.5:20ms\"\n");
    let rx = Receiver::ok();
    let out = run(&file, &rx.url, &[]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let generated = figure(&out.stdout, "generated");
    assert_eq!(figure(&out.stdout, "delivered"), generated);
    assert!(figure(&out.stdout, "delayed") > 0, "{}", out.stdout);
    assert!(out.stdout.contains("by 20ms"), "{}", out.stdout);
    assert!(out.stdout.contains("e.g. delay: "), "{}", out.stdout);
    assert_eq!(by_call(&rx), expected_by_call(&file, "5"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_is_journaled_event_by_event_and_replays() {
    let file = scenario("journal", 3, "");
    let journal = file.with_extension("failed.ndjson");
    let _ = std::fs::remove_file(&journal);
    let down = Receiver::start(|_, _| Reply::status(500));
    let out =
        run(&file, &down.url, &["--chaos", "batch=4", "--failed", journal.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    let generated = figure(&out.stdout, "generated");
    assert_eq!(figure(&out.stdout, "failed"), generated, "{}", out.stdout);
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(lines.lines().count() as u64, generated);

    let up = Receiver::ok();
    let (path, url) = (journal.to_str().unwrap().to_string(), up.url.clone());
    let replayed = tokio::task::spawn_blocking(move || {
        pbxsim(&["replay", &path, "--target", &url, "--token", TOKEN])
    })
    .await
    .unwrap();
    assert_eq!(replayed.code, Some(0), "{}\n{}", replayed.stdout, replayed.stderr);
    assert_eq!(up.count(), generated);
    assert_eq!(by_call(&up), expected_by_call(&file, "5"));
}
