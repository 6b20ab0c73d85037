//! Load plans (`pbxsim load`): a scenario's traffic resolved for a run at a target call rate,
//! with its limits and its clock's reach ([`horizon`]); the session delivers it.
//!
//! **Time.** Load-test quantities are wall-clock: `rate` (and a `[traffic]` table's `rate` and
//! `stages`) count calls started per second of wall time, and `duration`, `drain` and stage
//! lengths are wall time. Each call's own timeline (ringing, talk, patience, voicemail) is PBX
//! time, compressed by `speed` (default [`DEFAULT_SPEED`]): at 60×, a 3-minute call lasts
//! 3 wall seconds. So the PBX sees `rate / speed` calls per second of its own time, and agents
//! stay shared resources at that load. `asap` sends as fast as the receiver allows, with the
//! same simulated PBX (built at `speed`).
//!
//! **End of the run.** No call starts after `duration` (or after the last stage), nor beyond
//! `max_calls`; calls in progress then finish at their pace until `duration + drain`, when
//! what is left is cut off: counted and reported, not an interruption. `max_events` stops
//! the stream after exactly that many events (calls then in progress are cut off).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::feed::Feed;
use super::truth::Recorder;
use super::{Engine, Options};
use crate::scenario::Scenario;
use crate::scenario::traffic::{Arrivals, Schedule, TrafficError, TrafficModel, TrafficSpec};

/// Default compression of each call's timeline: a typical 3-minute call lasts 3 s.
pub const DEFAULT_SPEED: f64 = 60.0;
/// Default drain limit after the duration.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(30);
/// Default length of a run that nothing else ends (a constant rate, no limits).
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// The built-in model's rate under `load` when no rate is given (calls per wall second).
pub const BUILTIN_RATE: f64 = 10.0;

/// Validated settings of a load run (the CLI builds them from flags).
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub seed: u64,
    /// The virtual clock's origin (timestamps in the events).
    pub start: DateTime<Utc>,
    /// Compression of each call's timeline.
    pub speed: f64,
    /// Ignore virtual time and send as fast as the receiver allows.
    pub asap: bool,
    /// A constant rate in calls per wall second, replacing the traffic's rate and stages.
    pub rate: Option<f64>,
    /// Replaces the traffic's arrival process.
    pub arrivals: Option<Arrivals>,
    /// No new calls after this much wall time.
    pub duration: Option<Duration>,
    /// After `duration`, calls in progress may finish until this much more has passed.
    pub drain: Duration,
    pub max_calls: Option<u64>,
    pub max_events: Option<u64>,
    /// How often `on_sample` is called.
    pub sample_every: Duration,
    /// Independent copies of the PBX played together (`--tenants`, at least 1); see
    /// [`tenant_seed`] and [`TENANT_ID_STRIDE`].
    pub tenants: u32,
    /// This process's share of the tenants (`--shard K/N`): it simulates every tenant, so the
    /// limits mean the whole run, and sends only its own ([`Shard::owns`]). `None`: all.
    pub shard: Option<Shard>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            start: DateTime::<Utc>::UNIX_EPOCH,
            speed: DEFAULT_SPEED,
            asap: false,
            rate: None,
            arrivals: None,
            duration: None,
            drain: DEFAULT_DRAIN,
            max_calls: None,
            max_events: None,
            sample_every: Duration::from_secs(1),
            tenants: 1,
            shard: None,
        }
    }
}

/// Why a load cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Traffic(#[from] TrafficError),
    #[error("bad speed {0}: it must be a number above zero, like 60")]
    BadSpeed(f64),
    #[error(
        "{count} shards of {tenants} tenants: each shard plays whole tenants, so there must \
             be at least as many tenants as shards"
    )]
    ShardsExceedTenants { count: u32, tenants: u32 },
}

/// Shard `K` of `N` (1-based, `2/3`): the tenants `t` with `t mod N = K - 1` are its own.
/// Serializes as `"K/N"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Shard {
    /// 0-based.
    index: u32,
    count: u32,
}

/// A shard that cannot be: what was wrong, in words that name no flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("`{0}` is not a shard: write K/N, shard K of N, like 2/3")]
    Syntax(String),
    #[error("shard {number}/{count} does not exist: shards count from 1 to {count}")]
    Range { number: u32, count: u32 },
    #[error("a run of 0 shards: N in K/N must be at least 1")]
    NoShards,
}

impl Shard {
    /// Shard `number` (1-based) of `count`.
    pub fn new(number: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards);
        }
        if number == 0 || number > count {
            return Err(ShardError::Range { number, count });
        }
        Ok(Shard { index: number - 1, count })
    }

    /// The shard of a 0-based index, as a batch scheduler hands out (`JOB_COMPLETION_INDEX`).
    pub fn from_index(index: u32, count: u32) -> Result<Shard, ShardError> {
        match index.checked_add(1) {
            Some(number) => Shard::new(number, count),
            None => Err(ShardError::Range { number: index, count }),
        }
    }

    /// 1-based: the `K` of `K/N`.
    pub fn number(&self) -> u32 {
        self.index + 1
    }

    /// The `N` of `K/N`.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether tenant `tenant` (0-based) is this shard's.
    pub fn owns(&self, tenant: u32) -> bool {
        tenant % self.count == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.number(), self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(text.to_string());
        let (k, n) = text.trim().split_once('/').ok_or_else(syntax)?;
        let k: u32 = k.trim().parse().map_err(|_| syntax())?;
        let n: u32 = n.trim().parse().map_err(|_| syntax())?;
        Shard::new(k, n)
    }
}

impl From<Shard> for String {
    fn from(shard: Shard) -> String {
        shard.to_string()
    }
}

impl TryFrom<String> for Shard {
    type Error = ShardError;

    fn try_from(text: String) -> Result<Shard, ShardError> {
        text.parse()
    }
}

/// A load run, planned: the PBX, the traffic model in PBX time, and the limits.
#[derive(Debug, Clone)]
pub struct Plan {
    pub scenario: Arc<Scenario>,
    /// The traffic in PBX (virtual) time.
    pub model: TrafficModel,
    /// The target rate in calls per wall second (the mean over the stages, when ramped) of
    /// all the tenants this process plays (its shard's): [`Plan::tenant_rate`] times their
    /// number.
    pub target_rate: f64,
    /// The target rate of one tenant (one PBX), in calls per wall second.
    pub tenant_rate: f64,
    /// Wall time during which calls start (`duration`, or the stages' length), if bounded.
    pub window: Option<Duration>,
    /// The duration was not given and nothing else ends the run: [`DEFAULT_DURATION`] applies.
    pub default_duration: bool,
    pub options: LoadOptions,
}

/// Resolve `spec` against the scenario's PBX and apply the options; see the module docs.
pub fn plan(
    scenario: Scenario,
    spec: &TrafficSpec,
    options: LoadOptions,
) -> Result<Plan, PlanError> {
    let speed = options.speed;
    if !(speed.is_finite() && speed > 0.0) {
        return Err(PlanError::BadSpeed(speed));
    }
    if let Some(shard) = options.shard
        && shard.count() > options.tenants.max(1)
    {
        return Err(PlanError::ShardsExceedTenants {
            count: shard.count(),
            tenants: options.tenants.max(1),
        });
    }
    let mut spec = spec.clone();
    if options.rate.is_some() {
        // Replaced below; a placeholder lets a table without rate or stages resolve.
        (spec.rate, spec.stages) = (Some("1/s".into()), None);
    }
    if let Some(arrivals) = options.arrivals {
        spec.arrivals = Some(arrivals);
    }
    let mut model = spec.resolve(&scenario.pbx)?;
    // Wall-clock rates and lengths → PBX time.
    model.schedule = match (options.rate, &model.schedule) {
        (Some(rate), _) => Schedule::Constant(rate / speed),
        (None, Schedule::Constant(r)) => Schedule::Constant(r / speed),
        (None, Schedule::Stages { start, stages }) => Schedule::Stages {
            start: start / speed,
            stages: stages
                .iter()
                .map(|s| crate::scenario::traffic::Stage {
                    rate: s.rate / speed,
                    duration: (s.duration as f64 * speed).round() as u64,
                })
                .collect(),
        },
    };
    let stages_wall = model.duration().map(|v| Duration::from_secs_f64(v as f64 / 1000.0 / speed));
    let default_duration = options.duration.is_none()
        && stages_wall.is_none()
        && options.max_calls.is_none()
        && options.max_events.is_none();
    let mut options = options;
    if default_duration {
        options.duration = Some(DEFAULT_DURATION);
    }
    let window = match (options.duration, stages_wall) {
        (Some(d), Some(s)) => Some(d.min(s)),
        (d, s) => d.or(s),
    };
    let target_rate = match (&model.schedule, window) {
        (Schedule::Constant(r), _) => r * speed,
        (Schedule::Stages { .. }, Some(w)) if w > Duration::ZERO => {
            let virt = (w.as_secs_f64() * speed * 1000.0) as u64;
            model.expected_calls(virt) / w.as_secs_f64()
        }
        _ => 0.0,
    };
    let tenant_rate = target_rate;
    let played =
        (0..options.tenants.max(1)).filter(|t| options.shard.is_none_or(|s| s.owns(*t))).count();
    Ok(Plan {
        scenario: Arc::new(scenario),
        model,
        target_rate: tenant_rate * played as f64,
        tenant_rate,
        window,
        default_duration,
        options,
    })
}

/// Tenant `t`'s `unique_call_id`s are `t × TENANT_ID_STRIDE` above the twelve-digit ids a
/// single PBX uses, so tenants' ids never meet (tenant 0's are today's).
pub const TENANT_ID_STRIDE: u64 = 1_000_000_000_000;

/// The seed of tenant `tenant` of a run seeded `seed`: tenant 0 plays with the run's seed (so
/// `--tenants 1` is the single PBX), the others with a SplitMix64 mix of both.
pub fn tenant_seed(seed: u64, tenant: u32) -> u64 {
    if tenant == 0 {
        return seed;
    }
    let mut z = seed ^ u64::from(tenant).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The engine options of tenant `tenant`.
fn tenant_options(o: &LoadOptions, tenant: u32) -> Options {
    let mut options = Options::new(tenant_seed(o.seed, tenant), o.start);
    options.id_offset = u64::from(tenant) * TENANT_ID_STRIDE;
    options
}

/// The calls of all tenants in one order (start time, then tenant index), with the run's
/// limits applied to that merged order; each tenant's engine takes its own from here.
struct TenantArrivals {
    sources:
        Vec<std::iter::Peekable<Box<dyn Iterator<Item = crate::scenario::ScriptedCall> + Send>>>,
    queued: Vec<std::collections::VecDeque<crate::scenario::ScriptedCall>>,
    virtual_end: Option<u64>,
    gate: Option<Arc<AtomicBool>>,
    left: u64,
    over: bool,
}

impl TenantArrivals {
    /// The next call of `tenant`, taking the merged order forward as far as needed.
    fn next_for(&mut self, tenant: usize) -> Option<crate::scenario::ScriptedCall> {
        if let Some(c) = self.queued[tenant].pop_front() {
            return Some(c);
        }
        while !self.over {
            let next = (0..self.sources.len())
                .filter_map(|t| self.sources[t].peek().map(|c| (c.at, t)))
                .min();
            let Some((at, t)) = next else { break };
            if self.left == 0
                || self.virtual_end.is_some_and(|end| at >= end)
                || self.gate.as_ref().is_some_and(|g| g.load(Ordering::Relaxed))
            {
                break;
            }
            self.left -= 1;
            let call = self.sources[t].next().expect("peeked");
            if t == tenant {
                return Some(call);
            }
            self.queued[t].push_back(call);
        }
        self.over = true;
        None
    }
}

/// The engines of a plan's tenants (one for a single tenant: exactly [`arrivals`]' calls).
fn tenant_engines(plan: &Plan, gate: Option<Arc<AtomicBool>>) -> Vec<Engine<'static>> {
    let o = &plan.options;
    let tenants = o.tenants.max(1);
    if tenants == 1 {
        let calls = arrivals(plan, gate);
        return vec![Engine::with_calls(
            plan.scenario.clone(),
            Options::new(o.seed, o.start),
            calls,
        )];
    }
    let speed = o.speed;
    let virtual_end =
        plan.window.filter(|_| !o.asap).map(|w| (w.as_secs_f64() * speed * 1000.0) as u64);
    let sources = (0..tenants)
        .map(|t| {
            let calls: Box<dyn Iterator<Item = crate::scenario::ScriptedCall> + Send> = Box::new(
                super::arrivals::generate(
                    plan.model.clone(),
                    &plan.scenario.pbx,
                    tenant_seed(o.seed, t),
                )
                .for_tenant(t, tenants),
            );
            calls.peekable()
        })
        .collect();
    let shared = Arc::new(std::sync::Mutex::new(TenantArrivals {
        sources,
        queued: vec![std::collections::VecDeque::new(); tenants as usize],
        virtual_end,
        gate,
        left: o.max_calls.unwrap_or(u64::MAX),
        over: false,
    }));
    (0..tenants)
        .map(|t| {
            let shared = shared.clone();
            let calls = std::iter::from_fn(move || {
                shared.lock().expect("not poisoned").next_for(t as usize)
            });
            Engine::with_calls(plan.scenario.clone(), tenant_options(o, t), calls)
        })
        .collect()
}

/// The calls of the plan: its traffic's arrivals, ending with the window (in PBX time when
/// paced; with `asap`, when `gate` closes on the wall clock) and after `max_calls`.
fn arrivals(
    plan: &Plan,
    gate: Option<Arc<AtomicBool>>,
) -> impl Iterator<Item = crate::scenario::ScriptedCall> + Send + 'static {
    let o = &plan.options;
    let speed = o.speed;
    let virtual_end =
        plan.window.filter(|_| !o.asap).map(|w| (w.as_secs_f64() * speed * 1000.0) as u64);
    super::arrivals::generate(plan.model.clone(), &plan.scenario.pbx, o.seed)
        .take_while(move |c| virtual_end.is_none_or(|end| c.at < end))
        .take_while(move |_| gate.as_ref().is_none_or(|g| !g.load(Ordering::Relaxed)))
        .take(o.max_calls.map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX)))
}

/// The most calls per wall second an open-ended `--asap` run is assumed to start when its
/// clock is anchored (pbxsim's own best is about 9,000 against a minimal receiver). Were a run
/// to go faster, its events would wait for their time rather than carry a timestamp from the
/// future (see [`horizon`]).
pub const ASAP_CALL_CEILING: f64 = 10_000.0;

/// Finding a horizon by simulation stops after this many events; beyond, the drain limit
/// bounds it.
const HORIZON_SIMULATION_LIMIT: u64 = 2_000_000;

/// How far the PBX clock of a load run reaches: the virtual time of its last event, in ms,
/// and whether that is exact (found by simulating the run, as the engine is deterministic) or
/// a bound.
///
/// - Paced: the last event the run can send. Calls start until the window's end and are cut
///   off at `window + drain` (PBX time `× speed`), so the simulation stops there; after
///   `HORIZON_SIMULATION_LIMIT` events it takes that cut-off as the bound.
/// - `asap` with `max_calls` or `max_events`: the last event of those calls or events.
/// - `asap` bounded only by the wall clock: the number of calls is not known in advance; the
///   bound assumes at most [`ASAP_CALL_CEILING`] calls per wall second for the window, plus
///   the drain limit in PBX time.
pub fn horizon(plan: &Plan) -> (crate::duration::Millis, bool) {
    let o = &plan.options;
    let speed = o.speed;
    let pbx_ms = |wall: Duration| (wall.as_secs_f64() * speed * 1000.0).ceil() as u64;
    let bounded = o.max_calls.is_some() || o.max_events.is_some();
    if o.asap && !bounded {
        let window = plan.window.unwrap_or(DEFAULT_DURATION).as_secs_f64();
        let calls = ASAP_CALL_CEILING * window.max(1.0);
        let per_call = 1000.0 * speed / plan.tenant_rate.max(1e-9);
        let bound = (calls * per_call).min(1e15) as u64 + pbx_ms(o.drain);
        return (bound, false);
    }
    let cut_off = plan.window.filter(|_| !o.asap).map(|w| pbx_ms(w + o.drain));
    if o.tenants > 1 {
        // Every tenant's events, a shard's or not: the shards of one run share one horizon
        // (and so one anchored clock).
        let mut whole = plan.clone();
        whole.options.shard = None;
        let events = LoadFeed::new(&whole, None, None).filter_map(|item| match item {
            Feed::Event(e) => Some(e),
            Feed::CallEnded(_) => None,
        });
        return horizon_of(events, cut_off, u64::MAX);
    }
    let engine = Engine::with_calls(plan.scenario.clone(), Options::new(o.seed, o.start), {
        arrivals(plan, None)
    });
    horizon_of(engine, cut_off, o.max_events.unwrap_or(u64::MAX))
}

/// [`horizon`] of a stream of events: the time of the last one before `limit` events or the
/// cut-off.
fn horizon_of(
    events: impl Iterator<Item = super::Emission>,
    cut_off: Option<u64>,
    limit: u64,
) -> (crate::duration::Millis, bool) {
    let mut last = 0;
    for (n, e) in events.enumerate() {
        let n = n as u64;
        if n >= limit {
            break;
        }
        if cut_off.is_some_and(|c| e.at >= c) {
            return (cut_off.unwrap_or(e.at), true);
        }
        if n >= HORIZON_SIMULATION_LIMIT
            && let Some(c) = cut_off
        {
            return (c, false);
        }
        last = e.at;
    }
    (last, true)
}

/// The engine's events and call ends, with the limits applied (and recorded into the ground
/// truth, when there is one). With several tenants, their engines' events are merged in time
/// order (ties go to the lower tenant index); a call's `call` index becomes
/// `call × tenants + tenant`, so it stays unique in the run.
pub struct LoadFeed<'a, 'r> {
    engines: Vec<Engine<'a>>,
    /// Per tenant: its next event, taken ahead, and the calls that ended once it is out.
    heads: Vec<Option<(super::Emission, Vec<super::CallEnd>)>>,
    /// Engines that have nothing more.
    finished: Vec<bool>,
    /// Per tenant: whether its events are sent (this shard's), all without a shard.
    own: Vec<bool>,
    /// Call ends to pass on before anything else.
    ends: std::collections::VecDeque<super::CallEnd>,
    events: u64,
    max_events: Option<u64>,
    done: bool,
    truncated: bool,
    truth: Option<&'r mut Recorder>,
}

impl<'r> LoadFeed<'static, 'r> {
    /// The plan's calls through the engine (one per tenant), ending when `gate` closes (with
    /// `asap`), recorded into `truth` when there is one.
    pub fn new(
        plan: &Plan,
        gate: Option<Arc<AtomicBool>>,
        truth: Option<&'r mut Recorder>,
    ) -> Self {
        let o = &plan.options;
        let engines: Vec<_> =
            tenant_engines(plan, gate).into_iter().map(|e| e.track_ended_calls()).collect();
        let n = engines.len();
        LoadFeed {
            engines,
            heads: (0..n).map(|_| None).collect(),
            finished: vec![false; n],
            own: (0..n as u32).map(|t| o.shard.is_none_or(|s| s.owns(t))).collect(),
            ends: std::collections::VecDeque::new(),
            events: 0,
            max_events: o.max_events,
            done: false,
            truncated: false,
            truth,
        }
    }
}

impl<'a> LoadFeed<'a, '_> {
    /// The first tenant's engine (the only one without `--tenants`).
    pub fn engine(&self) -> &Engine<'a> {
        &self.engines[0]
    }

    /// The counters of this shard's tenants' engines (all tenants without a shard), added up.
    pub fn stats(&self) -> super::Stats {
        let mut total = super::Stats::default();
        for (e, _) in self.engines.iter().zip(&self.own).filter(|(_, own)| **own) {
            let s = e.stats();
            total.calls += s.calls;
            total.ended += s.ended;
            total.answered += s.answered;
            total.abandoned += s.abandoned;
            total.voicemail += s.voicemail;
            total.unanswered += s.unanswered;
            total.queue_timeouts += s.queue_timeouts;
            total.outbound_skipped_busy += s.outbound_skipped_busy;
        }
        total
    }

    /// The call that went past the engine's per-call limits, in any tenant.
    pub fn tripped(&self) -> Option<super::Runaway> {
        self.engines.iter().find_map(|e| e.backstop().tripped().cloned())
    }

    /// Whether `max_events` cut the stream short.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    fn single(&mut self) -> Option<Feed> {
        let engine = &mut self.engines[0];
        loop {
            if let Some(end) = engine.take_call_end() {
                if let Some(truth) = self.truth.as_deref_mut() {
                    truth.ended(&end);
                }
                return Some(Feed::CallEnded(end.call));
            }
            if self.done {
                return None;
            }
            if self.max_events.is_some_and(|m| self.events >= m) {
                self.done = true;
                self.truncated = true;
                return None;
            }
            match engine.next() {
                Some(e) => {
                    self.events += 1;
                    if let Some(truth) = self.truth.as_deref_mut() {
                        truth.event(&e);
                    }
                    return Some(Feed::Event(e));
                }
                None => self.done = true,
            }
        }
    }

    /// The tenants' events in time order; with a shard, only its own tenants' events and call
    /// ends come out, while every tenant's events count toward `max_events`.
    fn merged(&mut self) -> Option<Feed> {
        let n = self.engines.len() as u64;
        loop {
            if let Some(end) = self.ends.pop_front() {
                if let Some(truth) = self.truth.as_deref_mut() {
                    truth.ended(&end);
                }
                return Some(Feed::CallEnded(end.call));
            }
            if self.done {
                return None;
            }
            if self.max_events.is_some_and(|m| self.events >= m) {
                self.done = true;
                self.truncated = true;
                return None;
            }
            for t in 0..self.engines.len() {
                if self.heads[t].is_some() || self.finished[t] {
                    continue;
                }
                let own = self.own[t];
                let engine = &mut self.engines[t];
                let renumber = |mut end: super::CallEnd| {
                    end.call = end.call * n + t as u64;
                    end
                };
                match engine.next() {
                    Some(mut e) => {
                        e.call = e.call * n + t as u64;
                        let ends = std::iter::from_fn(|| engine.take_call_end())
                            .filter(|_| own)
                            .map(renumber)
                            .collect();
                        self.heads[t] = Some((e, ends));
                    }
                    None => {
                        self.finished[t] = true;
                        let ends = std::iter::from_fn(|| engine.take_call_end()).filter(|_| own);
                        self.ends.extend(ends.map(renumber));
                    }
                }
            }
            if !self.ends.is_empty() {
                continue;
            }
            let next = (0..self.heads.len())
                .filter_map(|t| self.heads[t].as_ref().map(|(e, _)| (e.at, t)))
                .min();
            let Some((_, t)) = next else {
                self.done = true;
                return None;
            };
            let (e, ends) = self.heads[t].take().expect("a head");
            self.ends.extend(ends);
            self.events += 1;
            if !self.own[t] {
                continue;
            }
            if let Some(truth) = self.truth.as_deref_mut() {
                truth.event(&e);
            }
            return Some(Feed::Event(e));
        }
    }
}

impl Iterator for LoadFeed<'_, '_> {
    type Item = Feed;

    fn next(&mut self) -> Option<Feed> {
        match self.engines.len() {
            1 => self.single(),
            _ => self.merged(),
        }
    }
}
