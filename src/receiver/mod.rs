//! The built-in webhook receiver (`pbxsim listen`, and the run's target when none is given): an
//! axum server that checks `X-Pbx-Token`, reads each body, feeds it to the conformance
//! [`Checker`], prints one line per event, and can misbehave on purpose (delay, random 503s, a
//! fixed status) so senders can rehearse their retries.
//!
//! Only bodies answered with a 2xx code are checked: those are the ones the sender counts as
//! delivered, whereas a failed one will be sent again.

pub mod format;
pub mod inspector;
mod save;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Local};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::check::{CheckSummary, Checker, CheckerConfig};
use crate::duration::Millis;
use crate::secret::Secret;
use inspector::{Incoming, Inspector, InspectorConfig};
use save::SaveFile;

/// The token header, as sent by the PBX.
pub const TOKEN_HEADER: &str = "x-pbx-token";

/// Where the receiver's lines go: stdout by default, or any writer (e.g. a buffer in tests, or
/// a progress bar's printer). Cloning shares the writer. Write errors are ignored, except that
/// a closed pipe (`pbxsim listen | head -1`) stops all further writes and resolves
/// [`Output::closed`].
#[derive(Clone)]
pub struct Output(Arc<OutputInner>);

struct OutputInner {
    writer: Mutex<Box<dyn Write + Send>>,
    closed: AtomicBool,
    on_close: tokio::sync::Notify,
}

impl Output {
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        Self(Arc::new(OutputInner {
            writer: Mutex::new(Box::new(writer)),
            closed: AtomicBool::new(false),
            on_close: tokio::sync::Notify::new(),
        }))
    }
    pub fn stdout() -> Self {
        Self::new(io::stdout())
    }
    /// Discard everything.
    pub fn sink() -> Self {
        Self::new(io::sink())
    }
    /// Write `text` and a newline, and flush.
    pub fn line(&self, text: &str) {
        if self.is_closed() {
            return;
        }
        let mut w = self.0.writer.lock().unwrap_or_else(|e| e.into_inner());
        let written = w.write_all(text.as_bytes()).and_then(|_| w.write_all(b"\n"));
        let written = written.and_then(|_| w.flush());
        if written.is_err_and(|e| e.kind() == io::ErrorKind::BrokenPipe) {
            self.0.closed.store(true, Ordering::SeqCst);
            self.0.on_close.notify_waiters();
        }
    }
    /// Whether the reader went away (a closed pipe): nothing more is written.
    pub fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::SeqCst)
    }
    /// Completes once the reader went away.
    pub async fn closed(&self) {
        loop {
            let notified = self.0.on_close.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}

impl Default for Output {
    fn default() -> Self {
        Self::stdout()
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Output")
    }
}

/// How much the receiver prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PrintMode {
    /// A line per event, per violation and per rejected request.
    #[default]
    Lines,
    /// Violations only (and notes).
    Quiet,
}

/// Everything the receiver needs to know. `Default` is `listen` with no flags. `{:?}` shows no
/// token: they are [`Secret`]s.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// The expected `X-Pbx-Token`; `None` accepts every request.
    pub token: Option<Secret>,
    /// Further tokens accepted besides `token`: the built-in receiver of `run` also takes the
    /// events of webhook objects, which carry their own tokens.
    pub extra_tokens: Vec<Secret>,
    /// Append every request to this NDJSON file (token redacted).
    pub save: Option<PathBuf>,
    /// The code answered to every valid request (default 200).
    pub status: u16,
    /// Wait this long before answering a valid request.
    pub delay: Millis,
    /// Answer 503 to this fraction (0..=1) of valid requests, drawn from `seed`.
    pub fail_rate: f64,
    /// Bodies larger than this many bytes are answered 413.
    pub max_body: usize,
    /// Connections served at once; further clients wait in the OS backlog until one closes.
    pub max_connections: usize,
    /// A request's line and headers must arrive within this time of the first byte (and an
    /// idle keep-alive connection is closed after it): slow clients are dropped.
    pub header_timeout: Duration,
    /// A request's body must arrive within this time, else 408 and the connection is closed.
    pub body_timeout: Duration,
    /// The conformance checker's settings (ticked types, lenient numbers).
    pub checker: CheckerConfig,
    pub print: PrintMode,
    /// ANSI colour in printed lines.
    pub color: bool,
    pub seed: u64,
    /// [`RunningReceiver::stopped`] resolves once this many events have been received.
    pub stop_after: Option<u64>,
    pub output: Output,
    /// Serve the live inspector page (`--ui`) on the same port; `None` answers `GET /` 405 as
    /// any other non-POST.
    pub inspector: Option<InspectorConfig>,
    /// The line printed once when `token` is `None` and a request arrives (a CLI names its
    /// flags here; the default is [`NO_TOKEN_NOTE`]).
    pub no_token_note: String,
    /// How its answers and warnings name the settings behind them (a CLI names its flags;
    /// the default names the config fields).
    pub wording: ReceiverWording,
}

/// How the receiver names its own settings in what it says: why it failed a request on
/// purpose, and which file it could not write. The default names [`ReceiverConfig`]'s fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverWording {
    /// The error of a random 503 ([`ReceiverConfig::fail_rate`]).
    pub failed_on_purpose: &'static str,
    /// What set the failure code, after "answering 500 on purpose" ([`ReceiverConfig::status`]).
    pub status: &'static str,
    /// The save file, in "warning: cannot write to {save_file}: …" ([`ReceiverConfig::save`]).
    pub save_file: &'static str,
}

impl Default for ReceiverWording {
    fn default() -> Self {
        Self {
            failed_on_purpose: "simulated failure (fail_rate)",
            status: "(status)",
            save_file: "the save file",
        }
    }
}

/// [`ReceiverConfig::no_token_note`]'s default: no flag names, the library knows none.
pub const NO_TOKEN_NOTE: &str = "note: no token configured, so X-Pbx-Token is not checked \
                                    (give the receiver a token to check it)";

impl Default for ReceiverConfig {
    fn default() -> Self {
        Self {
            token: None,
            extra_tokens: Vec::new(),
            save: None,
            status: 200,
            delay: 0,
            fail_rate: 0.0,
            max_body: 1024 * 1024,
            max_connections: 1024,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            checker: CheckerConfig::default(),
            print: PrintMode::Lines,
            color: false,
            seed: 0,
            stop_after: None,
            output: Output::stdout(),
            inspector: None,
            no_token_note: NO_TOKEN_NOTE.to_string(),
            wording: ReceiverWording::default(),
        }
    }
}

/// What the receiver has seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReceiverStats {
    /// Requests of any kind.
    pub requests: u64,
    /// Requests per response code.
    pub by_code: BTreeMap<u16, u64>,
    /// Events in readable bodies, whatever the answer.
    pub events_received: u64,
    /// The checker's counts (over the events answered 2xx).
    pub check: CheckSummary,
}

impl ReceiverStats {
    pub fn violations(&self) -> u64 {
        self.check.violations
    }
    pub fn code(&self, code: u16) -> u64 {
        self.by_code.get(&code).copied().unwrap_or(0)
    }
}

impl fmt::Display for ReceiverStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "requests:   {}", self.requests)?;
        if !self.by_code.is_empty() {
            let codes: Vec<String> =
                self.by_code.iter().map(|(code, n)| format!("{code}: {n}")).collect();
            write!(f, " ({})", codes.join(", "))?;
        }
        writeln!(f)?;
        let unchecked = self.events_received.saturating_sub(self.check.events);
        if unchecked > 0 {
            writeln!(f, "not checked: {unchecked} events answered with a failure code")?;
        }
        write!(f, "{}", self.check)
    }
}

/// A receiver serving in the background. Dropping it stops the server (without the
/// end-of-stream checks); [`RunningReceiver::shutdown`] stops it and runs them.
pub struct RunningReceiver {
    /// The bound address (the real port when bound to port 0).
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
    stopped: watch::Receiver<bool>,
}

impl RunningReceiver {
    /// `http://ADDR/`, to send webhooks to.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Counts so far.
    pub fn stats(&self) -> ReceiverStats {
        self.shared.stats()
    }

    /// The inspector page's address with `--ui` (a loopback address when bound to all
    /// interfaces), else `None`.
    pub fn inspector_url(&self) -> Option<String> {
        self.shared.inspector.as_ref()?;
        let ip = match self.addr.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
            ip => ip,
        };
        Some(format!("http://{}/", SocketAddr::new(ip, self.addr.port())))
    }

    /// What the inspector's history holds (`None` without `--ui`).
    pub fn inspector_kept(&self) -> Option<inspector::Kept> {
        self.shared.inspector.as_ref().map(Inspector::kept)
    }

    /// Run the end-of-stream checks now, while still serving (the inspector then shows their
    /// violations), and print them; [`RunningReceiver::shutdown`] does not repeat them.
    pub fn finish_checks(&self) {
        self.shared.finish_checks();
    }

    /// Resolves once `stop_after` events have been received (never, without `stop_after`).
    pub async fn stopped(&self) {
        let mut rx = self.stopped.clone();
        if rx.wait_for(|stopped| *stopped).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Stop serving (requests in flight get up to 5 s to finish), run the end-of-stream checks,
    /// print their violations, and return the final counts.
    pub async fn shutdown(mut self) -> ReceiverStats {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task).await.is_err() {
            self.task.abort();
        }
        self.shared.finish_checks();
        self.shared.stats()
    }
}

/// Bind `bind` and serve in the background.
pub async fn start(bind: SocketAddr, cfg: ReceiverConfig) -> io::Result<RunningReceiver> {
    let save = match &cfg.save {
        Some(path) => Some(SaveFile::open(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot open {} to save requests: {e}", path.display()),
            )
        })?),
        None => None,
    };
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stopped) = watch::channel(false);
    let shared = Arc::new(Shared {
        checker: Mutex::new(Checker::new(cfg.checker)),
        rng: Mutex::new(ChaCha8Rng::seed_from_u64(cfg.seed)),
        codes: Mutex::new(BTreeMap::new()),
        requests: AtomicU64::new(0),
        events: AtomicU64::new(0),
        noted_no_token: AtomicBool::new(false),
        stop_tx,
        save,
        inspector: cfg.inspector.map(Inspector::new),
        cfg,
    });
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, shared.clone(), shutdown_rx));
    Ok(RunningReceiver { addr, shared, shutdown: Some(shutdown_tx), task, stopped })
}

/// The most request headers accepted; a request with more is answered 431.
pub(crate) const MAX_HEADERS: usize = 100;
/// The largest request head (request line and headers) accepted, in bytes; a larger one is
/// answered 431.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Accept connections until `shutdown`, each served by hyper's HTTP/1 server with the limits
/// above, at most `max_connections` at once; then let requests in flight finish.
async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) -> io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(shared.cfg.header_timeout)
        .max_headers(MAX_HEADERS)
        .max_header_size(MAX_HEAD_BYTES);
    let slots = Arc::new(Semaphore::new(shared.cfg.max_connections.max(1)));
    let (closing_tx, closing) = watch::channel(false);
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    // Out of file descriptors, or a client gone before its handshake ended:
                    // wait a little rather than spin, and go on serving.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // From this machine: a loopback peer, or one whose address is our own.
        let local = peer.ip().to_canonical().is_loopback()
            || stream.local_addr().is_ok_and(|own| own.ip() == peer.ip());
        let for_requests = shared.clone();
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let shared = for_requests.clone();
            async move {
                let (parts, body) = request.into_parts();
                let response =
                    handle(shared, local, parts.method, parts.uri, parts.headers, Body::new(body))
                        .await;
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let conn = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let mut closing = closing.clone();
        conns.spawn(async move {
            let _permit = permit;
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = closing.wait_for(|closing| *closing) => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    if let Some(inspector) = &shared.inspector {
        inspector.close();
    }
    closing_tx.send_replace(true);
    while conns.join_next().await.is_some() {}
    Ok(())
}

/// Compare a received token with the expected one in time that depends only on the expected
/// token's length, not on where the first difference is.
pub(crate) fn ct_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= given.get(i).copied().unwrap_or(0) ^ e;
    }
    std::hint::black_box(diff) == 0
}

struct Shared {
    cfg: ReceiverConfig,
    checker: Mutex<Checker>,
    rng: Mutex<ChaCha8Rng>,
    codes: Mutex<BTreeMap<u16, u64>>,
    requests: AtomicU64,
    events: AtomicU64,
    noted_no_token: AtomicBool,
    stop_tx: watch::Sender<bool>,
    save: Option<SaveFile>,
    inspector: Option<Inspector>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn checker(&self) -> MutexGuard<'_, Checker> {
        lock(&self.checker)
    }

    fn stats(&self) -> ReceiverStats {
        ReceiverStats {
            requests: self.requests.load(Ordering::Relaxed),
            by_code: lock(&self.codes).clone(),
            events_received: self.events.load(Ordering::Relaxed),
            check: self.checker().summary(),
        }
    }

    fn lines(&self) -> bool {
        self.cfg.print == PrintMode::Lines
    }

    /// The end-of-stream checks (once), printed and shown in the inspector.
    fn finish_checks(&self) {
        let violations = self.checker().finish();
        for v in &violations {
            self.cfg.output.line(&format::violation_line(v, self.cfg.color));
        }
        if let Some(inspector) = &self.inspector {
            inspector.record_end(&violations);
        }
    }

    /// Keep the request for the inspector, with `violations` beside the events that broke them.
    #[allow(clippy::too_many_arguments)]
    fn inspect(
        &self,
        received_at: &DateTime<Local>,
        path: &str,
        headers: &HeaderMap,
        code: StatusCode,
        reason: Option<&str>,
        body: &Value,
        one_off: bool,
        violations: Vec<crate::check::Violation>,
    ) {
        let Some(inspector) = &self.inspector else { return };
        let tokens: Vec<&str> =
            self.cfg.token.iter().chain(&self.cfg.extra_tokens).map(Secret::expose).collect();
        inspector.record(Incoming {
            received_at: *received_at,
            path,
            headers: inspector::redacted_headers(headers, &tokens),
            status: code.as_u16(),
            one_off,
            reason,
            body,
            violations,
        });
    }
}

/// How a request was judged before any misbehaviour.
enum Verdict {
    /// Refused: the code, why, and the body as saved (null when not read).
    Rejected(StatusCode, String, Value),
    /// A readable JSON object or array.
    Readable(Value),
}

async fn handle(
    shared: Arc<Shared>,
    local: bool,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(page) = &shared.inspector
        && inspector::wants(&method, uri.path())
    {
        return inspector::answer(&shared, page, local, method, uri, headers, body).await;
    }
    let received_at = Local::now();
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let path = uri.path();
    let (code, answer) = match judge(&shared, &method, &headers, body).await {
        Verdict::Rejected(code, reason, saved_body) => {
            if shared.lines() {
                let line = format::rejected_line(
                    &received_at,
                    path,
                    code.as_u16(),
                    &reason,
                    shared.cfg.color,
                );
                shared.cfg.output.line(&line);
            }
            let one_off = false;
            shared.inspect(
                &received_at,
                path,
                &headers,
                code,
                Some(&reason),
                &saved_body,
                one_off,
                vec![],
            );
            save(&shared, &received_at, path, &headers, code, saved_body);
            (code, json!({"ok": false, "error": reason}))
        }
        Verdict::Readable(value) => {
            let (code, answer) = misbehave(&shared, &value).await;
            let one_off = crate::check::is_one_off(
                headers.get(crate::check::TRIGGER_HEADER).and_then(|v| v.to_str().ok()),
            );
            let violations = observe(&shared, &received_at, &value, code, one_off);
            shared.inspect(&received_at, path, &headers, code, None, &value, one_off, violations);
            save(&shared, &received_at, path, &headers, code, value);
            (code, answer)
        }
    };
    *lock(&shared.codes).entry(code.as_u16()).or_default() += 1;
    if code == StatusCode::NO_CONTENT || code == StatusCode::NOT_MODIFIED {
        return code.into_response();
    }
    let mut response =
        (code, [(header::CONTENT_TYPE, "application/json")], answer.to_string()).into_response();
    if code == StatusCode::REQUEST_TIMEOUT {
        // The rest of a slow body may still be on its way: do not read it.
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Method, token, size and JSON checks, in that order.
async fn judge(shared: &Shared, method: &Method, headers: &HeaderMap, body: Body) -> Verdict {
    let reject = |code, reason: &str| Verdict::Rejected(code, reason.to_string(), Value::Null);
    if method != Method::POST {
        return reject(StatusCode::METHOD_NOT_ALLOWED, "only POST is accepted");
    }
    match &shared.cfg.token {
        Some(expected) => match headers.get(TOKEN_HEADER) {
            None => return reject(StatusCode::UNAUTHORIZED, "missing X-Pbx-Token"),
            Some(given)
                if !std::iter::once(expected)
                    .chain(&shared.cfg.extra_tokens)
                    .fold(false, |ok, t| ct_eq(given.as_bytes(), t.expose().as_bytes()) | ok) =>
            {
                return reject(StatusCode::UNAUTHORIZED, "wrong X-Pbx-Token");
            }
            Some(_) => {}
        },
        None => {
            if !shared.noted_no_token.swap(true, Ordering::Relaxed) {
                shared.cfg.output.line(&shared.cfg.no_token_note);
            }
        }
    }
    let max = shared.cfg.max_body;
    let too_large = format!("body larger than {max} bytes");
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return reject(StatusCode::PAYLOAD_TOO_LARGE, &too_large);
    }
    let timeout = shared.cfg.body_timeout;
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, max)).await;
    let bytes: Bytes = match read {
        Err(_) => {
            let why = format!("the body did not arrive within {timeout:?}");
            return reject(StatusCode::REQUEST_TIMEOUT, &why);
        }
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            let limited = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            return if limited {
                reject(StatusCode::PAYLOAD_TOO_LARGE, &too_large)
            } else {
                reject(StatusCode::BAD_REQUEST, &format!("cannot read the body: {e}"))
            };
        }
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(value @ (Value::Object(_) | Value::Array(_))) => Verdict::Readable(value),
        Ok(_) => Verdict::Rejected(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object or an array of objects".into(),
            Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        ),
        Err(e) => Verdict::Rejected(
            StatusCode::BAD_REQUEST,
            format!("malformed JSON: {e}"),
            Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        ),
    }
}

/// Count the events, then apply `--delay`, `--fail-rate` and `--status`.
async fn misbehave(shared: &Shared, value: &Value) -> (StatusCode, Value) {
    let n = match value {
        Value::Array(items) => items.len() as u64,
        _ => 1,
    };
    let total = shared.events.fetch_add(n, Ordering::Relaxed) + n;
    if shared.cfg.stop_after.is_some_and(|limit| total >= limit) {
        shared.stop_tx.send_replace(true);
    }
    if shared.cfg.delay > 0 {
        tokio::time::sleep(Duration::from_millis(shared.cfg.delay)).await;
    }
    let fail_rate = shared.cfg.fail_rate.clamp(0.0, 1.0);
    if fail_rate > 0.0 && lock(&shared.rng).random_bool(fail_rate) {
        let why = shared.cfg.wording.failed_on_purpose;
        return (StatusCode::SERVICE_UNAVAILABLE, json!({"ok": false, "error": why}));
    }
    let code = StatusCode::from_u16(shared.cfg.status).unwrap_or(StatusCode::OK);
    if code.is_success() {
        (code, json!({"ok": true}))
    } else {
        let why = format!("answering {code} on purpose {}", shared.cfg.wording.status);
        (code, json!({"ok": false, "error": why}))
    }
}

/// Check the body if it was accepted (on its own when it is a one-off, see
/// [`crate::check::TRIGGER_HEADER`]), and print its events and violations, which it returns.
fn observe(
    shared: &Shared,
    received_at: &DateTime<Local>,
    value: &Value,
    code: StatusCode,
    one_off: bool,
) -> Vec<crate::check::Violation> {
    let color = shared.cfg.color;
    // The checker's lock is held while printing, so lines come out in the order checked.
    let mut checker = shared.checker();
    let violations = match (code.is_success(), one_off) {
        (false, _) => Vec::new(),
        (true, false) => checker.observe(value),
        (true, true) => checker.observe_lone(value),
    };
    let mut text = String::new();
    if shared.lines() {
        let events = match value {
            Value::Array(items) => items.as_slice(),
            single => std::slice::from_ref(single),
        };
        for event in events {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&format::event_line(received_at, event, color));
            if !code.is_success() {
                text.push_str(&format::not_accepted_note(code.as_u16(), color));
            } else if one_off {
                text.push_str(&format::one_off_note(color));
            }
        }
    }
    for v in &violations {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format::violation_line(v, color));
    }
    if !text.is_empty() {
        shared.cfg.output.line(&text);
    }
    violations
}

fn save(
    shared: &Shared,
    received_at: &DateTime<Local>,
    path: &str,
    headers: &HeaderMap,
    code: StatusCode,
    body: Value,
) {
    let Some(file) = &shared.save else { return };
    let envelope = save::envelope(received_at, path, headers, code.as_u16(), body);
    if let Err(e) = file.append(&envelope) {
        let file = shared.cfg.wording.save_file;
        shared.cfg.output.line(&format!("warning: cannot write to {file}: {e}"));
    }
}

#[cfg(test)]
mod tests;
