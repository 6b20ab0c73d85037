//! Validation against queueing theory: generated Poisson traffic through the engine alone (no
//! HTTP) into one queue of N identical agents must agree with Erlang C (M/M/N), and with
//! impatient callers (M/M/N+M, Erlang A) abandonment must behave as theory says.
//!
//! Every call's wait is measured from its events, `connected_at − call_start_at` (milliseconds;
//! the integer `*_duration` fields are floored to seconds and are not used). The precision of
//! each estimate is the standard error of batch means (consecutive batches of calls, in arrival
//! order, after a warm-up), which accounts for the correlation between neighbouring calls.
//!
//! Debug builds (`cargo test`) simulate fewer calls than release builds; the tolerance follows
//! from the measured standard error either way, and is capped so it cannot grow meaningless.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use pbxsim::duration::Millis;
use pbxsim::engine::arrivals::generate;
use pbxsim::engine::{Engine, Options};
use pbxsim::event::{CallStatus, Event, EventTypeSet, Str};
use pbxsim::pbx::{
    GlobalWebhook, Number, Pbx, Queue, RecordingMode, RecordingSettings, Step, Strategy, User,
};
use pbxsim::scenario::Scenario;
use pbxsim::scenario::traffic::{Arrivals, Distribution, Schedule, TrafficModel};

/// Agents in the queue.
const AGENTS: usize = 10;
/// Mean talk time, seconds.
const MEAN_TALK: f64 = 180.0;
/// The service-level threshold, seconds.
const SL_SECONDS: f64 = 20.0;
const DAY: Millis = 86_400_000;

/// Calls simulated after the warm-up (per 10 % of occupancy: calls are more correlated the
/// busier the queue), and the batches they are split into.
#[cfg(debug_assertions)]
const CALLS: usize = 50_000;
#[cfg(not(debug_assertions))]
const CALLS: usize = 150_000;
const WARMUP: usize = 5_000;
const BATCHES: usize = 20;

// ---- analytic -------------------------------------------------------------------------------

/// Erlang C: the probability that a call waits, with `n` agents and offered load `a` erlangs.
fn erlang_c(n: usize, a: f64) -> f64 {
    assert!(a < n as f64, "the queue must be stable");
    // Σ_{k<n} a^k/k!, and a^n/n!, computed as a running term.
    let (mut sum, mut term) = (0.0, 1.0);
    for k in 0..n {
        sum += term;
        term *= a / (k + 1) as f64;
    }
    let top = term * n as f64 / (n as f64 - a);
    top / (sum + top)
}

struct Theory {
    p_wait: f64,
    service_level: f64,
    asa: f64,
}

/// M/M/N with arrival rate `lambda` and service rate `mu` (per second).
fn theory(n: usize, lambda: f64, mu: f64) -> Theory {
    let c = erlang_c(n, lambda / mu);
    let drain = n as f64 * mu - lambda;
    Theory { p_wait: c, service_level: 1.0 - c * (-drain * SL_SECONDS).exp(), asa: c / drain }
}

#[test]
fn erlang_c_formula_matches_published_values() {
    // Textbook values: C(2, 1) = 1/3; C(10, 8) ≈ 0.4092 (Erlang C tables).
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    assert!((erlang_c(10, 8.0) - 0.4092).abs() < 5e-4, "{}", erlang_c(10, 8.0));
    assert!((erlang_c(1, 0.5) - 0.5).abs() < 1e-12);
}

// ---- simulation -----------------------------------------------------------------------------

/// `AGENTS` users in one queue that never gives up on a caller, on one number.
fn one_queue() -> Scenario {
    let recording = RecordingSettings {
        emails: vec![Str::from("rec@example.com")],
        subject: Str::from("Recording"),
        message: Str::from("Attached"),
        mode: RecordingMode::Email,
    };
    let users = (0..AGENTS)
        .map(|i| User {
            name: Str::from(format!("Agent {i}")),
            extension: Str::from(format!("{}", 2000 + i)),
            record_inbound: false,
            record_outbound: false,
            recording: recording.clone(),
            outbound_cli: None,
        })
        .collect();
    let pbx = Pbx {
        users,
        queues: vec![Queue {
            name: Str::from("Erlang"),
            members: (0..AGENTS).collect(),
            strategy: Strategy::RoundRobin,
            ring_timeout: DAY,
            retry: 0,
            max_wait: 365 * DAY,
            wrapup: 0,
            wrapup_blocks: Default::default(),
            failover: None,
        }],
        numbers: vec![Number {
            number: Str::from("61290000000"),
            flow: vec![Step::Queue { queue: 0, on_timeout: None }],
        }],
        recording,
        ..Pbx::default()
    };
    Scenario {
        name: "erlang".into(),
        pbx,
        webhook: GlobalWebhook { events: EventTypeSet::ALL, ..GlobalWebhook::default() },
        ..Scenario::default()
    }
}

/// Poisson arrivals at `per_hour`, exponential talk, answered the moment an agent rings.
fn traffic(per_hour: f64, patience: Option<Distribution>) -> TrafficModel {
    TrafficModel {
        arrivals: Arrivals::Poisson,
        schedule: Schedule::Constant(per_hour / 3_600.0),
        outbound: 0.0,
        number_weights: vec![1.0],
        unnamed: 1.0,
        talk: Distribution::Exponential { mean: MEAN_TALK * 1_000.0 },
        answer_after: Distribution::Fixed(0),
        patience,
        voicemail: Distribution::Fixed(0),
        no_answer: 0.0,
    }
}

/// What happened to one call in the queue.
#[derive(Debug, Clone, Copy)]
struct Visit {
    /// Milliseconds from the call's start until an agent answered or the caller hung up.
    queued: Millis,
    answered: bool,
}

fn millis(start: DateTime<Utc>, timestamp: &str) -> Millis {
    let at = DateTime::parse_from_rfc3339(timestamp).expect("wire timestamp");
    (at.with_timezone(&Utc) - start).num_milliseconds() as Millis
}

/// Runs `calls` generated calls through the queue; returns each call's visit, by arrival.
fn simulate(model: TrafficModel, calls: usize, seed: u64) -> Vec<Visit> {
    let scenario = one_queue();
    let start: DateTime<Utc> = "2026-03-02T09:00:00Z".parse().expect("valid time");
    let arrivals = generate(model, &scenario.pbx, seed).take(calls);
    let engine = Engine::with_calls(Arc::new(scenario), Options::new(seed, start), arrivals);
    let mut visits: Vec<Option<Visit>> = vec![None; calls];
    for emission in engine {
        let index = emission.call as usize;
        match &emission.event {
            Event::UserInboundAnswered(e) => {
                let queued = millis(start, &e.connected_at) - millis(start, &e.call_start_at);
                visits[index] = Some(Visit { queued, answered: true });
            }
            Event::QueueCall(e) if e.status == CallStatus::Abandoned => {
                assert_eq!(e.connected_at, None);
                let queued = emission.at - millis(start, &e.call_start_at);
                visits[index] = Some(Visit { queued, answered: false });
            }
            Event::QueueCall(e) => assert_eq!(e.status, CallStatus::Answered, "{e:?}"),
            _ => {}
        }
    }
    visits.into_iter().map(|v| v.expect("every call is answered or abandons")).collect()
}

/// The mean of `f` over the calls after the warm-up, and its standard error from batch means.
fn estimate(visits: &[Visit], f: impl Fn(&Visit) -> f64) -> (f64, f64) {
    let measured = &visits[WARMUP..];
    let size = measured.len() / BATCHES;
    let means: Vec<f64> = measured
        .chunks_exact(size)
        .map(|batch| batch.iter().map(&f).sum::<f64>() / size as f64)
        .collect();
    let k = means.len() as f64;
    let mean = means.iter().sum::<f64>() / k;
    let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (mean, (var / k).sqrt())
}

/// Asserts that `simulated` is within 4 standard errors of `analytic`, and that the standard
/// error is below `max_se`, so the check stays tight.
fn agrees(what: &str, (simulated, se): (f64, f64), analytic: f64, max_se: f64) {
    eprintln!("{what}: simulated {simulated:.4} ± {se:.4} (1 s.e.), Erlang {analytic:.4}");
    assert!(se < max_se, "{what}: standard error {se:.4} is not below {max_se}: run longer");
    assert!(
        (simulated - analytic).abs() <= 4.0 * se,
        "{what}: simulated {simulated:.4} differs from the analytic {analytic:.4} by more than \
         4 standard errors ({se:.4} each)"
    );
}

fn check_erlang_c(occupancy: f64, seed: u64) {
    let mu = 1.0 / MEAN_TALK;
    let lambda = occupancy * AGENTS as f64 * mu;
    let expected = theory(AGENTS, lambda, mu);
    let calls = CALLS * (occupancy * 10.0).round() as usize;
    let visits = simulate(traffic(lambda * 3_600.0, None), WARMUP + calls, seed);
    assert!(visits.iter().all(|v| v.answered));
    eprintln!(
        "occupancy {occupancy}: {AGENTS} agents, {:.1} calls/h, mean talk {MEAN_TALK} s, {calls} calls",
        lambda * 3_600.0
    );
    let waited = |v: &Visit| if v.queued > 0 { 1.0 } else { 0.0 };
    let within = |v: &Visit| if v.queued as f64 <= SL_SECONDS * 1_000.0 { 1.0 } else { 0.0 };
    let wait_seconds = |v: &Visit| v.queued as f64 / 1_000.0;
    // Standard errors below 0.0075 (so a tolerance of at most ±0.03) on the probabilities,
    // and below 5 % (±20 %) on the average speed of answer, whose distribution has a long tail.
    agrees("P(wait)", estimate(&visits, waited), expected.p_wait, 0.0075);
    agrees("service level (20 s)", estimate(&visits, within), expected.service_level, 0.0075);
    agrees("ASA (s)", estimate(&visits, wait_seconds), expected.asa, 0.05 * expected.asa);
}

#[test]
fn queue_at_85_percent_occupancy_agrees_with_erlang_c() {
    check_erlang_c(0.85, 85);
}

#[test]
fn queue_at_60_percent_occupancy_agrees_with_erlang_c() {
    check_erlang_c(0.60, 60);
}

/// The abandonment share, and the mean time callers spend queued (answered or not), seconds.
fn abandonment(patience: Option<Distribution>, occupancy: f64) -> ((f64, f64), (f64, f64)) {
    let lambda = occupancy * AGENTS as f64 / MEAN_TALK;
    let calls = WARMUP + CALLS;
    let visits = simulate(traffic(lambda * 3_600.0, patience), calls, 7);
    let abandoned = estimate(&visits, |v| if v.answered { 0.0 } else { 1.0 });
    let queued = estimate(&visits, |v| v.queued as f64 / 1_000.0);
    (abandoned, queued)
}

#[test]
fn impatient_callers_abandon_more_as_patience_falls() {
    let occupancy = 0.95;
    let lambda = occupancy * AGENTS as f64 / MEAN_TALK;
    let p_wait_without_abandonment = erlang_c(AGENTS, lambda * MEAN_TALK);

    let ((never, _), _) = abandonment(None, occupancy);
    assert_eq!(never, 0.0, "callers with infinite patience never abandon");

    let mut shares = Vec::new();
    for mean_patience in [300.0, 90.0, 30.0] {
        let patience = Distribution::Exponential { mean: mean_patience * 1_000.0 };
        let ((share, se), (queued, _)) = abandonment(Some(patience), occupancy);
        let little = queued / mean_patience;
        eprintln!(
            "patience {mean_patience} s: abandoned {share:.4} ± {se:.4}; mean time queued \
             {queued:.2} s, E[queued]/θ = {little:.4}"
        );
        // Only a caller who waits can abandon, and abandonment shortens the queue: the share
        // stays below the Erlang C probability of waiting for the same traffic.
        assert!(share > 0.0 && share < p_wait_without_abandonment, "{share}");
        // Exponential patience (M/M/N+M): callers abandon at rate 1/θ while queued, so by
        // Little's law P(abandon) = E[time queued] / θ, for answered and abandoned callers alike.
        assert!(
            (share - little).abs() <= 4.0 * se + 0.002,
            "P(abandon) {share:.4} vs E[queued]/θ {little:.4}"
        );
        shares.push(share);
    }
    // Less patience, more abandonment, by a clear margin at each step.
    assert!(shares[0] + 0.01 < shares[1] && shares[1] + 0.01 < shares[2], "{shares:?}");
}
