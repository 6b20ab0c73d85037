//! The front door: a [`Session`] plays a scenario's scripted calls, or a load of generated
//! traffic, to a target or to the built-in receiver, and returns one [`Outcome`].
//!
//! A session does every step between a loaded scenario and a verdict: the open-files check,
//! the built-in receiver when no target is given, the endpoints, delivery with a live view
//! ([`Observer`]), the ground truth (`--truth`), the thresholds, the receiver's verdicts, and
//! the [`Exit`] they add up to. It never prints and never exits: what it has to say is in the
//! outcome, or goes to the [`Observer`] and the receiver's [`Output`] its caller chose.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let scenario = pbxsim::Scenario::load("scenarios/quickstart.toml")?;
//! let session = pbxsim::Session::scripted(scenario, pbxsim::ScriptedOptions::asap())?;
//! let outcome = session.run_blocking(&mut pbxsim::session::Quiet)?;
//! assert!(outcome.exit.is_ok(), "{outcome}");
//! # Ok(())
//! # }
//! ```
//!
//! [`load`] and [`play`] are the two kinds of delivery a session drives.

pub mod load;
pub mod play;

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::check::{CheckerConfig, Rule};
use crate::deliver::{
    self, CancelToken, DeliverError, DeliverOptions, Endpoints, Live, Overrides, Pacing, Sample,
    Summary,
};
use crate::engine::load_plan::{self, LoadOptions, Plan, PlanError};
use crate::engine::truth::{Recorder, TruthStats};
use crate::engine::{self, Preview, Runaway};
use crate::event::{DurationStyle, EventType};
use crate::exit::Exit;
use crate::receiver::inspector::InspectorConfig;
use crate::receiver::{self, Output, PrintMode, ReceiverConfig, ReceiverStats};
use crate::report::kpi::{KpiCollector, Kpis};
use crate::report::trend::{Trend, TrendRecorder};
use crate::report::{self, LoadReport, Threshold, Verdict};
use crate::scenario::Scenario;
use crate::scenario::traffic::TrafficSpec;
use crate::secret::Secret;
use crate::time::{Anchor, Timeline};

/// How a scripted session (`run`, `call`) is paced and seeded.
#[derive(Debug, Clone, Default)]
pub struct ScriptedOptions {
    /// `None`: the scenario's `speed`, else real time.
    pub pacing: Option<Pacing>,
    /// `None`: the scenario's seed.
    pub seed: Option<u64>,
    /// Pins the PBX clock's start (`None`: the scenario's `start_time`, else anchored so that
    /// no event carries a time later than when it is sent).
    pub start_time: Option<DateTime<Utc>>,
}

impl ScriptedOptions {
    /// As fast as the receiver allows, with the scenario's seed and an anchored clock.
    pub fn asap() -> Self {
        Self { pacing: Some(Pacing::Asap), ..Self::default() }
    }
}

/// What a session does with what it sends and what it gets back; the defaults send to the
/// scenario's own target (or the built-in receiver), quietly.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// The command line's changes to the scenario's endpoints (`--target`, `--token`,
    /// `--route`). With no target here or in the file, events go to the built-in receiver.
    pub overrides: Overrides,
    /// Delivery settings. The session sets `pacing`, `nulls`, `ticked` and `clock_lead` from
    /// the scenario and its clock; `chaos`, `concurrency` and the rest are used as given.
    pub deliver: DeliverOptions,
    /// Thresholds checked after the run, with the scenario's `[expect]` ones (which come first).
    pub thresholds: Vec<Threshold>,
    /// Events that finally failed do not fail the run (`--allow-failures`).
    pub allow_failures: bool,
    /// How often [`Observer::sample`] is called.
    pub sample_every: Duration,
    /// Stops the run when fired: no new events start, requests in flight finish, and the
    /// outcome is still returned (interrupted).
    pub cancel: CancelToken,
    /// The built-in receiver's live view, when it is used.
    pub receiver: ReceiverView,
    /// The KPIs' service-level threshold: a queue or ring-group visit answered within this
    /// long of the call's arrival counts toward the service level (default 20 s).
    pub service_level: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            overrides: Overrides::default(),
            deliver: DeliverOptions::default(),
            thresholds: Vec::new(),
            allow_failures: false,
            sample_every: Duration::from_secs(1),
            cancel: CancelToken::new(),
            receiver: ReceiverView::default(),
            service_level: report::kpi::DEFAULT_SERVICE_LEVEL,
        }
    }
}

/// What the built-in receiver shows while it takes a session's events.
#[derive(Debug, Clone)]
pub struct ReceiverView {
    pub print: PrintMode,
    pub color: bool,
    /// Where its lines go.
    pub output: Output,
    /// Serve the web inspector (`--ui`); after the run it stays open until `cancel` fires.
    pub ui: bool,
    /// [`ReceiverConfig::no_token_note`].
    pub no_token_note: String,
}

impl Default for ReceiverView {
    fn default() -> Self {
        Self {
            print: PrintMode::Quiet,
            color: false,
            output: Output::stdout(),
            ui: false,
            no_token_note: receiver::NO_TOKEN_NOTE.to_string(),
        }
    }
}

/// Why a session could not run (nothing was sent), or was stopped by a call that would not end.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// A call went past the engine's per-call limits (a flow that never ends).
    #[error("{0}")]
    Runaway(Runaway),
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Deliver(#[from] DeliverError),
    /// The process may not open enough files for the connections.
    #[error("{0}")]
    OpenFiles(crate::fd_limit::LimitError),
    /// The inspector shows what the built-in receiver gets, and this session has a target.
    #[error(
        "the inspector shows what the built-in receiver gets, and this session sends to a target"
    )]
    InspectorNeedsBuiltin,
    #[error("cannot start the built-in receiver: {0}")]
    Receiver(std::io::Error),
    #[error("{0} is not supported yet")]
    Unsupported(&'static str),
    #[error("cannot write {path}: {error}")]
    Write { path: String, error: std::io::Error },
}

impl SessionError {
    /// Every session error is a usage error: nothing was sent, or the scenario is at fault.
    pub fn exit(&self) -> Exit {
        Exit::Usage
    }
}

/// What a session tells its caller as it goes; every method does nothing by default.
pub trait Observer {
    /// Delivery is about to start: the receiver (when built in) is up, the endpoints resolved.
    fn started(&mut self, _started: &Started) {}
    /// A live sample, every [`SessionOptions::sample_every`].
    fn sample(&mut self, _sample: &Sample) {}
    /// The run is over and the inspector stays open at `url` until the cancel token fires.
    fn inspector_open(&mut self, _url: &str) {}
}

/// An [`Observer`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// What a session starts with, for a header.
#[derive(Debug, Clone)]
pub struct Started {
    /// The built-in receiver's URL, when the events go there.
    pub builtin_receiver: Option<String>,
    /// The inspector's URL, with `ui`.
    pub inspector: Option<String>,
}

/// What a session plays.
#[derive(Debug, Clone)]
enum Work {
    Scripted { pacing: Pacing, preview: Preview, seed: u64 },
    Load { plan: Box<Plan> },
}

/// A scenario ready to play: its calls or its load, its clock, and where they go. See the
/// module docs.
pub struct Session {
    scenario: Arc<Scenario>,
    work: Work,
    anchor: Anchor,
    options: SessionOptions,
    truth: Option<Box<dyn Write + Send>>,
    /// A load's common start on the wall clock: the run waits for it, and its report says how
    /// late it started when it could not.
    start_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for Session {
    // The truth writer has no Debug of its own.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("scenario", &self.scenario.name)
            .field("work", &self.work)
            .field("anchor", &self.anchor)
            .field("options", &self.options)
            .field("truth", &self.truth.is_some())
            .finish()
    }
}

impl Session {
    /// A session playing the scenario's `[[calls]]`: simulated in advance, so a call that
    /// would never end is refused here ([`SessionError::Runaway`]) and the run's length is
    /// known.
    pub fn scripted(
        scenario: impl Into<Arc<Scenario>>,
        options: ScriptedOptions,
    ) -> Result<Self, SessionError> {
        let scenario = scenario.into();
        let seed = options.seed.unwrap_or(scenario.seed);
        let preview = engine::preview(&scenario, seed);
        if let Some(runaway) = &preview.runaway {
            return Err(SessionError::Runaway(runaway.clone()));
        }
        let pacing = options
            .pacing
            .unwrap_or_else(|| scenario.speed.map_or(Pacing::Realtime, Pacing::Speed));
        let anchor =
            scripted_anchor(&scenario, options.start_time, preview.last_at, pacing.speed());
        let work = Work::Scripted { pacing, preview, seed };
        Ok(Self::new(scenario, work, anchor, None))
    }

    /// A load session: `spec` (the scenario's `[traffic]`, or one made from flags) resolved
    /// against the scenario's PBX with `load` ([`load_plan::plan`]). `load.start` is ignored:
    /// the clock starts at `start_time` when pinned, else it is anchored so that no event
    /// carries a time later than when it is sent.
    ///
    /// With `start_at`, the run waits until then to start its schedule, and an anchored clock
    /// is anchored back from that instant (when it is ahead) rather than from now, so that
    /// processes started with the same flags and `start_at` (the shards of one run) play the
    /// same PBX clock.
    pub fn load(
        scenario: Scenario,
        spec: &TrafficSpec,
        load: LoadOptions,
        start_time: Option<DateTime<Utc>>,
        start_at: Option<DateTime<Utc>>,
    ) -> Result<Self, SessionError> {
        let pinned = start_time.or(scenario.start_time);
        let mut plan = load_plan::plan(scenario, spec, load)?;
        let anchor = match pinned {
            Some(start) => Anchor::pinned(start),
            None => {
                let (horizon, exact) = load_plan::horizon(&plan);
                let speed = (!plan.options.asap).then_some(plan.options.speed);
                let lead = crate::time::lead_for(horizon, speed);
                Anchor::back_from(anchor_from(start_at), lead, exact.then_some(horizon))
            }
        };
        plan.options.start = anchor.start;
        let scenario = plan.scenario.clone();
        let work = Work::Load { plan: Box::new(plan) };
        Ok(Self::new(scenario, work, anchor, start_at))
    }

    fn new(
        scenario: Arc<Scenario>,
        work: Work,
        anchor: Anchor,
        start_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self { scenario, work, anchor, options: SessionOptions::default(), truth: None, start_at }
    }

    /// Sets what the session does with what it sends and gets back.
    #[must_use]
    pub fn with_options(mut self, options: SessionOptions) -> Self {
        self.options = options;
        self
    }

    /// Records the ground truth of every call as it ends into `out` (`--truth`).
    #[must_use]
    pub fn with_truth(mut self, out: impl Write + Send + 'static) -> Self {
        self.truth = Some(Box::new(out));
        self
    }

    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    /// The PBX clock's start, and why.
    pub fn anchor(&self) -> &Anchor {
        &self.anchor
    }

    /// The seed the engine runs with.
    pub fn seed(&self) -> u64 {
        match &self.work {
            Work::Scripted { seed, .. } => *seed,
            Work::Load { plan } => plan.options.seed,
        }
    }

    /// How the scripted calls are paced; `None` for a load.
    pub fn pacing(&self) -> Option<Pacing> {
        match &self.work {
            Work::Scripted { pacing, .. } => Some(*pacing),
            Work::Load { .. } => None,
        }
    }

    /// What the scripted calls will emit, simulated in advance; `None` for a load.
    pub fn preview(&self) -> Option<&Preview> {
        match &self.work {
            Work::Scripted { preview, .. } => Some(preview),
            Work::Load { .. } => None,
        }
    }

    /// The scripted run's length in wall time at its pacing, when known.
    pub fn length(&self) -> Option<Duration> {
        match &self.work {
            Work::Scripted { pacing, preview, .. } => {
                play::wall_length(preview.last_at, pacing.speed())
            }
            Work::Load { .. } => None,
        }
    }

    /// The load's plan; `None` for scripted calls.
    pub fn plan(&self) -> Option<&Plan> {
        match &self.work {
            Work::Load { plan } => Some(plan),
            Work::Scripted { .. } => None,
        }
    }

    /// Whether the events go to the built-in receiver (no target in the options or the file).
    pub fn uses_builtin_receiver(&self) -> bool {
        self.options.overrides.target.is_none() && self.scenario.webhook.url.is_none()
    }

    /// The delivery settings as the session will use them.
    pub fn deliver_options(&self) -> DeliverOptions {
        let mut opts = self.options.deliver.clone();
        opts.nulls = self.scenario.nulls;
        opts.ticked = self.scenario.webhook.events;
        opts.clock_lead = self.anchor.lead();
        if let Work::Scripted { pacing, .. } = &self.work {
            opts.pacing = *pacing;
        }
        opts
    }

    /// Plays the session on a new multi-threaded tokio runtime; see [`Session::run`].
    pub fn run_blocking(self, observer: &mut dyn Observer) -> Result<Outcome, SessionError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(SessionError::Receiver)?;
        rt.block_on(self.run(observer))
    }

    /// Plays the session: checks the open-files limit, starts the built-in receiver when there
    /// is no target, delivers, then checks the thresholds and the receiver's verdicts.
    /// A receiver that fails is counted in the outcome, never an error; an `Err` means nothing
    /// was sent (or a call would not end).
    pub async fn run(self, observer: &mut dyn Observer) -> Result<Outcome, SessionError> {
        deliver::init_tls();
        let mut deliver = self.deliver_options();
        let builtin = self.uses_builtin_receiver();
        if self.options.receiver.ui && !builtin {
            return Err(SessionError::InspectorNeedsBuiltin);
        }
        let endpoint_count = endpoint_count(&self.scenario, &self.options.overrides.routes);
        crate::fd_limit::check_fd_limit(deliver.concurrency, endpoint_count, builtin)
            .map_err(SessionError::OpenFiles)?;
        let timeline = Timeline::new(self.anchor.start, self.scenario.utc_offset);
        let mut recorder = self.truth.map(|out| Recorder::new(timeline, out));

        let receiver = match builtin {
            true => Some(
                start_builtin_receiver(
                    &self.scenario,
                    self.options.overrides.token.as_ref(),
                    &deliver,
                    &self.options.receiver,
                )
                .await
                .map_err(SessionError::Receiver)?,
            ),
            false => None,
        };
        let mut overrides = self.options.overrides.clone();
        if let Some(r) = &receiver {
            overrides.target = Some(r.url().into());
        }
        let endpoints = Endpoints::from_scenario(&self.scenario, &overrides)?;
        observer.started(&Started {
            builtin_receiver: receiver.as_ref().map(|r| r.url()),
            inspector: receiver.as_ref().and_then(|r| r.inspector_url()),
        });

        let cancel = self.options.cancel.clone();
        let thresholds: Vec<Threshold> =
            self.scenario.expect.iter().chain(&self.options.thresholds).cloned().collect();
        let allow_failures = self.options.allow_failures;
        let sample_every = self.options.sample_every;
        let paced = match &self.work {
            Work::Scripted { pacing, .. } => *pacing != Pacing::Asap,
            Work::Load { plan } => !plan.options.asap,
        };
        let mut kpis = KpiCollector::new(&self.scenario.pbx, self.options.service_level);
        let mut trend = TrendRecorder::new(paced);
        let live = deliver.live.get_or_insert_with(|| Arc::new(Live::new())).clone();
        let started_at = std::time::Instant::now();
        let mut engine_stats = None;
        let (delivery, verdicts, mut exit, cut_off) = match &self.work {
            Work::Scripted { seed, pacing, preview } => {
                let options = play::PlayOptions {
                    engine: engine::Options::new(*seed, self.anchor.start),
                    deliver: deliver.clone(),
                    sample_every,
                    length: play::wall_length(preview.last_at, pacing.speed()),
                };
                let played = play::play(
                    self.scenario.clone(),
                    options,
                    &endpoints,
                    cancel.clone(),
                    |s| {
                        trend.sample(s);
                        observer.sample(s);
                    },
                    recorder.as_mut(),
                    &mut kpis,
                )
                .await?;
                let summary = played.summary;
                engine_stats = Some(played.stats);
                let verdicts = report::check_all(&thresholds, &summary);
                let exit = summary.exit(allow_failures).failed_if(verdicts.iter().any(|v| !v.pass));
                (Delivery::Scripted(Box::new(summary)), verdicts, exit, false)
            }
            Work::Load { plan } => {
                let late_start = match self.start_at {
                    Some(at) => Some(wait_for_start(at, &cancel).await),
                    None => None,
                };
                let result = load::run_with_truth(
                    plan,
                    &deliver,
                    &endpoints,
                    cancel.clone(),
                    |s| {
                        trend.sample(s);
                        observer.sample(s);
                    },
                    recorder.as_mut(),
                    &mut kpis,
                )
                .await;
                let mut report = match result {
                    Ok(r) => r,
                    Err(load::LoadError::Runaway(r)) => return Err(SessionError::Runaway(r)),
                    Err(load::LoadError::Plan(e)) => return Err(e.into()),
                    Err(load::LoadError::Deliver(e)) => return Err(e.into()),
                };
                report.late_start_ms = late_start;
                let verdicts = report.check(&thresholds);
                let failed = verdicts.iter().any(|v| !v.pass);
                // A run that started no call tested nothing: not a success.
                let exit =
                    report.exit(failed, allow_failures).failed_if(report.no_calls().is_some());
                let cut_off = report.calls.cut_off + report.events.cut_off > 0;
                (Delivery::Load(Box::new(report)), verdicts, exit, cut_off)
            }
        };
        // What the last sample did not see.
        let last = live.sample(started_at.elapsed(), None);
        trend.sample_if_new(&last);
        let trend = trend.finish();
        let kpis = kpis.kpis();
        let mut delivery = delivery;
        if let Delivery::Load(report) = &mut delivery {
            report.series = Some(trend.clone());
        }

        let truth = recorder.map(Recorder::finish);
        exit = exit.failed_if(matches!(truth, Some(Err(_))));
        let mut receiver_stats = None;
        let mut expected_incomplete = 0;
        if let Some(r) = receiver {
            if !exit.is_stopped()
                && let Some(url) = r.inspector_url()
            {
                r.finish_checks();
                observer.inspector_open(&url);
                cancel.cancelled().await;
            }
            let stats = r.shutdown().await;
            // Calls cut off at the end of a load run are incomplete by design.
            if cut_off {
                expected_incomplete =
                    stats.check.per_rule.get(&Rule::Incomplete).copied().unwrap_or(0);
            }
            exit = exit.failed_if(stats.violations() > expected_incomplete);
            receiver_stats = Some(stats);
        }
        exit = exit.terminated_if(cancel.signal() == Some(deliver::StopSignal::Terminate));
        Ok(Outcome {
            delivery,
            verdicts,
            receiver: receiver_stats,
            expected_incomplete,
            truth,
            exit,
            kpis,
            trend,
            engine_stats,
        })
    }

    /// The events as NDJSON on `out` instead of sending them (`--dry-run`): one body per line,
    /// or with `envelope`, each inside a small envelope (virtual time, target, header names;
    /// the token redacted). The clock is anchored for an instant run. A load's window bounds
    /// its schedule in PBX time, with or without `asap` ([`load::write_dry_run`]).
    pub fn dry_run(self, envelope: bool, out: &mut impl Write) -> Result<DryRun, SessionError> {
        use crate::deliver::dry_run::{self, DryRunFormat};
        let format = if envelope { DryRunFormat::Envelope } else { DryRunFormat::Body };
        let (seed, last_at) = match &self.work {
            Work::Scripted { seed, preview, .. } => (*seed, preview.last_at),
            Work::Load { plan } => {
                // No wall clock: the window bounds the schedule in PBX time, and an anchored
                // clock starts as far back as the whole run reaches (an instant run).
                let mut plan = load::dry_run_plan(plan);
                if self.anchor.lead().is_some() {
                    let (horizon, exact) = load_plan::horizon(&plan);
                    let lead = crate::time::lead_for(horizon, None);
                    let from = anchor_from(self.start_at);
                    plan.options.start =
                        Anchor::back_from(from, lead, exact.then_some(horizon)).start;
                }
                let timeline = Timeline::new(plan.options.start, self.scenario.utc_offset);
                let mut recorder = self.truth.map(|out| Recorder::new(timeline, out));
                let (written, runaway) = load::write_dry_run(
                    &plan,
                    &timeline,
                    format,
                    &self.options.overrides,
                    self.options.deliver.chaos.as_ref(),
                    recorder.as_mut(),
                    out,
                );
                if let Some(runaway) = runaway {
                    return Err(SessionError::Runaway(runaway));
                }
                return Ok(finish_dry_run(written.map(|_| ()), recorder));
            }
        };
        let anchor = match self.anchor.lead() {
            Some(_) => {
                Anchor::back_from(Utc::now(), crate::time::lead_for(last_at, None), Some(last_at))
            }
            None => self.anchor,
        };
        let options = engine::Options::new(seed, anchor.start);
        let timeline = Timeline::new(options.start, self.scenario.utc_offset);
        let mut recorder = self.truth.map(|out| Recorder::new(timeline, out));
        let scenario = &self.scenario;
        let overrides = &self.options.overrides;
        let engine = engine::Engine::new(Arc::clone(scenario), options);
        let backstop = engine.backstop();
        let written = match (recorder.as_mut(), self.options.deliver.chaos) {
            (None, None) => {
                dry_run::write_ndjson(scenario, &timeline, engine, format, overrides, out)
            }
            (None, Some(chaos)) => {
                let events = deliver::with_ended_calls(engine);
                dry_run::write_ndjson_chaos(
                    scenario, &timeline, events, &chaos, format, overrides, out,
                )
            }
            (Some(recorder), None) => {
                let events = deliver::with_truth(engine, recorder).filter_map(|f| match f {
                    deliver::Feed::Event(e) => Some(e),
                    deliver::Feed::CallEnded(_) => None,
                });
                dry_run::write_ndjson(scenario, &timeline, events, format, overrides, out)
            }
            (Some(recorder), Some(chaos)) => {
                let events = deliver::with_truth(engine, recorder);
                dry_run::write_ndjson_chaos(
                    scenario, &timeline, events, &chaos, format, overrides, out,
                )
            }
        };
        if let Some(runaway) = backstop.tripped() {
            return Err(SessionError::Runaway(runaway.clone()));
        }
        Ok(finish_dry_run(written.map(|_| ()), recorder))
    }
}

/// A dry run's end: a closed pipe is not an error; a write that failed, or a ground truth that
/// could not be written, fails it.
fn finish_dry_run(written: std::io::Result<()>, recorder: Option<Recorder>) -> DryRun {
    let truth = recorder.map(Recorder::finish);
    let written = match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    };
    let exit = Exit::Ok.failed_if(written.is_err() || matches!(truth, Some(Err(_))));
    DryRun { written, truth, exit }
}

/// The end of a dry run.
#[derive(Debug)]
pub struct DryRun {
    /// `Err`: the events could not be written (a closed pipe is not an error).
    pub written: std::io::Result<()>,
    pub truth: Option<std::io::Result<TruthStats>>,
    pub exit: Exit,
}

/// What was delivered: a scripted run's summary, or a load run's report.
#[derive(Debug)]
pub enum Delivery {
    Scripted(Box<Summary>),
    Load(Box<LoadReport>),
}

/// Everything a session found, and how it ends.
#[derive(Debug)]
pub struct Outcome {
    pub delivery: Delivery,
    /// The thresholds checked (the scenario's `[expect]`, then the options'), in that order.
    pub verdicts: Vec<Verdict>,
    /// The built-in receiver's counts and verdicts, when it was used.
    pub receiver: Option<ReceiverStats>,
    /// Of the receiver's violations, the incomplete calls a load run cut off at its end (by
    /// design, so they do not fail the run).
    pub expected_incomplete: u64,
    /// The ground truth file's counts, or why it could not be written.
    pub truth: Option<std::io::Result<TruthStats>>,
    /// How it all adds up ([`Exit::and`]).
    pub exit: Exit,
    /// Contact-centre KPIs per queue and ring group, from the generated events (a load run's
    /// report holds them too).
    pub kpis: Kpis,
    /// The run over time (a load run's report holds it too).
    pub trend: Trend,
    /// Scripted runs: the engine's counts (calls by how they ended). A load run's report has
    /// them in `calls`.
    pub engine_stats: Option<engine::Stats>,
}

impl Outcome {
    /// The scripted run's summary, if this was one.
    pub fn summary(&self) -> Option<&Summary> {
        match &self.delivery {
            Delivery::Scripted(s) => Some(s),
            Delivery::Load(_) => None,
        }
    }

    /// The load run's report, if this was one.
    pub fn load_report(&self) -> Option<&LoadReport> {
        match &self.delivery {
            Delivery::Load(r) => Some(r),
            Delivery::Scripted(_) => None,
        }
    }

    /// Messages about endpoints nobody could reach, one per line.
    pub fn unreachable(&self) -> Option<String> {
        match &self.delivery {
            Delivery::Scripted(s) => s.unreachable_message(),
            Delivery::Load(r) => r.unreachable.clone(),
        }
    }
}

impl fmt::Display for Outcome {
    /// The summary (or report), the verdicts and the receiver's counts, as text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.delivery {
            Delivery::Scripted(s) => write!(f, "{}{}", s.render(), self.kpis.render())?,
            Delivery::Load(r) => write!(f, "{}", r.render())?,
        }
        if !self.verdicts.is_empty() {
            write!(f, "{}", report::render(&self.verdicts))?;
        }
        if let Some(stats) = &self.receiver {
            writeln!(f, "\nbuilt-in receiver\n{stats}")?;
        }
        writeln!(f, "exit {}", self.exit)
    }
}

/// What an anchored load clock counts back from: the common start while it is ahead (so the
/// shards of one run share one clock), else now.
fn anchor_from(start_at: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let now = Utc::now();
    start_at.filter(|at| *at > now).unwrap_or(now)
}

/// Waits until `at` on the wall clock (or until `cancel` fires) and returns how many
/// milliseconds after `at` the wait ended: 0 when on time, more when the process came late.
async fn wait_for_start(at: DateTime<Utc>, cancel: &CancelToken) -> u64 {
    if let Ok(wait) = (at - Utc::now()).to_std() {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.cancelled() => {}
        }
    }
    u64::try_from((Utc::now() - at).num_milliseconds()).unwrap_or(0)
}

/// The PBX clock of a scripted run: pinned by `start` or the file, else anchored back from
/// now so that the run's last event (at `last_at`, played at `speed`) is not from the future.
pub fn scripted_anchor(
    scenario: &Scenario,
    start: Option<DateTime<Utc>>,
    last_at: crate::duration::Millis,
    speed: Option<f64>,
) -> Anchor {
    match start.or(scenario.start_time) {
        Some(start) => Anchor::pinned(start),
        None => Anchor::back_from(Utc::now(), crate::time::lead_for(last_at, speed), Some(last_at)),
    }
}

/// How many endpoints a run opens connections to, at most: global, objects, routes.
pub fn endpoint_count<U>(scenario: &Scenario, routes: &[(EventType, U)]) -> usize {
    let mut routed: Vec<EventType> = scenario.webhook.routes.iter().map(|r| r.0).collect();
    routed.extend(routes.iter().map(|r| r.0));
    routed.sort_by_key(|t| t.index());
    routed.dedup();
    1 + scenario.pbx.webhooks.len() + routed.len()
}

/// Starts the built-in receiver on a loopback port: it accepts the token (`token`, else the
/// scenario's) and every webhook object's token, and checks each call's events.
async fn start_builtin_receiver(
    scenario: &Scenario,
    token: Option<&Secret>,
    opts: &DeliverOptions,
    view: &ReceiverView,
) -> std::io::Result<receiver::RunningReceiver> {
    let token =
        token.cloned().or_else(|| Some(scenario.webhook.token.clone()).filter(|t| !t.is_empty()));
    let cfg = ReceiverConfig {
        token,
        extra_tokens: scenario.pbx.webhooks.iter().filter_map(|w| w.token.clone()).collect(),
        checker: CheckerConfig {
            ticked: scenario.webhook.events,
            // `--chaos durations=string` is a variant, not a violation.
            lenient_numbers: opts
                .chaos
                .as_ref()
                .is_some_and(|c| c.durations == Some(DurationStyle::String)),
            // So is `--chaos extra_fields`: a receiver must ignore fields it does not know.
            extra_fields: opts.chaos.as_ref().is_some_and(|c| c.extra_fields > 0.0),
            ..CheckerConfig::default()
        },
        print: view.print,
        color: view.color,
        output: view.output.clone(),
        inspector: view.ui.then(InspectorConfig::default),
        no_token_note: view.no_token_note.clone(),
        ..ReceiverConfig::default()
    };
    receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), cfg).await
}

/// Opens `path` for the ground truth (a file that cannot be created is a [`SessionError`]).
pub fn truth_file(path: &Path) -> Result<std::io::BufWriter<std::fs::File>, SessionError> {
    std::fs::File::create(path)
        .map(std::io::BufWriter::new)
        .map_err(|error| SessionError::Write { path: path.display().to_string(), error })
}
