//! Load runs (`pbxsim load`): a [`Plan`]'s generated traffic through the engine, delivered at
//! its target call rate with limits, a live view, and a [`LoadReport`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::deliver::{
    self, CancelToken, DeliverError, DeliverOptions, Endpoints, Live, Pacing, Sample, Summary,
};
use crate::engine;
use crate::engine::load_plan::{LoadFeed, Plan, PlanError};
use crate::engine::truth::Recorder;
use crate::report::LoadReport;
use crate::report::kpi::{DEFAULT_SERVICE_LEVEL, KpiCollector};

/// Why a load run could not start (nothing was sent), or was stopped by a call that would not
/// end ([`LoadError::Runaway`]).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Deliver(#[from] DeliverError),
    /// A call went past the engine's per-call limits: the run stopped there.
    #[error("{0}")]
    Runaway(engine::Runaway),
}

/// Run the plan: deliver to `endpoints` with `deliver` (its `pacing` is set from the plan's
/// `speed`/`asap`, and `max_calls_in_flight`, `live` and `cut_off_at` are honoured), calling `on_sample` every `sample_every`.
pub async fn run(
    plan: &Plan,
    deliver: &DeliverOptions,
    endpoints: &Endpoints,
    cancel: CancelToken,
    on_sample: impl FnMut(&Sample),
) -> Result<LoadReport, LoadError> {
    let mut kpis = KpiCollector::new(&plan.scenario.pbx, DEFAULT_SERVICE_LEVEL);
    run_with_truth(plan, deliver, endpoints, cancel, on_sample, None, &mut kpis).await
}

/// [`run`], recording the ground truth of every call as it ends into `truth` (`--truth`) and
/// showing every event and call end to `kpis` on its way to delivery (the report's `kpis`).
pub async fn run_with_truth(
    plan: &Plan,
    deliver: &DeliverOptions,
    endpoints: &Endpoints,
    cancel: CancelToken,
    mut on_sample: impl FnMut(&Sample),
    truth: Option<&mut Recorder>,
    kpis: &mut KpiCollector,
) -> Result<LoadReport, LoadError> {
    let o = &plan.options;
    let speed = o.speed;
    let mut opts = deliver.clone();
    opts.pacing = if o.asap { Pacing::Asap } else { Pacing::Speed(speed) };
    let live = opts.live.get_or_insert_with(|| Arc::new(Live::new())).clone();
    opts.cut_off_at = plan.window.map(|w| w + o.drain);

    // Arrivals end with the window (in PBX time when paced; on the wall clock with asap) and
    // after max_calls.
    let closed = Arc::new(AtomicBool::new(false));
    let mut feed = LoadFeed::new(plan, Some(closed.clone()), truth);

    let started = Instant::now();
    let summary: Summary = {
        let events = (&mut feed).inspect(|item| kpis.observe(item));
        let delivery = deliver::deliver_feed(events, endpoints, &opts, cancel);
        tokio::pin!(delivery);
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + o.sample_every, o.sample_every);
        let asap_window = plan.window.filter(|_| o.asap);
        loop {
            tokio::select! {
                done = &mut delivery => break done?,
                _ = tick.tick() => {
                    let elapsed = started.elapsed();
                    if asap_window.is_some_and(|w| elapsed >= w) {
                        closed.store(true, Ordering::Relaxed);
                    }
                    let sample =
                        live.sample(elapsed, plan.window.map(|w| w.saturating_sub(elapsed)));
                    on_sample(&sample);
                }
            }
        }
    };
    if let Some(runaway) = feed.tripped() {
        return Err(LoadError::Runaway(runaway));
    }
    let engine_stats = feed.stats();
    let mut report = LoadReport::new(plan, deliver.max_calls_in_flight, summary, &engine_stats);
    report.kpis = Some(kpis.kpis());
    Ok(report)
}

/// The plan as a dry run plays it (`load --dry-run`): there is no wall clock, so a window
/// (`--duration`, the stages) bounds the schedule in PBX time (`duration × speed`) with or
/// without `asap`, as a paced run's does.
pub fn dry_run_plan(plan: &Plan) -> Plan {
    let mut plan = plan.clone();
    plan.options.asap = false;
    plan
}

/// The plan's events as NDJSON on `out` instead of sending them (`load --dry-run`), at engine
/// speed: the calls a live run would start (`--max-calls`, the window), its events up to
/// `--max-events`, none at or after the cut-off (`window + drain`, PBX time), written as
/// [`deliver::dry_run::write_ndjson`] (or with `chaos`,
/// [`deliver::dry_run::write_ndjson_chaos`]) writes a scripted run's. `plan` is a [`dry_run_plan`]; `truth` records every call that ends. Returns
/// what was written and the call that would not end, if one tripped the engine's limits.
pub fn write_dry_run(
    plan: &Plan,
    timeline: &crate::time::Timeline,
    format: deliver::dry_run::DryRunFormat,
    overrides: &deliver::Overrides,
    chaos: Option<&crate::scenario::chaos::Chaos>,
    truth: Option<&mut Recorder>,
    out: &mut impl std::io::Write,
) -> (std::io::Result<deliver::dry_run::DryRunCounts>, Option<engine::Runaway>) {
    let o = &plan.options;
    let cut_off =
        plan.window.map(|w| ((w + o.drain).as_secs_f64() * o.speed * 1000.0).ceil() as u64);
    let mut feed = LoadFeed::new(plan, None, truth);
    let scenario = &plan.scenario;
    let written = {
        let items = (&mut feed).take_while(|item| match item {
            engine::feed::Feed::Event(e) => cut_off.is_none_or(|c| e.at < c),
            engine::feed::Feed::CallEnded(_) => true,
        });
        match chaos {
            None => {
                let events = items.filter_map(|item| match item {
                    engine::feed::Feed::Event(e) => Some(e),
                    engine::feed::Feed::CallEnded(_) => None,
                });
                deliver::dry_run::write_ndjson(scenario, timeline, events, format, overrides, out)
            }
            Some(chaos) => deliver::dry_run::write_ndjson_chaos(
                scenario, timeline, items, chaos, format, overrides, out,
            ),
        }
    };
    let runaway = feed.tripped();
    (written, runaway)
}
