//! The receiver in-process, over real HTTP on 127.0.0.1 port 0.

use std::sync::{Arc, Mutex};

use serde_json::json;

use super::*;
use crate::check::Rule;

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.0)).into_owned()
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn event(ty: &str, user: &str) -> Value {
    json!({
        "type": ty, "unique_call_id": "42", "caller_id": "61400000001", "caller_name": null,
        "user_name": "Alice", "user_number": user, "dest_number": "61300000000",
        "call_start_at": "2019-10-01T15:31:15.000Z", "queue_name": null, "ring_group_name": null,
    })
}

fn answered() -> Value {
    let mut e = event("user_inbound_answered", "1010");
    e["connected_at"] = json!("2019-10-01T15:31:29.000Z");
    e
}

#[tokio::test]
async fn checks_tokens_and_events_in_process() {
    let out = Captured::default();
    let cfg = ReceiverConfig {
        token: Some("s3cret".into()),
        output: Output::new(out.clone()),
        stop_after: Some(2),
        ..ReceiverConfig::default()
    };
    let receiver = start("127.0.0.1:0".parse().unwrap(), cfg).await.unwrap();
    let http = client();
    let url = receiver.url();

    let post = |body: Value, token: Option<&str>| {
        let mut req = http.post(&url).json(&body);
        if let Some(t) = token {
            req = req.header("X-Pbx-Token", t);
        }
        req.send()
    };
    let res = post(event("user_inbound", "1010"), None).await.unwrap();
    assert_eq!(res.status(), 401);
    let res = post(event("user_inbound", "1010"), Some("s3cret")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"ok": true}));
    let res = post(answered(), Some("s3cret")).await.unwrap();
    assert_eq!(res.status(), 200);
    receiver.stopped().await; // two events received

    let live = receiver.stats();
    assert_eq!(live.requests, 3);
    assert_eq!(live.code(401), 1);
    assert_eq!(live.code(200), 2);
    assert_eq!(live.check.events, 2);
    assert_eq!(live.violations(), 0);

    let done = receiver.shutdown().await;
    assert_eq!(done.check.violations_of(Rule::Incomplete), 1, "{done}");
    let text = out.text();
    assert!(text.contains("401 /: missing X-Pbx-Token"), "{text}");
    assert!(text.contains("42              user_inbound_answered"), "{text}");
    assert!(
        text.contains("✗ violation [incomplete] call 42: answered but never completed"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}

#[tokio::test]
async fn failures_on_purpose_are_not_checked() {
    let out = Captured::default();
    let cfg = ReceiverConfig {
        status: 500,
        output: Output::new(out.clone()),
        ..ReceiverConfig::default()
    };
    let receiver = start("127.0.0.1:0".parse().unwrap(), cfg).await.unwrap();
    let res = client().post(receiver.url()).json(&answered()).send().await.unwrap();
    assert_eq!(res.status(), 500);
    let stats = receiver.shutdown().await;
    assert_eq!(stats.events_received, 1);
    assert_eq!(stats.check.events, 0);
    assert_eq!(stats.violations(), 0);
    let text = out.text();
    assert!(text.starts_with("note: no token configured"), "{text}");
    assert!(text.contains("→ 500, not checked"), "{text}");
    assert!(stats.to_string().contains("not checked: 1 events"), "{stats}");
}

#[test]
fn constant_time_compare() {
    assert!(ct_eq(b"s3cret", b"s3cret"));
    assert!(!ct_eq(b"s3cres", b"s3cret"));
    assert!(!ct_eq(b"s3cre", b"s3cret"));
    assert!(!ct_eq(b"s3cret\0", b"s3cret"));
    assert!(!ct_eq(b"", b"s3cret"));
    assert!(ct_eq(b"", b""));
}

#[test]
fn debug_hides_the_token() {
    let cfg = ReceiverConfig {
        token: Some("s3cret".into()),
        extra_tokens: vec!["0ther-s3cret".into()],
        ..ReceiverConfig::default()
    };
    let shown = format!("{cfg:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("token: Some(***)") && shown.contains("extra_tokens: [***]"), "{shown}");
}

/// A pipe whose reader leaves after `room` bytes.
struct ClosingPipe {
    room: usize,
    writes: Arc<Mutex<u32>>,
}

impl Write for ClosingPipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        *lock(&self.writes) += 1;
        if self.room < buf.len() {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        self.room -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_closed_pipe_stops_the_output_and_says_so() {
    let writes = Arc::new(Mutex::new(0));
    let output = Output::new(ClosingPipe { room: 8, writes: writes.clone() });
    output.line("first");
    assert!(!output.is_closed());
    output.line("second line is too long");
    assert!(output.is_closed());
    let before = *lock(&writes);
    output.line("third");
    assert_eq!(*lock(&writes), before, "nothing is written once the pipe is closed");
    output.closed().await;
}

#[test]
fn the_default_wording_names_no_flag() {
    let w = ReceiverWording::default();
    for text in [w.failed_on_purpose, w.status, w.save_file, NO_TOKEN_NOTE] {
        assert!(!text.contains("--"), "{text}");
    }
}
