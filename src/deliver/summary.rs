//! Accounting: what happened to every event and every request, merged into a [`Summary`] with
//! a human rendering and the run's exit code.
//!
//! Every event read from the stream ends in exactly one of three places, so
//! `generated = delivered + failed + filtered` always holds:
//! - **delivered**: an attempt got a 2xx answer;
//! - **failed**: the last attempt failed, or the event was never attempted because an earlier
//!   event of its call failed (`skipped`, with `stop_call_on_failure`) or because the run was
//!   interrupted (`cancelled`); both are counted inside `failed` as well as on their own;
//! - **filtered**: a global event whose type is not ticked in the scenario's webhook settings.
//!
//! `sent` counts HTTP requests made, retries included; `retries = sent − first attempts`.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::endpoint::{Label, TokenSource};
use super::wording::Wording;
use crate::event::EventType;
use crate::exit::Exit;

/// The result of one attempt, or the reason an event finally failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// The receiver answered with this status code.
    Status(u16),
    /// No connection: refused, unreachable, name not found, or the TLS handshake failed.
    Connect,
    /// The connection broke before the answer arrived.
    Broken,
    /// No answer within the timeout.
    Timeout,
    /// Not sent: an earlier event of the same call finally failed (`stop_call_on_failure`).
    Skipped,
    /// Not sent, or cut off, because the run was interrupted.
    Cancelled,
    /// The event names a webhook object the endpoints do not have.
    NoEndpoint,
    /// Not sent because the run's time ran out: the drain limit after `--duration` passed, or
    /// `--max-events` stopped the stream. Not an interruption.
    CutOff,
}

impl Outcome {
    /// Whether this is a delivery (a 2xx answer).
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Status(200..=299))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Status(code) => write!(f, "{code}"),
            Outcome::Connect => f.write_str("connect error"),
            Outcome::Broken => f.write_str("connection broken"),
            Outcome::Timeout => f.write_str("timeout"),
            Outcome::Skipped => f.write_str("skipped"),
            Outcome::Cancelled => f.write_str("cancelled"),
            Outcome::NoEndpoint => f.write_str("no endpoint"),
            Outcome::CutOff => f.write_str("cut off"),
        }
    }
}

/// Per-type counts. `generated = delivered + failed + filtered` holds per type too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TypeCounts {
    pub generated: u64,
    pub delivered: u64,
    pub failed: u64,
    pub filtered: u64,
}

/// Index of the "other" bucket: replayed bodies whose `type` is not one of the 12.
pub(crate) const OTHER_KIND: u8 = 12;
pub(crate) const KINDS: usize = 13;

pub(crate) fn kind_name(kind: usize) -> &'static str {
    EventType::ALL.get(kind).map_or("other", |t| t.as_str())
}

/// A latency histogram as every part of delivery keeps them (microseconds; merge only these).
///
/// Histogram bounds: 1 µs .. 1 hour, 2 significant digits (1% resolution). Each task keeps its
/// own (about 50 KB), so 3 digits (about 400 KB each) would cost cache misses in the hot path.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid histogram bounds")
}

/// Events held back on purpose before they were sent: how many, and for how long in all and
/// at most. A held event's corrected latency counts from the end of its hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holds {
    pub events: u64,
    pub total: Duration,
    pub max: Duration,
}

impl Holds {
    pub(crate) fn add(&mut self, hold: Duration) {
        self.events += 1;
        self.total += hold;
        self.max = self.max.max(hold);
    }

    pub(crate) fn merge(&mut self, other: &Holds) {
        self.events += other.events;
        self.total += other.total;
        self.max = self.max.max(other.max);
    }
}

/// How a call's consecutive events were spaced against the receiver's answers (paced runs):
/// pairs of a call's events with a positive gap between their intended times, how many of
/// them found the earlier event still unanswered when the later one was due, and the gaps.
#[derive(Debug, Clone)]
pub struct Spacing {
    pub pairs: u64,
    /// Later events that were due before their call's previous event was answered.
    pub overran: u64,
    /// The gaps, in microseconds of wall time.
    pub gaps: Histogram<u64>,
}

impl Default for Spacing {
    fn default() -> Self {
        let gaps = Histogram::new_with_bounds(1, 3_600_000_000, 1).expect("valid bounds");
        Self { pairs: 0, overran: 0, gaps }
    }
}

impl Spacing {
    pub(crate) fn pair(&mut self, gap: Duration, overran: bool) {
        self.pairs += 1;
        self.overran += u64::from(overran);
        self.gaps.saturating_record(gap.as_micros().clamp(1, u128::from(u64::MAX)) as u64);
    }

    pub(crate) fn merge(&mut self, other: &Spacing) {
        self.pairs += other.pairs;
        self.overran += other.overran;
        let _ = self.gaps.add(&other.gaps);
    }

    /// Whether the receiver's time per event outran the spacing of a call's events: at least
    /// a tenth of the spaced pairs found the earlier event unanswered when the later was due.
    pub fn receiver_outpaced(&self) -> bool {
        self.overran > 0 && self.overran * 10 >= self.pairs
    }

    /// The median gap between a call's spaced events.
    pub fn median_gap(&self) -> Duration {
        Duration::from_micros(self.gaps.value_at_quantile(0.5))
    }
}

/// Per-endpoint accounting, to tell "the receiver is not running" and "the token is wrong".
#[derive(Debug, Clone, Default)]
pub(crate) struct EndpointStats {
    pub attempts: u64,
    pub connect_errors: u64,
    pub first_connect_error: Option<String>,
    /// Events that finally failed with 401 and with 403.
    pub refused: [u64; 2],
}

/// Counters kept by one task (the dispatcher or one worker) and merged at the end, so the hot
/// path never shares a lock for accounting.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    pub generated: u64,
    pub delivered: u64,
    pub failed: u64,
    pub filtered: u64,
    pub skipped: u64,
    pub cancelled: u64,
    pub cut_off: u64,
    pub sent: u64,
    pub retries: u64,
    pub by_type: [TypeCounts; KINDS],
    /// Every attempt's outcome; a short list (usually one entry), faster than a map here.
    pub answers: Vec<(Outcome, u64)>,
    pub failures: BTreeMap<Outcome, u64>,
    /// Microseconds, delivered events only.
    pub latency: Histogram<u64>,
    /// Microseconds, paced runs only.
    pub lateness: Histogram<u64>,
    pub endpoints: Vec<EndpointStats>,
    /// `--chaos`: forged requests and duplicates sent, and their answers.
    pub chaos: super::chaos::Report,
    /// `--chaos` reorder and delay: POSTs held back, and events of their calls held behind.
    pub chaos_holds: Holds,
    /// Events held until the wall clock reached their PBX time (see `clock_lead`).
    pub clock_holds: Holds,
    pub spacing: Spacing,
}

impl Stats {
    pub fn new(endpoints: usize) -> Self {
        Self {
            generated: 0,
            delivered: 0,
            failed: 0,
            filtered: 0,
            skipped: 0,
            cancelled: 0,
            cut_off: 0,
            sent: 0,
            retries: 0,
            by_type: [TypeCounts::default(); KINDS],
            answers: Vec::new(),
            failures: BTreeMap::new(),
            latency: histogram(),
            lateness: histogram(),
            endpoints: vec![EndpointStats::default(); endpoints],
            chaos: super::chaos::Report::default(),
            chaos_holds: Holds::default(),
            clock_holds: Holds::default(),
            spacing: Spacing::default(),
        }
    }

    fn kind(&mut self, kind: u8) -> &mut TypeCounts {
        &mut self.by_type[(kind as usize).min(KINDS - 1)]
    }

    /// An event was read from the stream.
    pub fn generate(&mut self, kind: u8) {
        self.generated += 1;
        self.kind(kind).generated += 1;
    }

    /// A generated event was filtered out by the global tick boxes.
    pub fn filter(&mut self, kind: u8) {
        self.filtered += 1;
        self.kind(kind).filtered += 1;
    }

    /// A generated event got a 2xx answer after `latency`.
    pub fn deliver(&mut self, kind: u8, latency: Duration) {
        self.delivered += 1;
        self.kind(kind).delivered += 1;
        self.latency.saturating_record(latency.as_micros().max(1) as u64);
    }

    /// `events` events sent to `endpoint` finally failed with `last`.
    pub fn fail_at(&mut self, endpoint: usize, last: Outcome, events: u64) {
        let slot = match last {
            Outcome::Status(401) => 0,
            Outcome::Status(403) => 1,
            _ => return,
        };
        if let Some(ep) = self.endpoints.get_mut(endpoint) {
            ep.refused[slot] += events;
        }
    }

    /// A generated event finally failed; `last` is its last attempt's outcome.
    pub fn fail(&mut self, kind: u8, last: Outcome) {
        self.failed += 1;
        self.kind(kind).failed += 1;
        *self.failures.entry(last).or_default() += 1;
        match last {
            Outcome::Skipped => self.skipped += 1,
            Outcome::Cancelled => self.cancelled += 1,
            Outcome::CutOff => self.cut_off += 1,
            _ => {}
        }
    }

    /// One HTTP request was made to endpoint `endpoint`, with this result; `retry` when it was
    /// not the event's first attempt.
    pub fn attempt(&mut self, endpoint: usize, outcome: Outcome, error: Option<&str>, retry: bool) {
        self.sent += 1;
        self.retries += u64::from(retry);
        if outcome != Outcome::Cancelled {
            match self.answers.iter_mut().find(|(o, _)| *o == outcome) {
                Some((_, n)) => *n += 1,
                None => self.answers.push((outcome, 1)),
            }
        }
        if let Some(ep) = self.endpoints.get_mut(endpoint) {
            ep.attempts += 1;
            if outcome == Outcome::Connect {
                ep.connect_errors += 1;
                if ep.first_connect_error.is_none() {
                    ep.first_connect_error = error.map(str::to_string);
                }
            }
        }
    }

    /// How late a paced event's first attempt started.
    pub fn late(&mut self, by: Duration) {
        self.lateness.saturating_record(by.as_micros().max(1) as u64);
    }

    pub fn merge(&mut self, other: &Stats) {
        self.generated += other.generated;
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.filtered += other.filtered;
        self.skipped += other.skipped;
        self.cancelled += other.cancelled;
        self.cut_off += other.cut_off;
        self.sent += other.sent;
        self.retries += other.retries;
        for (mine, theirs) in self.by_type.iter_mut().zip(&other.by_type) {
            mine.generated += theirs.generated;
            mine.delivered += theirs.delivered;
            mine.failed += theirs.failed;
            mine.filtered += theirs.filtered;
        }
        for (k, v) in &other.answers {
            match self.answers.iter_mut().find(|(o, _)| o == k) {
                Some((_, n)) => *n += v,
                None => self.answers.push((*k, *v)),
            }
        }
        for (k, v) in &other.failures {
            *self.failures.entry(*k).or_default() += v;
        }
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.lateness.add(&other.lateness);
        self.chaos.merge(&other.chaos);
        self.chaos_holds.merge(&other.chaos_holds);
        self.clock_holds.merge(&other.clock_holds);
        self.spacing.merge(&other.spacing);
        for (mine, theirs) in self.endpoints.iter_mut().zip(&other.endpoints) {
            mine.attempts += theirs.attempts;
            mine.connect_errors += theirs.connect_errors;
            mine.refused[0] += theirs.refused[0];
            mine.refused[1] += theirs.refused[1];
            if mine.first_connect_error.is_none() {
                mine.first_connect_error.clone_from(&theirs.first_connect_error);
            }
        }
    }
}

/// How [`Summary::unreachable_message`] ends the line of a URL whose TLS certificate was refused.
pub const UNTRUSTED_CERTIFICATE: &str = "Its certificate was not trusted.";

/// A URL that refused every connection pbxsim tried (endpoints sharing a URL count once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    /// Secrets masked.
    pub url: String,
    /// The first connection error, e.g. `Connection refused (os error 111)`.
    pub error: String,
}

/// Events a receiver finally refused with 401 or 403, per URL and token source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// Secrets masked.
    pub url: String,
    /// What was sent there: `global events`, `webhook object CRM`, `route for queue_call`.
    pub endpoints: Vec<String>,
    pub token: TokenSource,
    /// Events that finally failed with 401, and with 403.
    pub unauthorized: u64,
    pub forbidden: u64,
}

impl AuthFailure {
    /// "12 events were refused (401) by URL (global events): sent with the token given to the
    /// run. Check that the token given to the run is the token the receiver expects.", with
    /// the token's source and fix in `wording`'s words.
    pub fn message(&self, wording: &Wording) -> String {
        let events = self.unauthorized + self.forbidden;
        let codes = match (self.unauthorized, self.forbidden) {
            (_, 0) => "401",
            (0, _) => "403",
            _ => "401/403",
        };
        let fix = (wording.token_fix)(&self.token);
        let mut fix_chars = fix.chars();
        let fix = match fix_chars.next() {
            Some(c) => c.to_uppercase().chain(fix_chars).collect::<String>(),
            None => String::new(),
        };
        format!(
            "{events} {} refused ({codes}) by {} ({}): sent with {}. {fix}.",
            if events == 1 { "event was" } else { "events were" },
            self.url,
            self.endpoints.join(", "),
            (wording.token_source)(&self.token),
        )
    }
}

/// The failure journal's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalInfo {
    pub path: PathBuf,
    /// Lines written (one per finally-failed event).
    pub lines: u64,
    /// The first write error, if writing failed.
    pub error: Option<String>,
}

/// Calls of a run fed with call ends ([`deliver_feed`](super::deliver_feed)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// Calls whose first event was dispatched.
    pub started: u64,
    /// Started calls whose end was reached.
    pub ended: u64,
    /// Calls that waited for a slot (`max_calls_in_flight`) before starting.
    pub waited: u64,
    /// Calls never started: the backlog of waiting calls was full.
    pub not_started: u64,
    /// Calls in progress or waiting when the run stopped (cut-off time, or the stream ended
    /// early as with `--max-events`).
    pub cut_off: u64,
    /// The most calls in progress at once.
    pub max_in_flight: u64,
    /// When the last call started, after the run's start (wall time).
    pub last_start: Option<std::time::Duration>,
    /// Paced runs: how late the last call started against its first event's intended time;
    /// how far the sender had fallen behind the schedule (0 when it kept up).
    pub last_start_lag: Option<std::time::Duration>,
}

/// The outcome of a delivery run.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Events read from the stream.
    pub generated: u64,
    /// Events that got a 2xx answer.
    pub delivered: u64,
    /// Events that finally failed (including `skipped` and `cancelled`).
    pub failed: u64,
    /// Global events of unticked types, not sent.
    pub filtered: u64,
    /// Part of `failed`: never sent because an earlier event of the call failed.
    pub skipped: u64,
    /// Part of `failed`: never sent, or cut off, because the run was interrupted.
    pub cancelled: u64,
    /// Part of `failed`: never sent because the run's time ran out (`cut_off_at`).
    pub cut_off: u64,
    /// HTTP requests made, retries included.
    pub sent: u64,
    /// Requests beyond each event's first attempt.
    pub retries: u64,
    /// Per event type, in the vendor document's order, then `other` (replayed bodies of no
    /// known type); only types that occurred.
    pub by_type: Vec<(&'static str, TypeCounts)>,
    /// Every request's result: status codes and error classes.
    pub answers: BTreeMap<Outcome, u64>,
    /// Finally-failed events by their last outcome.
    pub failures: BTreeMap<Outcome, u64>,
    /// Latency of delivered events in microseconds: request start (including any connect) to
    /// the answer's body fully read, for the successful attempt.
    pub latency: Histogram<u64>,
    /// Paced runs only: how late each event's first attempt started, in microseconds, against
    /// its intended wall-clock time (start + virtual time / speed).
    pub lateness: Option<Histogram<u64>>,
    /// Paced runs only: corrected latency in microseconds, from each delivered event's
    /// intended send time (start + virtual time / speed) to its answer, so time spent waiting
    /// behind a slow receiver counts (no coordinated omission).
    pub corrected: Option<Histogram<u64>>,
    /// Latency per event type (types with deliveries), raw and, when paced, corrected.
    pub latency_by_type: Vec<super::live::TypeLatency>,
    /// Calls, when the run was fed call ends.
    pub calls: Option<CallCounts>,
    /// Wall time from the first event read to the last answer.
    pub wall: Duration,
    /// The run was interrupted (Ctrl-C).
    pub interrupted: bool,
    /// URLs that refused every connection.
    pub unreachable: Vec<Unreachable>,
    /// Events finally refused with 401/403, per URL and token source.
    pub auth_failures: Vec<AuthFailure>,
    /// Every request failed to connect: the target is not there at all.
    pub refused_all: bool,
    pub journal: Option<JournalInfo>,
    /// `--chaos`: what was injected and how the receiver answered (`None` without chaos).
    pub chaos: Option<super::chaos::Report>,
    /// `--chaos` reorder and delay held these POSTs back on purpose (and the events of their
    /// calls behind them); their corrected latency counts from the end of the hold.
    pub chaos_holds: Holds,
    /// Events that waited for the wall clock to reach their PBX time (a clock anchored by
    /// estimate, open-ended `load --asap`); counted from the end of the wait.
    pub clock_holds: Holds,
    /// Paced runs: how a call's events were spaced against the receiver's answers.
    pub spacing: Spacing,
    /// How [`Summary::auth_message`] words its advice ([`DeliverOptions::wording`](super::DeliverOptions::wording)).
    pub wording: Wording,
}

impl Summary {
    pub(crate) fn from_stats(
        s: Stats,
        labels: &[Label],
        wall: Duration,
        paced: bool,
        interrupted: bool,
        journal: Option<JournalInfo>,
    ) -> Self {
        // Endpoints sharing a URL (the global one and webhook objects without their own) are
        // one receiver: unreachable when every connection to that URL failed.
        let mut by_url: Vec<(&str, EndpointStats)> = Vec::new();
        for (e, label) in s.endpoints.iter().zip(labels) {
            match by_url.iter_mut().find(|(url, _)| *url == label.url) {
                Some((_, total)) => {
                    total.attempts += e.attempts;
                    total.connect_errors += e.connect_errors;
                    if total.first_connect_error.is_none() {
                        total.first_connect_error.clone_from(&e.first_connect_error);
                    }
                }
                None => by_url.push((&label.url, e.clone())),
            }
        }
        let unreachable: Vec<Unreachable> = by_url
            .iter()
            .filter(|(_, e)| e.attempts > 0 && e.connect_errors == e.attempts)
            .map(|(url, e)| Unreachable {
                url: url.to_string(),
                error: e.first_connect_error.clone().unwrap_or_else(|| "no connection".into()),
            })
            .collect();
        let mut auth_failures: Vec<AuthFailure> = Vec::new();
        for (e, label) in s.endpoints.iter().zip(labels) {
            if e.refused == [0, 0] {
                continue;
            }
            let same = |a: &&mut AuthFailure| a.url == label.url && a.token == label.token;
            match auth_failures.iter_mut().find(same) {
                Some(a) => {
                    a.endpoints.push(label.name.clone());
                    a.unauthorized += e.refused[0];
                    a.forbidden += e.refused[1];
                }
                None => auth_failures.push(AuthFailure {
                    url: label.url.clone(),
                    endpoints: vec![label.name.clone()],
                    token: label.token.clone(),
                    unauthorized: e.refused[0],
                    forbidden: e.refused[1],
                }),
            }
        }
        let attempts: u64 = s.endpoints.iter().map(|e| e.attempts).sum();
        let connect_errors: u64 = s.endpoints.iter().map(|e| e.connect_errors).sum();
        Summary {
            generated: s.generated,
            delivered: s.delivered,
            failed: s.failed,
            filtered: s.filtered,
            skipped: s.skipped,
            cancelled: s.cancelled,
            cut_off: s.cut_off,
            sent: s.sent,
            retries: s.retries,
            by_type: s
                .by_type
                .iter()
                .enumerate()
                .filter(|(_, c)| c.generated > 0)
                .map(|(i, c)| (kind_name(i), *c))
                .collect(),
            answers: s.answers.iter().copied().collect(),
            failures: s.failures,
            latency: s.latency,
            lateness: paced.then_some(s.lateness),
            corrected: None,
            latency_by_type: Vec::new(),
            calls: None,
            wall,
            interrupted,
            refused_all: attempts > 0 && connect_errors == attempts && s.delivered == 0,
            unreachable,
            auth_failures,
            journal,
            chaos: Some(s.chaos).filter(|c| !c.is_empty()),
            chaos_holds: s.chaos_holds,
            clock_holds: s.clock_holds,
            spacing: s.spacing,
            wording: Wording::default(),
        }
    }

    /// `generated = delivered + failed + filtered`.
    pub fn is_balanced(&self) -> bool {
        self.generated == self.delivered + self.failed + self.filtered
    }

    /// Delivered events per second of wall time.
    pub fn events_per_second(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 { self.delivered as f64 / secs } else { 0.0 }
    }

    /// A latency quantile (0.5, 0.99, …) of delivered events.
    pub fn latency_at(&self, quantile: f64) -> Duration {
        Duration::from_micros(self.latency.value_at_quantile(quantile))
    }

    /// How the run ends ([`Exit`]): unreachable if the target refused every connection; interrupted if the run was
    /// interrupted; 1 if any event finally failed (unless `allow_failures`), the journal could
    /// not be written, or the receiver accepted a forged token (`--chaos`); else 0.
    pub fn exit(&self, allow_failures: bool) -> Exit {
        let failed = self.journal.as_ref().is_some_and(|j| j.error.is_some())
            || (self.failed > 0 && !allow_failures)
            || self.chaos.as_ref().is_some_and(|c| c.forged_accepted > 0);
        let mut exit = Exit::Ok.failed_if(failed);
        if self.interrupted {
            exit = exit.and(Exit::Interrupted);
        }
        if self.refused_all {
            exit = exit.and(Exit::Unreachable);
        }
        exit
    }

    /// One line per URL whose events were finally refused with 401/403: how many, which
    /// endpoints, which token source, and the fix ([`Summary::wording`]'s words). The token
    /// itself is never shown.
    pub fn auth_message(&self) -> Option<String> {
        if self.auth_failures.is_empty() {
            return None;
        }
        let lines: Vec<String> =
            self.auth_failures.iter().map(|a| a.message(&self.wording)).collect();
        Some(lines.join("\n"))
    }

    /// "could not connect to URL (error). Is the receiver running?", once per URL that
    /// refused every connection (or, when its certificate was refused,
    /// [`UNTRUSTED_CERTIFICATE`]).
    /// Not part of [`Summary::render`]: the command prints it once, as its error.
    pub fn unreachable_message(&self) -> Option<String> {
        if self.unreachable.is_empty() {
            return None;
        }
        let lines: Vec<String> = self
            .unreachable
            .iter()
            .map(|u| {
                let hint = match u.error.to_ascii_lowercase().contains("certificate") {
                    true => UNTRUSTED_CERTIFICATE,
                    false => "Is the receiver running?",
                };
                format!("could not connect to {} ({}). {hint}", u.url, u.error)
            })
            .collect();
        Some(lines.join("\n"))
    }

    /// The human summary ([`SummaryView::render`] over this summary).
    pub fn render(&self) -> String {
        self.view().render()
    }

    /// The chaos report's lines, when chaos was on.
    pub fn chaos_text(&self) -> Option<String> {
        self.chaos.as_ref().map(|c| {
            let mut text = String::new();
            c.render(&mut text);
            text
        })
    }

    /// What the human summary shows, as [`SummaryView::render`] takes it.
    pub fn view(&self) -> SummaryView<'_> {
        SummaryView {
            generated: self.generated,
            delivered: self.delivered,
            failed: self.failed,
            filtered: self.filtered,
            skipped: self.skipped,
            cancelled: self.cancelled,
            cut_off: self.cut_off,
            sent: self.sent,
            retries: self.retries,
            answers: counts(&self.answers),
            failures: counts(&self.failures),
            by_type: self.by_type.iter().map(|(n, c)| (*n, *c)).collect(),
            latency: Some(&self.latency),
            corrected: self.corrected.as_ref(),
            holds: holds_line(&self.chaos_holds, &self.clock_holds),
            lateness: self.lateness.as_ref(),
            wall_s: self.wall.as_secs_f64(),
            events_per_s: self.events_per_second(),
            chaos: self.chaos_text(),
            journal: self.journal.as_ref().map(|j| JournalView {
                path: j.path.display().to_string(),
                lines: j.lines,
                error: j.error.as_deref(),
            }),
            interrupted: self.interrupted,
            refused: self.auth_message(),
        }
    }
}

/// What the human delivery summary shows, built by [`Summary::view`] and by the run report
/// (`report::RunReport`) from its JSON fields, so both print the same text through one
/// renderer ([`SummaryView::render`]).
#[derive(Debug, Clone, Default)]
pub struct SummaryView<'a> {
    pub generated: u64,
    pub delivered: u64,
    pub failed: u64,
    pub filtered: u64,
    pub skipped: u64,
    pub cancelled: u64,
    pub cut_off: u64,
    /// Requests sent, and how many of them were retries.
    pub sent: u64,
    pub retries: u64,
    /// `200: 12, timeout: 1`; empty: no line.
    pub answers: String,
    /// Finally-failed events by last error, as `answers`; empty: no line.
    pub failures: String,
    /// Per event type, in the order shown.
    pub by_type: Vec<(&'a str, TypeCounts)>,
    pub latency: Option<&'a Histogram<u64>>,
    pub corrected: Option<&'a Histogram<u64>>,
    /// [`holds_line`].
    pub holds: Option<String>,
    pub lateness: Option<&'a Histogram<u64>>,
    pub wall_s: f64,
    pub events_per_s: f64,
    /// The chaos report's lines (each ending in a newline).
    pub chaos: Option<String>,
    pub journal: Option<JournalView<'a>>,
    pub interrupted: bool,
    /// [`Summary::auth_message`]: one line per URL that refused the token.
    pub refused: Option<String>,
}

/// The failure journal as [`SummaryView`] shows it.
#[derive(Debug, Clone)]
pub struct JournalView<'a> {
    pub path: String,
    pub lines: u64,
    pub error: Option<&'a str>,
}

impl SummaryView<'_> {
    /// The human summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(
            w,
            "events     generated {}  delivered {}  failed {}  filtered {}",
            self.generated, self.delivered, self.failed, self.filtered
        );
        if self.skipped > 0 || self.cancelled > 0 {
            let _ = writeln!(
                w,
                "           of the failed: skipped {} (an earlier event of the call failed), \
                 cancelled {} (interrupted)",
                self.skipped, self.cancelled
            );
        }
        if self.cut_off > 0 {
            let _ = writeln!(
                w,
                "           of the failed: cut off {} (the run's time ran out)",
                self.cut_off
            );
        }
        let _ = writeln!(w, "requests   sent {} ({} retries)", self.sent, self.retries);
        if !self.answers.is_empty() {
            let _ = writeln!(w, "answers    {}", self.answers);
        }
        if !self.failures.is_empty() {
            let _ = writeln!(w, "failed     by last error: {}", self.failures);
        }
        if !self.by_type.is_empty() {
            let width = self.by_type.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            let _ = writeln!(
                w,
                "by type    {:width$}  {:>9}  {:>9}  {:>6}  {:>8}",
                "", "generated", "delivered", "failed", "filtered"
            );
            for (name, c) in &self.by_type {
                let _ = writeln!(
                    w,
                    "           {name:width$}  {:>9}  {:>9}  {:>6}  {:>8}",
                    c.generated, c.delivered, c.failed, c.filtered
                );
            }
        }
        if let Some(l) = self.latency.filter(|h| !h.is_empty()) {
            let _ = writeln!(w, "latency    {}", quantiles(l));
        }
        if let Some(c) = self.corrected.filter(|h| !h.is_empty()) {
            let _ =
                writeln!(w, "corrected  {} (from each event's intended send time)", quantiles(c));
        }
        if let Some(line) = &self.holds {
            let _ = writeln!(w, "           {line}");
        }
        if let Some(late) = self.lateness.filter(|h| !h.is_empty()) {
            let _ = writeln!(w, "lateness   {} (send time after the paced time)", quantiles(late));
        }
        let _ = writeln!(
            w,
            "wall time  {:.2} s  ({:.1} events/s delivered)",
            self.wall_s, self.events_per_s
        );
        if let Some(chaos) = &self.chaos {
            w.push_str(chaos);
        }
        if let Some(j) = &self.journal {
            match &j.error {
                None => {
                    let _ = writeln!(
                        w,
                        "journal    {} in {}",
                        plural(j.lines, "failed event", "failed events"),
                        j.path
                    );
                }
                Some(e) => {
                    let _ = writeln!(w, "journal    could not write {}: {e}", j.path);
                }
            }
        }
        if self.interrupted {
            let _ = writeln!(w, "interrupted before the end of the run");
        }
        for line in self.refused.iter().flat_map(|r| r.lines()) {
            let _ = writeln!(w, "refused    {line}");
        }
        out
    }
}

/// `held back by chaos: 12 events, 3.20 s in all, at most 2.00 s (not counted as latency)`,
/// and the clock's waits; `None` when nothing was held.
pub fn holds_line(chaos: &Holds, clock: &Holds) -> Option<String> {
    let mut parts = Vec::new();
    if chaos.events > 0 {
        parts.push(format!(
            "held back by chaos: {}, {:.2} s in all, at most {:.2} s",
            plural(chaos.events, "event", "events"),
            chaos.total.as_secs_f64(),
            chaos.max.as_secs_f64()
        ));
    }
    if clock.events > 0 {
        parts.push(format!(
            "held until the wall clock reached their time: {}, at most {:.2} s",
            plural(clock.events, "event", "events"),
            clock.max.as_secs_f64()
        ));
    }
    (!parts.is_empty()).then(|| format!("{} (not counted as latency)", parts.join("; ")))
}

/// `1 event`, `2 events`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn counts(map: &BTreeMap<Outcome, u64>) -> String {
    let items: Vec<String> = map.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    items.join(", ")
}

fn ms(micros: u64) -> String {
    let ms = micros as f64 / 1000.0;
    if ms < 10.0 { format!("{ms:.2} ms") } else { format!("{ms:.1} ms") }
}

fn quantiles(h: &Histogram<u64>) -> String {
    format!(
        "p50 {}  p90 {}  p99 {}  max {}",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.9)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(s: Stats) -> Summary {
        let labels = vec![Label { url: "http://127.0.0.1:1/".into(), ..Label::default() }];
        Summary::from_stats(s, &labels, Duration::from_secs(2), false, false, None)
    }

    fn label(url: &str, name: &str, token: TokenSource) -> Label {
        Label { url: url.into(), name: name.into(), token }
    }

    #[test]
    fn endpoints_sharing_a_url_are_one_unreachable_receiver() {
        let mut st = Stats::new(3);
        for ep in 0..3 {
            st.generate(0);
            st.attempt(ep, Outcome::Connect, Some("Connection refused (os error 111)"), false);
            st.fail(0, Outcome::Connect);
        }
        let labels = [
            label("http://127.0.0.1:1/hook?token=***", "global events", TokenSource::Flag),
            label("http://127.0.0.1:1/hook?token=***", "webhook object CRM", TokenSource::Flag),
            label("http://127.0.0.1:2/other", "route for voicemail", TokenSource::Flag),
        ];
        let s = Summary::from_stats(st, &labels, Duration::from_secs(1), false, false, None);
        assert_eq!(s.unreachable.len(), 2, "{:?}", s.unreachable);
        let msg = s.unreachable_message().unwrap();
        assert_eq!(msg.lines().count(), 2, "{msg}");
        assert_eq!(msg.matches("127.0.0.1:1/hook?token=***").count(), 1, "{msg}");
        assert!(!s.render().contains("could not connect"), "printed once, by the command");
    }

    #[test]
    fn refused_events_name_the_endpoint_and_the_token_source_and_suggest_a_fix() {
        let mut st = Stats::new(3);
        for (ep, status, n) in [(0, 401, 3u64), (1, 401, 1), (2, 403, 2)] {
            for _ in 0..n {
                st.generate(0);
                st.attempt(ep, Outcome::Status(status), None, false);
                st.fail(0, Outcome::Status(status));
                st.fail_at(ep, Outcome::Status(status), 1);
            }
        }
        st.fail_at(0, Outcome::Status(503), 5);
        let url = "http://127.0.0.1:1/hook";
        let labels = [
            label(url, "global events", TokenSource::Env),
            label(url, "webhook object CRM", TokenSource::Env),
            label(url, "webhook object Lookup", TokenSource::Object("Lookup".into())),
        ];
        let s = Summary::from_stats(st, &labels, Duration::from_secs(1), false, false, None);
        assert_eq!(s.auth_failures.len(), 2, "{:?}", s.auth_failures);
        let first = &s.auth_failures[0];
        assert_eq!((first.unauthorized, first.forbidden), (4, 0));
        assert_eq!(first.endpoints, ["global events", "webhook object CRM"]);
        let msg = s.auth_message().unwrap();
        let lines: Vec<&str> = msg.lines().collect();
        assert_eq!(
            lines[0],
            "4 events were refused (401) by http://127.0.0.1:1/hook (global events, webhook \
             object CRM): sent with the token from the environment. Check the token in the \
             environment, or give the run one."
        );
        assert!(lines[1].starts_with("2 events were refused (403)"), "{msg}");
        assert!(lines[1].contains("webhook object `Lookup`'s own token"), "{msg}");
        assert!(lines[1].contains("Remove `token` from webhook object `Lookup`"), "{msg}");
        let text = s.render();
        assert!(text.contains("refused    4 events were refused (401)"), "{text}");
        for source in [
            TokenSource::None,
            TokenSource::Flag,
            TokenSource::Env,
            TokenSource::File,
            TokenSource::Object("X".into()),
            TokenSource::ObjectNone("X".into()),
        ] {
            let a = AuthFailure {
                url: url.into(),
                endpoints: vec!["global events".into()],
                token: source.clone(),
                unauthorized: 1,
                forbidden: 0,
            };
            let m = a.message(&Wording::default());
            assert!(m.starts_with("1 event was refused (401)"), "{m}");
            assert!(!m.contains("--"), "the library names no flag: {m}");
            let hint = match source {
                TokenSource::None => "Give the run a token",
                TokenSource::Flag => "the token given to the run is the token",
                TokenSource::Env => "the token in the environment",
                TokenSource::File => "[webhook] token",
                TokenSource::Object(_) => "own token",
                TokenSource::ObjectNone(_) => "token = \"\"",
            };
            assert!(m.contains(hint), "{source:?}: {m}");
        }
    }

    #[test]
    fn arithmetic_holds_through_every_path_and_merge() {
        let mut dispatcher = Stats::new(1);
        let mut worker = Stats::new(1);
        for kind in 0..13u8 {
            dispatcher.generate(kind);
        }
        dispatcher.filter(0);
        dispatcher.fail(1, Outcome::Cancelled); // never sent
        worker.attempt(0, Outcome::Status(503), None, false);
        worker.attempt(0, Outcome::Status(200), None, true);
        worker.deliver(2, Duration::from_millis(3));
        worker.attempt(0, Outcome::Timeout, None, false);
        worker.fail(3, Outcome::Timeout);
        worker.fail(4, Outcome::Skipped);
        worker.attempt(0, Outcome::Cancelled, None, false); // cut off in flight
        worker.fail(5, Outcome::Cancelled);
        for kind in 6..13u8 {
            worker.attempt(0, Outcome::Status(204), None, false);
            worker.deliver(kind, Duration::from_micros(500));
        }
        dispatcher.merge(&worker);
        let s = summary(dispatcher);
        assert!(s.is_balanced(), "{s:?}");
        assert_eq!((s.generated, s.delivered, s.failed, s.filtered), (13, 8, 4, 1));
        assert_eq!((s.skipped, s.cancelled), (1, 2));
        assert_eq!(s.sent, 11);
        // 8 delivered + timeout + cut-off = 10 events attempted, 11 requests.
        assert_eq!(s.retries, 1);
        for (_, c) in &s.by_type {
            assert_eq!(c.generated, c.delivered + c.failed + c.filtered);
        }
        assert_eq!(s.by_type.last().unwrap().0, "other");
        assert_eq!(s.answers[&Outcome::Status(503)], 1);
        assert!(!s.answers.contains_key(&Outcome::Cancelled));
        assert_eq!(s.failures[&Outcome::Timeout], 1);
        assert_eq!(s.exit(false).code(), 1);
        assert_eq!(s.exit(true).code(), 0);
        assert!(!s.refused_all);
        let text = s.render();
        assert!(text.contains("generated 13  delivered 8  failed 4  filtered 1"), "{text}");
        assert!(text.contains("p99"), "{text}");
    }

    #[test]
    fn refused_everything_is_exit_3_and_names_the_url() {
        let mut st = Stats::new(1);
        st.generate(0);
        st.attempt(0, Outcome::Connect, Some("Connection refused (os error 111)"), false);
        st.fail(0, Outcome::Connect);
        let s = summary(st);
        assert!(s.refused_all);
        assert_eq!(s.exit(true).code(), 3);
        let msg = s.unreachable_message().unwrap();
        assert!(msg.contains("http://127.0.0.1:1/") && msg.contains("Is the receiver running?"));
        assert!(msg.contains("Connection refused"));
    }

    #[test]
    fn nothing_sent_is_success() {
        let s = summary(Stats::new(1));
        assert!(s.is_balanced());
        assert!(!s.refused_all);
        assert_eq!(s.exit(false).code(), 0);
    }
}
