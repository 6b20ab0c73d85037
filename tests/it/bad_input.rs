//! Bad input everywhere, as property tests (a bounded number of cases; `PROPTEST_CASES` raises
//! it): the scenario loader, the `--set` parser, and the listener's request handling never
//! panic and answer with a clear error.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pbxsim::event::EventType;
use pbxsim::receiver::{self, Output, ReceiverConfig, RunningReceiver};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// The ready scenarios, as text.
fn scenarios() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    assert!(!out.is_empty());
    out
}

/// Parse `text`; an error must name the file and a line and column, and render; a scenario
/// that loads must play (its first events) without panicking.
fn load_checked(text: &str) {
    match pbxsim::scenario::parse(text, "fuzz.toml") {
        Ok(scenario) => {
            let start = "2026-03-02T09:00:00Z".parse().unwrap();
            let engine = pbxsim::engine::Engine::new(
                Arc::new(scenario),
                pbxsim::engine::Options::new(1, start),
            );
            for e in engine.take(2_000) {
                let _ = e.event.to_json(pbxsim::event::NullStyle::Null);
            }
        }
        Err(d) => {
            assert_eq!(d.file_name(), Some("fuzz.toml"), "{}", d.message());
            let (line, column) = d.line_column().unwrap_or_else(|| {
                panic!("no line and column for: {}\n--- input ---\n{text}", d.message())
            });
            assert!(line >= 1 && column >= 1);
            let rendered = d.render(false);
            assert!(rendered.contains("fuzz.toml"), "{rendered}");
        }
    }
}

/// A valid scenario and a position in it, on a character boundary.
fn scenario_and_cut() -> impl Strategy<Value = (String, usize)> {
    prop::sample::select(scenarios()).prop_flat_map(|(_, text)| {
        let len = text.len();
        (Just(text), 0..=len)
    })
}

fn boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Text that looks like TOML: what a mutation inserts.
fn tomlish() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_\\[\\]{}=\",.:0-9 \n#-]{0,12}",
        Just("\"".to_string()),
        Just("[[".to_string()),
        Just("= ".to_string()),
        Just("\n[calls]\n".to_string()),
        Just("\n[[users]]\nname=\"X\"\nextension=\"1010\"\n".to_string()),
        Just("999999999999999999999".to_string()),
        Just("-1".to_string()),
        Just("\"1e400s\"".to_string()),
        Just("\"0s\"".to_string()),
        Just("\u{e9}\u{1F600}".to_string()),
        Just("\u{0}".to_string()),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), tomlish()).prop_map(|(a, s)| Mutation::Insert(a, s)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn mutate(text: &str, m: &Mutation) -> String {
    match m {
        Mutation::Delete(at, n) => {
            let from = boundary(text, at % (text.len() + 1));
            let to = boundary(text, (from + n).min(text.len()));
            format!("{}{}", &text[..from], &text[to..])
        }
        Mutation::Insert(at, s) => {
            let at = boundary(text, at % (text.len() + 1));
            format!("{}{s}{}", &text[..at], &text[at..])
        }
        Mutation::DuplicateLine(i) => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let i = i % lines.len();
                lines.insert(i, lines[i]);
            }
            lines.join("\n")
        }
        Mutation::SwapLines(a, b) => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let n = lines.len();
                lines.swap(a % n, b % n);
            }
            lines.join("\n")
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn loader_survives_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        load_checked(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn loader_survives_truncated_scenarios((text, cut) in scenario_and_cut()) {
        let cut = boundary(&text, cut);
        load_checked(&text[..cut]);
    }

    #[test]
    fn loader_survives_mutated_scenarios(
        (text, _) in scenario_and_cut(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut text = text;
        for m in &mutations {
            text = mutate(&text, m);
        }
        load_checked(&text);
    }

    #[test]
    fn set_parser_never_panics(
        ty in prop::sample::select(EventType::ALL.to_vec()),
        assignment in ".{0,40}",
        field in prop_oneof![".{0,12}", prop::sample::select(field_names())],
        value in prop_oneof![".{0,20}", "[0-9]{1,25}", Just("null".to_string()),
                             Just("-1".to_string()), Just(" 12 ".to_string())],
        unset in prop_oneof![".{0,12}", prop::sample::select(field_names())],
    ) {
        let _ = pbxsim::trigger::parse_assignment(&assignment);
        let _ = pbxsim::trigger::parse_assignment(&format!("{field}={value}"));
        let mut body = Map::new();
        body.insert("type".into(), Value::from(ty.as_str()));
        let sets = vec![(field.clone(), value.clone())];
        match pbxsim::trigger::apply_edits(ty, &mut body, &sets, std::slice::from_ref(&unset)) {
            Ok(()) => {
                // An accepted edit names a real field and has the field's JSON type.
                let known = ty.fields().iter().find(|f| f.name == field);
                prop_assert!(known.is_some(), "{ty}.{field} accepted");
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

fn field_names() -> Vec<String> {
    let mut names: Vec<String> =
        EventType::ALL.iter().flat_map(|t| t.fields().iter().map(|f| f.name.to_string())).collect();
    names.push("type".into());
    names.sort();
    names.dedup();
    names
}

#[test]
fn loader_reports_unreadable_files_with_their_name() {
    let dir = std::env::temp_dir().join(format!("pbxsim-badinput-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("latin1.toml");
    std::fs::write(&path, b"name = \"caf\xe9\"\n").unwrap();
    let err = pbxsim::scenario::load(&path).unwrap_err();
    let text = err.render(false);
    assert!(text.contains("latin1.toml"), "{text}");
    let missing = pbxsim::scenario::load(&dir.join("missing.toml")).unwrap_err();
    assert!(missing.render(false).contains("missing.toml"));
    let _ = std::fs::remove_dir_all(dir);
}

// ---- the listener ----

const TOKEN: &str = "listener-token";

fn start_listener(rt: &tokio::runtime::Runtime) -> RunningReceiver {
    let cfg = ReceiverConfig {
        token: Some(TOKEN.into()),
        output: Output::sink(),
        max_body: 16 * 1024,
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        ..ReceiverConfig::default()
    };
    rt.block_on(receiver::start("127.0.0.1:0".parse().unwrap(), cfg)).unwrap()
}

/// Send raw bytes on a fresh connection; the status code of the answer, if any came.
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    // The server may answer and close before everything is written (e.g. 413): not an error.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

fn good_event() -> Value {
    json!({
        "type": "user_inbound", "unique_call_id": "42", "caller_id": "61400000001",
        "caller_name": null, "user_name": "Alice", "user_number": "1010",
        "dest_number": "61300000000", "call_start_at": "2019-10-01T15:31:15.000Z",
        "queue_name": null, "ring_group_name": null,
    })
}

fn request(method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// A good request is answered 200.
async fn good(addr: std::net::SocketAddr) -> Option<u16> {
    let body = good_event().to_string();
    let headers = vec![
        ("x-pbx-token".to_string(), TOKEN.to_string()),
        ("content-type".to_string(), "application/json".to_string()),
        ("content-length".to_string(), body.len().to_string()),
    ];
    raw(addr, &request("POST", "/hook", &headers, body.as_bytes())).await
}

#[derive(Debug, Clone)]
enum BodyKind {
    Bytes(Vec<u8>),
    Event,
    TruncatedEvent(usize),
    Scalar(String),
    Nested(usize),
    Huge(usize),
}

fn body_kind() -> impl Strategy<Value = BodyKind> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200).prop_map(BodyKind::Bytes),
        Just(BodyKind::Event),
        (0usize..200).prop_map(BodyKind::TruncatedEvent),
        prop_oneof![Just("1"), Just("\"x\""), Just("null"), Just("true"), Just("[1,"), Just("")]
            .prop_map(|s| BodyKind::Scalar(s.to_string())),
        (100usize..5_000).prop_map(BodyKind::Nested),
        (16 * 1024usize..40 * 1024).prop_map(BodyKind::Huge),
    ]
}

impl BodyKind {
    fn bytes(&self) -> Vec<u8> {
        match self {
            BodyKind::Bytes(b) => b.clone(),
            BodyKind::Event => good_event().to_string().into_bytes(),
            BodyKind::TruncatedEvent(n) => {
                let full = good_event().to_string().into_bytes();
                full[..(*n).min(full.len())].to_vec()
            }
            BodyKind::Scalar(s) => s.clone().into_bytes(),
            BodyKind::Nested(depth) => {
                let mut s = "[".repeat(*depth);
                s.push_str(&"]".repeat(*depth));
                s.into_bytes()
            }
            BodyKind::Huge(n) => {
                let mut s = b"[\"".to_vec();
                s.resize(*n, b'a');
                s.extend_from_slice(b"\"]");
                s
            }
        }
    }
}

#[derive(Debug, Clone)]
struct RandomRequest {
    method: String,
    path: String,
    token: Option<String>,
    headers: Vec<(String, String)>,
    body: BodyKind,
    /// Declare a longer body than is sent, and stop there.
    short_by: Option<usize>,
}

fn random_request() -> impl Strategy<Value = RandomRequest> {
    (
        prop_oneof![
            Just("POST"),
            Just("GET"),
            Just("PUT"),
            Just("DELETE"),
            Just("HEAD"),
            Just("OPTIONS"),
            Just("PATCH"),
            Just("FOO")
        ],
        "/[a-zA-Z0-9/?=&%._-]{0,40}",
        prop_oneof![
            Just(None),
            Just(Some(TOKEN.to_string())),
            Just(Some("wrong".to_string())),
            Just(Some(format!("{TOKEN}x"))),
            Just(Some(String::new())),
        ],
        prop::collection::vec(("[a-z][a-z0-9-]{0,20}", "[ -~]{0,60}"), 0..8),
        body_kind(),
        prop_oneof![3 => Just(None), 1 => (1usize..50).prop_map(Some)],
    )
        .prop_map(|(method, path, token, headers, body, short_by)| RandomRequest {
            method: method.to_string(),
            path,
            token,
            headers: headers
                .into_iter()
                .filter(|(n, _)| {
                    !["content-length", "transfer-encoding", "host"].contains(&n.as_str())
                })
                .collect(),
            body,
            short_by,
        })
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn listener_answers_random_requests_with_4xx_and_keeps_serving(
        requests in prop::collection::vec(random_request(), 1..4)
    ) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let listener = start_listener(&rt);
        let addr = listener.addr;
        for r in &requests {
            let body = r.body.bytes();
            let mut headers = r.headers.clone();
            if let Some(t) = &r.token {
                headers.push(("x-pbx-token".into(), t.clone()));
            }
            let declared = body.len() + r.short_by.unwrap_or(0);
            headers.push(("content-length".into(), declared.to_string()));
            let status = rt.block_on(raw(addr, &request(&r.method, &r.path, &headers, &body)));
            let status = status.unwrap_or_else(|| panic!("no answer to {r:?}"));
            let valid = r.method == "POST"
                && r.token.as_deref() == Some(TOKEN)
                && r.short_by.is_none()
                && matches!(r.body, BodyKind::Event);
            if valid {
                prop_assert_eq!(status, 200, "{:?}", r);
            } else {
                prop_assert!((400..500).contains(&status) || status == 200, "{} for {:?}", status, r);
            }
        }
        prop_assert_eq!(rt.block_on(good(addr)), Some(200));
        rt.block_on(listener.shutdown());
    }
}

#[test]
fn listener_limits_header_count_and_size_and_garbage() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = start_listener(&rt);
    let addr = listener.addr;
    let many: Vec<(String, String)> =
        (0..150).map(|i| (format!("x-h{i}"), "v".to_string())).collect();
    let status = rt.block_on(raw(addr, &request("POST", "/", &many, b"")));
    assert_eq!(status, Some(431), "too many headers");
    let huge = vec![("x-big".to_string(), "a".repeat(100 * 1024))];
    let status = rt.block_on(raw(addr, &request("POST", "/", &huge, b"")));
    assert_eq!(status, Some(431), "a huge header");
    let status = rt.block_on(raw(addr, b"\x16\x03\x01\x02\x00garbage\r\n\r\n"));
    assert_eq!(status, Some(400), "not HTTP");
    let chunked = vec![
        ("x-pbx-token".to_string(), TOKEN.to_string()),
        ("transfer-encoding".to_string(), "chunked".to_string()),
    ];
    let status =
        rt.block_on(raw(addr, &request("POST", "/", &chunked, b"zz\r\nhello\r\n0\r\n\r\n")));
    assert_eq!(status, Some(400), "bad chunk size");
    let big = vec![
        ("x-pbx-token".to_string(), TOKEN.to_string()),
        ("content-length".to_string(), "999999999999".to_string()),
    ];
    let status = rt.block_on(raw(addr, &request("POST", "/", &big, b"{}")));
    assert_eq!(status, Some(413), "declared too large");
    assert_eq!(rt.block_on(good(addr)), Some(200));
    let stats = rt.block_on(listener.shutdown());
    assert_eq!(stats.check.events, 1, "{stats}");
}
