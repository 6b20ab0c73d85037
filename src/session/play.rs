//! Playing a scenario's scripted calls to real endpoints with a live view: what `run` and
//! `call` do once their flags are read (a load run's counterpart is [`crate::session::load`]).
//!
//! The calls go through the engine and delivery as they are; the live view is sampled every
//! `sample_every`, with the time left in the scenario when it is paced (its length is known
//! in advance, [`crate::engine::preview`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::deliver::Sample;
use crate::deliver::{self, CancelToken, DeliverError, DeliverOptions, Endpoints, Live, Summary};
use crate::engine::feed::Feed;
use crate::engine::{self, Engine};
use crate::report::kpi::KpiCollector;
use crate::scenario::Scenario;

/// How a scripted run is played.
#[derive(Debug, Clone)]
pub struct PlayOptions {
    pub engine: engine::Options,
    /// Delivery settings; `live` is set if it is not.
    pub deliver: DeliverOptions,
    /// How often `on_sample` is called.
    pub sample_every: Duration,
    /// The scenario's length in wall time at its pacing, when known (paced runs).
    pub length: Option<Duration>,
}

/// The scenario's length in wall time: its last event's virtual time at `speed` (`None`: as
/// fast as possible, which has no length known in advance).
pub fn wall_length(last_at: crate::duration::Millis, speed: Option<f64>) -> Option<Duration> {
    let speed = speed.filter(|s| s.is_finite() && *s > 0.0)?;
    Duration::try_from_secs_f64(last_at as f64 / 1000.0 / speed).ok()
}

/// What a scripted run delivered, and how its calls ended.
#[derive(Debug)]
pub struct Played {
    pub summary: Summary,
    /// The engine's counts: calls by how they ended.
    pub stats: engine::Stats,
}

/// Play the scenario's calls to `endpoints`, calling `on_sample` every `sample_every`,
/// recording the ground truth into `truth` when there is one (`--truth`), and showing every
/// event and call end to `kpis` on its way to delivery.
pub async fn play(
    scenario: Arc<Scenario>,
    options: PlayOptions,
    endpoints: &Endpoints,
    cancel: CancelToken,
    mut on_sample: impl FnMut(&Sample),
    truth: Option<&mut crate::engine::truth::Recorder>,
    kpis: &mut KpiCollector,
) -> Result<Played, DeliverError> {
    let mut opts = options.deliver;
    let live = opts.live.get_or_insert_with(|| Arc::new(Live::new())).clone();
    let mut engine = Engine::new(scenario, options.engine).track_ended_calls();
    let summary = {
        let events = feed(&mut engine, truth).inspect(|item| kpis.observe(item));
        let delivery = deliver::deliver_feed(events, endpoints, &opts, cancel);
        tokio::pin!(delivery);
        let every = options.sample_every.max(Duration::from_millis(10));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let started = Instant::now();
        loop {
            tokio::select! {
                done = &mut delivery => break done?,
                _ = tick.tick() => {
                    let elapsed = started.elapsed();
                    let sample =
                        live.sample(elapsed, options.length.map(|l| l.saturating_sub(elapsed)));
                    on_sample(&sample);
                }
            }
        }
    };
    Ok(Played { summary, stats: engine.stats().clone() })
}

/// The engine's events with its ended calls in between, recorded into `truth` on the way: what
/// [`deliver::with_ended_calls_and_truth`] makes, over a borrowed engine so that its counts can
/// be read once delivery is over.
fn feed<'e, 'a: 'e>(
    engine: &'e mut Engine<'a>,
    mut truth: Option<&'e mut crate::engine::truth::Recorder>,
) -> impl Iterator<Item = Feed> + Send + 'e {
    let mut ended: VecDeque<u64> = VecDeque::new();
    std::iter::from_fn(move || {
        if let Some(call) = ended.pop_front() {
            return Some(Feed::CallEnded(call));
        }
        let next = engine.next();
        if let (Some(e), Some(r)) = (&next, truth.as_deref_mut()) {
            r.event(e);
        }
        while let Some(end) = engine.take_call_end() {
            if let Some(r) = truth.as_deref_mut() {
                r.ended(&end);
            }
            ended.push_back(end.call);
        }
        match next {
            Some(e) => Some(Feed::Event(e)),
            None => ended.pop_front().map(Feed::CallEnded),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wall_length_follows_the_pacing() {
        assert_eq!(wall_length(90_000, Some(1.0)), Some(Duration::from_secs(90)));
        assert_eq!(wall_length(90_000, Some(10.0)), Some(Duration::from_secs(9)));
        assert_eq!(wall_length(90_000, None), None);
    }
}
