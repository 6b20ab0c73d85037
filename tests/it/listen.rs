//! `pbxsim listen`, the real binary, over real HTTP on 127.0.0.1 port 0.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A guard against hanging forever, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running `pbxsim listen --port 0 …`.
struct Listener {
    child: Child,
    url: String,
    lines: Receiver<String>,
}

impl Listener {
    fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("pbxsim"));
        cmd.args(["listen", "--port", "0"])
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("PBXSIM_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(PATIENCE).expect("a first line");
        let addr = first.strip_prefix("listening on http://").unwrap_or_else(|| panic!("{first}"));
        assert!(addr.starts_with("127.0.0.1:"), "{first}");
        let url = format!("http://{addr}/webhooks");
        Self { child, url, lines }
    }

    /// Wait for the listener to stop by itself; its exit code and all it printed after the
    /// first line.
    fn wait(mut self) -> (i32, String) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("pbxsim listen did not stop");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = Vec::new();
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) => out.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("stdout stayed open"),
            }
        }
        (status.code().unwrap(), out.join("\n"))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn user_inbound(call: &str, user: &str) -> Value {
    json!({
        "type": "user_inbound", "unique_call_id": call, "caller_id": "61400000001",
        "caller_name": null, "user_name": "Alice", "user_number": user,
        "dest_number": "61300000000", "call_start_at": "2019-10-01T15:31:15.000Z",
        "queue_name": null, "ring_group_name": null,
    })
}

/// The answer's `error`, for a valid event posted without a token.
async fn error_of(url: &str) -> String {
    let body = user_inbound("1", "1010").to_string();
    let answer = client().post(url).header("content-type", "application/json").body(body);
    let answer: Value = answer.send().await.unwrap().json().await.unwrap();
    answer["error"].as_str().unwrap().to_string()
}

async fn post(url: &str, token: Option<&str>, body: impl Into<reqwest::Body>) -> u16 {
    let mut req = client().post(url).header("content-type", "application/json").body(body);
    if let Some(t) = token {
        req = req.header("X-Pbx-Token", t);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn answers_each_response_code() {
    let l = Listener::start(&["--token", "s3cret", "--max-body", "1KiB", "--exit-after", "2"]);
    let good = user_inbound("1", "1010").to_string();
    assert_eq!(post(&l.url, None, good.clone()).await, 401);
    assert_eq!(post(&l.url, Some("s3creT"), good.clone()).await, 401);
    assert_eq!(post(&l.url, Some("s3cret"), "{\"type\": ").await, 400);
    assert_eq!(post(&l.url, Some("s3cret"), "42").await, 400);
    let big = json!({"padding": "x".repeat(2048)}).to_string();
    assert_eq!(post(&l.url, Some("s3cret"), big).await, 413);
    assert_eq!(client().get(&l.url).send().await.unwrap().status(), 405);
    assert_eq!(post(&l.url, Some("s3cret"), good).await, 200);
    let second = user_inbound("1", "1011").to_string();
    assert_eq!(post(&l.url, Some("s3cret"), second).await, 200);

    let (code, out) = l.wait();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("401 /webhooks: missing X-Pbx-Token"), "{out}");
    assert!(out.contains("401 /webhooks: wrong X-Pbx-Token"), "{out}");
    assert!(out.contains("400 /webhooks: malformed JSON"), "{out}");
    assert!(out.contains("413 /webhooks: body larger than 1024 bytes"), "{out}");
    assert!(out.contains("user_inbound              user 1011 Alice"), "{out}");
    assert!(out.contains("requests:   8 (200: 2, 400: 2, 401: 2, 405: 1, 413: 1)"), "{out}");
    assert!(out.contains("calls seen: 1\nevents:     2"), "{out}");
    assert!(out.contains("violations: 0"), "{out}");
    assert!(!out.contains("s3cre"), "{out}");
}

#[tokio::test]
async fn fail_rate_one_answers_503() {
    let l = Listener::start(&["--fail-rate", "1", "--exit-after", "2"]);
    assert_eq!(post(&l.url, None, user_inbound("1", "1010").to_string()).await, 503);
    // Why, in the flag's words (the library's name its config fields).
    assert_eq!(error_of(&l.url).await, "simulated failure (--fail-rate)");
    let (code, out) = l.wait();
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("press Ctrl-C"), "{out}");
    assert!(out.contains("note: no token configured"), "{out}");
    assert!(out.contains("→ 503, not checked"), "{out}");
    assert!(out.contains("requests:   2 (503: 2)"), "{out}");
}

#[tokio::test]
async fn status_answers_every_valid_request() {
    let l = Listener::start(&["--status", "500", "--delay", "10ms", "--exit-after", "2"]);
    assert_eq!(post(&l.url, None, user_inbound("1", "1010").to_string()).await, 500);
    let status = "answering 500 Internal Server Error on purpose (--status)";
    assert_eq!(error_of(&l.url).await, status);
    let (code, out) = l.wait();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("requests:   2 (500: 2)"), "{out}");
}

#[tokio::test]
async fn violations_print_as_they_happen_and_exit_1() {
    let l = Listener::start_with_env(&["--exit-after", "3"], &[("PBXSIM_TOKEN", "from-env")]);
    let mut answered = user_inbound("77", "1010");
    answered["type"] = json!("user_inbound_answered");
    answered["connected_at"] = json!("2019-10-01T15:31:20.000Z");
    let batch = json!([user_inbound("78", "1010"), answered]).to_string();
    assert_eq!(post(&l.url, None, batch.clone()).await, 401);
    assert_eq!(post(&l.url, Some("from-env"), batch).await, 200);
    let mut unknown = user_inbound("79", "1010");
    unknown["type"] = json!("user_inbond");
    assert_eq!(post(&l.url, Some("from-env"), unknown.to_string()).await, 200);

    let (code, out) = l.wait();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "✗ violation [order] call 77: user_inbound_answered for user 1010 without an \
             earlier user_inbound for it"
        ),
        "{out}"
    );
    assert!(out.contains("✗ violation [fields] call 79: unknown event type `user_inbond`; did you mean `user_inbound`?"), "{out}");
    assert!(
        out.contains("✗ violation [incomplete] call 77: answered but never completed"),
        "{out}"
    );
    assert!(out.contains("violations: 3\n  fields"), "{out}");
    assert!(out.contains("\n  order                            1"), "{out}");
}

#[tokio::test]
async fn save_writes_envelopes_without_the_token() {
    let dir = std::env::temp_dir().join(format!("pbxsim-listen-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("capture.ndjson");
    let _ = std::fs::remove_file(&file);
    let path = file.to_str().unwrap();
    let l = Listener::start(&["--token", "s3cret", "--save", path, "--exit-after", "1", "--quiet"]);
    assert_eq!(post(&l.url, Some("wrong"), "{}").await, 401);
    let event = user_inbound("5", "1010");
    assert_eq!(post(&l.url, Some("s3cret"), event.to_string()).await, 200);
    let (code, out) = l.wait();
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("user 1010 Alice"), "--quiet prints no event lines: {out}");

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("s3cret") && !text.contains("wrong"), "{text}");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["response_status"], 401);
    assert_eq!(lines[1]["response_status"], 200);
    assert_eq!(lines[1]["path"], "/webhooks");
    assert_eq!(lines[1]["headers"]["x-pbx-token"], "***");
    assert_eq!(lines[1]["body"], event);
    assert!(
        chrono::DateTime::parse_from_rfc3339(lines[1]["received_at"].as_str().unwrap()).is_ok()
    );

    // The capture checks clean offline.
    let check = assert_cmd::cargo::cargo_bin_cmd!("pbxsim").args(["check", path]).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn exit_after_a_duration() {
    let l = Listener::start(&["--exit-after", "200ms"]);
    let (code, out) = l.wait();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("requests:   0"), "{out}");
}

#[test]
fn a_port_in_use_exits_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = assert_cmd::cargo::cargo_bin_cmd!("pbxsim")
        .args(["listen", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on 127.0.0.1:{port}")), "{err}");
}
