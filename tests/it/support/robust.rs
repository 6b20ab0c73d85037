//! Shared by the robustness tests (soak, outage, secrets): a generated scenario of many calls,
//! and a lean deduplicating HTTP receiver on 127.0.0.1 that can go away and come back on the
//! same port.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The global webhook's token in generated scenarios.
pub const TOKEN: &str = "glob-4f1c9e2b-very-secret";
/// The webhook object's token in generated scenarios.
pub const OBJECT_TOKEN: &str = "obj-7d03aa51-also-secret";
/// The webhook object's extra header value (an API key: also a secret).
pub const OBJECT_KEY: &str = "key-90be11f2-hidden";

/// A scenario of `calls` inbound calls, alternating between two numbers: number `1` fires the
/// webhook object `CRM`, records, and rings all `members` users of a ring group at once (the
/// first answers); number `2` rings the same group and nobody answers (voicemail). About
/// `members + 4` events per call, so a small file makes many events.
pub fn scenario(calls: usize, members: usize) -> String {
    let mut s = String::new();
    s.push_str("name = \"generated\"\nseed = 7\nstart_time = \"2026-03-02T09:00:00Z\"\n\n");
    // Top-level keys come before the first table.
    s.push_str("calls = [\n");
    for c in 0..calls {
        // One call every 60 s, each over within 40 s: the users are always free.
        let at = c * 60;
        let from = 61_400_000_000u64 + c as u64;
        if c % 2 == 0 {
            let _ = writeln!(s, "{{at=\"{at}s\",from=\"{from}\",to=\"1\",talk=\"20s\"}},");
        } else {
            let _ = writeln!(s, "{{at=\"{at}s\",from=\"{from}\",to=\"2\",answered_by=\"none\"}},");
        }
    }
    s.push_str("]\n\n");
    let _ = writeln!(s, "[webhook]\ntoken = \"{TOKEN}\"\n");
    let _ = writeln!(
        s,
        "[[webhooks]]\nname = \"CRM\"\ntoken = \"{OBJECT_TOKEN}\"\n\
         headers = {{ \"X-Api-Key\" = \"{OBJECT_KEY}\" }}\n"
    );
    s.push_str("[[voicemail]]\nname = \"VM\"\n\n");
    for u in 0..members {
        let _ = writeln!(s, "[[users]]\nname = \"User {u}\"\nextension = \"{}\"\n", 1000 + u);
    }
    let list: Vec<String> = (0..members).map(|u| format!("\"{}\"", 1000 + u)).collect();
    let _ = writeln!(
        s,
        "[[ring_groups]]\nname = \"All\"\nmembers = [{}]\nmode = \"simultaneous\"\n\
         ring_time = \"10s\"\nno_answer = \"voicemail:VM\"\n",
        list.join(",")
    );
    s.push_str(
        "[[numbers]]\nnumber = \"1\"\nflow = [\"webhook:CRM\", \"record\", \"ring_group:All\"]\n\n",
    );
    s.push_str("[[numbers]]\nnumber = \"2\"\nflow = [\"ring_group:All\"]\n\n");
    s
}

/// A stable 64-bit hash of a body (FNV-1a).
pub fn body_hash(body: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in body {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// A number in 0..100 drawn from the body, the attempt and a seed: the same request always
/// gets the same answer, whatever order requests arrive in.
pub fn percent(hash: u64, attempt: u32, seed: u64) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (hash, attempt, seed).hash(&mut h);
    h.finish() % 100
}

/// The bodies `pbxsim run --dry-run` writes for `scenario`: the events the run will send.
pub fn expected_bodies(scenario: &Path) -> HashMap<u64, u32> {
    let out = assert_cmd::cargo::cargo_bin_cmd!("pbxsim")
        .arg("run")
        .arg(scenario)
        .arg("--dry-run")
        .env_remove("PBXSIM_TOKEN")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut bodies = HashMap::new();
    for line in out.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        *bodies.entry(body_hash(line)).or_insert(0) += 1;
    }
    bodies
}

/// How to answer one request.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub status: u16,
    pub delay: Duration,
    pub retry_after: Option<&'static str>,
}

impl Reply {
    pub const OK: Reply = Reply { status: 200, delay: Duration::ZERO, retry_after: None };
}

/// Decides the answer from the body's hash and its attempt number (0 for the first).
pub type Policy = Box<dyn Fn(u64, u32) -> Reply + Send + Sync>;

#[derive(Debug, Default, Clone, Copy)]
pub struct Seen {
    pub attempts: u32,
    /// Requests answered 2xx.
    pub delivered: u32,
}

struct State {
    policy: Policy,
    tokens: Vec<String>,
    seen: Mutex<HashMap<u64, Seen>>,
    codes: Mutex<BTreeMap<u16, u64>>,
    delivered: AtomicU64,
    up: AtomicBool,
    /// Bumped to close every open connection (the receiver "goes away").
    generation: watch::Sender<u64>,
}

/// A lean receiver: checks the token, counts requests per body, answers per its policy.
pub struct Lean {
    pub addr: SocketAddr,
    state: Arc<State>,
    rt: tokio::runtime::Runtime,
    accept: Option<tokio::task::JoinHandle<()>>,
}

impl Lean {
    /// Bind 127.0.0.1:0 and serve; `tokens` are the accepted `X-Pbx-Token`s.
    pub fn start(
        tokens: &[&str],
        policy: impl Fn(u64, u32) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(State {
            policy: Box::new(policy),
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            seen: Mutex::new(HashMap::new()),
            codes: Mutex::new(BTreeMap::new()),
            delivered: AtomicU64::new(0),
            up: AtomicBool::new(true),
            generation: watch::channel(0).0,
        });
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = rt.spawn(accept_loop(listener, state.clone()));
        Lean { addr, state, rt, accept: Some(accept) }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Go away: refuse new connections, close the open ones (requests being answered finish).
    pub fn stop(&mut self) {
        self.state.up.store(false, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = self.rt.block_on(accept);
        }
        self.state.generation.send_modify(|g| *g += 1);
    }

    /// Come back on the same port.
    pub fn restart(&mut self) {
        let listener = self.rt.block_on(TcpListener::bind(self.addr)).unwrap();
        self.state.up.store(true, Ordering::SeqCst);
        self.accept = Some(self.rt.spawn(accept_loop(listener, self.state.clone())));
    }

    /// Requests answered 2xx so far.
    pub fn delivered(&self) -> u64 {
        self.state.delivered.load(Ordering::SeqCst)
    }

    pub fn seen(&self) -> HashMap<u64, Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn codes(&self) -> BTreeMap<u16, u64> {
        self.state.codes.lock().unwrap().clone()
    }

    pub fn code(&self, code: u16) -> u64 {
        self.codes().get(&code).copied().unwrap_or(0)
    }

    /// Every body of `expected` was answered 2xx exactly once, and nothing else was.
    pub fn assert_exactly_once(&self, expected: &HashMap<u64, u32>) {
        let seen = self.seen();
        let mut missing = 0;
        let mut twice = 0;
        for (hash, n) in expected {
            assert_eq!(*n, 1, "the scenario makes distinct bodies");
            match seen.get(hash).map_or(0, |s| s.delivered) {
                0 => missing += 1,
                1 => {}
                _ => twice += 1,
            }
        }
        let unknown = seen.keys().filter(|h| !expected.contains_key(h)).count();
        assert_eq!(
            (missing, twice, unknown),
            (0, 0, 0),
            "events lost, delivered twice, or not in the scenario (of {})",
            expected.len()
        );
        assert_eq!(self.delivered(), expected.len() as u64);
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let state = state.clone();
        let mut generation = state.generation.subscribe();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(state.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = generation.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

#[derive(Debug)]
struct Down;

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("down")
    }
}

impl std::error::Error for Down {}

async fn answer(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Down> {
    if !state.up.load(Ordering::SeqCst) {
        // Gone: the connection is closed without an answer.
        return Err(Down);
    }
    let token_ok = req
        .headers()
        .get("x-pbx-token")
        .is_some_and(|t| state.tokens.iter().any(|ok| t.as_bytes() == ok.as_bytes()));
    let body = req.into_body().collect().await.map_err(|_| Down)?.to_bytes();
    let reply = if token_ok {
        let hash = body_hash(&body);
        let attempt = {
            let mut seen = state.seen.lock().unwrap();
            let entry = seen.entry(hash).or_default();
            entry.attempts += 1;
            entry.attempts - 1
        };
        let reply = (state.policy)(hash, attempt);
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        if !state.up.load(Ordering::SeqCst) {
            return Err(Down);
        }
        if (200..300).contains(&reply.status) {
            state.seen.lock().unwrap().entry(hash).or_default().delivered += 1;
            state.delivered.fetch_add(1, Ordering::SeqCst);
        }
        reply
    } else {
        Reply { status: 401, ..Reply::OK }
    };
    *state.codes.lock().unwrap().entry(reply.status).or_default() += 1;
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    if let Some(v) = reply.retry_after {
        response.headers_mut().insert("retry-after", v.parse().unwrap());
    }
    Ok(response)
}

/// The numbers in the run summary's first two lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    pub generated: u64,
    pub delivered: u64,
    pub failed: u64,
    pub filtered: u64,
    pub sent: u64,
    pub retries: u64,
}

/// Reads `events generated G  delivered D  failed F  filtered X` and
/// `requests sent S (R retries)` from a run's stdout.
pub fn parse_summary(stdout: &str) -> RunSummary {
    let mut s = RunSummary::default();
    let number_after = |line: &str, word: &str| -> u64 {
        let rest =
            &line[line.find(word).unwrap_or_else(|| panic!("{word} in {line}")) + word.len()..];
        let digits: String = rest
            .trim_start()
            .trim_start_matches('(')
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().unwrap_or_else(|_| panic!("a number after {word} in {line}"))
    };
    let events = stdout.lines().find(|l| l.starts_with("events ")).expect("an events line");
    s.generated = number_after(events, "generated");
    s.delivered = number_after(events, "delivered");
    s.failed = number_after(events, "failed");
    s.filtered = number_after(events, "filtered");
    let requests = stdout.lines().find(|l| l.starts_with("requests ")).expect("a requests line");
    s.sent = number_after(requests, "sent");
    let retries = &requests[requests.find('(').expect("(N retries)") + 1..];
    s.retries = retries.split_whitespace().next().unwrap().parse().unwrap();
    s
}
