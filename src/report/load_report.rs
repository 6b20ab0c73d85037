//! The report of a load run: what happened, as text for people and as JSON (`--report`) that
//! merges exactly with other reports ([`LoadReport::merge`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::hist::{Hist, fmt_ms};
use super::kpi::Kpis;
use super::run::HoldsReport;
use super::settings::Setting;
use super::trend::Trend;
use crate::deliver::{Summary, Wording};
use crate::engine;
use crate::engine::load_plan::Plan;
use crate::exit::Exit;
use crate::scenario::threshold::Stat;

/// Format version of the JSON report.
pub const REPORT_VERSION: u32 = 1;

/// Everything a load run measured. Serializes to the `--report` JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    pub version: u32,
    /// The scenario's name (`midsize` for the built-in model); merged reports join names.
    pub scenario: String,
    pub seed: u64,
    /// Independent copies of the PBX played (`--tenants`); 1 is left out of the JSON.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub tenants: u32,
    /// The share of the tenants this run sent (`--shard K/N`), absent when it sent them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::engine::load_plan::Shard>,
    /// `open` (calls start on schedule) or `closed` (`--max-calls-in-flight`).
    pub model: String,
    pub max_calls_in_flight: Option<u64>,
    pub compression: Compression,
    pub rate: RateReport,
    /// Wall seconds from the first event read to the last answer.
    pub wall_s: f64,
    /// Wall seconds during which calls could start (`--duration` or the stages), if bounded.
    pub window_s: Option<f64>,
    pub drain_s: f64,
    pub calls: Calls,
    pub events: Events,
    /// Per event type, by wire name.
    pub by_type: BTreeMap<String, TypeReport>,
    /// Every request's result: status codes (`"200"`) and error classes (`"timeout"`).
    pub answers: BTreeMap<String, u64>,
    /// Events that finally failed, by their last result.
    pub failures: BTreeMap<String, u64>,
    /// Corrected latency: each event's intended send time to its answer (paced runs).
    pub latency: Option<Hist>,
    /// Raw latency: request start to answer.
    pub raw_latency: Hist,
    pub interrupted: bool,
    /// With a common start time: how many milliseconds after it this run started its
    /// schedule (0: on time). A merged report holds the latest of its parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_start_ms: Option<u64>,
    /// Every request failed to connect: the target is not there.
    #[serde(default)]
    pub refused_all: bool,
    /// "could not connect to URL (…)", once per URL that refused every connection (secrets
    /// masked).
    #[serde(default)]
    pub unreachable: Option<String>,
    /// Events finally refused with 401/403: per URL, how many, which endpoints, which token
    /// source (`--token`, `PBXSIM_TOKEN`, the file, a webhook object, none) and the fix. Never
    /// the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Threshold verdicts, when thresholds were given: `threshold` (normal form), `actual`
    /// (null: not measured), `actual_text`, `pass`.
    #[serde(default)]
    pub thresholds: Vec<serde_json::Value>,
    /// `--chaos`: what was injected and how the receiver answered, as the summary shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chaos: Option<String>,
    /// `--chaos`: forged requests (wrong or no token) the receiver answered 2xx.
    #[serde(default)]
    pub forged_accepted: u64,
    /// Events held back on purpose (chaos `reorder`/`delay`, the clock), not counted as
    /// latency.
    #[serde(default)]
    pub holds: HoldsReport,
    /// Paced runs: how a call's consecutive events were spaced against the receiver's answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spacing: Option<SpacingReport>,
    /// Contact-centre KPIs per queue and ring group ([`Kpis`]; docs/report.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpis: Option<Kpis>,
    /// The run over time: a row per second ([`Trend`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Trend>,
    /// The run's settings as given on the command line and in the file; never a secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<Setting>,
    /// The built-in receiver's counts and checks as the run printed them, when it took the
    /// events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver_text: Option<String>,
    /// Of the built-in receiver's violations, the incomplete calls cut off at the end.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expected_incomplete: u64,
    /// How the text words its advice (the run's [`Summary::wording`]; the library's default
    /// for a report read back from JSON, until its reader sets its own). Not in the JSON.
    #[serde(skip)]
    pub wording: Wording,
}

/// A start this many milliseconds after the common start time counts as late.
pub const LATE_START_MS: u64 = 100;

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How a call's consecutive events (with time between them) were spaced against the
/// receiver's answers: when the receiver takes longer per event than that spacing, a call's
/// events queue behind each other and the corrected latency grows with `--speed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpacingReport {
    /// Pairs of a call's consecutive events with a gap between their intended times.
    pub pairs: u64,
    /// Of them, the later event was due before the earlier one was answered.
    pub overran: u64,
    /// The gaps, wall time.
    pub gaps: Hist,
}

impl SpacingReport {
    /// Whether at least a tenth of the pairs overran: the receiver's time per event is longer
    /// than the spacing of a call's events.
    pub fn outpaced(&self) -> bool {
        self.overran > 0 && self.overran * 10 >= self.pairs
    }
}

/// How each call's timeline was compressed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Compression {
    /// PBX seconds per wall second.
    pub speed: f64,
    /// Sent as fast as possible (no pacing).
    pub asap: bool,
}

/// Calls started per wall second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateReport {
    pub target_per_s: f64,
    pub achieved_per_s: f64,
    /// achieved / target.
    pub ratio: Option<f64>,
    /// The wall seconds `achieved_per_s` is over: the window calls could start in, or until
    /// the last call started when that was later (the sender fell behind).
    #[serde(default)]
    pub span_s: f64,
}

/// Calls, by what happened to them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calls {
    /// Calls the PBX simulated.
    pub simulated: u64,
    /// Calls whose first event was sent.
    pub started: u64,
    /// Calls that ended within the run.
    pub ended: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub voicemail: u64,
    pub unanswered: u64,
    /// Outbound calls not placed: the user was busy.
    pub busy: u64,
    pub queue_timeouts: u64,
    /// Calls that waited for a slot (closed model).
    pub waited: u64,
    /// Calls never started (closed model, backlog full).
    pub not_started: u64,
    /// Calls in progress when the run's time ran out (or `--max-events` stopped it).
    pub cut_off: u64,
    pub max_in_flight: u64,
}

/// Events, by what happened to them: `generated = delivered + failed + filtered`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Events {
    pub generated: u64,
    pub delivered: u64,
    pub failed: u64,
    pub filtered: u64,
    /// Part of `failed`: not sent because the run's time ran out.
    pub cut_off: u64,
    /// Part of `failed`: interrupted.
    pub cancelled: u64,
    /// Part of `failed`: skipped after an earlier failure of the call.
    pub skipped: u64,
    /// HTTP requests, retries included.
    pub requests: u64,
    pub retries: u64,
}

/// One event type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeReport {
    pub generated: u64,
    pub delivered: u64,
    pub failed: u64,
    pub filtered: u64,
    pub latency: Option<Hist>,
    pub raw_latency: Option<Hist>,
}

impl LoadReport {
    /// Build the report from a finished run of `plan`, delivered with at most
    /// `max_calls_in_flight` calls at a time.
    pub fn new(
        plan: &Plan,
        max_calls_in_flight: Option<usize>,
        s: Summary,
        engine: &engine::Stats,
    ) -> Self {
        let o = &plan.options;
        let unreachable = s.unreachable_message();
        let refused = s.auth_message();
        let wording = s.wording;
        let holds = HoldsReport::from_summary(&s);
        let calls_counts = s.calls.unwrap_or_default();
        let wall = s.wall.as_secs_f64();
        let window = plan.window.map(|w| w.as_secs_f64());
        // Calls started over the time they could start in, stretched by how far the sender had
        // fallen behind the schedule when the last call started (paced runs; a call whose first
        // event comes late because the PBX queued it is not late). Unpaced: until the last call
        // started, when that was later.
        let last_start = calls_counts.last_start.map(|d| d.as_secs_f64());
        let lag = calls_counts.last_start_lag.map(|d| d.as_secs_f64());
        // With --asap every call may start at once: the run's wall time is the only honest span.
        let span = match (window, lag, last_start) {
            _ if o.asap => wall,
            (Some(w), Some(lag), _) => w + lag,
            (Some(w), None, Some(l)) => w.max(l),
            (Some(w), None, None) => w,
            (None, _, l) => l.unwrap_or(wall),
        }
        .max(1e-3);
        // Outbound calls not placed because the user was busy did arrive, with no events.
        let achieved = (calls_counts.started + engine.outbound_skipped_busy) as f64 / span;
        let target = plan.target_rate;
        let mut by_type: BTreeMap<String, TypeReport> = s
            .by_type
            .iter()
            .map(|(name, c)| {
                let t = TypeReport {
                    generated: c.generated,
                    delivered: c.delivered,
                    failed: c.failed,
                    filtered: c.filtered,
                    latency: None,
                    raw_latency: None,
                };
                (name.to_string(), t)
            })
            .collect();
        for t in &s.latency_by_type {
            if let Some(entry) = by_type.get_mut(t.name) {
                entry.raw_latency = Some(Hist(t.raw.clone()));
                entry.latency = t.corrected.clone().map(Hist);
            }
        }
        LoadReport {
            version: REPORT_VERSION,
            scenario: plan.scenario.name.clone(),
            seed: o.seed,
            tenants: o.tenants.max(1),
            shard: o.shard,
            late_start_ms: None,
            model: match max_calls_in_flight {
                Some(_) => "closed".into(),
                None => "open".into(),
            },
            max_calls_in_flight: max_calls_in_flight.map(|m| m as u64),
            compression: Compression { speed: o.speed, asap: o.asap },
            rate: RateReport {
                target_per_s: target,
                achieved_per_s: achieved,
                // With --asap there is no schedule to hold.
                ratio: (target > 0.0 && !o.asap).then(|| achieved / target),
                span_s: span,
            },
            wall_s: wall,
            window_s: window,
            drain_s: o.drain.as_secs_f64(),
            calls: Calls {
                simulated: engine.calls,
                started: calls_counts.started,
                ended: calls_counts.ended,
                answered: engine.answered,
                abandoned: engine.abandoned,
                voicemail: engine.voicemail,
                unanswered: engine.unanswered,
                busy: engine.outbound_skipped_busy,
                queue_timeouts: engine.queue_timeouts,
                waited: calls_counts.waited,
                not_started: calls_counts.not_started,
                cut_off: calls_counts.cut_off,
                max_in_flight: calls_counts.max_in_flight,
            },
            events: Events {
                generated: s.generated,
                delivered: s.delivered,
                failed: s.failed,
                filtered: s.filtered,
                cut_off: s.cut_off,
                cancelled: s.cancelled,
                skipped: s.skipped,
                requests: s.sent,
                retries: s.retries,
            },
            by_type,
            answers: s.answers.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            failures: s.failures.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            latency: s.corrected.map(Hist),
            raw_latency: Hist(s.latency),
            interrupted: s.interrupted,
            refused_all: s.refused_all,
            unreachable,
            refused,
            thresholds: Vec::new(),
            forged_accepted: s.chaos.as_ref().map_or(0, |c| c.forged_accepted),
            chaos: s.chaos.as_ref().map(|c| {
                let mut text = String::new();
                c.render(&mut text);
                text
            }),
            holds,
            kpis: None,
            series: None,
            settings: Vec::new(),
            receiver_text: None,
            expected_incomplete: 0,
            wording,
            spacing: (!o.asap && s.spacing.pairs > 0).then(|| SpacingReport {
                pairs: s.spacing.pairs,
                overran: s.spacing.overran,
                gaps: Hist(s.spacing.gaps.clone()),
            }),
        }
    }

    /// When the receiver's time per event is longer than the spacing of a call's events: one
    /// line saying so, with a lower speed that would space them out ([`Wording::lower_speed`]).
    pub fn spacing_line(&self) -> Option<String> {
        let sp = self.spacing.as_ref().filter(|sp| sp.outpaced())?;
        let gap = sp.gaps.ms(Stat::P50)?;
        let took = self.raw_latency.ms(Stat::P50)?;
        let speed = self.compression.speed;
        // At speed s' the gaps are gap × speed / s'; leave room for twice the receiver's time.
        let fit = (gap * speed / (2.0 * took.max(1e-3))).floor().max(1.0);
        let nice = nice_down(fit.min(speed));
        let suggest = (self.wording.lower_speed)((nice < speed).then_some(nice));
        Some(format!(
            "the receiver takes longer per event (p50 {}) than the time between a call's events \
             at {speed}x (p50 {}): {} of {} were due before the previous one's answer; {suggest}",
            fmt_ms(took),
            fmt_ms(gap),
            sp.overran,
            sp.pairs,
        ))
    }

    /// Why no call started, when none did and the run was not interrupted: such a run tested
    /// nothing, and fails. The fix is in [`LoadReport::wording`]'s words.
    pub fn no_calls(&self) -> Option<String> {
        let k = &self.calls;
        if k.started > 0 || self.interrupted {
            return None;
        }
        let why = if k.busy > 0 {
            format!(
                "the {} that arrived were outbound calls from users already on a call, \
                 which place no call",
                k.busy
            )
        } else if k.not_started > 0 {
            format!("{} waited for a slot and never got one", k.not_started)
        } else {
            match self.window_s.filter(|_| !self.compression.asap) {
                Some(w) => format!(
                    "at {:.4} calls/s for {w:.0} s, {:.3} calls were expected and the first \
                     would arrive later; {}",
                    self.rate.target_per_s,
                    self.rate.target_per_s * w,
                    self.wording.more_calls,
                ),
                None => format!("the traffic produced no call; {}", self.wording.some_calls),
            }
        };
        Some(why)
    }

    /// The latency that thresholds and headlines use: corrected when measured, else raw.
    pub fn headline_latency(&self) -> &Hist {
        self.latency.as_ref().filter(|h| !h.is_empty()).unwrap_or(&self.raw_latency)
    }

    /// Finally failed / (delivered + failed), cut-off events excluded.
    pub fn error_rate(&self) -> Option<f64> {
        let failed = self.events.failed - self.events.cut_off;
        let total = self.events.delivered + failed;
        (total > 0).then(|| failed as f64 / total as f64)
    }

    /// Delivered events per wall second.
    pub fn throughput(&self) -> f64 {
        if self.wall_s > 0.0 { self.events.delivered as f64 / self.wall_s } else { 0.0 }
    }

    /// Events that finally failed for a reason other than the run's time running out.
    pub fn real_failures(&self) -> u64 {
        self.events.failed - self.events.cut_off
    }

    /// How the run ends ([`Exit`]): unreachable when the target refused every connection, interrupted when
    /// interrupted, 1 when a threshold failed or (unless `allow_failures`) an event finally
    /// failed for another reason than the run's time running out; else 0.
    pub fn exit(&self, thresholds_failed: bool, allow_failures: bool) -> Exit {
        let failed = thresholds_failed
            || (self.real_failures() > 0 && !allow_failures)
            || self.forged_accepted > 0;
        let mut exit = Exit::Ok.failed_if(failed);
        if self.interrupted {
            exit = exit.and(Exit::Interrupted);
        }
        if self.refused_all {
            exit = exit.and(Exit::Unreachable);
        }
        exit
    }

    /// Check `thresholds` and keep the verdicts in the report; returns them.
    pub fn check(
        &mut self,
        thresholds: &[crate::scenario::threshold::Threshold],
    ) -> Vec<super::verdict::Verdict> {
        let verdicts = super::verdict::check_all(thresholds, &*self);
        self.thresholds = super::verdict::verdicts_json(&verdicts);
        verdicts
    }

    /// Two reports as one: counts and histograms add (exactly), rates add (runs in
    /// parallel), wall time is the longer one.
    pub fn merge(&self, other: &LoadReport) -> LoadReport {
        let mut m = self.clone();
        if other.scenario != m.scenario {
            m.scenario = format!("{} + {}", m.scenario, other.scenario);
        }
        if other.model != m.model {
            m.model = "mixed".into();
        }
        m.wall_s = m.wall_s.max(other.wall_s);
        m.window_s = match (m.window_s, other.window_s) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        m.rate.target_per_s += other.rate.target_per_s;
        m.rate.achieved_per_s += other.rate.achieved_per_s;
        m.rate.ratio = (m.rate.target_per_s > 0.0 && !m.compression.asap)
            .then(|| m.rate.achieved_per_s / m.rate.target_per_s);
        m.rate.span_s = m.rate.span_s.max(other.rate.span_s);
        m.forged_accepted += other.forged_accepted;
        if m.chaos.is_none() {
            m.chaos.clone_from(&other.chaos);
        }
        let (a, b) = (&mut m.calls, &other.calls);
        a.simulated += b.simulated;
        a.started += b.started;
        a.ended += b.ended;
        a.answered += b.answered;
        a.abandoned += b.abandoned;
        a.voicemail += b.voicemail;
        a.unanswered += b.unanswered;
        a.busy += b.busy;
        a.queue_timeouts += b.queue_timeouts;
        a.waited += b.waited;
        a.not_started += b.not_started;
        a.cut_off += b.cut_off;
        a.max_in_flight += b.max_in_flight;
        let (a, b) = (&mut m.events, &other.events);
        a.generated += b.generated;
        a.delivered += b.delivered;
        a.failed += b.failed;
        a.filtered += b.filtered;
        a.cut_off += b.cut_off;
        a.cancelled += b.cancelled;
        a.skipped += b.skipped;
        a.requests += b.requests;
        a.retries += b.retries;
        for (name, t) in &other.by_type {
            match m.by_type.get_mut(name) {
                None => {
                    m.by_type.insert(name.clone(), t.clone());
                }
                Some(mine) => {
                    mine.generated += t.generated;
                    mine.delivered += t.delivered;
                    mine.failed += t.failed;
                    mine.filtered += t.filtered;
                    add_opt(&mut mine.latency, &t.latency);
                    add_opt(&mut mine.raw_latency, &t.raw_latency);
                }
            }
        }
        for (k, v) in &other.answers {
            *m.answers.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.failures {
            *m.failures.entry(k.clone()).or_default() += v;
        }
        add_opt(&mut m.latency, &other.latency);
        m.raw_latency.add(&other.raw_latency);
        m.interrupted |= other.interrupted;
        m.late_start_ms = match (m.late_start_ms, other.late_start_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        m.refused_all &= other.refused_all;
        if m.refused.is_none() {
            m.refused.clone_from(&other.refused);
        }
        m.thresholds.clear();
        m.holds.merge(&other.holds);
        m.spacing = match (m.spacing.take(), &other.spacing) {
            (Some(mut a), Some(b)) => {
                a.pairs += b.pairs;
                a.overran += b.overran;
                a.gaps.add(&b.gaps);
                Some(a)
            }
            (a, b) => a.or_else(|| b.clone()),
        };
        m.kpis = match (&m.kpis, &other.kpis) {
            (Some(a), Some(b)) => Some(a.merge(b)),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        m.series = match (&m.series, &other.series) {
            (Some(a), Some(b)) => Some(a.merge(b)),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        // One receiver's counts do not describe the merged run.
        m.receiver_text = None;
        m.expected_incomplete += other.expected_incomplete;
        m
    }

    /// What a live `load` prints on stdout after the run: [`LoadReport::render`], then the
    /// built-in receiver's counts when it took the events.
    pub fn text(&self) -> String {
        let mut out = self.render();
        if let Some(stats) = &self.receiver_text {
            out.push_str(&receiver_section(stats, self.expected_incomplete));
        }
        out
    }

    /// The human report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let c = &self.compression;
        let pacing = match c.asap {
            true => "as fast as possible".to_string(),
            false => format!("at {}x", c.speed),
        };
        let model = match self.max_calls_in_flight {
            Some(n) => format!("closed model, at most {n} calls in flight"),
            None => "open model".to_string(),
        };
        let mut parts = String::new();
        if self.tenants > 1 {
            let _ = write!(parts, ", {} tenants", self.tenants);
        }
        if let Some(shard) = self.shard {
            let _ = write!(parts, ", shard {shard}");
        }
        let _ = writeln!(w, "load       {} ({model}), seed {}{parts}", self.scenario, self.seed);
        let setting = |name: &str| self.settings.iter().find(|s| s.name == name);
        if let Some(from) = setting("merged from") {
            let _ = writeln!(w, "merged     {}", from.value);
        }
        match self.late_start_ms {
            Some(ms) if ms > LATE_START_MS => {
                let _ = writeln!(
                    w,
                    "start      {:.3} s late: the schedule started after the common start \
                     time, so this run's calls came that much later than planned",
                    ms as f64 / 1000.0
                );
            }
            Some(ms) => {
                let _ = writeln!(w, "start      on time ({ms} ms after the common start time)");
            }
            None => {}
        }
        if let Some(missing) = setting("missing shards") {
            let _ = writeln!(
                w,
                "missing    shards {}: their calls are not in this report",
                missing.value
            );
        }
        let _ = writeln!(
            w,
            "time       {:.1} s wall{}, drain limit {:.0} s; calls compressed {} ({})",
            self.wall_s,
            self.window_s.map_or(String::new(), |s| format!(", calls started for {s:.1} s")),
            self.drain_s,
            pacing,
            match c.speed {
                _ if c.asap => format!("built at {}x", c.speed),
                s if s > 0.0 => format!("a 3-minute call lasts {:.1} s", 180.0 / s),
                _ => String::new(),
            }
        );
        let ratio = self.rate.ratio.map_or(String::new(), |r| format!(" ({:.1}%)", r * 100.0));
        match c.asap {
            // No target and no schedule: calls over the run's whole wall time.
            true => {
                let _ = writeln!(
                    w,
                    "rate       as fast as possible: {} in {:.2} s ({:.1} calls/s over the run)",
                    crate::deliver::plural(self.calls.started + self.calls.busy, "call", "calls"),
                    self.wall_s,
                    self.rate.achieved_per_s
                );
            }
            false => {
                let _ = writeln!(
                    w,
                    "rate       target {:.2} calls/s, achieved {:.2} calls/s{ratio}",
                    self.rate.target_per_s, self.rate.achieved_per_s
                );
            }
        }
        let k = &self.calls;
        let _ = writeln!(
            w,
            "calls      started {}  ended {}  cut off {}  (simulated {}, max in flight {})",
            k.started, k.ended, k.cut_off, k.simulated, k.max_in_flight
        );
        let _ = writeln!(
            w,
            "outcomes   answered {}  abandoned {}  voicemail {}  unanswered {}  busy {}  \
             (queue timeouts {})",
            k.answered, k.abandoned, k.voicemail, k.unanswered, k.busy, k.queue_timeouts
        );
        if k.waited > 0 || k.not_started > 0 {
            let _ = writeln!(
                w,
                "           waited for a slot {}  not started (backlog full) {}",
                k.waited, k.not_started
            );
        }
        let e = &self.events;
        let _ = writeln!(
            w,
            "events     generated {}  delivered {}  failed {}  filtered {}  ({:.1}/s delivered)",
            e.generated,
            e.delivered,
            e.failed,
            e.filtered,
            self.throughput()
        );
        if e.cut_off + e.cancelled + e.skipped > 0 {
            let _ = writeln!(
                w,
                "           of the failed: cut off {}  cancelled {}  skipped {}",
                e.cut_off, e.cancelled, e.skipped
            );
        }
        let _ = writeln!(w, "requests   {} ({} retries)", e.requests, e.retries);
        if !self.answers.is_empty() {
            let _ = writeln!(w, "answers    {}", join_counts(&self.answers));
        }
        if !self.failures.is_empty() {
            let _ = writeln!(w, "failed     by last error: {}", join_counts(&self.failures));
        }
        if let Some(chaos) = &self.chaos {
            w.push_str(chaos);
        }
        let stats = &Stat::ALL[..6];
        if let Some(h) = &self.latency {
            let _ =
                writeln!(w, "latency    {}  (corrected: from intended send time)", h.line(stats));
        }
        let _ =
            writeln!(w, "raw        {}  (request start to answer)", self.raw_latency.line(stats));
        if let Some(line) = self.holds.line() {
            let _ = writeln!(w, "           {line}");
        }
        if let Some(line) = self.spacing_line() {
            let _ = writeln!(w, "spacing    {line}");
        }
        if !self.by_type.is_empty() {
            let width = self.by_type.keys().map(|n| n.len()).max().unwrap_or(0);
            let label = if self.latency.is_some() { "corrected" } else { "raw" };
            let _ = writeln!(
                w,
                "by type    {:width$}  {:>9}  {:>6}  {:>9}  {:>9}  {:>9}  {:>9}  ({label})",
                "", "delivered", "failed", "p50", "p99", "p99.9", "max"
            );
            for (name, t) in &self.by_type {
                let h = t.latency.as_ref().or(t.raw_latency.as_ref());
                let cell = |q| h.and_then(|h| h.ms(q)).map_or("-".into(), fmt_ms);
                let _ = writeln!(
                    w,
                    "           {name:width$}  {:>9}  {:>6}  {:>9}  {:>9}  {:>9}  {:>9}",
                    t.delivered,
                    t.failed,
                    cell(Stat::P50),
                    cell(Stat::P99),
                    cell(Stat::P999),
                    cell(Stat::Max)
                );
            }
        }
        if let Some(kpis) = &self.kpis {
            w.push_str(&kpis.render());
        }
        if self.interrupted {
            let _ = writeln!(w, "interrupted before the end of the run");
        }
        for line in self.refused.iter().flat_map(|r| r.lines()) {
            let _ = writeln!(w, "refused    {line}");
        }
        if !self.thresholds.is_empty() {
            let _ = writeln!(w, "thresholds");
            for v in &self.thresholds {
                let word = if v["pass"].as_bool() == Some(true) { "pass" } else { "fail" };
                let text = v["threshold"].as_str().unwrap_or_default();
                let actual = v["actual_text"].as_str().unwrap_or_default();
                let _ = writeln!(w, "           {word}  {text}  ({actual})");
            }
        }
        out
    }
}

/// The built-in receiver's part of a run's text: a blank line, `built-in receiver`, its counts
/// (`stats`, as [`ReceiverStats`](crate::receiver::ReceiverStats) displays them), and a note
/// when some of its violations are incomplete calls cut off at the end.
pub fn receiver_section(stats: &str, expected_incomplete: u64) -> String {
    let mut out = format!("\nbuilt-in receiver\n{stats}\n");
    if expected_incomplete > 0 {
        let what = match expected_incomplete {
            1 => "violation is of a call",
            _ => "violations are of calls",
        };
        let _ = writeln!(out, "({expected_incomplete} incomplete-call {what} cut off at the end)");
    }
    out
}

/// `n` rounded down to one significant digit: 437 → 400, 62 → 60, 7 → 7.
fn nice_down(n: f64) -> f64 {
    if n < 10.0 {
        return n.floor().max(1.0);
    }
    let unit = 10f64.powi(n.log10().floor() as i32);
    (n / unit).floor() * unit
}

fn add_opt(mine: &mut Option<Hist>, theirs: &Option<Hist>) {
    match (mine.as_mut(), theirs) {
        (Some(a), Some(b)) => a.add(b),
        (None, Some(b)) => *mine = Some(b.clone()),
        _ => {}
    }
}

fn join_counts(map: &BTreeMap<String, u64>) -> String {
    let items: Vec<String> = map.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    items.join(", ")
}

impl super::verdict::Measure for LoadReport {
    /// Latency in ms (corrected where measured, else raw; `_raw` always raw), `error_rate` over
    /// delivered + finally failed events (cut-off events excluded), `rate` as achieved / target
    /// call-start rate, `throughput` in delivered events per wall second.
    fn measure(&self, metric: crate::scenario::threshold::Metric) -> Option<f64> {
        use crate::scenario::threshold::Metric;
        match metric {
            Metric::Latency(stat) => self.headline_latency().ms(stat),
            Metric::RawLatency(stat) => self.raw_latency.ms(stat),
            Metric::ErrorRate => self.error_rate(),
            Metric::Rate => self.rate.ratio,
            Metric::Throughput => (self.events.delivered + self.real_failures() > 0
                && self.wall_s > 0.0)
                .then(|| self.throughput()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn hist(from: u64, n: u64) -> Hist {
        let mut h = Hist::default();
        for i in 0..n {
            h.0.record(from + i * 37).unwrap();
        }
        h
    }

    /// A small report of seed `k` whose counts grow with `k` (also for merge's tests).
    pub(crate) fn report(k: u64) -> LoadReport {
        let mut by_type = BTreeMap::new();
        by_type.insert(
            "queue_call".to_string(),
            TypeReport {
                generated: 10 * k,
                delivered: 9 * k,
                failed: k,
                filtered: 0,
                latency: Some(hist(500 * k, 9 * k)),
                raw_latency: Some(hist(100 * k, 9 * k)),
            },
        );
        LoadReport {
            version: REPORT_VERSION,
            scenario: "midsize".into(),
            seed: k,
            tenants: 1,
            shard: None,
            late_start_ms: None,
            model: "open".into(),
            max_calls_in_flight: None,
            compression: Compression { speed: 60.0, asap: false },
            rate: RateReport {
                target_per_s: 10.0,
                achieved_per_s: 9.0 + k as f64,
                ratio: None,
                span_s: 10.0,
            },
            wall_s: 10.0 + k as f64,
            window_s: Some(10.0),
            drain_s: 30.0,
            calls: Calls {
                simulated: 3 * k,
                started: 3 * k,
                ended: 3 * k,
                answered: 3 * k,
                ..Calls::default()
            },
            events: Events { generated: 10 * k, delivered: 9 * k, failed: k, ..Events::default() },
            by_type,
            answers: [("200".to_string(), 9 * k), ("503".to_string(), k)].into_iter().collect(),
            failures: [("503".to_string(), k)].into_iter().collect(),
            latency: Some(hist(500 * k, 9 * k)),
            raw_latency: hist(100 * k, 9 * k),
            interrupted: false,
            refused_all: false,
            unreachable: None,
            refused: None,
            thresholds: Vec::new(),
            chaos: None,
            forged_accepted: 0,
            holds: HoldsReport::default(),
            spacing: None,
            kpis: None,
            series: None,
            settings: Vec::new(),
            receiver_text: None,
            expected_incomplete: 0,
            wording: Wording::default(),
        }
    }

    #[test]
    fn a_receiver_slower_than_a_calls_spacing_gets_one_line_and_a_speed() {
        let mut r = report(1);
        r.compression.speed = 2000.0;
        r.raw_latency = hist(30_000, 50);
        let mut gaps = Hist::default();
        for _ in 0..100 {
            gaps.0.record(5_000).unwrap();
        }
        r.spacing = Some(SpacingReport { pairs: 100, overran: 90, gaps: gaps.clone() });
        let line = r.spacing_line().expect("the receiver is outpaced");
        assert!(line.contains("at 2000x") && line.contains("90 of 100"), "{line}");
        // gap 5 ms × 2000 / (2 × ~31 ms) ≈ 160 → 100.
        assert!(line.ends_with("; a lower speed, like 100, spaces them out"), "{line}");
        assert!(r.render().contains("spacing    the receiver takes longer"));
        // Few overruns: no line.
        r.spacing = Some(SpacingReport { pairs: 100, overran: 5, gaps });
        assert_eq!(r.spacing_line(), None);
        r.spacing = None;
        assert_eq!(r.spacing_line(), None);
        assert_eq!(nice_down(437.0), 400.0);
        assert_eq!(nice_down(7.9), 7.0);
    }

    #[test]
    fn merged_json_reports_equal_the_merge_of_the_runs() {
        let (a, b) = (report(1), report(2));
        let via_json = |r: &LoadReport| -> LoadReport {
            serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap()
        };
        let merged = via_json(&a).merge(&via_json(&b));
        assert_eq!(merged, a.merge(&b));
        assert_eq!(merged.events.delivered, 27);
        assert_eq!(merged.answers["503"], 3);
        assert_eq!(merged.rate.ratio, Some(21.0 / 20.0));
        // The histograms are those of both runs together, bucket for bucket.
        let mut both = hist(100, 9);
        both.add(&hist(200, 18));
        assert_eq!(merged.raw_latency, both);
        assert_eq!(merged.raw_latency.ms(Stat::P99), both.ms(Stat::P99));
        assert_eq!(merged.by_type["queue_call"].raw_latency.as_ref(), Some(&both));
        assert_eq!(merged.error_rate(), Some(3.0 / 30.0));
        assert_eq!(via_json(&merged), merged);
    }
}
