//! The live web inspector (`--ui`): a page served by the receiver itself, on the webhooks' own
//! port, that lists the calls as they arrive (server-sent events), shows each call's timeline
//! in PBX time with its raw requests and violations, and replays events to a URL typed in the
//! page. The page's HTML, JS and CSS are embedded in the binary; nothing is fetched at run time.
//!
//! `GET /` is the page and everything under [`PREFIX`] is the inspector's; every other request
//! is a webhook as without `--ui`. The page and its API answer only connections from this machine,
//! only to a `Host` that is `localhost` or an IP address (no DNS rebinding), never to a
//! cross-site request (`Origin`, `Sec-Fetch-Site`), and only with the per-process random key
//! that the page carries (`X-Pbxsim-Key`), which another web page cannot read. See
//! docs/inspector.md.

mod history;

use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rand::RngExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

pub use history::{
    Bounds, CallSummary, Entry, Filter, History, Incoming, Kept, Ring, Status, TimedEntry,
    Timeline, ViolationView,
};

use super::{Shared, TOKEN_HEADER, ct_eq, lock};
use crate::check::{TRIGGER_HEADER, Violation};

/// The paths the inspector reserves (besides `GET /`).
pub const PREFIX: &str = "/_pbxsim/";
/// The header carrying the page's key on API requests.
pub const KEY_HEADER: &str = "x-pbxsim-key";
/// The most calls one list request returns.
pub const MAX_PAGE: usize = 200;
/// How long a replay waits for each answer.
pub const REPLAY_TIMEOUT: Duration = Duration::from_secs(10);

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// The page may load only its own script and style and talk only to its own origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// The inspector's settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InspectorConfig {
    pub bounds: Bounds,
}

pub(crate) struct Inspector {
    key: String,
    history: Mutex<History>,
    version: watch::Sender<u64>,
    closing: watch::Sender<bool>,
    client: OnceLock<Result<reqwest::Client, String>>,
}

impl Inspector {
    pub(crate) fn new(cfg: InspectorConfig) -> Self {
        let key: u128 = rand::rng().random();
        Self {
            key: format!("{key:032x}"),
            history: Mutex::new(History::new(cfg.bounds)),
            version: watch::channel(0).0,
            closing: watch::channel(false).0,
            client: OnceLock::new(),
        }
    }

    pub(crate) fn record(&self, incoming: Incoming<'_>) {
        let version = {
            let mut history = lock(&self.history);
            history.record(incoming);
            history.version()
        };
        self.version.send_replace(version);
    }

    pub(crate) fn record_end(&self, violations: &[Violation]) {
        let version = {
            let mut history = lock(&self.history);
            history.record_end(violations);
            history.version()
        };
        self.version.send_replace(version);
    }

    /// End the live streams, so that the server can stop.
    pub(crate) fn close(&self) {
        self.closing.send_replace(true);
    }

    pub(crate) fn kept(&self) -> Kept {
        lock(&self.history).kept()
    }

    fn client(&self) -> Result<reqwest::Client, String> {
        self.client
            .get_or_init(|| {
                crate::tls::init_tls();
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(REPLAY_TIMEOUT)
                    .build()
                    .map_err(|e| format!("cannot make an HTTP client: {e}"))
            })
            .clone()
    }
}

/// Whether a request is the inspector's rather than a webhook.
pub(crate) fn wants(method: &Method, path: &str) -> bool {
    (method == Method::GET && matches!(path, "/" | "/favicon.ico")) || path.starts_with(PREFIX)
}

/// Header names and values as the page shows them: secrets (see
/// [`crate::secret::is_secret_name`]) and any value containing an accepted token are `***`.
pub(crate) fn redacted_headers(headers: &HeaderMap, tokens: &[&str]) -> Vec<(String, String)> {
    super::save::redacted_headers(headers)
        .into_iter()
        .map(|(name, value)| {
            let value = value.as_str().unwrap_or_default().to_string();
            let leaks = tokens.iter().any(|t| !t.is_empty() && value.contains(t));
            (name, if leaks { crate::secret::MASK.to_string() } else { value })
        })
        .collect()
}

/// The host part of a `Host` header: `localhost`, `127.0.0.1`, `::1`...
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// A `Host` that DNS rebinding cannot produce: `localhost` or an IP address.
fn host_allowed(host: &str) -> bool {
    let name = host_name(host);
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

fn json_response(code: StatusCode, value: &Value) -> Response {
    no_store(
        (code, [(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response(),
    )
}

fn refuse(code: StatusCode, why: &str) -> Response {
    json_response(code, &json!({"ok": false, "error": why}))
}

fn asset(content_type: &'static str, text: String) -> Response {
    let mut response = no_store(([(header::CONTENT_TYPE, content_type)], text).into_response());
    let h = response.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

/// The query string's pairs, decoded.
fn query(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// Answer a request for the page or its API (see the module's docs for the checks).
pub(super) async fn answer(
    shared: &Arc<Shared>,
    inspector: &Inspector,
    local: bool,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !local {
        return refuse(StatusCode::FORBIDDEN, "the inspector answers only this machine");
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !host_allowed(host) {
        return refuse(
            StatusCode::FORBIDDEN,
            "the inspector answers only Host: localhost or an IP address",
        );
    }
    let path = uri.path();
    match (&method, path) {
        (&Method::GET, "/") => {
            return asset(
                "text/html; charset=utf-8",
                INDEX_HTML.replace("{{KEY}}", &inspector.key),
            );
        }
        (&Method::GET, "/_pbxsim/app.js") => {
            return asset("text/javascript; charset=utf-8", APP_JS.to_string());
        }
        (&Method::GET, "/_pbxsim/style.css") => {
            return asset("text/css; charset=utf-8", STYLE_CSS.to_string());
        }
        (&Method::GET, "/favicon.ico") => return refuse(StatusCode::NOT_FOUND, "no icon"),
        _ => {}
    }
    let Some(api) = path.strip_prefix("/_pbxsim/api/") else {
        return refuse(StatusCode::NOT_FOUND, "no such inspector path");
    };
    // The API: same origin only, with the page's key.
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "same-origin" && v != "none");
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let foreign_origin = origin.is_some_and(|o| o != format!("http://{host}"));
    if cross_site || foreign_origin {
        return refuse(StatusCode::FORBIDDEN, "cross-origin requests are refused");
    }
    let pairs = query(&uri);
    let given = headers
        .get(KEY_HEADER)
        .map(|v| v.as_bytes())
        .or_else(|| (api == "stream").then(|| param(&pairs, "key").map(str::as_bytes)).flatten());
    if !given.is_some_and(|k| ct_eq(k, inspector.key.as_bytes())) {
        return refuse(StatusCode::FORBIDDEN, "missing or wrong inspector key");
    }
    match (method, api) {
        (Method::GET, "calls") => list(shared, inspector, &pairs),
        (Method::GET, "call") => {
            let Some(id) = param(&pairs, "id") else {
                return refuse(StatusCode::BAD_REQUEST, "give the call's key as ?id=");
            };
            match lock(&inspector.history).timeline(id) {
                Some(t) => json_response(StatusCode::OK, &json!(t)),
                None => refuse(StatusCode::NOT_FOUND, "no such call (or evicted from the history)"),
            }
        }
        (Method::GET, "stream") => stream(shared.clone()),
        (Method::POST, "replay") => replay(shared, inspector, &headers, body).await,
        _ => refuse(StatusCode::NOT_FOUND, "no such inspector API"),
    }
}

/// The counter strip: totals since the start, and what the history holds.
fn counters(shared: &Shared, inspector: &Inspector) -> Value {
    let stats = shared.stats();
    let kept = inspector.kept();
    let answered_4xx: u64 = stats.by_code.range(400..500).map(|(_, n)| n).sum();
    json!({
        "requests": stats.requests,
        "events": stats.events_received,
        "calls": kept.calls_seen,
        "violations": stats.check.violations,
        "answered_4xx": answered_4xx,
        "kept": kept,
    })
}

fn list(shared: &Shared, inspector: &Inspector, pairs: &[(String, String)]) -> Response {
    let number = |name: &str, default: usize| {
        param(pairs, name).and_then(|v| v.parse::<usize>().ok()).unwrap_or(default)
    };
    let (offset, limit) = (number("offset", 0), number("limit", 50).clamp(1, MAX_PAGE));
    let filter = Filter {
        event_type: param(pairs, "type").map(str::to_string),
        outcome: param(pairs, "outcome").map(str::to_string),
        violations_only: param(pairs, "violations").is_some_and(|v| v == "1" || v == "true"),
        text: param(pairs, "q").map(str::to_string),
    };
    let counters = counters(shared, inspector);
    let history = lock(&inspector.history);
    let (matched, calls) = history.list(&filter, offset, limit);
    json_response(
        StatusCode::OK,
        &json!({
            "matched": matched, "offset": offset, "limit": limit, "calls": calls,
            "counters": counters, "version": history.version(),
        }),
    )
}

/// Server-sent events: a message at once, then after each change (at most 5 a second), with
/// the counters and the keys of the calls changed since the last one; a comment every 15 s
/// keeps the connection alive. Ends when the receiver stops.
fn stream(shared: Arc<Shared>) -> Response {
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes>::new(4);
    tokio::spawn(async move {
        let Some(inspector) = shared.inspector.as_ref() else { return };
        let mut version = inspector.version.subscribe();
        let mut closing = inspector.closing.subscribe();
        let mut sent = 0u64;
        loop {
            let now = *version.borrow_and_update();
            let changed = lock(&inspector.history).changed_since(sent, 101);
            let more = changed.len() > 100;
            let message = json!({
                "version": now,
                "counters": counters(&shared, inspector),
                "changed": &changed[..changed.len().min(100)],
                "more": more,
            });
            sent = now;
            if tx.send_data(Bytes::from(format!("data: {message}\n\n"))).await.is_err() {
                return;
            }
            let started = Instant::now();
            loop {
                tokio::select! {
                    changed = version.changed() => if changed.is_err() { return } else { break },
                    _ = closed(&mut closing) => return,
                    _ = tokio::time::sleep(Duration::from_secs(15)) => {
                        if tx.send_data(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let wait = Duration::from_millis(200).saturating_sub(started.elapsed());
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = closed(&mut closing) => return,
            }
        }
    });
    let mut response = Body::new(body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    no_store(response)
}

/// Resolves once the receiver stops (the `Ref` that `wait_for` gives is not `Send`).
async fn closed(closing: &mut watch::Receiver<bool>) {
    let _ = closing.wait_for(|c| *c).await;
}

/// What the page asks to replay: one event (`seq`), a whole call (`call`) or an edited body
/// (`body`, JSON text), to `url`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    url: String,
    seq: Option<u64>,
    call: Option<String>,
    body: Option<String>,
    /// With `body`: send it as a one-off (`X-Pbxsim-Trigger: 1`).
    #[serde(default)]
    one_off: bool,
}

/// A URL the inspector may send to: http or https, a host, no credentials.
fn replay_target(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("only http:// and https:// URLs".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("no credentials in the URL: the token given to pbxsim is sent".into());
    }
    Ok(url)
}

async fn replay(
    shared: &Shared,
    inspector: &Inspector,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send application/json");
    }
    let Ok(bytes) = axum::body::to_bytes(body, shared.cfg.max_body.max(64 * 1024)).await else {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "the replay request is too large");
    };
    let request: ReplayRequest = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &format!("bad replay request: {e}")),
    };
    let url = match replay_target(&request.url) {
        Ok(url) => url,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &e),
    };
    // (seq, body, one-off) in sending order.
    let sends: Vec<(Option<u64>, String, bool)> = match (request.seq, &request.call, &request.body)
    {
        (Some(seq), None, None) => {
            let history = lock(&inspector.history);
            match history.entry(seq) {
                Some(Entry { body: Some(b), json: true, one_off, .. }) => {
                    vec![(Some(seq), b.clone(), *one_off)]
                }
                Some(_) => {
                    return refuse(StatusCode::BAD_REQUEST, "that request has no JSON body");
                }
                None => return refuse(StatusCode::NOT_FOUND, "no such event (evicted?)"),
            }
        }
        (None, Some(call), None) => {
            let history = lock(&inspector.history);
            let Some(entries) = history.entries_of(call) else {
                return refuse(StatusCode::NOT_FOUND, "no such call (evicted?)");
            };
            entries
                .iter()
                .filter(|e| e.json)
                .filter_map(|e| Some((Some(e.seq), e.body.clone()?, e.one_off)))
                .collect()
        }
        (None, None, Some(text)) => match serde_json::from_str::<Value>(text) {
            Ok(v @ (Value::Object(_) | Value::Array(_))) => {
                vec![(None, v.to_string(), request.one_off)]
            }
            Ok(_) => {
                return refuse(StatusCode::BAD_REQUEST, "the body must be a JSON object or array");
            }
            Err(e) => {
                return refuse(StatusCode::BAD_REQUEST, &format!("the body is not JSON: {e}"));
            }
        },
        _ => return refuse(StatusCode::BAD_REQUEST, "give exactly one of seq, call or body"),
    };
    if sends.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "nothing to send: the call has no JSON bodies");
    }
    let client = match inspector.client() {
        Ok(c) => c,
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let token = shared.cfg.token.as_ref().map(crate::secret::Secret::expose);
    let mut results = Vec::with_capacity(sends.len());
    for (seq, text, one_off) in sends {
        let mut req =
            client.post(url.clone()).header(header::CONTENT_TYPE, "application/json").body(text);
        if let Some(token) = token {
            req = req.header(TOKEN_HEADER, token);
        }
        if one_off {
            req = req.header(TRIGGER_HEADER, "1");
        }
        let started = Instant::now();
        let outcome = req.send().await;
        let ms = started.elapsed().as_millis() as u64;
        results.push(match outcome {
            Ok(r) => json!({"seq": seq, "status": r.status().as_u16(), "ms": ms}),
            Err(e) => json!({"seq": seq, "error": error_chain(&e), "ms": ms}),
        });
    }
    json_response(StatusCode::OK, &json!({"ok": true, "url": url.as_str(), "results": results}))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod api_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_rebinding_cannot_forge() {
        for ok in ["127.0.0.1:8080", "localhost:1", "LOCALHOST", "[::1]:80", "10.0.0.2:9"] {
            assert!(host_allowed(ok), "{ok}");
        }
        for bad in ["evil.example:8080", "", "127.0.0.1.nip.io:80", "localhost.evil:1"] {
            assert!(!host_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn replay_targets_are_http_without_credentials() {
        assert!(replay_target("http://127.0.0.1:9/hook").is_ok());
        assert!(replay_target("https://example.test/").is_ok());
        assert!(replay_target("file:///etc/passwd").is_err());
        assert!(replay_target("http://user:pw@127.0.0.1/").is_err());
        assert!(replay_target("not a url").is_err());
    }

    #[test]
    fn the_page_routes_are_the_inspectors() {
        assert!(wants(&Method::GET, "/"));
        assert!(wants(&Method::POST, "/_pbxsim/api/replay"));
        assert!(!wants(&Method::POST, "/"));
        assert!(!wants(&Method::GET, "/hook"));
    }

    #[test]
    fn headers_holding_a_token_are_redacted() {
        let mut h = HeaderMap::new();
        h.insert("x-pbx-token", "s3cret".parse().unwrap());
        h.insert("x-forwarded", "via s3cret".parse().unwrap());
        h.insert("content-type", "application/json".parse().unwrap());
        let shown = redacted_headers(&h, &["s3cret"]);
        let text = format!("{shown:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(shown.contains(&("content-type".into(), "application/json".into())));
    }
}
