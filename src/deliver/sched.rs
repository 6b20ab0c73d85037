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

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::pin::Pin;
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
use super::endpoint::Prepared;
use super::journal::Journal;
use super::retry::{RetryOn, retry_delay};
use super::summary::{Outcome, Stats, Summary};

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
}

/// What the stream yields to the dispatcher.
#[derive(Debug)]
pub(crate) enum Item {
    Send(Job),
    /// An event not sent because its type is not ticked.
    Filtered(u8),
    /// An event for a webhook object the endpoints do not have.
    NoEndpoint(u8),
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

    /// A call's event is done (delivered or finally failed): release its next event.
    fn complete(&mut self, call: u64, stop: bool, skipped: &mut Vec<Job>) {
        let State { calls, ready, stopped, buffered, .. } = self;
        let Some(pending) = calls.get_mut(&call) else { return };
        if stop {
            *buffered -= pending.len();
            skipped.extend(pending.drain(..));
            stopped.insert(call);
        }
        match pending.pop_front() {
            Some(next) => ready.push_back(next),
            None => {
                calls.remove(&call);
            }
        }
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
        job.kinds().for_each(|kind| stats.fail(kind, outcome));
        if let (Some(journal), Some(ep)) =
            (&self.journal, self.endpoints.get(job.endpoint as usize))
        {
            // A batch is journaled event by event, so that `replay` can send them.
            job.bodies().for_each(|body| journal.record(ep, body, detail));
        }
    }

    /// Finish `done` (the worker's previous event) and take the next ready event. `None` when
    /// the run is over.
    async fn next(&self, done: &mut Option<(u64, bool)>, skipped: &mut Vec<Job>) -> Option<Job> {
        loop {
            if let Some(next) = self.try_next(done, skipped) {
                return next;
            }
            let notified = self.work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(next) = self.try_next(done, skipped) {
                return next;
            }
            notified.await;
        }
    }

    fn try_next(
        &self,
        done: &mut Option<(u64, bool)>,
        skipped: &mut Vec<Job>,
    ) -> Option<Option<Job>> {
        let mut st = self.lock();
        if let Some((call, failed)) = done.take() {
            st.complete(call, failed && self.settings.stop_call_on_failure, skipped);
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
    let urls: Vec<String> = endpoints.iter().map(|e| e.url.clone()).collect();
    let limit = concurrency * 16 + 1024;
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        work: Notify::new(),
        space: Notify::new(),
        endpoints,
        journal,
        settings,
        cancel: cancel.clone(),
        halted: AtomicBool::new(false),
        start: Instant::now(),
        limit,
        low_water: limit / 2,
    });
    let guard = CloseOnDrop(shared.clone());

    let workers = spawn_workers(&shared, concurrency, &tls)?;

    let mut stats = Stats::new(shared.endpoints.len());
    let mut interrupted = dispatch(source, &shared, &mut stats).await;
    let drained = shared.close(interrupted);
    for job in &drained {
        shared.give_up(&mut stats, job, Outcome::Cancelled, CANCELLED_UNSENT);
    }

    // Wait for the workers; on interruption give requests in flight `grace`, then halt them.
    let mut deadline = interrupted.then(|| Instant::now() + shared.settings.grace);
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
            Ok(Ok(all)) => all.iter().for_each(|s| stats.merge(s)),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => unreachable!("a worker thread always reports"),
        }
    }
    let wall = shared.start.elapsed();
    drop(guard);
    let journal = shared.journal.as_ref().map(Journal::finish);
    Ok(Summary::from_stats(stats, &urls, wall, shared.settings.paced, interrupted, journal))
}

/// What a worker thread hands back: its workers' stats, or its panic.
type ThreadResult = std::thread::Result<Vec<Stats>>;

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
                rt.block_on(async {
                    let tasks: Vec<_> = ids
                        .into_iter()
                        .map(|id| tokio::spawn(worker(shared.clone(), id, tls.clone())))
                        .collect();
                    let mut all = Vec::with_capacity(tasks.len());
                    for task in tasks {
                        match task.await {
                            Ok(stats) => all.push(stats),
                            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                            Err(_) => {}
                        }
                    }
                    all
                })
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

/// Read the stream into the scheduler. Returns whether the run was interrupted.
async fn dispatch<S: Iterator<Item = Item>>(
    source: &mut S,
    shared: &Shared,
    stats: &mut Stats,
) -> bool {
    let cancel = &shared.cancel;
    loop {
        if cancel.is_cancelled() {
            return true;
        }
        let Some(item) = source.next() else { return false };
        let job = match item {
            Item::Send(job) => job,
            Item::Filtered(kind) => {
                stats.generate(kind);
                stats.filter(kind);
                continue;
            }
            Item::NoEndpoint(kind) => {
                stats.generate(kind);
                stats.fail(kind, Outcome::NoEndpoint);
                continue;
            }
        };
        job.kinds().for_each(|kind| stats.generate(kind));
        if let Some(offset) = job.offset {
            let due = shared.due(offset);
            if due > Instant::now() {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    _ = cancel.cancelled() => {
                        shared.give_up(stats, &job, Outcome::Cancelled, CANCELLED_UNSENT);
                        return true;
                    }
                }
            }
        }
        let mut job = job;
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
                    shared.give_up(stats, &skipped, Outcome::Skipped, SKIPPED);
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
                        _ = cancel.cancelled() => {
                            shared.give_up(stats, &job, Outcome::Cancelled, CANCELLED_UNSENT);
                            return true;
                        }
                    }
                }
            }
        }
        tokio::task::consume_budget().await;
    }
}

const SKIPPED: &str = "skipped: an earlier event of this call finally failed";

async fn worker(shared: Arc<Shared>, id: usize, tls: Option<reqwest::Client>) -> Stats {
    let mut stats = Stats::new(shared.endpoints.len());
    let mut client = Client::new(shared.endpoints.len(), tls);
    let mut rng = ChaCha8Rng::seed_from_u64(0x9b5 ^ id as u64);
    let mut deadline = Box::pin(tokio::time::sleep(shared.settings.timeout));
    let mut done = None;
    let mut skipped = Vec::new();
    loop {
        let next = shared.next(&mut done, &mut skipped).await;
        for job in skipped.drain(..) {
            shared.give_up(&mut stats, &job, Outcome::Skipped, SKIPPED);
        }
        let Some(job) = next else { break };
        let mut ctx = Attempts {
            shared: &shared,
            client: &mut client,
            stats: &mut stats,
            rng: &mut rng,
            deadline: &mut deadline,
        };
        let delivered = match &job.chaos {
            None => ctx.deliver(&job).await,
            Some(chaos) => ctx.deliver_with_faults(&job, chaos).await,
        };
        done = Some((job.call, !delivered));
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
            let (outcome, detail, retry_after) = match result {
                Ok(answer) if (200..300).contains(&answer.status) => {
                    self.stats.attempt(index, Outcome::Status(answer.status), None, retry > 0);
                    let latency = started.elapsed();
                    job.kinds().for_each(|kind| self.stats.deliver(kind, latency));
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
            self.stats.attempt(index, outcome, Some(&detail), retry > 0);
            let attempts = retry + 1;
            let give_up = |me: &mut Self| {
                let detail = match attempts {
                    1 => detail.clone(),
                    n => format!("{detail} (after {n} attempts)"),
                };
                me.shared.give_up(me.stats, job, outcome, &detail);
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
            let send = self.client.send(index, ep, body);
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
        Job { call, endpoint: 0, kind: n, body: Bytes::new(), offset: None, chaos: None }
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
        st.complete(1, false, &mut skipped);
        assert_eq!(st.ready.back().map(|j| (j.call, j.kind)), Some((1, 1)));
        st.complete(2, true, &mut skipped);
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
    fn a_full_buffer_refuses_and_flags_the_dispatcher() {
        let mut st = State::default();
        assert!(matches!(st.push(job(1, 0), 1), Push::Queued { ready: true }));
        assert!(matches!(st.push(job(2, 0), 1), Push::Full(_)));
        assert!(st.dispatcher_waiting);
    }
}
