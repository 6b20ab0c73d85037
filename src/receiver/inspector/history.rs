//! The inspector's bounded history: the last calls the receiver saw, each with its requests
//! (redacted headers, body, answer, violations), a summary for the list (direction, caller,
//! outcome, queue and ring group statuses) and, on demand, a timeline in PBX time.
//!
//! Memory is bounded by [`Bounds`]: at most `max_calls` calls, `max_events` events and about
//! `max_bytes` of stored text; when a new request would exceed one of them, the call first seen
//! longest ago is evicted with all its events. A call keeps at most `max_events_per_call`
//! events (later ones are counted, not kept), a body larger than `max_body_bytes` is replaced by
//! a note, and a request's headers are kept up to `max_header_bytes`.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, FixedOffset, Local, SecondsFormat};
use serde::Serialize;
use serde_json::Value;

use crate::check::Violation;

/// How much the history keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub max_calls: usize,
    pub max_events: usize,
    /// Stored text (bodies, headers, notes) plus a fixed overhead per event, in bytes.
    pub max_bytes: usize,
    pub max_events_per_call: usize,
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            max_calls: 1_000,
            max_events: 20_000,
            max_bytes: 64 * 1024 * 1024,
            max_events_per_call: 500,
            max_body_bytes: 64 * 1024,
            max_header_bytes: 8 * 1024,
        }
    }
}

/// Events of a call less than this far apart in PBX time happened at the same moment.
const SIMULTANEOUS_MS: i64 = 1_000;

/// The bookkeeping cost of one stored event besides its text, in bytes.
const ENTRY_OVERHEAD: usize = 256;

/// One request as the receiver judged it, to be recorded.
pub struct Incoming<'a> {
    pub received_at: DateTime<Local>,
    pub path: &'a str,
    /// Already redacted.
    pub headers: Vec<(String, String)>,
    pub status: u16,
    pub one_off: bool,
    /// Why it was refused, when it was.
    pub reason: Option<&'a str>,
    /// The parsed JSON, the raw text when it was not JSON, or null when it was not read.
    pub body: &'a Value,
    pub violations: Vec<Violation>,
}

/// One stored event (an element of an array body is an event of its own).
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Increasing over the whole run: the order of arrival.
    pub seq: u64,
    /// The request it came in (elements of one array share it).
    pub request: u64,
    #[serde(serialize_with = "local_ms")]
    pub received_at: DateTime<Local>,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub status: u16,
    pub one_off: bool,
    pub reason: Option<String>,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// Compact JSON (or the raw text when `json` is false); `None` when not read or not kept.
    pub body: Option<String>,
    pub json: bool,
    pub body_note: Option<String>,
    pub violations: Vec<ViolationView>,
}

/// A violation with its rule's explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViolationView {
    pub rule: &'static str,
    pub explanation: &'static str,
    pub message: String,
}

impl From<&Violation> for ViolationView {
    fn from(v: &Violation) -> Self {
        Self {
            rule: v.rule.as_str(),
            explanation: v.rule.description(),
            message: v.message.clone(),
        }
    }
}

/// A queue or ring group summary's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub kind: &'static str,
    pub name: String,
    pub status: String,
}

/// What the list shows of a call.
#[derive(Debug, Clone, Serialize)]
pub struct CallSummary {
    /// The key to ask for its timeline: the `unique_call_id`, or `#N` for request N that had
    /// none (refused, or not an event).
    pub key: String,
    pub call_id: Option<String>,
    pub direction: &'static str,
    pub caller: Option<String>,
    pub caller_name: Option<String>,
    pub dest: Option<String>,
    /// The user who answered (inbound) or called (outbound).
    pub user: Option<String>,
    pub outcome: &'static str,
    pub statuses: Vec<Status>,
    pub events: usize,
    /// Events of this call not kept (over `max_events_per_call`).
    pub dropped: u64,
    pub violations: usize,
    /// Requests of this call answered with a 4xx code.
    pub answered_4xx: usize,
    pub types: Vec<String>,
    #[serde(serialize_with = "local_ms")]
    pub first_received: DateTime<Local>,
    #[serde(serialize_with = "local_ms")]
    pub last_received: DateTime<Local>,
    /// The `seq` of its latest change.
    pub version: u64,
}

/// A call's events in PBX time, for the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub summary: CallSummary,
    /// The call's start in PBX time (`call_start_at`, else its earliest known moment).
    pub start: Option<String>,
    pub entries: Vec<TimedEntry>,
    pub rings: Vec<Ring>,
    /// Violations found at the end of the stream (nothing started was left unfinished), which
    /// belong to no event.
    pub end_violations: Vec<ViolationView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimedEntry {
    #[serde(flatten)]
    pub entry: Entry,
    /// PBX time: milliseconds after the call's start, when known or estimated.
    pub at_ms: Option<i64>,
    /// The payload carries no moment of its own (`user_inbound`): placed between its
    /// neighbours by arrival time.
    pub estimated: bool,
}

/// A user ringing: from its `user_inbound` to its answer, or to the next thing that
/// happened in the call more than a second later (the next user rung by a sequential
/// strategy, someone else answering, the summary).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ring {
    pub user: String,
    pub from_ms: i64,
    /// `None` while nothing has happened since.
    pub to_ms: Option<i64>,
    pub answered: bool,
    pub estimated: bool,
    pub via: Option<String>,
}

fn local_ms<S: serde::Serializer>(at: &DateTime<Local>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, false))
}

/// Which calls the list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Calls with at least one event of this type.
    pub event_type: Option<String>,
    pub outcome: Option<String>,
    pub violations_only: bool,
    /// Case-insensitive, in numbers and names (caller, users, destination, queue, ring
    /// group, component, call id).
    pub text: Option<String>,
}

struct Call {
    key: String,
    call_id: Option<String>,
    entries: Vec<Entry>,
    dropped: u64,
    end_violations: Vec<ViolationView>,
    bytes: usize,
    version: u64,
    first_received: DateTime<Local>,
    last_received: DateTime<Local>,
    /// Numbers and names, lowercase, one a line.
    haystack: String,
    fold: Fold,
    /// Over all its events, kept or not.
    violations: usize,
    answered_4xx: usize,
    refused: bool,
}

const HAYSTACK_MAX: usize = 2048;
const SEARCHED: [&str; 9] = [
    "unique_call_id",
    "caller_id",
    "caller_name",
    "user_name",
    "user_number",
    "dest_number",
    "queue_name",
    "ring_group_name",
    "component_name",
];

/// What the list shows of a call, folded over its events as they arrive.
#[derive(Default)]
struct Fold {
    direction: Option<&'static str>,
    caller: Option<String>,
    caller_name: Option<String>,
    dest: Option<String>,
    user: Option<String>,
    statuses: Vec<Status>,
    types: Vec<String>,
    answered: bool,
    voicemail: bool,
    ended: bool,
    /// The first summary status other than `answered`.
    summary_status: Option<String>,
}

impl Fold {
    fn apply(&mut self, event: &Value) {
        let ty = field_text(event, "type").unwrap_or_default();
        if ty.is_empty() {
            return;
        }
        if !self.types.contains(&ty) && self.types.len() < 32 {
            self.types.push(clip(&ty, 64));
        }
        let first = |slot: &mut Option<String>, name: &str| {
            if slot.is_none() {
                *slot = field_text(event, name).map(|t| clip(&t, 256));
            }
        };
        if ty.starts_with("user_outbound") || ty == "recording_outbound" {
            self.direction = Some("outbound");
            first(&mut self.caller, "user_number");
            first(&mut self.caller_name, "user_name");
            if self.user.is_none() {
                self.user = user_of(event).map(|u| clip(&u, 256));
            }
        } else {
            self.direction.get_or_insert("inbound");
            if ty == "webhook_component_event" {
                // Here user_number is the caller's CLI and user_name its CNAM.
                first(&mut self.caller, "user_number");
                first(&mut self.caller_name, "user_name");
            } else {
                first(&mut self.caller, "caller_id");
                first(&mut self.caller_name, "caller_name");
            }
        }
        first(&mut self.dest, "dest_number");
        match ty.as_str() {
            "user_inbound_answered" | "user_outbound_answered" => {
                self.answered = true;
                if let Some(u) = user_of(event) {
                    self.user = Some(clip(&u, 256));
                }
            }
            "voicemail" => self.voicemail = true,
            "user_inbound_completed" | "user_outbound_completed" => self.ended = true,
            "queue_call" | "ring_group_call" => {
                self.ended = true;
                let (kind, name) = if ty == "queue_call" {
                    ("queue", field_text(event, "queue_name"))
                } else {
                    ("ring group", field_text(event, "ring_group_name"))
                };
                let status = clip(&field_text(event, "status").unwrap_or_else(|| "?".into()), 64);
                if status != "answered" {
                    self.summary_status.get_or_insert(status.clone());
                }
                if self.statuses.len() < 32 {
                    let name = clip(&name.unwrap_or_default(), 256);
                    self.statuses.push(Status { kind, name, status });
                }
            }
            _ => {}
        }
    }
}

impl Call {
    fn add_to_haystack(&mut self, event: &Value) {
        for field in SEARCHED {
            let Some(text) = field_text(event, field) else { continue };
            let text = text.to_lowercase();
            if self.haystack.len() + text.len() < HAYSTACK_MAX
                && !self.haystack.lines().any(|l| l == text)
            {
                self.haystack.push_str(&text);
                self.haystack.push('\n');
            }
        }
    }

    fn summary(&self) -> CallSummary {
        let f = &self.fold;
        let outcome = if self.call_id.is_none() {
            if self.refused { "refused" } else { "no call id" }
        } else if f.answered {
            "answered"
        } else if f.voicemail {
            "voicemail"
        } else if f.summary_status.as_deref() == Some("abandoned") {
            "abandoned"
        } else if f.summary_status.as_deref() == Some("timedout") {
            "timedout"
        } else if f.ended {
            "unanswered"
        } else {
            "in progress"
        };
        CallSummary {
            key: self.key.clone(),
            call_id: self.call_id.clone(),
            direction: f.direction.unwrap_or("-"),
            caller: f.caller.clone(),
            caller_name: f.caller_name.clone(),
            dest: f.dest.clone(),
            user: f.user.clone(),
            outcome,
            statuses: f.statuses.clone(),
            events: self.entries.len(),
            dropped: self.dropped,
            violations: self.violations + self.end_violations.len(),
            answered_4xx: self.answered_4xx,
            types: f.types.clone(),
            first_received: self.first_received,
            last_received: self.last_received,
            version: self.version,
        }
    }

    fn matches(&self, filter: &Filter, summary: &CallSummary) -> bool {
        if filter.violations_only && summary.violations == 0 {
            return false;
        }
        if filter.outcome.as_deref().is_some_and(|o| o != summary.outcome) {
            return false;
        }
        if let Some(t) = &filter.event_type
            && !summary.types.contains(t)
        {
            return false;
        }
        match &filter.text {
            Some(text) if !text.is_empty() => self.haystack.contains(&text.to_lowercase()),
            _ => true,
        }
    }

    fn timeline(&self) -> Timeline {
        let summary = self.summary();
        // Each entry's own moment, when its payload carries one.
        let parsed: Vec<Option<Value>> = self
            .entries
            .iter()
            .map(|e| {
                e.body
                    .as_deref()
                    .filter(|_| e.json)
                    .and_then(|b| serde_json::from_str::<Value>(b).ok())
            })
            .collect();
        let start = parsed
            .iter()
            .flatten()
            .filter_map(|v| timestamp(v, "call_start_at"))
            .min()
            .or_else(|| parsed.iter().flatten().filter_map(moment).min());
        let mut at: Vec<Option<i64>> = parsed
            .iter()
            .map(|v| {
                let (start, m) = (start?, moment(v.as_ref()?)?);
                Some((m - start).num_milliseconds())
            })
            .collect();
        // Events without a moment of their own: between their neighbours, by arrival time.
        let mut estimated = vec![false; at.len()];
        let received: Vec<i64> =
            self.entries.iter().map(|e| e.received_at.timestamp_millis()).collect();
        for i in 0..at.len() {
            if at[i].is_some() || start.is_none() || parsed[i].is_none() {
                continue;
            }
            let prev = (0..i).rev().find(|&j| at[j].is_some() && !estimated[j]);
            let next = (i + 1..at.len()).find(|&j| at[j].is_some());
            // The call's start stands before its first event.
            let (p_at, p_recv) = match prev {
                Some(j) => (at[j].unwrap_or(0), received[j]),
                None => (0, received[0]),
            };
            let value = match next {
                Some(j) if at[j].unwrap_or(0) > p_at && received[j] > p_recv => {
                    let n_at = at[j].unwrap_or(0);
                    let frac = (received[i] - p_recv) as f64 / (received[j] - p_recv) as f64;
                    let between = p_at + ((n_at - p_at) as f64 * frac.clamp(0.0, 1.0)) as i64;
                    // Payload times have whole seconds: so do the estimates.
                    (between + 500) / 1000 * 1000
                }
                _ => p_at,
            };
            at[i] = Some(value);
            estimated[i] = true;
        }
        let mut rings = Vec::new();
        for (i, v) in parsed.iter().enumerate() {
            let Some(v) = v else { continue };
            if field_text(v, "type").as_deref() != Some("user_inbound") {
                continue;
            }
            let (Some(from), Some(user)) = (at[i], user_of(v)) else { continue };
            let number = field_text(v, "user_number");
            let answer = (i + 1..parsed.len()).find(|&j| {
                parsed[j].as_ref().is_some_and(|w| {
                    field_text(w, "type").as_deref() == Some("user_inbound_answered")
                        && field_text(w, "user_number") == number
                })
            });
            // Events within a second count as simultaneous (users rung at once by `ringall`).
            let end = answer.or_else(|| {
                (i + 1..at.len()).find(|&j| at[j].is_some_and(|t| t > from + SIMULTANEOUS_MS))
            });
            rings.push(Ring {
                user,
                from_ms: from,
                to_ms: end.and_then(|j| at[j]),
                answered: answer.is_some(),
                estimated: estimated[i] || end.is_some_and(|j| estimated[j]),
                via: field_text(v, "queue_name").map(|q| format!("queue {q}")).or_else(|| {
                    field_text(v, "ring_group_name").map(|g| format!("ring group {g}"))
                }),
            });
        }
        let entries = self
            .entries
            .iter()
            .zip(at.iter().zip(&estimated))
            .map(|(e, (at, est))| TimedEntry { entry: e.clone(), at_ms: *at, estimated: *est })
            .collect();
        Timeline {
            summary,
            start: start.map(|s| s.to_rfc3339_opts(SecondsFormat::Millis, true)),
            entries,
            rings,
            end_violations: self.end_violations.clone(),
        }
    }
}

/// A string field, non-empty; numbers as their digits.
fn field_text(event: &Value, name: &str) -> Option<String> {
    match event.get(name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `1011 Bob`, from `user_number` and `user_name`.
fn user_of(event: &Value) -> Option<String> {
    match (field_text(event, "user_number"), field_text(event, "user_name")) {
        (Some(n), Some(name)) => Some(format!("{n} {name}")),
        (Some(n), None) => Some(n),
        (None, name) => name,
    }
}

fn timestamp(event: &Value, name: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(event.get(name)?.as_str()?).ok()
}

fn seconds(event: &Value, name: &str) -> Option<i64> {
    match event.get(name)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The PBX time at which the event happened, from its own fields.
fn moment(event: &Value) -> Option<DateTime<FixedOffset>> {
    let ended = || {
        Some(
            timestamp(event, "call_start_at")?
                + chrono::Duration::seconds(seconds(event, "call_duration")?),
        )
    };
    match field_text(event, "type")?.as_str() {
        "user_inbound_answered" | "user_outbound_answered" => timestamp(event, "connected_at"),
        "user_inbound_completed" | "user_outbound_completed" | "queue_call" | "ring_group_call" => {
            ended()
        }
        "voicemail" | "recording_inbound" | "recording_outbound" => timestamp(event, "recorded_at"),
        "user_outbound" | "webhook_component_event" => timestamp(event, "call_start_at"),
        _ => None,
    }
}

/// The calls last seen, within [`Bounds`].
pub struct History {
    bounds: Bounds,
    calls: HashMap<String, Call>,
    /// Keys by first arrival, oldest first.
    order: VecDeque<String>,
    events: usize,
    bytes: usize,
    seq: u64,
    requests: u64,
    calls_seen: u64,
    evicted: u64,
}

/// How much the history holds, and has let go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub calls: usize,
    pub events: usize,
    pub bytes: usize,
    /// Calls seen since the start (kept or not).
    pub calls_seen: u64,
    pub evicted_calls: u64,
    pub max_calls: usize,
    pub max_events: usize,
    pub max_bytes: usize,
}

impl History {
    pub fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            calls: HashMap::new(),
            order: VecDeque::new(),
            events: 0,
            bytes: 0,
            seq: 0,
            requests: 0,
            calls_seen: 0,
            evicted: 0,
        }
    }

    pub fn kept(&self) -> Kept {
        Kept {
            calls: self.calls.len(),
            events: self.events,
            bytes: self.bytes,
            calls_seen: self.calls_seen,
            evicted_calls: self.evicted,
            max_calls: self.bounds.max_calls,
            max_events: self.bounds.max_events,
            max_bytes: self.bounds.max_bytes,
        }
    }

    /// The latest `seq` given out: changes whenever something is recorded.
    pub fn version(&self) -> u64 {
        self.seq
    }

    /// Store one request (each element of an array body as an event of its own), attach its
    /// violations to the event that broke the rule, then evict old calls past the bounds.
    pub fn record(&mut self, incoming: Incoming<'_>) {
        self.requests += 1;
        let request = self.requests;
        let headers = self.clip_headers(incoming.headers);
        let items: Vec<(Option<&Value>, Option<String>, bool)> = match incoming.body {
            Value::Array(items) if !items.is_empty() => {
                items.iter().map(|v| (Some(v), Some(v.to_string()), true)).collect()
            }
            Value::Null => vec![(None, None, false)],
            Value::String(raw) if incoming.reason.is_some() => {
                vec![(None, Some(raw.clone()), false)]
            }
            other => vec![(Some(other), Some(other.to_string()), true)],
        };
        let mut violations = incoming.violations;
        let count = items.len();
        let mut keys = Vec::with_capacity(count);
        for (i, (value, text, json)) in items.into_iter().enumerate() {
            self.seq += 1;
            let call_id = value.and_then(|v| field_text(v, "unique_call_id"));
            // The violations go to the last element of their call (or the last element).
            let mine: Vec<ViolationView> = if i + 1 == count {
                violations.drain(..).map(|v| ViolationView::from(&v)).collect()
            } else {
                let later_same = |id: &str| {
                    incoming.body.as_array().is_some_and(|a| {
                        a[i + 1..]
                            .iter()
                            .any(|w| field_text(w, "unique_call_id").as_deref() == Some(id))
                    })
                };
                let (take, keep): (Vec<_>, Vec<_>) = violations.drain(..).partition(|v| {
                    call_id.as_deref() == Some(v.call_id.as_str()) && !later_same(&v.call_id)
                });
                violations = keep;
                take.iter().map(ViolationView::from).collect()
            };
            let (body, body_note) = match text {
                Some(t) if t.len() > self.bounds.max_body_bytes => {
                    (None, Some(format!("body of {} bytes not kept", t.len())))
                }
                other => (other, None),
            };
            let entry = Entry {
                seq: self.seq,
                request,
                received_at: incoming.received_at,
                path: clip(incoming.path, 1024),
                headers: headers.clone(),
                status: incoming.status,
                one_off: incoming.one_off,
                reason: incoming.reason.map(|r| clip(r, 1024)),
                event_type: value.and_then(|v| field_text(v, "type")).map(|t| clip(&t, 64)),
                body,
                json,
                body_note,
                violations: mine,
            };
            let key = call_id.clone().unwrap_or_else(|| format!("#{request}"));
            self.push(key.clone(), call_id, entry, value);
            keys.push(key);
        }
        self.evict(&keys);
    }

    /// Attach the end-of-stream violations to their calls (kept calls only).
    pub fn record_end(&mut self, violations: &[Violation]) {
        for v in violations {
            self.seq += 1;
            if let Some(call) = self.calls.get_mut(&v.call_id) {
                let view = ViolationView::from(v);
                call.bytes += view.message.len();
                self.bytes += view.message.len();
                call.end_violations.push(view);
                call.version = self.seq;
            }
        }
    }

    fn clip_headers(&self, headers: Vec<(String, String)>) -> Vec<(String, String)> {
        let mut total = 0;
        let mut out = Vec::new();
        for (name, value) in headers {
            total += name.len() + value.len();
            if total > self.bounds.max_header_bytes {
                out.push(("…".to_string(), "further headers not kept".to_string()));
                break;
            }
            out.push((name, value));
        }
        out
    }

    fn push(&mut self, key: String, call_id: Option<String>, entry: Entry, value: Option<&Value>) {
        let size = ENTRY_OVERHEAD
            + entry.body.as_ref().map_or(0, String::len)
            + entry.headers.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>()
            + entry.path.len()
            + entry.reason.as_ref().map_or(0, String::len)
            + entry.violations.iter().map(|v| v.message.len()).sum::<usize>();
        let seq = entry.seq;
        let received = entry.received_at;
        let call = self.calls.entry(key.clone()).or_insert_with(|| {
            self.order.push_back(key.clone());
            self.calls_seen += 1;
            Call {
                key,
                call_id,
                entries: Vec::new(),
                dropped: 0,
                end_violations: Vec::new(),
                bytes: 0,
                version: seq,
                first_received: received,
                last_received: received,
                haystack: String::new(),
                fold: Fold::default(),
                violations: 0,
                answered_4xx: 0,
                refused: false,
            }
        });
        call.version = seq;
        call.last_received = received;
        call.violations += entry.violations.len();
        call.answered_4xx += usize::from((400..500).contains(&entry.status));
        call.refused |= !(200..300).contains(&entry.status);
        if let Some(v) = value {
            call.fold.apply(v);
        }
        if call.entries.len() >= self.bounds.max_events_per_call {
            call.dropped += 1;
            return;
        }
        if let Some(v) = value {
            call.add_to_haystack(v);
        }
        call.entries.push(entry);
        call.bytes += size;
        self.events += 1;
        self.bytes += size;
    }

    /// Evict the calls first seen longest ago until within the bounds, never one of `keep`
    /// (the calls just recorded).
    fn evict(&mut self, keep: &[String]) {
        let b = self.bounds;
        while self.calls.len() > b.max_calls
            || self.events > b.max_events
            || self.bytes > b.max_bytes
        {
            let Some(pos) = self.order.iter().position(|k| !keep.contains(k)) else { break };
            let Some(key) = self.order.remove(pos) else { break };
            if let Some(call) = self.calls.remove(&key) {
                self.events -= call.entries.len();
                self.bytes -= call.bytes;
                self.evicted += 1;
            }
        }
    }

    /// The calls that match, newest first: how many match, and `limit` of them from `offset`.
    pub fn list(&self, filter: &Filter, offset: usize, limit: usize) -> (usize, Vec<CallSummary>) {
        let mut matched = 0;
        let mut page = Vec::new();
        for key in self.order.iter().rev() {
            let Some(call) = self.calls.get(key) else { continue };
            let summary = call.summary();
            if !call.matches(filter, &summary) {
                continue;
            }
            if matched >= offset && page.len() < limit {
                page.push(summary);
            }
            matched += 1;
        }
        (matched, page)
    }

    /// Keys of the calls changed after `version`, newest first, at most `limit`.
    pub fn changed_since(&self, version: u64, limit: usize) -> Vec<String> {
        let mut changed: Vec<(&u64, &String)> = self
            .calls
            .values()
            .filter(|c| c.version > version)
            .map(|c| (&c.version, &c.key))
            .collect();
        changed.sort_unstable_by(|a, b| b.cmp(a));
        changed.into_iter().take(limit).map(|(_, k)| k.clone()).collect()
    }

    pub fn timeline(&self, key: &str) -> Option<Timeline> {
        self.calls.get(key).map(Call::timeline)
    }

    /// The events kept for `key`, in arrival order.
    pub fn entries_of(&self, key: &str) -> Option<&[Entry]> {
        self.calls.get(key).map(|c| c.entries.as_slice())
    }

    /// The event with this `seq`, if it is still kept.
    pub fn entry(&self, seq: u64) -> Option<&Entry> {
        self.calls.values().find_map(|c| {
            let i = c.entries.binary_search_by_key(&seq, |e| e.seq).ok()?;
            c.entries.get(i)
        })
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
