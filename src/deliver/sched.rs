//! The engine room of delivery.
//!
//! One dispatcher (the caller's task) reads the event stream in order, waits for each paced
//! event's wall-clock time, and hands events to a scheduler shared with `concurrency` worker
//! tasks, which run on one OS thread per core, each with its own single-threaded runtime. Each call has a FIFO of pending events and at most one event that is ready or in
//! flight; a worker that finishes a call's event releases the call's next one. So a call's
//! events reach the receiver in order, while a slow call holds up only itself. The scheduler
//! buffers at most `limit` events (ready + pending); beyond that the dispatcher stops reading
//! the stream until the workers catch up, so memory stays bounded whatever the receiver does.
//!
//! Accounting is per task ([`Stats`]) and merged at the end.

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use tokio::sync::{Notify, oneshot};
use tokio::time::{Instant, Sleep};

use super::DeliverError;
use super::cancel::CancelToken;
use super::client::{self, Client};
use super::endpoint::{Label, Prepared};
use super::journal::Journal;
use super::live::{FLUSH_EVERY, Live, ThreadLatency};
use super::retry::{RetryOn, retry_delay};
use super::summary::{CallCounts, Outcome, Spacing, Stats, Summary};

pub(crate) mod faults;

/// One event ready to post.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// Events with the same key are sent one after another, in stream order.
    pub call: u64,
    /// Index into the run's endpoints.
    pub endpoint: u32,
    /// Event type index (0..12), or `OTHER_KIND`.
    pub kind: u8,
    pub body: Bytes,
    /// Paced runs: when to send, after the run's start.
    pub offset: Option<Duration>,
    /// `--chaos`: the faults of this POST, and the further events of a batch.
    pub chaos: Option<Box<faults::JobChaos>>,
    /// Not before this long after the start, so that its timestamps are not ahead of the wall
    /// clock (`DeliverOptions::clock_lead`); `None` when that cannot happen.
    pub not_before: Option<Duration>,
    /// How long chaos held it back on purpose so far: `offset` already includes it, so
    /// corrected latency counts from the end of the hold.
    pub held: Duration,
}

impl Job {
    /// A job with no chaos, no hold and no clock limit.
    pub(crate) fn new(call: u64, endpoint: u32, kind: u8, body: Bytes) -> Self {
        Job { call, endpoint, kind, body, offset: None, chaos: None, not_before: None, held: ZERO }
    }
}

const ZERO: Duration = Duration::ZERO;

/// A worker's previous event, finished: its call, whether it finally failed, and when it was
/// due (after any hold), which its call's next event cannot be due before.
#[derive(Debug, Clone, Copy)]
struct Done {
    call: u64,
    failed: bool,
    offset: Option<Duration>,
}

/// What the stream yields to the dispatcher.
#[derive(Debug)]
pub(crate) enum Item {
    Send(Job),
    /// An event of call `.1` not sent because its type is not ticked.
    Filtered(u8, u64),
    /// An event of call `.1` for a webhook object the endpoints do not have.
    NoEndpoint(u8, u64),
    /// The call has no more events (load runs: frees its slot under `max_calls_in_flight`).
    CallEnded(u64),
}

impl Item {
    fn call(&self) -> Option<u64> {
        match self {
            Item::Send(job) => Some(job.call),
            Item::Filtered(_, call) | Item::NoEndpoint(_, call) => Some(*call),
            Item::CallEnded(_) => None,
        }
    }
}

/// Run settings, from `DeliverOptions`.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub concurrency: usize,
    pub timeout: Duration,
    pub retries: u32,
    pub retry_on: RetryOn,
    pub stop_call_on_failure: bool,
    pub insecure: bool,
    pub grace: Duration,
    pub paced: bool,
    pub journal: Option<PathBuf>,
    /// Track calls (the stream carries `CallEnded`): count them, and cap those in progress.
    pub track_calls: bool,
    pub max_calls_in_flight: Option<usize>,
    /// Stop reading the stream this long after the start; what is left is cut off.
    pub cut_off_at: Option<Duration>,
    pub live: Option<Arc<Live>>,
    pub on_event: Option<super::EventLog>,
}

struct Shared {
    state: Mutex<State>,
    /// Workers wait here for ready events.
    work: Notify,
    /// The dispatcher waits here for room.
    space: Notify,
    endpoints: Vec<Prepared>,
    journal: Option<Journal>,
    settings: Settings,
    cancel: CancelToken,
    /// Set when the grace after an interruption is over: requests in flight are abandoned.
    halted: AtomicBool,
    start: Instant,
    /// When the dispatcher stops reading and cuts off what is left.
    cut_off_at: Option<Instant>,
    limit: usize,
    low_water: usize,
}

#[derive(Default)]
struct State {
    /// Events that can be sent now: the head event of calls with nothing in flight.
    ready: VecDeque<Job>,
    /// Calls with an event ready or in flight, and their pending events behind it.
    calls: HashMap<u64, VecDeque<Job>, CallHash>,
    /// Calls stopped after a failure (`stop_call_on_failure`): later events are skipped.
    stopped: HashSet<u64, CallHash>,
    /// Events in `ready` and in the pending queues.
    buffered: usize,
    /// No more events will be added.
    closed: bool,
    dispatcher_waiting: bool,
}

/// A cheap hash for call keys (call indices, or already-hashed call ids): a multiply by an odd
/// constant, enough to spread sequential keys. SipHash would cost more than the rest of the
/// scheduler's bookkeeping.
#[derive(Default, Clone, Copy)]
struct CallHash;

impl std::hash::BuildHasher for CallHash {
    type Hasher = CallHasher;
    fn build_hasher(&self) -> CallHasher {
        CallHasher(0)
    }
}

struct CallHasher(u64);

impl std::hash::Hasher for CallHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, key: u64) {
        self.0 = (key ^ (key >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

enum Push {
    Queued { ready: bool },
    Full(Job),
    Skipped(Job),
}

impl State {
    fn push(&mut self, job: Job, limit: usize) -> Push {
        if !self.stopped.is_empty() && self.stopped.contains(&job.call) {
            return Push::Skipped(job);
        }
        if self.buffered >= limit {
            self.dispatcher_waiting = true;
            return Push::Full(job);
        }
        self.buffered += 1;
        match self.calls.entry(job.call) {
            Entry::Occupied(mut pending) => {
                pending.get_mut().push_back(job);
                Push::Queued { ready: false }
            }
            Entry::Vacant(slot) => {
                slot.insert(VecDeque::new());
                self.ready.push_back(job);
                Push::Queued { ready: true }
            }
        }
    }

    /// A call's event is done (delivered or finally failed): release its next event. The next
    /// event cannot be due before `floor`, when the one done was due after a hold: it waited
    /// behind the hold, which is then its own. Returns the next event's own due time, if any.
    fn complete(
        &mut self,
        call: u64,
        stop: bool,
        floor: Option<Duration>,
        skipped: &mut Vec<Job>,
    ) -> Option<Duration> {
        let State { calls, ready, stopped, buffered, .. } = self;
        let pending = calls.get_mut(&call)?;
        if stop {
            *buffered -= pending.len();
            skipped.extend(pending.drain(..));
            stopped.insert(call);
        }
        match pending.pop_front() {
            Some(mut next) => {
                let due = next.offset;
                if let (Some(floor), Some(own)) = (floor, due)
                    && floor > own
                {
                    next.held += floor - own;
                    next.offset = Some(floor);
                }
                ready.push_back(next);
                return due;
            }
            None => {
                calls.remove(&call);
            }
        }
        None
    }

    /// Close, and when `drain`, take out every event not in flight.
    fn close(&mut self, drain: bool) -> Vec<Job> {
        self.closed = true;
        if !drain {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(self.buffered);
        for job in std::mem::take(&mut self.ready) {
            // Its call has nothing in flight: forget the call with its pending events.
            if let Some(pending) = self.calls.remove(&job.call) {
                out.push(job);
                out.extend(pending);
            }
        }
        for pending in self.calls.values_mut() {
            out.extend(pending.drain(..));
        }
        self.buffered = 0;
        out
    }
}

impl Shared {
    /// When a paced event is due; absurdly far offsets (a tiny speed) saturate.
    fn due(&self, offset: Duration) -> Instant {
        let far = Duration::from_secs(100 * 365 * 24 * 3600);
        self.start + offset.min(far)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Account an event that will not be (re)tried, and journal it.
    fn give_up(&self, stats: &mut Stats, job: &Job, outcome: Outcome, detail: &str) {
        self.give_up_after(stats, job, outcome, detail, None);
    }

    /// [`Shared::give_up`], for an event whose last attempt took `latency`.
    fn give_up_after(
        &self,
        stats: &mut Stats,
        job: &Job,
        outcome: Outcome,
        detail: &str,
        latency: Option<Duration>,
    ) {
        self.log_ends(job, outcome, latency, Some(detail));
        job.kinds().for_each(|kind| stats.fail(kind, outcome));
        stats.fail_at(job.endpoint as usize, outcome, job.kinds().count() as u64);
        if let Some(live) = &self.settings.live {
            job.kinds().for_each(|_| live.failed());
        }
        if let (Some(journal), Some(ep)) =
            (&self.journal, self.endpoints.get(job.endpoint as usize))
        {
            // A batch is journaled event by event, so that `replay` can send them.
            job.bodies().for_each(|body| journal.record(ep, body, detail));
        }
    }

    /// Tell the per-event log (`-v`) that `job`'s events ended.
    fn log_ends(
        &self,
        job: &Job,
        outcome: Outcome,
        latency: Option<Duration>,
        detail: Option<&str>,
    ) {
        let Some(log) = &self.settings.on_event else { return };
        for (kind, body) in job.kinds().zip(job.bodies()) {
            (log.0)(&super::EventEnd {
                body,
                kind: super::summary::kind_name(kind as usize),
                outcome,
                delivered: detail.is_none(),
                latency,
                detail,
            });
        }
    }

    /// Finish `done` (the worker's previous event) and take the next ready event. `None` when
    /// the run is over. How the finished event's call is spaced goes to `spacing`.
    async fn next(
        &self,
        done: &mut Option<Done>,
        skipped: &mut Vec<Job>,
        spacing: &mut Spacing,
    ) -> Option<Job> {
        loop {
            if let Some(next) = self.try_next(done, skipped, spacing) {
                return next;
            }
            let notified = self.work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(next) = self.try_next(done, skipped, spacing) {
                return next;
            }
            notified.await;
        }
    }

    fn try_next(
        &self,
        done: &mut Option<Done>,
        skipped: &mut Vec<Job>,
        spacing: &mut Spacing,
    ) -> Option<Option<Job>> {
        let mut st = self.lock();
        if let Some(d) = done.take() {
            let stop = d.failed && self.settings.stop_call_on_failure;
            let next_due = st.complete(d.call, stop, d.offset, skipped);
            // The call's next event: was it due before this one's answer?
            if let (Some(prev), Some(next)) = (d.offset, next_due)
                && next > prev
            {
                spacing.pair(next - prev, Instant::now() > self.due(next));
            }
        }
        let job = st.ready.pop_front();
        if job.is_some() {
            st.buffered -= 1;
        }
        let more = !st.ready.is_empty();
        let wake_dispatcher = st.dispatcher_waiting && st.buffered <= self.low_water;
        if wake_dispatcher {
            st.dispatcher_waiting = false;
        }
        let finished = job.is_none() && st.closed && st.calls.is_empty();
        drop(st);
        if wake_dispatcher {
            self.space.notify_one();
        }
        if more {
            self.work.notify_one();
        }
        match job {
            Some(job) => Some(Some(job)),
            None if finished => {
                self.work.notify_waiters();
                Some(None)
            }
            None => None,
        }
    }

    /// Close the scheduler; when `drain`, return the events that were waiting.
    fn close(&self, drain: bool) -> Vec<Job> {
        let drained = self.lock().close(drain);
        self.work.notify_waiters();
        drained
    }
}

/// Closes the scheduler if the dispatcher is dropped half-way, so workers do not wait forever.
struct CloseOnDrop(Arc<Shared>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close(true);
    }
}

/// Deliver every item of `source`; see the module documentation.
pub(crate) async fn run<S: Iterator<Item = Item>>(
    source: &mut S,
    endpoints: Vec<Prepared>,
    settings: Settings,
    cancel: CancelToken,
) -> Result<Summary, DeliverError> {
    let concurrency = settings.concurrency.max(1);
    let tls = match endpoints.iter().any(|e| e.https) {
        true => Some(client::tls_client(settings.insecure, concurrency)?),
        false => None,
    };
    let journal = settings.journal.as_deref().map(Journal::create).transpose()?;
    let labels: Vec<Label> = endpoints.iter().map(|e| e.label.clone()).collect();
    let limit = concurrency * 16 + 1024;
    let start = Instant::now();
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        work: Notify::new(),
        space: Notify::new(),
        endpoints,
        journal,
        cancel: cancel.clone(),
        halted: AtomicBool::new(false),
        start,
        cut_off_at: settings.cut_off_at.map(|d| start + d.min(Duration::from_secs(3_153_600_000))),
        settings,
        limit,
        low_water: limit / 2,
    });
    let guard = CloseOnDrop(shared.clone());

    let workers = spawn_workers(&shared, concurrency, &tls)?;

    let mut stats = Stats::new(shared.endpoints.len());
    let mut tracker =
        shared.settings.track_calls.then(|| Tracker::new(&shared.settings, limit, start));
    let ended = Dispatcher { shared: &shared, stats: &mut stats, tracker: tracker.as_mut() }
        .run(source)
        .await;
    let mut interrupted = ended == End::Interrupted;
    let drained = shared.close(ended != End::Done);
    let unsent = match ended {
        End::CutOff => (Outcome::CutOff, CUT_OFF),
        _ => (Outcome::Cancelled, CANCELLED_UNSENT),
    };
    for job in &drained {
        shared.give_up(&mut stats, job, unsent.0, unsent.1);
    }
    if let Some(tracker) = tracker.as_mut() {
        for job in tracker.cut_off() {
            shared.give_up(&mut stats, &job, Outcome::CutOff, CUT_OFF);
        }
    }

    // Wait for the workers; on interruption give requests in flight `grace`, then halt them.
    let mut deadline = interrupted.then(|| Instant::now() + shared.settings.grace);
    let mut latency = ThreadLatency::new();
    for mut finished in workers {
        let worker_stats = loop {
            tokio::select! {
                joined = &mut finished => break joined,
                _ = cancel.cancelled(), if deadline.is_none() => {
                    interrupted = true;
                    deadline = Some(Instant::now() + shared.settings.grace);
                    for job in shared.close(true) {
                        shared.give_up(&mut stats, &job, Outcome::Cancelled, CANCELLED_UNSENT);
                    }
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)),
                    if deadline.is_some() && !shared.halted.load(Ordering::Relaxed) => {
                    shared.halted.store(true, Ordering::SeqCst);
                }
            }
        };
        match worker_stats {
            Ok(Ok((all, thread_latency))) => {
                all.iter().for_each(|s| stats.merge(s));
                latency.merge(&thread_latency);
            }
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => unreachable!("a worker thread always reports"),
        }
    }
    let wall = shared.start.elapsed();
    drop(guard);
    let journal = shared.journal.as_ref().map(Journal::finish);
    let paced = shared.settings.paced;
    let mut summary = Summary::from_stats(stats, &labels, wall, paced, interrupted, journal);
    summary.corrected = paced.then(|| latency.corrected.clone());
    summary.latency_by_type = latency.by_type(paced);
    summary.calls = tracker.map(|t| t.counts);
    Ok(summary)
}

/// What a worker thread hands back: its workers' stats and its latencies, or its panic.
type ThreadResult = std::thread::Result<(Vec<Stats>, ThreadLatency)>;

/// Start the workers: one OS thread per core (at most one per worker), each with its own
/// single-threaded runtime, like a dedicated load generator. A worker, its connections and
/// their timers then live on one thread and wake each other without crossing threads; only
/// the scheduler's queue is shared.
fn spawn_workers(
    shared: &Arc<Shared>,
    concurrency: usize,
    tls: &Option<reqwest::Client>,
) -> Result<Vec<oneshot::Receiver<ThreadResult>>, DeliverError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(concurrency);
    let mut finished = Vec::with_capacity(threads);
    for t in 0..threads {
        let ids: Vec<usize> = (t..concurrency).step_by(threads).collect();
        let (shared, tls) = (shared.clone(), tls.clone());
        let (report, done) = oneshot::channel::<ThreadResult>();
        let run_workers = move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a single-threaded tokio runtime starts");
                let local = tokio::task::LocalSet::new();
                let latency = Rc::new(RefCell::new(ThreadLatency::new()));
                let all = local.block_on(&rt, async {
                    // The live view gets this thread's interval latencies every FLUSH_EVERY.
                    let flusher = shared.settings.live.clone().map(|live| {
                        let latency = latency.clone();
                        tokio::task::spawn_local(async move {
                            let mut tick = tokio::time::interval(FLUSH_EVERY);
                            loop {
                                tick.tick().await;
                                latency.borrow_mut().flush(&live);
                            }
                        })
                    });
                    let tasks: Vec<_> = ids
                        .into_iter()
                        .map(|id| {
                            let worker = worker(shared.clone(), id, tls.clone(), latency.clone());
                            tokio::task::spawn_local(worker)
                        })
                        .collect();
                    let mut all = Vec::with_capacity(tasks.len());
                    for task in tasks {
                        match task.await {
                            Ok(stats) => all.push(stats),
                            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                            Err(_) => {}
                        }
                    }
                    if let Some(flusher) = flusher {
                        flusher.abort();
                    }
                    all
                });
                let mut latency =
                    std::mem::replace(&mut *latency.borrow_mut(), ThreadLatency::new());
                if let Some(live) = &shared.settings.live {
                    latency.flush(live);
                }
                (all, latency)
            }));
            let _ = report.send(result);
        };
        std::thread::Builder::new()
            .name(format!("pbxsim-deliver-{t}"))
            .spawn(run_workers)
            .map_err(|e| DeliverError::Threads(e.to_string()))?;
        finished.push(done);
    }
    Ok(finished)
}

const CANCELLED_UNSENT: &str = "cancelled: the run was interrupted before this event was sent";
const CUT_OFF: &str = "cut off: the run's time (duration + drain) ran out before this was sent";

/// How the dispatcher stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The stream ended.
    Done,
    /// Cancelled (Ctrl-C).
    Interrupted,
    /// The cut-off time passed.
    CutOff,
}

/// Calls of a tracked run: which are in progress, which wait for a slot (closed model), which
/// were not started.
struct Tracker {
    max: Option<usize>,
    /// Events of waiting calls held at most (beyond it, new calls are not started).
    park_limit: usize,
    active: HashSet<u64, CallHash>,
    parked: HashMap<u64, Parked, CallHash>,
    order: VecDeque<u64>,
    parked_events: usize,
    /// Calls not started, until their end shows in the stream.
    dropped: HashSet<u64, CallHash>,
    counts: CallCounts,
    /// The run's start, for `counts.last_start`.
    start: Instant,
}

#[derive(Default)]
struct Parked {
    items: VecDeque<Item>,
    ended: bool,
    /// When the call's first event was due (paced runs).
    due: Option<Instant>,
}

/// What to do with an item of a call.
enum Admit {
    Go,
    Park,
    Drop,
}

impl Tracker {
    fn new(settings: &Settings, limit: usize, start: Instant) -> Self {
        Self {
            max: settings.max_calls_in_flight.map(|m| m.max(1)),
            park_limit: limit,
            active: HashSet::default(),
            parked: HashMap::default(),
            order: VecDeque::new(),
            parked_events: 0,
            dropped: HashSet::default(),
            counts: CallCounts::default(),
            start,
        }
    }

    /// `due`: when this item was meant to go (paced runs).
    fn admit(&mut self, call: u64, due: Option<Instant>) -> Admit {
        if self.active.contains(&call) {
            return Admit::Go;
        }
        if self.parked.contains_key(&call) {
            return Admit::Park;
        }
        if self.dropped.contains(&call) {
            return Admit::Drop;
        }
        // A call seen for the first time.
        let room = self.max.is_none_or(|m| self.active.len() < m) && self.order.is_empty();
        if room {
            self.start(call, due);
            Admit::Go
        } else if self.parked_events < self.park_limit {
            self.parked.insert(call, Parked { due, ..Parked::default() });
            self.order.push_back(call);
            self.counts.waited += 1;
            Admit::Park
        } else {
            self.dropped.insert(call);
            self.counts.not_started += 1;
            Admit::Drop
        }
    }

    /// Start `call`, whose first event was due at `due` (paced runs).
    fn start(&mut self, call: u64, due: Option<Instant>) {
        self.active.insert(call);
        self.counts.started += 1;
        self.counts.max_in_flight = self.counts.max_in_flight.max(self.active.len() as u64);
        let now = Instant::now();
        self.counts.last_start = Some(now.saturating_duration_since(self.start));
        self.counts.last_start_lag = due.map(|d| now.saturating_duration_since(d));
    }

    fn park(&mut self, call: u64, item: Item) {
        if let Some(p) = self.parked.get_mut(&call) {
            p.items.push_back(item);
            self.parked_events += 1;
        }
    }

    /// The call ended; returns the items of waiting calls that may start now, in order.
    fn end(&mut self, call: u64, released: &mut Vec<Item>) {
        if self.active.remove(&call) {
            self.counts.ended += 1;
        } else if let Some(p) = self.parked.get_mut(&call) {
            p.ended = true;
            return;
        } else {
            self.dropped.remove(&call);
            return;
        }
        while self.max.is_none_or(|m| self.active.len() < m) {
            let Some(next) = self.order.pop_front() else { break };
            let Some(parked) = self.parked.remove(&next) else { continue };
            self.parked_events -= parked.items.len();
            self.start(next, parked.due);
            released.extend(parked.items);
            if parked.ended {
                self.active.remove(&next);
                self.counts.ended += 1;
            }
        }
    }

    /// The run stops: calls in progress or waiting are cut off; returns waiting calls' events.
    fn cut_off(&mut self) -> Vec<Job> {
        self.counts.cut_off += (self.active.len() + self.parked.len()) as u64;
        self.active.clear();
        self.order.clear();
        self.parked_events = 0;
        let mut jobs = Vec::new();
        for (_, parked) in self.parked.drain() {
            jobs.extend(parked.items.into_iter().filter_map(|item| match item {
                Item::Send(job) => Some(job),
                _ => None,
            }));
        }
        jobs
    }
}

/// Reads the stream into the scheduler (the caller's task).
struct Dispatcher<'a> {
    shared: &'a Shared,
    stats: &'a mut Stats,
    tracker: Option<&'a mut Tracker>,
}

impl Dispatcher<'_> {
    /// Read the stream to its end, an interruption or the cut-off time.
    async fn run<S: Iterator<Item = Item>>(mut self, source: &mut S) -> End {
        let mut released = Vec::new();
        loop {
            if self.shared.cancel.is_cancelled() {
                return End::Interrupted;
            }
            if self.shared.cut_off_at.is_some_and(|at| Instant::now() >= at) {
                return End::CutOff;
            }
            let Some(mut item) = source.next() else { return End::Done };
            if let Item::Send(job) = &mut item {
                self.hold_for_clock(job);
            }
            if let Item::Send(Job { offset: Some(offset), .. }) = &item {
                let due = self.shared.due(*offset);
                if due > Instant::now() {
                    tokio::select! {
                        _ = tokio::time::sleep_until(due) => {}
                        end = self.shared.stopped() => {
                            self.lost(item, end);
                            return end;
                        }
                    }
                }
            }
            let Some(tracker) = self.tracker.as_deref_mut() else {
                if let Err(end) = self.push(item).await {
                    return end;
                }
                continue;
            };
            let due = match &item {
                Item::Send(Job { offset: Some(offset), .. }) => Some(self.shared.due(*offset)),
                _ => None,
            };
            let admit = match item.call() {
                Some(call) => tracker.admit(call, due),
                None => {
                    if let Item::CallEnded(call) = item {
                        tracker.end(call, &mut released);
                    }
                    Admit::Drop
                }
            };
            match admit {
                Admit::Go => {
                    account(self.stats, &item);
                    released.push(item);
                }
                Admit::Park => {
                    account(self.stats, &item);
                    tracker.park(item.call().unwrap_or_default(), item);
                }
                // Events of calls not started are not read as generated: they never existed
                // for this run (counted as calls `not_started`).
                Admit::Drop => {}
            }
            if let Some(live) = &self.shared.settings.live {
                live.calls(tracker.counts.started, tracker.active.len(), tracker.parked.len());
            }
            for item in released.drain(..) {
                if let Err(end) = self.push_accounted(item).await {
                    return end;
                }
            }
        }
    }

    /// The clock's backstop: a job whose PBX time is still ahead of the wall clock is due when
    /// the wall clock gets there, and counted as held.
    fn hold_for_clock(&mut self, job: &mut Job) {
        let Some(not_before) = job.not_before.take() else { return };
        let due = job.offset.unwrap_or_else(|| self.shared.start.elapsed());
        if not_before > due {
            self.stats.clock_holds.add(not_before - due);
            job.offset = Some(not_before);
        }
    }

    /// An item read but not sent because the run stopped.
    fn lost(&mut self, item: Item, end: End) {
        account(self.stats, &item);
        self.settle(item, end);
    }

    fn settle(&mut self, item: Item, end: End) {
        match item {
            Item::Send(job) => {
                let (outcome, detail) = match end {
                    End::CutOff => (Outcome::CutOff, CUT_OFF),
                    _ => (Outcome::Cancelled, CANCELLED_UNSENT),
                };
                self.shared.give_up(self.stats, &job, outcome, detail);
            }
            Item::Filtered(kind, _) => self.stats.filter(kind),
            Item::NoEndpoint(kind, _) => self.stats.fail(kind, Outcome::NoEndpoint),
            Item::CallEnded(_) => {}
        }
    }

    /// Account and hand over an item.
    async fn push(&mut self, item: Item) -> Result<(), End> {
        account(self.stats, &item);
        self.push_accounted(item).await
    }

    /// Hand over an item already accounted as generated; waits for room in the scheduler.
    async fn push_accounted(&mut self, item: Item) -> Result<(), End> {
        let shared = self.shared;
        let mut job = match item {
            Item::Send(job) => job,
            other => {
                self.settle(other, End::Done);
                return Ok(());
            }
        };
        loop {
            let pushed = shared.lock().push(job, shared.limit);
            match pushed {
                Push::Queued { ready } => {
                    if ready {
                        shared.work.notify_one();
                    }
                    break;
                }
                Push::Skipped(skipped) => {
                    shared.give_up(self.stats, &skipped, Outcome::Skipped, SKIPPED);
                    break;
                }
                Push::Full(back) => {
                    job = back;
                    let room = shared.space.notified();
                    tokio::pin!(room);
                    room.as_mut().enable();
                    if shared.lock().buffered < shared.limit {
                        continue;
                    }
                    tokio::select! {
                        _ = room => {}
                        end = shared.stopped() => {
                            self.settle(Item::Send(job), end);
                            return Err(end);
                        }
                    }
                }
            }
        }
        tokio::task::consume_budget().await;
        Ok(())
    }
}

/// Count an event as read from the stream.
fn account(stats: &mut Stats, item: &Item) {
    match item {
        Item::Send(job) => job.kinds().for_each(|kind| stats.generate(kind)),
        Item::Filtered(kind, _) | Item::NoEndpoint(kind, _) => stats.generate(*kind),
        Item::CallEnded(_) => {}
    }
}

impl Shared {
    /// Completes when the run must stop reading: interrupted, or the cut-off time passed.
    async fn stopped(&self) -> End {
        let cut_off = async {
            match self.cut_off_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.cancel.cancelled() => End::Interrupted,
            _ = cut_off => End::CutOff,
        }
    }
}

const SKIPPED: &str = "skipped: an earlier event of this call finally failed";

async fn worker(
    shared: Arc<Shared>,
    id: usize,
    tls: Option<reqwest::Client>,
    latency: Rc<RefCell<ThreadLatency>>,
) -> Stats {
    let mut stats = Stats::new(shared.endpoints.len());
    let mut client = Client::new(shared.endpoints.len(), tls);
    let mut rng = ChaCha8Rng::seed_from_u64(0x9b5 ^ id as u64);
    let mut deadline = Box::pin(tokio::time::sleep(shared.settings.timeout));
    let mut done = None;
    let mut skipped = Vec::new();
    loop {
        let next = shared.next(&mut done, &mut skipped, &mut stats.spacing).await;
        for job in skipped.drain(..) {
            shared.give_up(&mut stats, &job, Outcome::Skipped, SKIPPED);
        }
        let Some(mut job) = next else { break };
        let mut ctx = Attempts {
            shared: &shared,
            client: &mut client,
            stats: &mut stats,
            rng: &mut rng,
            deadline: &mut deadline,
            latency: &latency,
        };
        let delivered = match job.chaos.is_some() {
            false => ctx.deliver(&job).await,
            true => ctx.deliver_with_faults(&mut job).await,
        };
        if !job.held.is_zero() {
            stats.chaos_holds.add(job.held);
        }
        done = Some(Done { call: job.call, failed: !delivered, offset: job.offset });
    }
    stats
}

/// One worker's view while it delivers one event.
struct Attempts<'a> {
    shared: &'a Shared,
    client: &'a mut Client,
    stats: &'a mut Stats,
    rng: &'a mut ChaCha8Rng,
    /// The per-attempt timeout, reused from one attempt to the next.
    deadline: &'a mut Pin<Box<Sleep>>,
    /// This thread's latency histograms (borrowed only between awaits).
    latency: &'a RefCell<ThreadLatency>,
}

impl Attempts<'_> {
    /// Send `job` with retries; returns whether it was delivered.
    async fn deliver(&mut self, job: &Job) -> bool {
        let settings = &self.shared.settings;
        let index = job.endpoint as usize;
        let ep = &self.shared.endpoints[index];
        if let Some(offset) = job.offset {
            self.stats.late(Instant::now().saturating_duration_since(self.shared.due(offset)));
        }
        let mut retry = 0u32;
        loop {
            if self.shared.halted.load(Ordering::Relaxed) {
                self.shared.give_up(self.stats, job, Outcome::Cancelled, CANCELLED_UNSENT);
                return false;
            }
            let started = Instant::now();
            let result = self.attempt(index, ep, job.body.clone(), started).await;
            let took = Instant::now().saturating_duration_since(started);
            let live = settings.live.as_deref();
            let (outcome, detail, retry_after) = match result {
                Ok(answer) if (200..300).contains(&answer.status) => {
                    let now = Instant::now();
                    let raw = now.saturating_duration_since(started);
                    self.stats.attempt(index, Outcome::Status(answer.status), None, retry > 0);
                    self.shared.log_ends(job, Outcome::Status(answer.status), Some(raw), None);
                    for kind in job.kinds() {
                        self.stats.deliver(kind, raw);
                        let corrected =
                            job.offset.map(|o| now.saturating_duration_since(self.shared.due(o)));
                        self.latency.borrow_mut().record(kind, raw, corrected);
                        if let Some(live) = live {
                            live.sent(true);
                        }
                    }
                    return true;
                }
                Ok(answer) => (
                    Outcome::Status(answer.status),
                    format!("HTTP {}", answer.status),
                    answer.retry_after,
                ),
                Err(Some(failure)) => (failure.outcome, failure.detail, None),
                Err(None) => {
                    self.stats.attempt(index, Outcome::Cancelled, None, retry > 0);
                    let detail =
                        "cancelled: the run was interrupted while this event was in flight";
                    self.shared.give_up(self.stats, job, Outcome::Cancelled, detail);
                    return false;
                }
            };
            if let Some(live) = live {
                live.sent(false);
            }
            self.stats.attempt(index, outcome, Some(&detail), retry > 0);
            let attempts = retry + 1;
            let give_up = |me: &mut Self| {
                let detail = match attempts {
                    1 => detail.clone(),
                    n => format!("{detail} (after {n} attempts)"),
                };
                me.shared.give_up_after(me.stats, job, outcome, &detail, Some(took));
                false
            };
            if retry >= settings.retries
                || !settings.retry_on.retries(outcome)
                || self.shared.cancel.is_cancelled()
            {
                return give_up(self);
            }
            let wait = retry_delay(retry, retry_after, self.rng);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.shared.cancel.cancelled() => return give_up(self),
            }
            retry += 1;
        }
    }
}

impl Attempts<'_> {
    /// One request: the answer, a failure, or `Err(None)` when the run was halted meanwhile.
    ///
    /// The timeout is a timer reused across attempts (moving its deadline later is nearly
    /// free), which also wakes the attempt at least every [`HALT_CHECK`] to notice a halt.
    async fn attempt(
        &mut self,
        index: usize,
        ep: &Prepared,
        body: Bytes,
        started: Instant,
    ) -> Result<client::Answer, Option<client::Failure>> {
        let timeout = self.shared.settings.timeout;
        let give_up_at = started + timeout;
        self.deadline.as_mut().reset(started + timeout.min(HALT_CHECK));
        let halted = {
            let send = self.client.send(index, ep, body, started);
            tokio::pin!(send);
            loop {
                tokio::select! {
                    biased;
                    sent = &mut send => return sent.map_err(Some),
                    _ = &mut *self.deadline => {
                        if self.shared.halted.load(Ordering::SeqCst) {
                            break true;
                        }
                        let now = Instant::now();
                        if now >= give_up_at {
                            break false;
                        }
                        self.deadline.as_mut().reset(give_up_at.min(now + HALT_CHECK));
                    }
                }
            }
        };
        // The abandoned request may still be on the connection: do not queue behind it.
        self.client.discard(index);
        match halted {
            true => Err(None),
            false => Err(Some(client::Failure {
                outcome: Outcome::Timeout,
                detail: format!("no answer within {timeout:?}"),
            })),
        }
    }
}

/// How often a request in flight checks whether the run was halted.
const HALT_CHECK: Duration = Duration::from_millis(250);

#[cfg(test)]
mod tests {
    use super::*;

    fn job(call: u64, n: u8) -> Job {
        Job::new(call, 0, n, Bytes::new())
    }

    #[test]
    fn one_event_per_call_is_ready_and_the_rest_wait_in_order() {
        let mut st = State::default();
        for (call, n) in [(1, 0), (2, 0), (1, 1), (1, 2), (2, 1)] {
            assert!(matches!(st.push(job(call, n), 100), Push::Queued { .. }));
        }
        assert_eq!(st.buffered, 5);
        let ready: Vec<(u64, u8)> = st.ready.iter().map(|j| (j.call, j.kind)).collect();
        assert_eq!(ready, vec![(1, 0), (2, 0)]);
        st.ready.clear();
        st.buffered -= 2;
        let mut skipped = Vec::new();
        st.complete(1, false, None, &mut skipped);
        assert_eq!(st.ready.back().map(|j| (j.call, j.kind)), Some((1, 1)));
        st.complete(2, true, None, &mut skipped);
        assert_eq!(skipped.len(), 1);
        assert!(matches!(st.push(job(2, 9), 100), Push::Skipped(_)));
        assert!(!st.calls.contains_key(&2));
        // buffered: (1,1) ready + (1,2) pending
        assert_eq!(st.buffered, 2);
        let drained = st.close(true);
        assert_eq!(drained.iter().map(|j| j.kind).collect::<Vec<_>>(), vec![1, 2]);
        assert!(st.calls.is_empty() && st.closed);
    }

    #[test]
    fn a_held_events_due_time_is_its_calls_next_floor() {
        let mut st = State::default();
        let at = |ms| Some(Duration::from_millis(ms));
        for (n, ms) in [(0, 100), (1, 150), (2, 900)] {
            let job = Job { offset: at(ms), ..job(1, n) };
            assert!(matches!(st.push(job, 100), Push::Queued { .. }));
        }
        st.ready.clear();
        st.buffered -= 1;
        let mut skipped = Vec::new();
        // Event 0 was held until 600 ms: event 1 (due at 150) waited behind it.
        assert_eq!(st.complete(1, false, at(600), &mut skipped), at(150));
        let next = st.ready.pop_front().unwrap();
        assert_eq!((next.offset, next.held), (at(600), Duration::from_millis(450)));
        // Event 2 is due after that floor: untouched.
        assert_eq!(st.complete(1, false, next.offset, &mut skipped), at(900));
        let last = st.ready.pop_front().unwrap();
        assert_eq!((last.offset, last.held), (at(900), Duration::ZERO));
    }

    fn settings(max: Option<usize>) -> Settings {
        Settings {
            concurrency: 1,
            timeout: Duration::from_secs(1),
            retries: 0,
            retry_on: RetryOn::default(),
            stop_call_on_failure: false,
            insecure: false,
            grace: Duration::from_secs(1),
            paced: false,
            journal: None,
            track_calls: true,
            max_calls_in_flight: max,
            cut_off_at: None,
            live: None,
            on_event: None,
        }
    }

    #[test]
    fn the_tracker_parks_new_calls_beyond_the_cap_and_releases_them_in_order() {
        let mut t = Tracker::new(&settings(Some(1)), 2, Instant::now());
        assert!(matches!(t.admit(1, None), Admit::Go));
        assert!(matches!(t.admit(1, None), Admit::Go));
        // Call 2 waits, then call 3; the backlog holds 2 events.
        assert!(matches!(t.admit(2, None), Admit::Park));
        t.park(2, Item::Send(job(2, 0)));
        assert!(matches!(t.admit(3, None), Admit::Park));
        t.park(3, Item::Send(job(3, 0)));
        // The backlog is full: call 4 is not started, nor are its later events.
        assert!(matches!(t.admit(4, None), Admit::Drop));
        assert!(matches!(t.admit(4, None), Admit::Drop));
        // Call 3 ends while waiting; call 1 ends: call 2 starts, then call 3 starts and ends.
        let mut released = Vec::new();
        t.end(3, &mut released);
        assert!(released.is_empty());
        t.end(1, &mut released);
        let calls: Vec<u64> = released.iter().filter_map(Item::call).collect();
        assert_eq!(calls, vec![2]);
        assert!(t.active.contains(&2));
        t.end(2, &mut released);
        let calls: Vec<u64> = released.iter().filter_map(Item::call).collect();
        assert_eq!(calls, vec![2, 3]);
        t.end(4, &mut released);
        let c = t.counts;
        assert_eq!((c.started, c.ended, c.waited, c.not_started, c.max_in_flight), (3, 3, 2, 1, 1));
        assert!(t.cut_off().is_empty());
        assert_eq!(t.counts.cut_off, 0);
    }

    #[test]
    fn the_tracker_cuts_off_calls_in_progress_and_waiting() {
        let mut t = Tracker::new(&settings(Some(1)), 10, Instant::now());
        assert!(matches!(t.admit(1, None), Admit::Go));
        assert!(matches!(t.admit(2, None), Admit::Park));
        t.park(2, Item::Send(job(2, 0)));
        t.park(2, Item::Send(job(2, 1)));
        assert_eq!(t.cut_off().len(), 2);
        assert_eq!(t.counts.cut_off, 2);
    }

    #[test]
    fn a_full_buffer_refuses_and_flags_the_dispatcher() {
        let mut st = State::default();
        assert!(matches!(st.push(job(1, 0), 1), Push::Queued { ready: true }));
        assert!(matches!(st.push(job(2, 0), 1), Push::Full(_)));
        assert!(st.dispatcher_waiting);
    }
}
