//! Delivery: post the engine's events to real receivers over HTTP, paced, in per-call order,
//! with retries, a failure journal and full accounting.
//!
//! [`deliver`] takes any stream of [`Emission`]s (lazy, possibly endless) and:
//! - posts each event's exact JSON with `Content-Type: application/json` and `X-Pbx-Token`
//!   (plus the endpoint's extra headers) to its [`Endpoint`]: global events to the global one,
//!   `Target::Webhook(i)` to webhook object `i`'s;
//! - paces them ([`Pacing`]): an event is sent at `start + at / speed`, or at once with `Asap`;
//! - keeps each call's order in every mode: a call's next event is sent only once the previous
//!   one was answered or finally gave up, while different calls proceed concurrently with up
//!   to `concurrency` requests in flight;
//! - retries failed attempts ([`RetryOn`], backoff with jitter, `Retry-After`);
//! - journals events that finally failed (`--failed`), for [`replay`];
//! - returns a [`Summary`] in which `generated = delivered + failed + filtered` always holds.
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
mod client;
mod endpoint;
mod journal;
mod live;
pub mod replay;
mod retry;
mod sched;
mod summary;

use std::path::PathBuf;
use std::time::Duration;

use bytes::BytesMut;

pub use cancel::{CancelToken, ctrl_c_token};
pub use client::{init_tls, one_off_client};
pub use endpoint::{Endpoint, Endpoints, REDACTED, TOKEN_HEADER, is_secret_header};
pub use live::{FLUSH_EVERY, Live, LiveCounts, TypeLatency};
pub use replay::{ReplayError, ReplayPlan};
pub use retry::{
    BACKOFF_BASE, BACKOFF_CAP, RETRY_AFTER_CAP, RetryOn, RetryOnError, backoff, parse_retry_after,
    retry_delay,
};
pub use summary::{
    CallCounts, JournalInfo, Outcome, Summary, TypeCounts, Unreachable, histogram as new_histogram,
};

use crate::engine::{Emission, Target};
use crate::event::{EventTypeSet, NullStyle};
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
    /// [`deliver_feed`] only: calls in progress at most (closed model). A call is in progress
    /// from its first event's dispatch until the feed says it ended; a new call waits for a
    /// slot, keeping its schedule (its overdue events go out at once when it starts).
    pub max_calls_in_flight: Option<usize>,
    /// Stop reading this long after the start: events not sent by then are failed as
    /// [`Outcome::CutOff`] (not an interruption), and calls in progress are counted cut off.
    pub cut_off_at: Option<Duration>,
    /// A live view to update while the run goes on.
    pub live: Option<std::sync::Arc<Live>>,
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
            max_calls_in_flight: None,
            cut_off_at: None,
            live: None,
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
        }
    }
}

/// Event bodies are written into shared buffers of this size.
const ARENA: usize = 64 * 1024;

/// Why a delivery could not start.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("no target URL: pass --target URL, or set `url` in the scenario's [webhook] table")]
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
}

/// What [`deliver_feed`] reads: events, and the end of each call.
#[derive(Debug, Clone, PartialEq)]
// Boxing the event would allocate once per event on the hot path; the feed is moved, not stored.
#[allow(clippy::large_enum_variant)]
pub enum Feed {
    Event(Emission),
    /// Call `.0` (as in [`Emission::call`]) has no more events.
    CallEnded(u64),
}

/// Post every event of `events` to `endpoints`; see the module documentation. Returns once
/// the stream is exhausted and every event is delivered or finally failed, or after `cancel`
/// fired and the requests in flight finished (within `opts.grace`).
///
/// Errors only before anything is sent (bad endpoint or speed, journal not writable, TLS
/// setup). Must run inside a tokio runtime; the stream is read on the caller's task, and the
/// requests are made by worker tasks on pbxsim's own threads (one per core, each with a
/// single-threaded runtime), so any runtime flavour will do.
pub async fn deliver<I>(
    events: I,
    endpoints: &Endpoints,
    opts: &DeliverOptions,
    cancel: CancelToken,
) -> Result<Summary, DeliverError>
where
    I: Iterator<Item = Emission> + Send,
{
    run(events.map(Feed::Event), endpoints, opts, false, cancel).await
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
    run(feed, endpoints, opts, true, cancel).await
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
    let speed = opts.pacing.speed();
    if let Some(s) = speed.filter(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(DeliverError::BadSpeed(s));
    }
    let (ticked, nulls) = (opts.ticked, opts.nulls);
    // Bodies are cut from a shared arena: no allocation per event.
    let mut scratch = Vec::with_capacity(1024);
    let mut arena = BytesMut::new();
    let mut items = feed.map(move |f| {
        let e = match f {
            Feed::Event(e) => e,
            Feed::CallEnded(call) => return Item::CallEnded(call),
        };
        let kind = e.event.event_type();
        let k = kind.index() as u8;
        let endpoint = match e.target {
            Target::Global if !ticked.contains(kind) => return Item::Filtered(k, e.call),
            Target::Global => 0,
            Target::Webhook(i) if i < webhooks => 1 + i,
            Target::Webhook(_) => return Item::NoEndpoint(k, e.call),
        };
        scratch.clear();
        e.event.write_json(nulls, &mut scratch);
        if arena.capacity() - arena.len() < scratch.len() {
            arena.reserve(ARENA.max(scratch.len()));
        }
        arena.extend_from_slice(&scratch);
        Item::Send(Job {
            call: e.call,
            endpoint: endpoint as u32,
            kind: k,
            body: arena.split().freeze(),
            offset: speed.map(|s| {
                Duration::try_from_secs_f64(e.at as f64 / 1000.0 / s).unwrap_or(Duration::MAX)
            }),
        })
    });
    let mut settings = opts.settings();
    settings.track_calls = track_calls;
    sched::run(&mut items, prepared, settings, cancel).await
}
