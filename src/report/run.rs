//! The report of a scripted run (`pbxsim run`): its delivery summary, threshold verdicts and
//! the built-in receiver's counts as one JSON document (`--report FILE.json`,
//! `--output json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::hist::Hist;
use super::kpi::Kpis;
use super::settings::Setting;
use super::trend::Trend;
use super::verdict::{Verdict, verdicts_json};
use crate::deliver::{Holds, JournalView, Summary, SummaryView};
use crate::time::{Anchor, AnchorKind};

/// Format version of the run report.
pub const RUN_REPORT_VERSION: u32 = 1;

/// Everything a scripted run measured. Serializes to the `run --report` JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub version: u32,
    /// `run` or `call`.
    pub command: String,
    pub scenario: String,
    pub seed: u64,
    /// Scripted calls played.
    pub calls: u64,
    pub pacing: Pacing,
    pub clock: Clock,
    pub events: Events,
    /// Per event type, by wire name.
    pub by_type: BTreeMap<String, TypeCounts>,
    /// Every request's result: status codes (`"200"`) and error classes (`"timeout"`).
    pub answers: BTreeMap<String, u64>,
    /// Events that finally failed, by their last result.
    pub failures: BTreeMap<String, u64>,
    /// Corrected latency (paced runs): each event's intended send time (after any deliberate
    /// hold) to its answer.
    pub latency: Option<Hist>,
    /// Raw latency: request start to answer.
    pub raw_latency: Hist,
    /// Events held back on purpose, not counted as latency.
    pub holds: HoldsReport,
    /// Wall seconds from the first event read to the last answer.
    pub wall_s: f64,
    /// Delivered events per wall second.
    pub events_per_s: f64,
    pub interrupted: bool,
    pub refused_all: bool,
    /// "could not connect to URL (…)", per endpoint that refused every connection.
    pub unreachable: Option<String>,
    /// `--failed`: the journal written.
    pub journal: Option<Journal>,
    /// `--chaos`: what was injected and how the receiver answered, as the summary shows it.
    pub chaos: Option<String>,
    /// `--chaos`: forged requests (wrong or no token) the receiver answered 2xx.
    pub forged_accepted: u64,
    /// Threshold verdicts (`[expect]` and `--threshold`): `threshold`, `actual` (null: not
    /// measured), `actual_text`, `pass`.
    pub thresholds: Vec<serde_json::Value>,
    /// The built-in receiver's counts and conformance summary, when it took the events.
    pub receiver: Option<serde_json::Value>,
    /// The run's exit code.
    pub exit_code: u8,
    /// Paced runs: how late each event's first attempt started against its paced time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lateness: Option<Hist>,
    /// Events finally refused with 401/403: per URL, how many, which endpoints, which token
    /// source and the fix. Never the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Calls by how they ended, as the engine played them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcomes: Option<CallOutcomes>,
    /// Contact-centre KPIs per queue and ring group (docs/report.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpis: Option<Kpis>,
    /// The run over time: a row per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Trend>,
    /// The run's settings as given; never a secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<Setting>,
    /// The built-in receiver's counts and checks as the run printed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver_text: Option<String>,
}

/// Calls by how they ended ([`crate::engine::Stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOutcomes {
    pub answered: u64,
    pub abandoned: u64,
    pub voicemail: u64,
    pub unanswered: u64,
    /// Outbound calls not placed: the user was busy.
    pub busy: u64,
    pub queue_timeouts: u64,
}

impl From<&crate::engine::Stats> for CallOutcomes {
    fn from(s: &crate::engine::Stats) -> Self {
        CallOutcomes {
            answered: s.answered,
            abandoned: s.abandoned,
            voicemail: s.voicemail,
            unanswered: s.unanswered,
            busy: s.outbound_skipped_busy,
            queue_timeouts: s.queue_timeouts,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pacing {
    /// Virtual seconds per wall second; null with `asap`.
    pub speed: Option<f64>,
    pub asap: bool,
    /// The scenario's length in wall seconds at this pacing, when known.
    pub length_s: Option<f64>,
}

/// Where the PBX clock started ([`Anchor`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clock {
    /// RFC 3339, UTC.
    pub start: String,
    /// `pinned` (the file or `--start-time`) or `anchored` (to the wall clock).
    pub anchor: String,
    /// Anchored: how far before the run's start the clock starts, in ms.
    pub lead_ms: Option<u64>,
    /// The virtual time of the last event, in ms, when known in advance.
    pub horizon_ms: Option<u64>,
}

impl From<&Anchor> for Clock {
    fn from(a: &Anchor) -> Self {
        let start = a.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match a.kind {
            AnchorKind::Pinned => {
                Clock { start, anchor: "pinned".into(), lead_ms: None, horizon_ms: None }
            }
            AnchorKind::Anchored { lead, horizon } => {
                let anchor = "anchored".into();
                Clock { start, anchor, lead_ms: Some(lead), horizon_ms: horizon }
            }
        }
    }
}

/// Events, by what happened to them: `generated = delivered + failed + filtered`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Events {
    pub generated: u64,
    pub delivered: u64,
    pub failed: u64,
    pub filtered: u64,
    /// Part of `failed`: skipped after an earlier failure of the call.
    pub skipped: u64,
    /// Part of `failed`: interrupted.
    pub cancelled: u64,
    /// Part of `failed`: not sent because the run's time ran out.
    #[serde(default)]
    pub cut_off: u64,
    /// HTTP requests, retries included.
    pub requests: u64,
    pub retries: u64,
}

/// Per-type counts: delivery's own, as the report carries them.
pub use crate::deliver::TypeCounts;

/// Deliberate holds: chaos `reorder`/`delay` (and the events of their calls held behind
/// them), and waits for the wall clock to reach an event's time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HoldsReport {
    pub chaos: HoldCounts,
    pub clock: HoldCounts,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HoldCounts {
    pub events: u64,
    pub total_ms: f64,
    pub max_ms: f64,
}

impl HoldsReport {
    pub fn from_summary(s: &Summary) -> Self {
        HoldsReport {
            chaos: HoldCounts::from(&s.chaos_holds),
            clock: HoldCounts::from(&s.clock_holds),
        }
    }

    /// Both runs' holds together.
    pub fn merge(&mut self, other: &HoldsReport) {
        self.chaos.merge(&other.chaos);
        self.clock.merge(&other.clock);
    }

    /// The holds for people; `None` when nothing was held.
    pub fn line(&self) -> Option<String> {
        crate::deliver::holds_line(&self.chaos.holds(), &self.clock.holds())
    }
}

impl HoldCounts {
    fn holds(&self) -> Holds {
        let d = |ms: f64| std::time::Duration::from_secs_f64(ms.max(0.0) / 1000.0);
        Holds { events: self.events, total: d(self.total_ms), max: d(self.max_ms) }
    }

    fn merge(&mut self, other: &HoldCounts) {
        self.events += other.events;
        self.total_ms += other.total_ms;
        self.max_ms = self.max_ms.max(other.max_ms);
    }
}

impl From<&Holds> for HoldCounts {
    fn from(h: &Holds) -> Self {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        HoldCounts { events: h.events, total_ms: ms(h.total), max_ms: ms(h.max) }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub path: String,
    pub lines: u64,
    pub error: Option<String>,
}

/// What a run report is built from besides its summary.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub command: String,
    pub scenario: String,
    pub seed: u64,
    pub calls: u64,
    pub pacing: Pacing,
    pub anchor: Anchor,
}

impl RunReport {
    pub fn new(
        info: RunInfo,
        s: &Summary,
        verdicts: &[Verdict],
        receiver: Option<serde_json::Value>,
        exit_code: u8,
    ) -> Self {
        RunReport {
            version: RUN_REPORT_VERSION,
            command: info.command,
            scenario: info.scenario,
            seed: info.seed,
            calls: info.calls,
            pacing: info.pacing,
            clock: Clock::from(&info.anchor),
            events: Events {
                generated: s.generated,
                delivered: s.delivered,
                failed: s.failed,
                filtered: s.filtered,
                skipped: s.skipped,
                cancelled: s.cancelled,
                cut_off: s.cut_off,
                requests: s.sent,
                retries: s.retries,
            },
            by_type: s.by_type.iter().map(|(name, c)| (name.to_string(), *c)).collect(),
            answers: s.answers.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            failures: s.failures.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            latency: s.corrected.clone().map(Hist),
            raw_latency: Hist(s.latency.clone()),
            holds: HoldsReport::from_summary(s),
            wall_s: s.wall.as_secs_f64(),
            events_per_s: s.events_per_second(),
            interrupted: s.interrupted,
            refused_all: s.refused_all,
            unreachable: s.unreachable_message(),
            journal: s.journal.as_ref().map(|j| Journal {
                path: j.path.display().to_string(),
                lines: j.lines,
                error: j.error.clone(),
            }),
            chaos: s.chaos_text(),
            forged_accepted: s.chaos.as_ref().map_or(0, |c| c.forged_accepted),
            thresholds: verdicts_json(verdicts),
            receiver,
            exit_code,
            lateness: s.lateness.clone().map(Hist),
            refused: s.auth_message(),
            outcomes: None,
            kpis: None,
            series: None,
            settings: Vec::new(),
            receiver_text: None,
        }
    }

    /// What a live `run` prints on stdout after the run, in two parts: [`Self::summary_text`],
    /// then [`Self::tail_text`].
    pub fn text(&self) -> String {
        self.summary_text() + &self.tail_text()
    }

    /// The delivery summary, as [`Summary::render`] writes it, then the KPI table.
    pub fn summary_text(&self) -> String {
        let mut out = self.view().render();
        if let Some(kpis) = &self.kpis {
            out.push_str(&kpis.render());
        }
        out
    }

    /// The delivery summary's fields, for [`SummaryView::render`] (the renderer
    /// [`Summary::render`] uses too).
    fn view(&self) -> SummaryView<'_> {
        let e = &self.events;
        let mut by_type: Vec<(&str, TypeCounts)> =
            self.by_type.iter().map(|(name, c)| (name.as_str(), *c)).collect();
        by_type.sort_by_key(|(name, _)| type_order(name));
        SummaryView {
            generated: e.generated,
            delivered: e.delivered,
            failed: e.failed,
            filtered: e.filtered,
            skipped: e.skipped,
            cancelled: e.cancelled,
            cut_off: e.cut_off,
            sent: e.requests,
            retries: e.retries,
            answers: outcome_counts(&self.answers),
            failures: outcome_counts(&self.failures),
            by_type,
            latency: Some(&self.raw_latency.0),
            corrected: self.latency.as_ref().map(|h| &h.0),
            holds: self.holds.line(),
            lateness: self.lateness.as_ref().map(|h| &h.0),
            wall_s: self.wall_s,
            events_per_s: self.events_per_s,
            chaos: self.chaos.clone(),
            journal: self.journal.as_ref().map(|j| JournalView {
                path: j.path.clone(),
                lines: j.lines,
                error: j.error.as_deref(),
            }),
            interrupted: self.interrupted,
            refused: self.refused.clone(),
        }
    }

    /// The thresholds' verdicts (`thresholds 1 passed, 1 failed` and a line each), then the
    /// built-in receiver's counts.
    pub fn tail_text(&self) -> String {
        let mut out = String::new();
        if !self.thresholds.is_empty() {
            out.push_str(&super::verdict::render_with_count(&super::verdict::verdicts_from_json(
                &self.thresholds,
            )));
        }
        if let Some(stats) = &self.receiver_text {
            out.push_str(&super::load_report::receiver_section(stats, 0));
        }
        out
    }
}

/// Answers and failures in the order [`Summary::render`] lists them: status codes, then
/// `connect error`, `connection broken`, `timeout`, `skipped`, `cancelled`, `no endpoint`,
/// `cut off`.
fn outcome_counts(map: &BTreeMap<String, u64>) -> String {
    const CLASSES: [&str; 7] = [
        "connect error",
        "connection broken",
        "timeout",
        "skipped",
        "cancelled",
        "no endpoint",
        "cut off",
    ];
    let key = |k: &str| match k.parse::<u32>() {
        Ok(code) => (0, code, String::new()),
        Err(_) => match CLASSES.iter().position(|c| *c == k) {
            Some(i) => (1, i as u32, String::new()),
            None => (2, 0, k.to_string()),
        },
    };
    let mut items: Vec<(&String, &u64)> = map.iter().collect();
    items.sort_by_key(|(k, _)| key(k));
    let items: Vec<String> = items.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    items.join(", ")
}

/// The vendor document's order of event types, `other` last.
fn type_order(name: &str) -> usize {
    name.parse::<crate::event::EventType>().map_or(usize::MAX, |t| t.index())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::{
        AuthFailure, CallCounts, JournalInfo, Outcome, Spacing, TokenSource, TypeCounts as Counts,
        new_histogram,
    };
    use std::time::Duration;

    fn hist(values: &[u64]) -> hdrhistogram::Histogram<u64> {
        let mut h = new_histogram();
        for v in values {
            h.record(*v).unwrap();
        }
        h
    }

    /// A summary with every part the text shows.
    fn summary() -> Summary {
        let counts = |g, d, f| Counts { generated: g, delivered: d, failed: f, filtered: 0 };
        Summary {
            generated: 20,
            delivered: 14,
            failed: 6,
            filtered: 0,
            skipped: 1,
            cancelled: 1,
            cut_off: 1,
            sent: 25,
            retries: 5,
            by_type: vec![
                ("user_inbound", counts(8, 6, 2)),
                ("queue_call", counts(7, 5, 2)),
                ("webhook_component_event", counts(5, 3, 2)),
            ],
            answers: [
                (Outcome::Status(200), 14),
                (Outcome::Status(503), 5),
                (Outcome::Timeout, 3),
                (Outcome::CutOff, 1),
                (Outcome::Connect, 2),
            ]
            .into_iter()
            .collect(),
            failures: [(Outcome::Status(503), 3), (Outcome::Skipped, 1), (Outcome::Timeout, 2)]
                .into_iter()
                .collect(),
            latency: hist(&[900, 1_500, 12_000, 250_000]),
            lateness: Some(hist(&[100, 200, 40_000])),
            corrected: Some(hist(&[1_000, 2_000, 30_000])),
            latency_by_type: Vec::new(),
            calls: Some(CallCounts::default()),
            wall: Duration::from_millis(2_345),
            interrupted: true,
            unreachable: Vec::new(),
            auth_failures: vec![AuthFailure {
                url: "http://127.0.0.1:9/hook?token=***".into(),
                endpoints: vec!["global events".into()],
                token: TokenSource::Flag,
                unauthorized: 2,
                forbidden: 0,
            }],
            refused_all: false,
            journal: Some(JournalInfo { path: "failed.ndjson".into(), lines: 6, error: None }),
            chaos: None,
            chaos_holds: Holds {
                events: 2,
                total: Duration::from_millis(1500),
                max: Duration::from_secs(1),
            },
            clock_holds: Holds::default(),
            spacing: Spacing::default(),
            wording: Default::default(),
        }
    }

    #[test]
    fn the_reports_text_is_the_summarys_also_after_a_round_trip_through_json() {
        let s = summary();
        let info = RunInfo {
            command: "run".into(),
            scenario: "quickstart".into(),
            seed: 1,
            calls: 3,
            pacing: Pacing { speed: Some(10.0), asap: false, length_s: Some(4.0) },
            anchor: Anchor::pinned(chrono::DateTime::UNIX_EPOCH),
        };
        let report = RunReport::new(info, &s, &[], None, 1);
        assert_eq!(report.summary_text(), s.render());
        let json = serde_json::to_string(&report).unwrap();
        let back: RunReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back.summary_text(), s.render(), "{json}");
        let text = s.render();
        for part in ["skipped 1", "cut off 1", "lateness", "journal", "refused", "held back"] {
            assert!(text.contains(part), "the test covers {part}: {text}");
        }
        // The types keep the vendor document's order, the answers the summary's.
        assert!(text.find("user_inbound ").unwrap() < text.find("queue_call").unwrap());
        assert!(
            text.contains("200: 14, 503: 5, connect error: 2, timeout: 3, cut off: 1"),
            "{text}"
        );
    }
}
