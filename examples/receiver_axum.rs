//! A PBX webhook receiver done right, in axum: copy it as the start of yours.
//!
//! ```sh
//! PBX_TOKEN=s3cret cargo run --example receiver_axum -- --port 3000
//! # in another terminal: everything a real PBX (and a bad network) does to a receiver
//! pbxsim run scenarios/quickstart.toml --target http://127.0.0.1:3000/hook --token s3cret --asap \
//!     --chaos duplicate=0.3,reorder=0.3,batch=3,wrong_token=0.2,extra_fields=0.5 --truth truth.ndjson
//! curl -s http://127.0.0.1:3000/calls     # what it made of each call; compare with truth.ndjson
//! ```
//!
//! Ctrl-C (or SIGTERM) stops it: requests in its queue are processed, then the final state is printed as
//! JSON on stdout. Each choice is explained where it is made:
//!
//! - the token is compared in constant time ([`token_ok`]);
//! - a request is answered as soon as it is checked and queued, and processed by a worker
//!   ([`hook`], [`worker`]);
//! - a body may be one event or a JSON array of them ([`events_of`]);
//! - an event seen before (a retry, a duplicate delivery) changes nothing ([`Store::apply`]);
//! - unknown fields, numbers or durations as strings, and `null` written as `""`, `"null"` or
//!   left out are all read the same way ([`text`], [`seconds`]);
//! - the state of a call does not depend on the order its events arrive in ([`Call`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::Value;
use subtle::ConstantTimeEq;
use tokio::sync::mpsc;

/// How many requests may wait for the worker. When the queue is full the receiver answers 503
/// (with `Retry-After`) instead of holding the connection: the PBX retries later, and a slow
/// database never makes every webhook time out.
const QUEUE: usize = 4096;

/// What the receiver knows of one call, built so that it is the same whatever order the events
/// came in: every field is a set, a flag, or a value that all events of the call agree on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Call {
    /// `inbound` or `outbound`, from the event types.
    pub direction: Option<String>,
    /// `answered`, `voicemail` or `missed`: derived from the facts below when read, never
    /// from whichever event came last.
    pub outcome: String,
    /// Inbound: the extension of the user who answered.
    pub answered_by: Option<String>,
    /// Outbound: the extension of the user who dialled.
    pub from_user: Option<String>,
    /// When the call was answered.
    pub connected_at: Option<String>,
    /// The whole call, in seconds, once a completion event says it.
    pub call_duration: Option<u64>,
    /// The conversation, in seconds; 0 when nobody answered.
    pub conversation_duration: u64,
    /// Queue and ring-group visits, ordered by the PBX's own clock (the seconds since the call
    /// started at which each visit ended), not by arrival: a reordered summary lands in place.
    pub visits: Vec<Visit>,
    /// Every extension that rang.
    pub rung: BTreeSet<String>,
    /// A voicemail was left.
    pub voicemail: bool,
    /// How many voicemail notifications this receiver sent for the call: a side effect, so it
    /// must happen once per voicemail however often the event is delivered.
    pub voicemail_notifications: u64,
    /// The call was recorded.
    pub recording: bool,
    /// Webhook objects the call flow fired.
    pub components: BTreeSet<String>,
    #[serde(skip)]
    visit_set: BTreeSet<Visit>,
}

/// One queue or ring-group visit, from its `queue_call` / `ring_group_call` summary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Visit {
    /// Seconds from the call's start to the end of the visit (the summary's `call_duration`).
    pub ended_after: u64,
    /// `queue` or `ring_group`.
    pub kind: String,
    pub name: String,
    /// `answered`, `abandoned` or `timedout`.
    pub status: String,
}

/// Counters, for `GET /stats` and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Requests answered 2xx and queued.
    pub accepted: u64,
    /// Requests refused 401: a wrong or missing token.
    pub unauthorized: u64,
    /// Requests refused 400: not JSON, or not an event or array of events.
    pub malformed: u64,
    /// Requests refused 503 because the queue was full.
    pub busy: u64,
    /// Events applied to the state.
    pub applied: u64,
    /// Events that had been applied before (redeliveries and duplicates), skipped.
    pub duplicates: u64,
    /// Events without a `unique_call_id` or `type`, skipped.
    pub skipped: u64,
    /// Queued requests the worker has not processed yet.
    pub pending: u64,
}

#[derive(Debug, Default)]
struct Inner {
    calls: BTreeMap<String, Call>,
    /// The events applied so far, by call and event fingerprint. In production this is a
    /// unique index in your database, written in the same transaction as the change.
    seen: HashSet<(String, String)>,
    stats: Stats,
}

/// The receiver's state, shared by the handlers and the worker.
#[derive(Debug, Clone, Default)]
pub struct Store(Arc<Mutex<Inner>>);

impl Store {
    /// Every call, with its outcome filled in, by `unique_call_id`.
    pub fn calls(&self) -> BTreeMap<String, Call> {
        let inner = self.0.lock().unwrap();
        inner.calls.iter().map(|(id, call)| (id.clone(), call.finished())).collect()
    }

    pub fn stats(&self) -> Stats {
        self.0.lock().unwrap().stats
    }

    fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.0.lock().unwrap().stats)
    }

    /// Applies one event, once: an event whose fingerprint was seen for its call before is
    /// skipped, so a redelivery never repeats a side effect.
    fn apply(&self, event: &Value) {
        let mut inner = self.0.lock().unwrap();
        let (Some(call_id), Some(kind)) = (text(event, "unique_call_id"), text(event, "type"))
        else {
            inner.stats.skipped += 1;
            return;
        };
        if !inner.seen.insert((call_id.clone(), fingerprint(event))) {
            inner.stats.duplicates += 1;
            return;
        }
        inner.stats.applied += 1;
        let call = inner.calls.entry(call_id).or_default();
        let user = text(event, "user_number");
        let inbound = || Some("inbound".to_string());
        match kind.as_str() {
            "user_inbound" => {
                call.direction = inbound();
                call.rung.extend(user);
            }
            "user_inbound_answered" => {
                call.direction = inbound();
                call.answered_by = user;
                call.connected(event);
            }
            "user_inbound_completed" => {
                call.direction = inbound();
                // Also sent, with `connected_at` null, to users who rang and did not answer
                // (`unanswered_completion`): only a connected one says who answered.
                if call.connected(event) {
                    call.answered_by = user;
                    call.call_duration = seconds(event, "call_duration");
                }
            }
            "user_outbound" | "user_outbound_answered" | "user_outbound_completed" => {
                call.direction = Some("outbound".to_string());
                call.from_user = user;
                if call.connected(event) && kind == "user_outbound_completed" {
                    call.call_duration = seconds(event, "call_duration");
                }
            }
            "queue_call" | "ring_group_call" => {
                call.direction = inbound();
                let (visit_kind, name_field) = match kind.as_str() {
                    "queue_call" => ("queue", "queue_name"),
                    _ => ("ring_group", "ring_group_name"),
                };
                let status = text(event, "status").unwrap_or_default();
                if status == "answered" {
                    call.answered_by = user;
                    call.connected(event);
                }
                call.visit_set.insert(Visit {
                    ended_after: seconds(event, "call_duration").unwrap_or(0),
                    kind: visit_kind.to_string(),
                    name: text(event, name_field).unwrap_or_default(),
                    status,
                });
            }
            "voicemail" => {
                call.direction = inbound();
                call.voicemail = true;
                // The side effect (an email, a ticket) happens here, once per event.
                call.voicemail_notifications += 1;
            }
            "recording_inbound" => {
                call.direction = inbound();
                call.recording = true;
            }
            "recording_outbound" => {
                call.direction = Some("outbound".to_string());
                call.recording = true;
            }
            "webhook_component_event" => {
                call.direction = inbound();
                call.components.extend(text(event, "component_name"));
            }
            // A type this receiver does not know yet: kept out of the state, not an error.
            _ => {}
        }
    }
}

impl Call {
    /// Notes `connected_at` and the conversation length when the event has them; true when
    /// the event says the call was connected.
    fn connected(&mut self, event: &Value) -> bool {
        let Some(at) = text(event, "connected_at") else { return false };
        self.connected_at = Some(at);
        if let Some(talk) = seconds(event, "conversation_duration") {
            self.conversation_duration = self.conversation_duration.max(talk);
        }
        true
    }

    /// The call as served: visits in PBX order, and the outcome the facts imply.
    fn finished(&self) -> Call {
        let mut call = self.clone();
        call.visits = self.visit_set.iter().cloned().collect();
        call.outcome = if call.connected_at.is_some() {
            "answered"
        } else if call.voicemail {
            "voicemail"
        } else {
            "missed"
        }
        .to_string();
        call
    }
}

/// A field as text, with every spelling of "not applicable" (`null`, `""`, `"null"`, absent)
/// read as `None`, and a number read as its digits (`"28"` and `28` alike).
pub fn text(event: &Value, field: &str) -> Option<String> {
    match event.get(field)? {
        Value::String(s) if s.is_empty() || s == "null" => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A duration in whole seconds, sent as `125` or `"125"`.
pub fn seconds(event: &Value, field: &str) -> Option<u64> {
    text(event, field)?.parse().ok()
}

/// What makes an event the same event: its type, call and documented fields, normalised as
/// [`text`] reads them. Fields the vendor may add later are left out, so a redelivery that
/// gained one is still recognised.
fn fingerprint(event: &Value) -> String {
    const FIELDS: [&str; 19] = [
        "type",
        "caller_id",
        "caller_name",
        "user_name",
        "user_number",
        "dest_number",
        "call_start_at",
        "connected_at",
        "call_duration",
        "conversation_duration",
        "queue_name",
        "ring_group_name",
        "status",
        "recorded_at",
        "emails",
        "email_subject",
        "email_message",
        "mode",
        "component_name",
    ];
    let fields: Vec<Option<String>> = FIELDS.iter().map(|f| text(event, f)).collect();
    serde_json::to_string(&fields).expect("strings serialize")
}

/// The events of a body: one JSON object, or an array of them (senders that batch).
pub fn events_of(body: Value) -> Option<Vec<Value>> {
    match body {
        Value::Object(_) => Some(vec![body]),
        Value::Array(events) if events.iter().all(Value::is_object) => Some(events),
        _ => None,
    }
}

/// Compares the `X-Pbx-Token` header with the expected token in constant time: how long the
/// comparison takes says nothing about how much of a guess was right. (Its length may show;
/// the length of a random token is not the secret.)
pub fn token_ok(headers: &HeaderMap, expected: &[u8]) -> bool {
    let Some(got) = headers.get("x-pbx-token") else { return false };
    bool::from(got.as_bytes().ct_eq(expected))
}

#[derive(Clone)]
struct App {
    token: Arc<[u8]>,
    store: Store,
    queue: mpsc::Sender<Vec<Value>>,
}

/// `POST /hook`: check, queue, answer. Only the cheap checks happen before the answer (the
/// token, that the body is JSON events); the work happens in [`worker`], so the PBX never
/// waits on this receiver's database and never times out and resends because of it.
async fn hook(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if !token_ok(&headers, &app.token) {
        app.store.count(|s| s.unauthorized += 1);
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // Unknown fields are fine: the body is read as JSON, and only known fields are used.
    let Some(events) = serde_json::from_slice(&body).ok().and_then(events_of) else {
        app.store.count(|s| s.malformed += 1);
        return (StatusCode::BAD_REQUEST, "expected a JSON event or an array of events\n")
            .into_response();
    };
    // Counted as pending before it is queued: the worker may take it at once.
    app.store.count(|s| s.pending += 1);
    match app.queue.try_send(events) {
        Ok(()) => {
            app.store.count(|s| s.accepted += 1);
            // 202: accepted for processing, which is what happened.
            StatusCode::ACCEPTED.into_response()
        }
        Err(_) => {
            app.store.count(|s| {
                s.pending -= 1;
                s.busy += 1;
            });
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")]).into_response()
        }
    }
}

/// Applies queued events in arrival order; [`Store::apply`] makes that order not matter.
async fn worker(mut queue: mpsc::Receiver<Vec<Value>>, store: Store) {
    while let Some(events) = queue.recv().await {
        for event in &events {
            store.apply(event);
        }
        store.count(|s| s.pending -= 1);
    }
}

/// The receiver: its routes, its state, and the worker's handle (it ends once the router and
/// every request holding the queue are gone). Call inside a tokio runtime.
pub fn receiver(token: &str) -> (Router, Store, tokio::task::JoinHandle<()>) {
    let store = Store::default();
    let (queue, rx) = mpsc::channel(QUEUE);
    let worker = tokio::spawn(worker(rx, store.clone()));
    let app = App { token: Arc::from(token.as_bytes()), store: store.clone(), queue };
    let router = Router::new()
        .route("/hook", post(hook))
        .route("/calls", get(|State(app): State<App>| async move { axum::Json(app.store.calls()) }))
        .route("/stats", get(|State(app): State<App>| async move { axum::Json(app.store.stats()) }))
        .with_state(app);
    (router, store, worker)
}

fn usage(message: &str) -> ! {
    eprintln!("error: {message}");
    eprintln!("usage: PBX_TOKEN=... receiver_axum [--port PORT] [--bind ADDR]");
    std::process::exit(2);
}

/// Ctrl-C, or SIGTERM (what `docker stop`, systemd and Kubernetes send): stop taking requests,
/// finish the ones in progress and the queue.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() {
    let token = std::env::var("PBX_TOKEN").unwrap_or_default();
    if token.is_empty() {
        usage("set PBX_TOKEN to the token the PBX sends in X-Pbx-Token");
    }
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 3000));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--port" => addr.set_port(value.parse().unwrap_or_else(|_| usage("bad --port"))),
            "--bind" => addr.set_ip(value.parse().unwrap_or_else(|_| usage("bad --bind"))),
            _ => usage(&format!("unknown argument {arg}")),
        }
    }
    let (router, store, worker) = receiver(&token);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| usage(&format!("cannot listen on {addr}: {e}")));
    eprintln!(
        "listening on http://{}/hook (GET /calls, GET /stats)",
        listener.local_addr().unwrap()
    );
    axum::serve(listener, router).with_graceful_shutdown(stop_signal()).await.expect("server");
    // The router (and with it the queue's sender) is gone: the worker drains and ends.
    let _ = worker.await;
    println!("{}", serde_json::to_string_pretty(&store.calls()).expect("serialize"));
    eprintln!("{}", serde_json::to_string(&store.stats()).expect("serialize"));
}
