//! `examples/receiver_axum.rs` holds up: it is served on 127.0.0.1 port 0, the real pbxsim
//! binary plays scenarios and generated load at it with `--chaos` (duplicates, reordering,
//! batches, forged tokens, payload variants), and what it ends up knowing of every call equals
//! the `--truth` that pbxsim wrote, field by field, for the fields a receiver can know.

#[path = "../../examples/receiver_axum.rs"]
#[allow(dead_code)]
mod receiver_axum;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use receiver_axum::{Call, Store};

use crate::support::{self, pbxsim_output as pbxsim, tempdir};
use serde_json::Value;

const TOKEN: &str = "rx-example-7c1e4f0a-secret";

/// The example, running on its own runtime until dropped.
struct Running {
    url: String,
    addr: SocketAddr,
    store: Store,
    _runtime: tokio::runtime::Runtime,
}

fn start() -> Running {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (addr, store) = runtime.block_on(async {
        let (router, store, _worker) = receiver_axum::receiver(TOKEN);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (addr, store)
    });
    Running { url: format!("http://{addr}/hook"), addr, store, _runtime: runtime }
}

fn repo(path: &str) -> PathBuf {
    support::repo().join(path)
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Waits until the example's worker has processed every request it accepted.
fn settle(store: &Store) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.stats().pending > 0 {
        assert!(Instant::now() < deadline, "the worker did not catch up: {:?}", store.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `GET path` over plain HTTP/1.1, the body parsed as JSON.
fn get_json(addr: SocketAddr, path: &str) -> Value {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body = response.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The fields of a truth line that a receiver can know, next to the example's view of them.
fn compare(truth: &Value, call: &Call) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut check = |field: &str, want: Value, got: Value| {
        if want != got {
            diffs.push(format!("{field}: truth {want}, receiver {got}"));
        }
    };
    let user = |v: &Value| v.get("user_number").cloned().unwrap_or(Value::Null);
    check("direction", truth["direction"].clone(), serde_json::json!(call.direction));
    // A receiver tells answered and voicemail calls apart from the rest; why a call was missed
    // (abandoned, timed out, unanswered) is not always in its events.
    let outcome = match truth["outcome"].as_str().unwrap() {
        o @ ("answered" | "voicemail") => o,
        _ => "missed",
    };
    check("outcome", outcome.into(), call.outcome.clone().into());
    check("answered_by", user(&truth["answered_by"]), serde_json::json!(call.answered_by));
    check("from_user", user(&truth["from_user"]), serde_json::json!(call.from_user));
    check("connected_at", truth["connected_at"].clone(), serde_json::json!(call.connected_at));
    check(
        "conversation_duration",
        truth["conversation_duration"].clone(),
        call.conversation_duration.into(),
    );
    // Known only from a completion event; when the receiver has it, it is right.
    if let Some(seconds) = call.call_duration {
        check("call_duration", truth["call_duration"].clone(), seconds.into());
    }
    let visits: Vec<Value> = call
        .visits
        .iter()
        .map(|v| serde_json::json!({"kind": v.kind, "name": v.name, "status": v.status}))
        .collect();
    check("visits", truth["visits"].clone(), visits.into());
    let rung: BTreeSet<&str> =
        truth["rung"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    let got: BTreeSet<&str> = call.rung.iter().map(String::as_str).collect();
    check("rung", serde_json::json!(rung), serde_json::json!(got));
    check("voicemail", truth["voicemail"].clone(), call.voicemail.into());
    check("recording", truth["recording"].clone(), call.recording.into());
    // A voicemail's side effect happened once, however often the event arrived.
    check(
        "voicemail_notifications",
        u64::from(truth["voicemail"].as_bool().unwrap()).into(),
        call.voicemail_notifications.into(),
    );
    diffs
}

/// Plays `args` (with the example as target) and checks the example's final state against the
/// run's ground truth; returns how many calls were compared.
fn plays_true(name: &str, args: &[&str]) -> usize {
    let rx = start();
    let dir = tempdir(name);
    let truth_file = dir.join("truth.ndjson");
    let mut all = args.to_vec();
    all.extend(["--target", &rx.url, "--token", TOKEN, "--truth", truth_file.to_str().unwrap()]);
    let out = pbxsim(&all);
    assert_eq!(out.status.code(), Some(0), "{name}: {all:?}\n{}", text(&out));
    settle(&rx.store);

    let truth: Vec<Value> = std::fs::read_to_string(&truth_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!truth.is_empty(), "{name}: no calls");
    let calls = rx.store.calls();
    let mut failures = Vec::new();
    for line in &truth {
        let id = line["unique_call_id"].as_str().unwrap();
        match calls.get(id) {
            None => failures.push(format!("{id}: unknown to the receiver")),
            Some(call) => {
                failures.extend(compare(line, call).into_iter().map(|d| format!("{id}: {d}")))
            }
        }
    }
    let known: BTreeSet<&str> =
        truth.iter().map(|l| l["unique_call_id"].as_str().unwrap()).collect();
    for id in calls.keys().filter(|id| !known.contains(id.as_str())) {
        failures.push(format!("{id}: the receiver has a call the PBX did not make"));
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));

    // What it serves is what it holds.
    let served = get_json(rx.addr, "/calls");
    assert_eq!(served, serde_json::to_value(&calls).unwrap(), "{name}: GET /calls");
    let stats = rx.store.stats();
    assert_eq!(get_json(rx.addr, "/stats"), serde_json::to_value(stats).unwrap());
    assert_eq!(stats.malformed, 0, "{name}: {stats:?}");
    assert_eq!(stats.busy, 0, "{name}: {stats:?}");
    let _ = std::fs::remove_dir_all(&dir);
    truth.len()
}

/// The faults and payload variants of `--chaos`, all at once.
const CHAOS: &str = "duplicate=0.4,reorder=0.4,batch=3,wrong_token=0.2,no_token=0.1,\
                     extra_fields=0.5,durations=string,nulls=string,recording_link=url";

#[test]
fn quickstart_under_chaos_ends_in_the_true_state() {
    let file = repo("scenarios/quickstart.toml");
    let n = plays_true("quickstart", &["run", file.to_str().unwrap(), "--asap", "--chaos", CHAOS]);
    assert_eq!(n, 7);
}

#[test]
fn starter_files_under_chaos_end_in_the_true_state() {
    for template in ["office", "callcentre"] {
        let file = repo(&format!("templates/{template}.toml"));
        let path = file.to_str().unwrap();
        plays_true(template, &["run", path, "--asap", "--chaos", CHAOS, "--chaos", "nulls=omit"]);
        // Completions sent to users who rang and did not answer must not make them the answerer.
        plays_true(
            template,
            &["run", path, "--asap", "--chaos", CHAOS, "--unanswered-completion", "completed"],
        );
    }
}

#[test]
fn generated_load_under_chaos_ends_in_the_true_state() {
    // Every call finishes (no cut-off calls, whose truth is not written): at most 60 calls, and
    // calls compressed 600x so the longest is over in well under the drain time.
    let n = plays_true(
        "load",
        &[
            "load",
            "--max-calls",
            "60",
            "--rate",
            "60/s",
            "--speed",
            "600",
            "--seed",
            "5",
            "--chaos",
            CHAOS,
        ],
    );
    assert_eq!(n, 60);
}

#[test]
fn forged_and_malformed_requests_are_refused_and_change_nothing() {
    let rx = start();
    let body = r#"{"type":"voicemail","unique_call_id":"1","caller_id":"61400000001"}"#;
    let post = |token: Option<&str>, body: &str| {
        let mut stream = std::net::TcpStream::connect(rx.addr).unwrap();
        let header = token.map(|t| format!("X-Pbx-Token: {t}\r\n")).unwrap_or_default();
        write!(
            stream,
            "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{header}\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response.split(' ').nth(1).unwrap().parse::<u16>().unwrap()
    };
    let wrong = format!("{}x", &TOKEN[..TOKEN.len() - 1]);
    assert_eq!(post(Some(&wrong), body), 401);
    assert_eq!(post(Some(&TOKEN[..TOKEN.len() - 1]), body), 401);
    assert_eq!(post(None, body), 401);
    assert_eq!(post(Some(TOKEN), "not json"), 400);
    assert_eq!(post(Some(TOKEN), "[1, 2]"), 400);
    settle(&rx.store);
    assert!(rx.store.calls().is_empty());
    assert_eq!(post(Some(TOKEN), body), 202);
    assert_eq!(post(Some(TOKEN), &format!("[{body}, {body}]")), 202);
    settle(&rx.store);
    let calls = rx.store.calls();
    assert_eq!(calls["1"].voicemail_notifications, 1, "{calls:?}");
    let stats = rx.store.stats();
    assert_eq!(
        (stats.unauthorized, stats.malformed, stats.applied, stats.duplicates),
        (3, 2, 1, 2)
    );
}
