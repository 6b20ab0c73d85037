//! Delivery: post the engine's events to real receivers over HTTP, paced, in per-call order,
//! with retries, a failure journal and full accounting.
//!
//! [`deliver`] takes any stream of [`Emission`]s (lazy, possibly endless) and:
//! - posts each event's exact JSON with `Content-Type: application/json` and `X-Pbx-Token`
//!   (plus the endpoint's extra headers) to its [`Endpoint`]: global events to their type's
//!   route if it has one, else the global one, `Target::Webhook(i)` to webhook object `i`'s
//!   (see [`Endpoints::resolve`] for which URL and token each gets);
//! - paces them ([`Pacing`]): an event is sent at `start + at / speed`, or at once with `Asap`;
//! - keeps each call's order in every mode: a call's next event is sent only once the previous
//!   one was answered or finally gave up, while different calls proceed concurrently with up
//!   to `concurrency` requests in flight;
//! - retries failed attempts ([`RetryOn`], backoff with jitter, `Retry-After`);
//! - journals events that finally failed (`--failed`), for [`replay`];
//! - returns a [`Summary`] in which `generated = delivered + failed + filtered` always holds;
//! - with [`DeliverOptions::chaos`], injects faults toward the receiver (see [`crate::deliver::chaos`]):
//!   the stream may then also report ended calls ([`Feed`], [`with_ended_calls`]).
//!
//! Memory is bounded by the work in flight: the stream is read only as far as
//! `16 × concurrency + 1024` buffered events allow. When the receiver is slower than the
//! offered load, the dispatcher stops reading the stream at that bound (the engine, a lazy
//! iterator, stops with it), so the schedule runs late instead of memory growing; the
//! corrected latency (from each event's intended send time) shows by how much. Under
//! `max_calls_in_flight`, calls waiting for a slot hold at most as many events again; beyond
//! that, new calls are not started (counted as `not_started`).
//!
//! [`deliver_feed`] takes a [`Feed`] that also says when each call ended (from
//! [`Engine::take_ended`](crate::engine::Engine::take_ended)): it counts calls, can cap the
//! calls in progress (closed model) and cut the run off at a deadline. [`Live`] is the live
//! view a progress display samples.

mod cancel;
pub mod chaos;
mod client;
pub mod dry_run;
mod endpoint;
mod header;
mod http1;
mod journal;
mod live;
pub mod replay;
mod retry;
mod sched;
mod summary;
mod wording;

use std::path::PathBuf;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

pub use cancel::{CancelToken, QUIT_GAP, SignalEvent, SignalGate, StopSignal, on_signals};
pub use client::one_off_client;
pub use endpoint::{Endpoint, Endpoints, Label, Overrides, TOKEN_HEADER, TokenSource};
pub use header::{HeaderError, parse_header, with_headers};
pub use live::{FLUSH_EVERY, Live, LiveCounts, Sample, TypeLatency};
pub use replay::{ReplayError, ReplayPlan};
pub use retry::{RetryOn, RetryOnError, backoff, parse_retry_after, retry_delay};
pub use summary::{
    AuthFailure, CallCounts, Holds, JournalInfo, JournalView, Outcome, Spacing, Summary,
    SummaryView, TypeCounts, UNTRUSTED_CERTIFICATE, Unreachable, histogram as new_histogram,
    holds_line, plural,
};
pub use wording::Wording;

pub use crate::engine::feed::{Feed, with_ended_calls, with_ended_calls_and_truth, with_truth};
use crate::engine::{Emission, Target};
use crate::event::{EventType, EventTypeSet, NullStyle};
/// Installs rustls' crypto provider (the leaf module `tls` holds it, for the receiver too).
pub use crate::tls::init_tls;
pub use chaos::Chaos;
use endpoint::Prepared;
use sched::{Item, Job, Settings};

/// How virtual time maps onto the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Pacing {
    /// One virtual second per second (`--speed 1`).
    #[default]
    Realtime,
    /// `N` virtual seconds per second (`--speed N`, N > 0).
    Speed(f64),
    /// As fast as the receiver allows; virtual time is ignored (`--asap`).
    Asap,
}

impl Pacing {
    /// Virtual seconds per wall-clock second; `None` for `Asap`.
    pub fn speed(self) -> Option<f64> {
        match self {
            Pacing::Realtime => Some(1.0),
            Pacing::Speed(s) => Some(s),
            Pacing::Asap => None,
        }
    }
}

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct DeliverOptions {
    pub pacing: Pacing,
    /// Requests in flight at most (default 64).
    pub concurrency: usize,
    /// Per-attempt timeout, connecting included (default 10 s).
    pub timeout: Duration,
    /// Retries after a failed first attempt (default 0).
    pub retries: u32,
    /// Which failures are retried (default: connection errors, timeouts, 429, 5xx).
    pub retry_on: RetryOn,
    /// After an event of a call finally fails, skip the call's later events (counted as failed
    /// and `skipped`). Default: keep sending them, as a real PBX does.
    pub stop_call_on_failure: bool,
    /// Accept invalid (e.g. self-signed) TLS certificates.
    pub insecure: bool,
    /// Write every finally-failed event to this NDJSON file.
    pub failed_journal: Option<PathBuf>,
    /// How "not applicable" fields appear in the JSON.
    pub nulls: NullStyle,
    /// The global webhook's ticked types: global events of other types are counted as
    /// filtered and not sent. Webhook-object events are always sent.
    pub ticked: EventTypeSet,
    /// After an interruption, how long requests in flight may still finish (default 5 s).
    pub grace: Duration,
    /// Fault injection toward the receiver (`--chaos`); see [`crate::deliver::chaos`]. Batches and held
    /// events go as soon as their call ends when the stream reports ended calls
    /// ([`with_ended_calls`]), else at the end of the stream.
    pub chaos: Option<Chaos>,
    /// [`deliver_feed`] only: calls in progress at most (closed model). A call is in progress
    /// from its first event's dispatch until the feed says it ended; a new call waits for a
    /// slot, keeping its schedule (its overdue events go out at once when it starts).
    pub max_calls_in_flight: Option<usize>,
    /// Stop reading this long after the start: events not sent by then are failed as
    /// [`Outcome::CutOff`] (not an interruption), and calls in progress are counted cut off.
    pub cut_off_at: Option<Duration>,
    /// A live view to update while the run goes on.
    pub live: Option<std::sync::Arc<Live>>,
    /// How far the PBX clock starts before the run ([`Anchor::lead`](crate::time::Anchor)):
    /// an event at virtual time `at` is then not sent before `at − clock_lead` after the
    /// start, so no timestamp is ahead of the wall clock; such waits are counted
    /// ([`Summary::clock_holds`]). `None` (a pinned clock): no such limit.
    pub clock_lead: Option<crate::duration::Millis>,
    /// Called as each event is delivered or finally fails (`-v`).
    pub on_event: Option<EventLog>,
    /// How the [`Summary`] (and a load report made from it) words its advice; the default
    /// names no flag.
    pub wording: Wording,
}

/// One event's end, as a per-event log (`-v`) sees it: delivered, or finally failed.
#[derive(Debug, Clone, Copy)]
pub struct EventEnd<'a> {
    /// The event's JSON body, as sent.
    pub body: &'a [u8],
    /// The wire type name (`queue_call`), or `other`.
    pub kind: &'static str,
    /// The final answer (`Status(200)`), or how the event failed.
    pub outcome: Outcome,
    /// Answered 2xx.
    pub delivered: bool,
    /// Request start to answer (or to giving up) of the last attempt; `None` when the event
    /// was never sent (cancelled, cut off, skipped).
    pub latency: Option<Duration>,
    /// Why it failed, e.g. `HTTP 503 (after 3 attempts)`; `None` when delivered.
    pub detail: Option<&'a str>,
}

/// A callback for every event's end, called from the delivery threads (keep it quick).
#[derive(Clone)]
pub struct EventLog(pub std::sync::Arc<dyn Fn(&EventEnd<'_>) + Send + Sync>);

impl EventLog {
    pub fn new(log: impl Fn(&EventEnd<'_>) + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(log))
    }
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventLog")
    }
}

impl Default for DeliverOptions {
    fn default() -> Self {
        Self {
            pacing: Pacing::Realtime,
            concurrency: 64,
            timeout: Duration::from_secs(10),
            retries: 0,
            retry_on: RetryOn::default(),
            stop_call_on_failure: false,
            insecure: false,
            failed_journal: None,
            nulls: NullStyle::Null,
            ticked: EventTypeSet::ALL,
            grace: Duration::from_secs(5),
            chaos: None,
            max_calls_in_flight: None,
            cut_off_at: None,
            live: None,
            clock_lead: None,
            on_event: None,
            wording: Wording::default(),
        }
    }
}

impl DeliverOptions {
    fn settings(&self) -> Settings {
        Settings {
            concurrency: self.concurrency.max(1),
            timeout: self.timeout,
            retries: self.retries,
            retry_on: self.retry_on,
            stop_call_on_failure: self.stop_call_on_failure,
            insecure: self.insecure,
            grace: self.grace,
            paced: self.pacing.speed().is_some(),
            journal: self.failed_journal.clone(),
            track_calls: false,
            max_calls_in_flight: self.max_calls_in_flight,
            cut_off_at: self.cut_off_at,
            live: self.live.clone(),
            on_event: self.on_event.clone(),
        }
    }
}

/// Event bodies are written into shared buffers of this size.
const ARENA: usize = 64 * 1024;

/// Why a delivery could not start.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// None was given, and the scenario's `[webhook]` table has no `url`.
    #[error("no target URL: none was given and the scenario's [webhook] table has no `url`")]
    NoTarget,
    #[error("bad target URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("bad header `{name}` for {url}: {reason}")]
    BadHeader { url: String, name: String, reason: String },
    #[error("cannot create the failure journal {}: {source}", path.display())]
    Journal { path: PathBuf, source: std::io::Error },
    #[error("cannot set up the HTTPS client: {0}")]
    Tls(String),
    #[error("cannot start the delivery threads: {0}")]
    Threads(String),
    #[error("bad speed {0}: it must be a number above zero, like 1, 10 or 0.5")]
    BadSpeed(f64),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The chaos faults `wrong_token` / `no_token` were asked for, and there is no token.
    #[error("the chaos faults wrong_token / no_token need a token to forge, and none is set")]
    ChaosWithoutToken,
    /// An override route for a type the scenario never sends.
    #[error(
        "a route for `{0}`: the scenario never sends `{0}` (it is not in its [webhook] events)"
    )]
    RouteNotSent(EventType),
}

/// Post every event of `events` to `endpoints`; see the module documentation. Returns once
/// the stream is exhausted and every event is delivered or finally failed, or after `cancel`
/// fired and the requests in flight finished (within `opts.grace`).
///
/// Errors only before anything is sent (bad endpoint or speed, journal not writable, TLS
/// setup). Must run inside a tokio runtime; the stream is read on the caller's task, and the
/// requests are made by worker tasks on pbxsim's own threads (one per core, each with a
/// single-threaded runtime), so any runtime flavour will do.
pub async fn deliver<I, E>(
    events: I,
    endpoints: &Endpoints,
    opts: &DeliverOptions,
    cancel: CancelToken,
) -> Result<Summary, DeliverError>
where
    I: Iterator<Item = E> + Send,
    E: Into<Feed>,
{
    let summary = run(events.map(Into::into), endpoints, opts, false, cancel).await?;
    Ok(Summary { wording: opts.wording, ..summary })
}

/// [`deliver`] for a feed that says when calls end: also counts calls ([`Summary::calls`]) and
/// honours `opts.max_calls_in_flight`.
pub async fn deliver_feed<I>(
    feed: I,
    endpoints: &Endpoints,
    opts: &DeliverOptions,
    cancel: CancelToken,
) -> Result<Summary, DeliverError>
where
    I: Iterator<Item = Feed> + Send,
{
    let summary = run(feed, endpoints, opts, true, cancel).await?;
    Ok(Summary { wording: opts.wording, ..summary })
}

async fn run<I>(
    feed: I,
    endpoints: &Endpoints,
    opts: &DeliverOptions,
    track_calls: bool,
    cancel: CancelToken,
) -> Result<Summary, DeliverError>
where
    I: Iterator<Item = Feed> + Send,
{
    let prepared = endpoints.iter().map(Prepared::new).collect::<Result<Vec<_>, _>>()?;
    let webhooks = endpoints.webhooks.len();
    let routes = endpoints.route_table();
    let speed = opts.pacing.speed();
    if let Some(s) = speed.filter(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(DeliverError::BadSpeed(s));
    }
    let mut render = Render {
        router: Router { ticked: opts.ticked, webhooks, routes },
        nulls: opts.nulls,
        speed,
        clock_lead: opts.clock_lead,
        scratch: Vec::with_capacity(1024),
        arena: BytesMut::new(),
    };
    let mut settings = opts.settings();
    settings.track_calls = track_calls;
    if let Some(chaos) = opts.chaos.clone().filter(Chaos::is_active) {
        if chaos.has_token_faults() && endpoints.global.token.is_none() {
            return Err(DeliverError::ChaosWithoutToken);
        }
        return sched::faults::deliver(feed, chaos, render, prepared, settings, cancel).await;
    }
    let mut items = feed.map(move |feed| match feed {
        Feed::Event(e) => render.item(e),
        Feed::CallEnded(call) => Item::CallEnded(call),
    });
    sched::run(&mut items, prepared, settings, cancel).await
}

/// Turns events into what the scheduler takes: bodies cut from a shared arena (no allocation
/// per event), endpoints, pacing offsets.
pub(crate) struct Render {
    router: Router,
    nulls: NullStyle,
    speed: Option<f64>,
    clock_lead: Option<crate::duration::Millis>,
    scratch: Vec<u8>,
    arena: BytesMut,
}

/// Which endpoint an event goes to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Router {
    ticked: EventTypeSet,
    webhooks: usize,
    /// Per event type, the endpoint of its global events ([`Endpoints::route_table`]).
    routes: [u32; 12],
}

impl Router {
    /// The endpoint index of `e`, or why it is not sent.
    pub(crate) fn route(&self, e: &Emission) -> Result<u32, Item> {
        let k = e.event.event_type().index() as u8;
        match e.target {
            Target::Global if !self.ticked.contains(e.event.event_type()) => {
                Err(Item::Filtered(k, e.call))
            }
            Target::Global => Ok(self.routes[k as usize]),
            Target::Webhook(i) if i < self.webhooks => Ok(1 + i as u32),
            Target::Webhook(_) => Err(Item::NoEndpoint(k, e.call)),
        }
    }
}

impl Render {
    pub(crate) fn router(&self) -> Router {
        self.router
    }

    /// The run's own null style.
    pub(crate) fn nulls(&self) -> NullStyle {
        self.nulls
    }

    /// A body written by `write`, cut from the arena.
    pub(crate) fn body(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Bytes {
        self.scratch.clear();
        write(&mut self.scratch);
        if self.arena.capacity() - self.arena.len() < self.scratch.len() {
            self.arena.reserve(ARENA.max(self.scratch.len()));
        }
        self.arena.extend_from_slice(&self.scratch);
        self.arena.split().freeze()
    }

    /// Paced runs: when virtual time `at` is due, after the run's start.
    pub(crate) fn offset(&self, at: crate::duration::Millis) -> Option<Duration> {
        self.speed
            .map(|s| Duration::try_from_secs_f64(at as f64 / 1000.0 / s).unwrap_or(Duration::MAX))
    }

    /// With a clock lead: not before `at − lead` after the start, when that is later than 0.
    pub(crate) fn not_before(&self, at: crate::duration::Millis) -> Option<Duration> {
        let lead = self.clock_lead?;
        (at > lead).then(|| Duration::from_millis(at - lead))
    }

    fn item(&mut self, e: Emission) -> Item {
        let endpoint = match self.router.route(&e) {
            Ok(endpoint) => endpoint,
            Err(unsent) => return unsent,
        };
        let nulls = self.nulls;
        let body = self.body(|out| e.event.write_json(nulls, out));
        Item::Send(Job {
            offset: self.offset(e.at),
            not_before: self.not_before(e.at),
            ..Job::new(e.call, endpoint, e.event.event_type().index() as u8, body)
        })
    }
}
