//! The report of a scripted run (`pbxsim run`): its delivery summary, threshold verdicts and
//! the built-in receiver's counts as one JSON document (`--report FILE.json`,
//! `--output json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::hist::Hist;
use super::verdict::{Verdict, verdicts_json};
use crate::deliver::{Holds, Summary};
use crate::time::{Anchor, AnchorKind};

/// Format version of the run report.
pub const RUN_REPORT_VERSION: u32 = 1;

/// Everything a scripted run measured. Serializes to the `run --report` JSON.
#[derive(Debug, Clone, Serialize)]
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
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pacing {
    /// Virtual seconds per wall second; null with `asap`.
    pub speed: Option<f64>,
    pub asap: bool,
    /// The scenario's length in wall seconds at this pacing, when known.
    pub length_s: Option<f64>,
}

/// Where the PBX clock started ([`Anchor`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Clock {
    /// RFC 3339, UTC.
    pub start: String,
    /// `pinned` (the file or `--start-time`) or `anchored` (to the wall clock).
    pub anchor: &'static str,
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
                Clock { start, anchor: "pinned", lead_ms: None, horizon_ms: None }
            }
            AnchorKind::Anchored { lead, horizon } => {
                Clock { start, anchor: "anchored", lead_ms: Some(lead), horizon_ms: horizon }
            }
        }
    }
}

/// Events, by what happened to them: `generated = delivered + failed + filtered`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Events {
    pub generated: u64,
    pub delivered: u64,
    pub failed: u64,
    pub filtered: u64,
    /// Part of `failed`: skipped after an earlier failure of the call.
    pub skipped: u64,
    /// Part of `failed`: interrupted.
    pub cancelled: u64,
    /// HTTP requests, retries included.
    pub requests: u64,
    pub retries: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TypeCounts {
    pub generated: u64,
    pub delivered: u64,
    pub failed: u64,
    pub filtered: u64,
}

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

#[derive(Debug, Clone, PartialEq, Serialize)]
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
                requests: s.sent,
                retries: s.retries,
            },
            by_type: s
                .by_type
                .iter()
                .map(|(name, c)| {
                    let t = TypeCounts {
                        generated: c.generated,
                        delivered: c.delivered,
                        failed: c.failed,
                        filtered: c.filtered,
                    };
                    (name.to_string(), t)
                })
                .collect(),
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
            chaos: s.chaos.as_ref().map(|c| {
                let mut text = String::new();
                c.render(&mut text);
                text
            }),
            forged_accepted: s.chaos.as_ref().map_or(0, |c| c.forged_accepted),
            thresholds: verdicts_json(verdicts),
            receiver,
            exit_code,
        }
    }
}
