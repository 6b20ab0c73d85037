//! The conformance checker: could our PBX have sent this stream of webhook events?
//!
//! A [`Checker`] is fed one received body at a time ([`Checker::observe`]), live by the built-in
//! receiver or offline over an NDJSON capture ([`check_reader`]). It checks every event's fields
//! against the wire format of [`crate::event`] and every call's events against the engine's
//! sequencing rules, and returns the [`Violation`]s each body causes as it arrives.
//! [`Checker::finish`] adds the end-of-stream rules (an answered call that never completed, a
//! queue visit without its summary).
//!
//! Rules whose predecessor is an event type the sender does not send (its tick box is off, see
//! [`CheckerConfig::ticked`]) are skipped. The checker keeps a small state per call (a few
//! strings and flags) for every call it has seen, for the whole run.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::BufRead;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::{CallStatus, EventType, EventTypeSet, FieldKind, NULL_TEXT};

/// The header `pbxsim trigger` sends (value `1`): the request is a one-off event, to be checked
/// on its own ([`Checker::observe_lone`]) rather than as part of a call. The receiver honours
/// it, and so does [`check_reader`] for saved envelopes.
pub const TRIGGER_HEADER: &str = "x-pbxsim-trigger";

/// Whether a request's headers mark it as a one-off event ([`TRIGGER_HEADER`]).
pub fn is_one_off(header_value: Option<&str>) -> bool {
    header_value.is_some_and(|v| v.trim() == "1")
}

/// The rules a stream of events can break, with stable kebab-case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// A body (or a line of a capture) is not JSON, or not a JSON object.
    Malformed,
    /// Fields per type, with their JSON types; known `type`; no unknown fields.
    Fields,
    /// `caller_id`, `caller_name`, `dest_number` and `call_start_at` agree across a call.
    CallFields,
    /// Duration arithmetic and timestamps in order.
    Durations,
    /// The order of a call's events.
    Order,
    /// Summary statuses consistent with the summary's fields.
    Status,
    /// No `voicemail` in a call that was answered.
    VoicemailAfterAnswer,
    /// End of stream: something started that never finished.
    Incomplete,
}

impl Rule {
    pub const ALL: [Rule; 8] = [
        Self::Malformed,
        Self::Fields,
        Self::CallFields,
        Self::Durations,
        Self::Order,
        Self::Status,
        Self::VoicemailAfterAnswer,
        Self::Incomplete,
    ];

    /// The rule's stable name, e.g. `call-fields`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Fields => "fields",
            Self::CallFields => "call-fields",
            Self::Durations => "durations",
            Self::Order => "order",
            Self::Status => "status",
            Self::VoicemailAfterAnswer => "voicemail-after-answer",
            Self::Incomplete => "incomplete",
        }
    }

    /// One line saying what the rule checks.
    pub fn description(self) -> &'static str {
        match self {
            Self::Malformed => "every body is a JSON object or an array of objects",
            Self::Fields => "every field of the type is present with its JSON type; no others",
            Self::CallFields => "caller, destination and start time agree across a call",
            Self::Durations => "durations agree with the timestamps",
            Self::Order => "a call's events arrive in an order the PBX sends them",
            Self::Status => "summary statuses agree with the summary's fields",
            Self::VoicemailAfterAnswer => "no voicemail in an answered call",
            Self::Incomplete => "every answered call completes; every queue visit is summarised",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule: which call, which rule, and what is wrong (naming the event type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The call's `unique_call_id`; empty when the body has none (e.g. malformed JSON).
    pub call_id: String,
    pub rule: Rule,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.call_id.is_empty() {
            write!(f, "[{}] {}", self.rule, self.message)
        } else {
            write!(f, "[{}] call {}: {}", self.rule, self.call_id, self.message)
        }
    }
}

/// What the checker expects of the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckerConfig {
    /// The event types the sender is expected to send (its tick boxes). Rules that need an
    /// earlier event of a type not ticked are skipped. Default: all 12.
    pub ticked: EventTypeSet,
    /// Accept a digit string (`"28"`) where an integer is due. Default: integers only.
    pub lenient_numbers: bool,
    /// Which rules apply: all of them (default), or only those about each event on its own.
    pub scope: Scope,
    /// Accept fields the vendor document does not list (`--chaos extra_fields`, or a newer
    /// sender). Default: they break the `fields` rule.
    pub extra_fields: bool,
}

impl Default for CheckerConfig {
    fn default() -> Self {
        Self {
            ticked: EventTypeSet::ALL,
            lenient_numbers: false,
            scope: Scope::All,
            extra_fields: false,
        }
    }
}

/// How much the checker checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every rule: each event's fields and each call's sequence.
    #[default]
    All,
    /// Each event on its own, as a one-off (`pbxsim trigger`): `malformed`, `fields`, and the
    /// `durations` and `status` rules within the event. No call is followed, so there is no
    /// `call-fields`, `order`, `voicemail-after-answer` or `incomplete` violation.
    Fields,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Fields => "fields",
        }
    }
}

/// Counts over everything observed so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckSummary {
    /// Distinct `unique_call_id`s seen.
    pub calls: u64,
    /// Event objects seen, whatever their type.
    pub events: u64,
    /// Events per known type (types never seen are left out).
    pub per_type: BTreeMap<EventType, u64>,
    /// Violations in all.
    pub violations: u64,
    /// Violations per rule (rules never broken are left out).
    pub per_rule: BTreeMap<Rule, u64>,
}

impl CheckSummary {
    pub fn events_of(&self, t: EventType) -> u64 {
        self.per_type.get(&t).copied().unwrap_or(0)
    }
    pub fn violations_of(&self, rule: Rule) -> u64 {
        self.per_rule.get(&rule).copied().unwrap_or(0)
    }
}

impl fmt::Display for CheckSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "calls seen: {}", self.calls)?;
        writeln!(f, "events:     {}", self.events)?;
        for (t, n) in &self.per_type {
            writeln!(f, "  {:<26}{n:>8}", t.as_str())?;
        }
        write!(f, "violations: {}", self.violations)?;
        for (rule, n) in &self.per_rule {
            write!(f, "\n  {:<26}{n:>8}", rule.as_str())?;
        }
        Ok(())
    }
}

type Stamp = DateTime<FixedOffset>;

/// Which way a call goes, judged by its event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    fn of(t: EventType) -> Self {
        match t {
            EventType::UserOutbound
            | EventType::UserOutboundAnswered
            | EventType::UserOutboundCompleted
            | EventType::RecordingOutbound => Self::Outbound,
            _ => Self::Inbound,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }
}

/// A user rung on behalf of a queue, a ring group, or neither.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Leg {
    user: Box<str>,
    queue: Option<Box<str>>,
    ring_group: Option<Box<str>>,
}

impl Leg {
    fn describe(&self) -> String {
        let mut s = format!("user {}", self.user);
        if let Some(q) = &self.queue {
            s.push_str(&format!(" via queue {q}"));
        }
        if let Some(g) = &self.ring_group {
            s.push_str(&format!(" via ring group {g}"));
        }
        s
    }
}

/// A leg rung for a call, how often it rang (`user_inbound`) and how often it completed
/// unanswered (`user_inbound_completed` without `connected_at`).
#[derive(Debug, Clone)]
struct Rung {
    leg: Leg,
    rings: u32,
    missed: u32,
}

#[derive(Debug, Clone)]
struct Completed {
    leg: Leg,
    connected_at: Option<Stamp>,
    call_duration: Option<u64>,
    conversation_duration: Option<u64>,
}

/// One queue or ring group a call visited.
#[derive(Debug, Clone)]
struct Visit {
    name: Box<str>,
    /// A summary for it has arrived.
    summarised: bool,
    /// A `user_inbound` for it has arrived since its last summary (or ever).
    rung_since_summary: bool,
    /// Its last summary had status `timedout` (the call may visit it again).
    last_timedout: bool,
    /// The `call_duration` of its last summary (a new visit ends later).
    last_duration: Option<u64>,
}

/// What the checker remembers of one call.
#[derive(Debug, Default)]
struct CallState {
    direction: Option<Direction>,
    caller_id: Option<Box<str>>,
    caller_name: Option<Box<str>>,
    dest_number: Option<Box<str>>,
    call_start_at: Option<Box<str>>,
    start: Option<Stamp>,
    /// Distinct legs rung (`user_inbound`).
    rung: Vec<Rung>,
    /// The `user_inbound_answered` (there is at most one).
    answered: Option<(Leg, Option<Stamp>)>,
    /// Answered, by a `user_inbound_answered` or an answered summary.
    was_answered: bool,
    completed: Option<Completed>,
    queues: Vec<Visit>,
    ring_groups: Vec<Visit>,
    voicemail: bool,
    outbound_user: Option<Box<str>>,
    outbound_answered: Option<Option<Stamp>>,
    outbound_completed: bool,
    recorded: bool,
}

/// Checks a stream of received webhook bodies; see the module documentation.
#[derive(Debug)]
pub struct Checker {
    cfg: CheckerConfig,
    calls: HashMap<Box<str>, CallState>,
    summary: CheckSummary,
    finished: bool,
}

impl Checker {
    pub fn new(cfg: CheckerConfig) -> Self {
        Self { cfg, calls: HashMap::new(), summary: CheckSummary::default(), finished: false }
    }

    pub fn config(&self) -> CheckerConfig {
        self.cfg
    }

    /// Check one received body: a payload object, or an array of them (batched delivery),
    /// taken in order. Returns the violations it caused (empty if it is fine).
    pub fn observe(&mut self, body: &Value) -> Vec<Violation> {
        self.observe_in(body, self.cfg.scope)
    }

    /// Check one body as a one-off ([`Scope::Fields`]) whatever the configured scope: each
    /// event on its own, without following its call (a `pbxsim trigger` event).
    pub fn observe_lone(&mut self, body: &Value) -> Vec<Violation> {
        self.observe_in(body, Scope::Fields)
    }

    fn observe_in(&mut self, body: &Value, scope: Scope) -> Vec<Violation> {
        let mut out = Vec::new();
        match body {
            Value::Array(items) => {
                for item in items {
                    self.observe_one(item, scope, &mut out);
                }
            }
            _ => self.observe_one(body, scope, &mut out),
        }
        self.count(&out);
        out
    }

    /// Record a body that could not be read at all (not JSON) as a `malformed` violation.
    pub fn reject(&mut self, message: impl Into<String>) -> Violation {
        let v =
            Violation { call_id: String::new(), rule: Rule::Malformed, message: message.into() };
        self.count(std::slice::from_ref(&v));
        v
    }

    /// The end-of-stream rules: answered calls that never completed, queue and ring group
    /// visits without a summary, outbound calls that never completed. Returns nothing when
    /// called again.
    pub fn finish(&mut self) -> Vec<Violation> {
        if self.finished {
            return Vec::new();
        }
        self.finished = true;
        let ticked = self.cfg.ticked;
        let mut ids: Vec<&Box<str>> = self.calls.keys().collect();
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            let call = &self.calls[id];
            let mut flag = |message: String| {
                out.push(Violation { call_id: id.to_string(), rule: Rule::Incomplete, message })
            };
            if ticked.contains(EventType::UserInboundCompleted)
                && call.completed.is_none()
                && let Some((leg, _)) = &call.answered
            {
                flag(format!(
                    "answered but never completed: user_inbound_answered for {} and no \
                     user_inbound_completed",
                    leg.describe()
                ));
            }
            for (kind, summary, visits) in [
                ("queue", EventType::QueueCall, &call.queues),
                ("ring group", EventType::RingGroupCall, &call.ring_groups),
            ] {
                if !ticked.contains(summary) {
                    continue;
                }
                for visit in visits.iter().filter(|v| v.rung_since_summary) {
                    flag(format!(
                        "{kind} visit without summary: user_inbound via {kind} {} and no {} \
                         after it",
                        visit.name,
                        summary.as_str()
                    ));
                }
            }
            if ticked.contains(EventType::UserOutboundCompleted)
                && !call.outbound_completed
                && let Some(user) = &call.outbound_user
            {
                flag(format!(
                    "outbound call never completed: user_outbound from user {user} and no \
                     user_outbound_completed"
                ));
            }
        }
        self.count(&out);
        out
    }

    /// Counts so far.
    pub fn summary(&self) -> CheckSummary {
        self.summary.clone()
    }

    fn count(&mut self, violations: &[Violation]) {
        for v in violations {
            self.summary.violations += 1;
            *self.summary.per_rule.entry(v.rule).or_default() += 1;
        }
    }

    fn observe_one(&mut self, value: &Value, scope: Scope, out: &mut Vec<Violation>) {
        let Some(map) = value.as_object() else {
            out.push(Violation {
                call_id: String::new(),
                rule: Rule::Malformed,
                message: format!("an event must be a JSON object, got {}", json_kind(value)),
            });
            return;
        };
        self.summary.events += 1;
        let call_id = map.get("unique_call_id").and_then(Value::as_str).unwrap_or("");
        let mut flag = |rule: Rule, message: String| {
            out.push(Violation { call_id: call_id.to_string(), rule, message })
        };
        let ty = match map.get("type") {
            None => return flag(Rule::Fields, "event has no `type` field".into()),
            Some(Value::String(name)) => match name.parse::<EventType>() {
                Ok(t) => t,
                Err(e) => return flag(Rule::Fields, e.to_string()),
            },
            Some(other) => {
                return flag(Rule::Fields, format!("`type` must be a string, got {}", show(other)));
            }
        };
        *self.summary.per_type.entry(ty).or_default() += 1;
        for problem in field_problems(ty, map, self.cfg) {
            flag(Rule::Fields, format!("{ty}: {problem}"));
        }
        if call_id.is_empty() {
            return; // Without a call id there is no call to follow (already flagged).
        }
        let view = View { ty, map, lenient: self.cfg.lenient_numbers };
        let call = match self.calls.get_mut(call_id) {
            Some(call) => call,
            None => {
                self.summary.calls += 1;
                self.calls.entry(call_id.into()).or_default()
            }
        };
        let mut flag = |rule: Rule, message: String| {
            out.push(Violation { call_id: call_id.to_string(), rule, message })
        };
        if scope == Scope::Fields {
            // The call is counted but not followed: the event is checked against itself.
            check_durations(&CallState::default(), &view, &mut flag);
            if let Some((kind, name)) = summary_of(&view) {
                check_summary_fields(&view, kind, name, &mut flag);
            }
            return;
        }
        check_call_fields(call, &view, &mut flag);
        check_durations(call, &view, &mut flag);
        check_sequence(self.cfg.ticked, call, &view, &mut flag);
    }
}

/// What is wrong with the fields of one payload of type `ty`.
fn field_problems(ty: EventType, map: &Map<String, Value>, cfg: CheckerConfig) -> Vec<String> {
    let lenient = cfg.lenient_numbers;
    let mut problems = Vec::new();
    let fields = ty.fields();
    for f in fields {
        let value = map.get(f.name);
        let problem = match (f.kind, value) {
            (FieldKind::OptionalString, None | Some(Value::Null)) => None,
            (_, None) => Some(format!("missing field `{}`", f.name)),
            (FieldKind::String | FieldKind::OptionalString, Some(v)) if !v.is_string() => {
                Some(format!("`{}` must be a string, got {}", f.name, show(v)))
            }
            (FieldKind::Integer, Some(v)) => {
                let ok = v.is_u64() || (lenient && v.as_str().is_some_and(is_digits));
                (!ok).then(|| {
                    format!("`{}` must be a non-negative integer, got {}", f.name, show(v))
                })
            }
            (FieldKind::Status, Some(v)) => {
                let ok =
                    v.as_str().is_some_and(|s| CallStatus::ALL.iter().any(|c| c.as_str() == s));
                (!ok).then(|| {
                    format!("`status` must be one of answered|abandoned|timedout, got {}", show(v))
                })
            }
            _ => None,
        };
        if let Some(p) = problem {
            problems.push(p);
            continue;
        }
        if is_timestamp(f.name)
            && let Some(Value::String(text)) = value
            && !(f.kind == FieldKind::OptionalString && is_blank_text(text))
            && let Err(e) = DateTime::parse_from_rfc3339(text)
        {
            problems.push(format!(
                "`{}` is not an RFC 3339 timestamp: {} ({e})",
                f.name,
                show_str(text)
            ));
        }
        if f.name == "unique_call_id" && value.and_then(Value::as_str) == Some("") {
            problems.push("`unique_call_id` is empty".into());
        }
    }
    let names = || fields.iter().map(|f| f.name);
    for key in map.keys().filter(|_| !cfg.extra_fields) {
        if key != "type" && !names().any(|n| n == key) {
            let hint = crate::suggest::did_you_mean(key, names());
            let hint = if hint.is_empty() { hint } else { format!("; {hint}") };
            problems.push(format!("unknown field `{key}`{hint}"));
        }
    }
    problems
}

/// A string that means "not applicable" in a field that may be null: empty, or the literal
/// `"null"` some senders write (`nulls=string`).
fn is_blank_text(text: &str) -> bool {
    text.is_empty() || text == NULL_TEXT
}

fn is_timestamp(name: &str) -> bool {
    matches!(name, "call_start_at" | "connected_at" | "recorded_at")
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// One payload, read leniently: accessors answer `None` for what is absent, null, empty or of
/// the wrong type (the fields rule reports those).
struct View<'a> {
    ty: EventType,
    map: &'a Map<String, Value>,
    lenient: bool,
}

impl<'a> View<'a> {
    /// Whether the field may be null in this type (so `"null"` means "not applicable").
    fn optional(&self, name: &str) -> bool {
        self.ty.fields().iter().any(|f| f.name == name && f.kind == FieldKind::OptionalString)
    }
    /// A non-empty string field (not `"null"` where the field may be null).
    fn text(&self, name: &str) -> Option<&'a str> {
        self.map
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !(s.is_empty() || (*s == NULL_TEXT && self.optional(name))))
    }
    /// Absent, null or empty (or `"null"` where the field may be null).
    fn blank(&self, name: &str) -> bool {
        match self.map.get(name) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty() || (s == NULL_TEXT && self.optional(name)),
            Some(_) => false,
        }
    }
    fn stamp(&self, name: &str) -> Option<Stamp> {
        self.text(name).and_then(|s| DateTime::parse_from_rfc3339(s).ok())
    }
    fn int(&self, name: &str) -> Option<u64> {
        match self.map.get(name)? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) if self.lenient && is_digits(s) => s.parse().ok(),
            _ => None,
        }
    }
    fn status(&self) -> Option<CallStatus> {
        let s = self.text("status")?;
        CallStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }
    /// The caller's CLI: `caller_id`, or `user_number` in a webhook component event.
    fn caller_id(&self) -> Option<&'a str> {
        match self.ty {
            EventType::WebhookComponentEvent => self.text("user_number"),
            _ => self.text("caller_id"),
        }
    }
    /// The caller's CNAM: `caller_name`, or `user_name` in a webhook component event.
    fn caller_name(&self) -> Option<&'a str> {
        match self.ty {
            EventType::WebhookComponentEvent => self.text("user_name"),
            _ => self.text("caller_name"),
        }
    }
    fn leg(&self) -> Option<Leg> {
        Some(Leg {
            user: self.text("user_number")?.into(),
            queue: self.text("queue_name").map(Into::into),
            ring_group: self.text("ring_group_name").map(Into::into),
        })
    }
}

/// Rule `call-fields`.
fn check_call_fields(call: &mut CallState, v: &View, flag: &mut impl FnMut(Rule, String)) {
    let ty = v.ty;
    let wce = ty == EventType::WebhookComponentEvent;
    let checks = [
        (
            if wce { "user_number (the caller's CLI)" } else { "caller_id" },
            &mut call.caller_id,
            v.caller_id(),
        ),
        (
            if wce { "user_name (the caller's CNAM)" } else { "caller_name" },
            &mut call.caller_name,
            v.caller_name(),
        ),
        ("dest_number", &mut call.dest_number, v.text("dest_number")),
        ("call_start_at", &mut call.call_start_at, v.text("call_start_at")),
    ];
    for (label, seen, now) in checks {
        match (seen.as_deref(), now) {
            (Some(before), Some(now)) if before != now => flag(
                Rule::CallFields,
                format!(
                    "{ty}: {label} is {} but earlier events of the call have {}",
                    show_str(now),
                    show_str(before)
                ),
            ),
            (None, Some(now)) => *seen = Some(now.into()),
            _ => {}
        }
    }
    if call.start.is_none() {
        call.start = v.stamp("call_start_at");
    }
}

/// Rule `durations`.
fn check_durations(call: &CallState, v: &View, flag: &mut impl FnMut(Rule, String)) {
    let ty = v.ty;
    match ty {
        EventType::UserInboundAnswered
        | EventType::UserOutboundAnswered
        | EventType::UserInboundCompleted
        | EventType::UserOutboundCompleted
        | EventType::QueueCall
        | EventType::RingGroupCall => {
            let start = v.stamp("call_start_at");
            let connected = v.stamp("connected_at");
            if let (Some(start), Some(connected)) = (start, connected)
                && connected < start
            {
                flag(
                    Rule::Durations,
                    format!(
                        "{ty}: connected_at {} is before call_start_at {}",
                        show_stamp(Some(connected)),
                        show_stamp(Some(start))
                    ),
                );
            }
            let (Some(call_d), Some(talk)) =
                (v.int("call_duration"), v.int("conversation_duration"))
            else {
                return;
            };
            if v.blank("connected_at") {
                if talk != 0 {
                    flag(
                        Rule::Durations,
                        format!(
                            "{ty}: connected_at is null but conversation_duration is {talk} \
                             (an unanswered call talks for 0 s)"
                        ),
                    );
                }
                return;
            }
            let (Some(start), Some(connected)) = (start, connected) else { return };
            if talk > call_d {
                flag(
                    Rule::Durations,
                    format!("{ty}: conversation_duration {talk} exceeds call_duration {call_d}"),
                );
            }
            let end_a = start.timestamp_millis() + secs_to_ms(call_d);
            let end_b = connected.timestamp_millis() + secs_to_ms(talk);
            let gap = (end_a - end_b).abs();
            if gap > 1_000 {
                flag(
                    Rule::Durations,
                    format!(
                        "{ty}: call_start_at + call_duration ({call_d} s) and connected_at + \
                         conversation_duration ({talk} s) end {} s apart (at most 1 s allowed)",
                        gap as f64 / 1_000.0
                    ),
                );
            }
        }
        EventType::Voicemail | EventType::RecordingInbound | EventType::RecordingOutbound => {
            if let (Some(start), Some(recorded)) = (call.start, v.stamp("recorded_at"))
                && recorded < start
            {
                flag(
                    Rule::Durations,
                    format!(
                        "{ty}: recorded_at {} is before the call's call_start_at {}",
                        show_stamp(Some(recorded)),
                        show_stamp(Some(start))
                    ),
                );
            }
        }
        EventType::UserInbound | EventType::UserOutbound | EventType::WebhookComponentEvent => {}
    }
}

fn secs_to_ms(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX / 2_000).saturating_mul(1_000)
}

/// Rules `order`, `status` and `voicemail-after-answer`.
fn check_sequence(
    ticked: EventTypeSet,
    call: &mut CallState,
    v: &View,
    flag: &mut impl FnMut(Rule, String),
) {
    let ty = v.ty;
    let dir = Direction::of(ty);
    match call.direction {
        None => call.direction = Some(dir),
        Some(d) if d != dir => flag(
            Rule::Order,
            format!(
                "{ty} is an {} event but the call is {}: a call's events never mix directions",
                dir.as_str(),
                d.as_str()
            ),
        ),
        Some(_) => {}
    }
    let is_call_leg = !matches!(
        ty,
        EventType::Voicemail
            | EventType::RecordingInbound
            | EventType::RecordingOutbound
            | EventType::WebhookComponentEvent
    );
    if call.recorded && is_call_leg {
        flag(Rule::Order, format!("{ty} after the call's recording event (recordings come last)"));
    }
    let user = v.text("user_number");
    match ty {
        EventType::UserInbound => {
            let Some(leg) = v.leg() else { return };
            if let Some(q) = &leg.queue {
                visit(&mut call.queues, q).rung_since_summary = true;
            }
            if let Some(g) = &leg.ring_group {
                visit(&mut call.ring_groups, g).rung_since_summary = true;
            }
            match call.rung.iter_mut().find(|r| r.leg == leg) {
                Some(r) => r.rings += 1,
                None => call.rung.push(Rung { leg, rings: 1, missed: 0 }),
            }
        }
        EventType::UserInboundAnswered => {
            let Some(leg) = v.leg() else { return };
            if call.voicemail {
                flag(
                    Rule::VoicemailAfterAnswer,
                    format!("{ty} for {} after the call's voicemail", leg.describe()),
                );
            }
            if let Some((first, _)) = &call.answered {
                flag(
                    Rule::Order,
                    format!(
                        "a second {ty} ({}); the call was already answered by {} and our PBX \
                         has no transfers",
                        leg.describe(),
                        first.describe()
                    ),
                );
                return;
            }
            if ticked.contains(EventType::UserInbound)
                && !call.rung.iter().any(|r| leg_matches(&r.leg, &leg))
            {
                flag(
                    Rule::Order,
                    format!("{ty} for {} without an earlier user_inbound for it", leg.describe()),
                );
            }
            call.answered = Some((leg, v.stamp("connected_at")));
            call.was_answered = true;
        }
        EventType::UserInboundCompleted if v.blank("connected_at") => {
            let Some(leg) = v.leg() else { return };
            check_unanswered_completion(ticked, call, &leg, ty, flag);
        }
        EventType::UserInboundCompleted => {
            let Some(leg) = v.leg() else { return };
            let connected_at = v.stamp("connected_at");
            if ticked.contains(EventType::UserInboundAnswered) {
                match &call.answered {
                    None => flag(
                        Rule::Order,
                        format!(
                            "{ty} for {} without an earlier user_inbound_answered",
                            leg.describe()
                        ),
                    ),
                    Some((a, at)) if a.user != leg.user || *at != connected_at => flag(
                        Rule::Order,
                        format!(
                            "{ty} for {} connected at {} does not match the call's \
                             user_inbound_answered ({} connected at {})",
                            leg.describe(),
                            show_stamp(connected_at),
                            a.describe(),
                            show_stamp(*at)
                        ),
                    ),
                    Some(_) => {}
                }
            }
            if call.completed.is_some() {
                flag(Rule::Order, format!("a second {ty} ({})", leg.describe()));
            }
            call.completed = Some(Completed {
                leg,
                connected_at,
                call_duration: v.int("call_duration"),
                conversation_duration: v.int("conversation_duration"),
            });
        }
        EventType::QueueCall | EventType::RingGroupCall => {
            let (kind, name_field) = if ty == EventType::QueueCall {
                ("queue", "queue_name")
            } else {
                ("ring group", "ring_group_name")
            };
            let Some(name) = v.text(name_field) else { return };
            let visits =
                if ty == EventType::QueueCall { &mut call.queues } else { &mut call.ring_groups };
            let seen = visits.iter().any(|x| &*x.name == name);
            let entry = visit(visits, name);
            // A visit that timed out may be followed by another visit to the same queue
            // (the flow can name it again, and all members may be busy so nobody rings); an
            // answered or abandoned visit ends the call, so another summary is a duplicate.
            let same_instant = entry.last_duration == v.int("call_duration");
            if seen
                && entry.summarised
                && (!entry.last_timedout || (same_instant && !entry.rung_since_summary))
            {
                flag(
                    Rule::Order,
                    format!(
                        "duplicate summary: a second {ty} for {kind} {name} after the call left \
                         it answered or abandoned, or at the same instant (one summary per visit)"
                    ),
                );
            }
            entry.last_timedout = v.text("status") == Some("timedout");
            entry.last_duration = v.int("call_duration");
            entry.summarised = true;
            entry.rung_since_summary = false;
            check_summary(ticked, call, v, kind, name, flag);
        }
        EventType::Voicemail => {
            if call.was_answered {
                let by = match &call.answered {
                    Some((leg, _)) => format!(" by {}", leg.describe()),
                    None => String::new(),
                };
                flag(Rule::VoicemailAfterAnswer, format!("{ty} in a call answered{by}"));
            }
            call.voicemail = true;
        }
        EventType::RecordingInbound => {
            if ticked.contains(EventType::UserInboundCompleted)
                && call.completed.is_none()
                && let Some((leg, _)) = &call.answered
            {
                flag(
                    Rule::Order,
                    format!(
                        "{ty} before the user_inbound_completed of {} (a recording is sent \
                         after the recorded call ends)",
                        leg.describe()
                    ),
                );
            }
            call.recorded = true;
        }
        EventType::UserOutbound => {
            let Some(user) = user else { return };
            if call.outbound_user.is_some() {
                flag(Rule::Order, format!("a second {ty} (user {user}) in one call"));
            } else {
                call.outbound_user = Some(user.into());
            }
        }
        EventType::UserOutboundAnswered
        | EventType::UserOutboundCompleted
        | EventType::RecordingOutbound => {
            let Some(user) = user else { return };
            if ticked.contains(EventType::UserOutbound)
                && call.outbound_user.as_deref() != Some(user)
            {
                flag(
                    Rule::Order,
                    format!("{ty} for user {user} without an earlier user_outbound from that user"),
                );
            }
            match ty {
                EventType::UserOutboundAnswered => {
                    if call.outbound_answered.is_some() {
                        flag(Rule::Order, format!("a second {ty} in one call"));
                    }
                    call.outbound_answered = Some(v.stamp("connected_at"));
                }
                EventType::UserOutboundCompleted => {
                    if call.outbound_completed {
                        flag(Rule::Order, format!("a second {ty} in one call"));
                    }
                    call.outbound_completed = true;
                    check_outbound_completed(ticked, call, v, flag);
                }
                _ => {
                    if ticked.contains(EventType::UserOutboundCompleted) && !call.outbound_completed
                    {
                        flag(
                            Rule::Order,
                            format!(
                                "{ty} before user_outbound_completed (a recording is sent after \
                                 the recorded call ends)"
                            ),
                        );
                    }
                    call.recorded = true;
                }
            }
        }
        EventType::WebhookComponentEvent => {}
    }
}

/// A `user_inbound_completed` without `connected_at`: the scenario option
/// `unanswered_completion = "completed"` sends one to each user who rang and did not answer,
/// when their phone stops ringing. It must follow a ring of that leg (one per ring), and never
/// come for the user who answered, after the answer.
fn check_unanswered_completion(
    ticked: EventTypeSet,
    call: &mut CallState,
    leg: &Leg,
    ty: EventType,
    flag: &mut impl FnMut(Rule, String),
) {
    if let Some((answered, at)) = &call.answered
        && answered.user == leg.user
    {
        flag(
            Rule::Order,
            format!(
                "{ty} without connected_at for {}, who answered the call at {} (the answering \
                 user's completion carries connected_at)",
                leg.describe(),
                show_stamp(*at)
            ),
        );
        return;
    }
    if !ticked.contains(EventType::UserInbound) {
        return;
    }
    let matching = || call.rung.iter().filter(|r| leg_matches(&r.leg, leg));
    let rings: u32 = matching().map(|r| r.rings).sum();
    let missed: u32 = matching().map(|r| r.missed).sum();
    if rings == 0 {
        flag(
            Rule::Order,
            format!(
                "{ty} without connected_at for {} without an earlier user_inbound for it (an \
                 unanswered completion follows a ring)",
                leg.describe()
            ),
        );
    } else if missed >= rings {
        flag(
            Rule::Order,
            format!(
                "a second {ty} without connected_at for {} after one ring (one per ring)",
                leg.describe()
            ),
        );
    } else if let Some(r) =
        call.rung.iter_mut().find(|r| leg_matches(&r.leg, leg) && r.missed < r.rings)
    {
        r.missed += 1;
    }
}

fn check_outbound_completed(
    ticked: EventTypeSet,
    call: &CallState,
    v: &View,
    flag: &mut impl FnMut(Rule, String),
) {
    let ty = v.ty;
    if !ticked.contains(EventType::UserOutboundAnswered) {
        return;
    }
    let connected_blank = v.blank("connected_at");
    match (&call.outbound_answered, connected_blank) {
        (None, false) => flag(
            Rule::Order,
            format!(
                "{ty} with connected_at {} but no earlier user_outbound_answered",
                show_stamp(v.stamp("connected_at"))
            ),
        ),
        (Some(at), false) if *at != v.stamp("connected_at") => flag(
            Rule::Order,
            format!(
                "{ty} connected at {} but user_outbound_answered said {}",
                show_stamp(v.stamp("connected_at")),
                show_stamp(*at)
            ),
        ),
        (Some(at), true) => flag(
            Rule::Order,
            format!(
                "{ty} has no connected_at but the call was answered at {} \
                 (user_outbound_answered)",
                show_stamp(*at)
            ),
        ),
        _ => {}
    }
}

/// `status` of a queue or ring group summary, and the order rule for answered summaries.
fn check_summary(
    ticked: EventTypeSet,
    call: &mut CallState,
    v: &View,
    kind: &str,
    name: &str,
    flag: &mut impl FnMut(Rule, String),
) {
    let ty = v.ty;
    let Some(status) = v.status() else { return };
    if !check_summary_fields(v, kind, name, flag) {
        return;
    }
    match status {
        CallStatus::Answered => {
            call.was_answered = true;
            if !ticked.contains(EventType::UserInboundCompleted) {
                return;
            }
            let user = v.text("user_number").unwrap_or_default();
            let Some(done) = &call.completed else {
                flag(
                    Rule::Order,
                    format!(
                        "{ty} for {kind} {name} answered by user {user} without an earlier \
                         user_inbound_completed"
                    ),
                );
                return;
            };
            let via =
                if ty == EventType::QueueCall { &done.leg.queue } else { &done.leg.ring_group };
            let mut differs = Vec::new();
            if via.as_deref() != Some(name) {
                differs.push(format!("{kind} ({})", via.as_deref().unwrap_or("none")));
            }
            if &*done.leg.user != user {
                differs.push(format!("user_number ({})", done.leg.user));
            }
            if done.connected_at != v.stamp("connected_at") {
                differs.push(format!("connected_at ({})", show_stamp(done.connected_at)));
            }
            if done.call_duration != v.int("call_duration") {
                differs.push(format!("call_duration ({})", show_int(done.call_duration)));
            }
            if done.conversation_duration != v.int("conversation_duration") {
                differs.push(format!(
                    "conversation_duration ({})",
                    show_int(done.conversation_duration)
                ));
            }
            if !differs.is_empty() {
                flag(
                    Rule::Order,
                    format!(
                        "{ty} for {kind} {name} (answered by user {user}) does not match the \
                         call's user_inbound_completed: it differs in {}",
                        differs.join(", ")
                    ),
                );
            }
        }
        CallStatus::Abandoned | CallStatus::Timedout => {}
    }
}

/// A queue or ring group summary's kind and name, if `v` is one.
fn summary_of<'a>(v: &View<'a>) -> Option<(&'static str, &'a str)> {
    match v.ty {
        EventType::QueueCall => Some(("queue", v.text("queue_name")?)),
        EventType::RingGroupCall => Some(("ring group", v.text("ring_group_name")?)),
        _ => None,
    }
}

/// Rule `status` within one summary: its status agrees with its own fields. False when it
/// does not.
fn check_summary_fields(
    v: &View,
    kind: &str,
    name: &str,
    flag: &mut impl FnMut(Rule, String),
) -> bool {
    let ty = v.ty;
    let Some(status) = v.status() else { return true };
    match status {
        CallStatus::Answered => {
            let missing: Vec<&str> =
                ["user_number", "connected_at"].into_iter().filter(|f| v.blank(f)).collect();
            if !missing.is_empty() {
                flag(
                    Rule::Status,
                    format!(
                        "{ty} for {kind} {name} has status answered but no {}",
                        missing.join(" and no ")
                    ),
                );
                return false;
            }
            true
        }
        CallStatus::Abandoned | CallStatus::Timedout => {
            let mut wrong: Vec<String> = ["user_name", "user_number", "connected_at"]
                .into_iter()
                .filter(|f| !v.blank(f))
                .map(|f| format!("{f} is set"))
                .collect();
            if let Some(talk) = v.int("conversation_duration")
                && talk != 0
            {
                wrong.push(format!("conversation_duration is {talk}"));
            }
            if !wrong.is_empty() {
                flag(
                    Rule::Status,
                    format!(
                        "{ty} for {kind} {name} has status {status} but {} (a call nobody \
                         answered has no user, no connected_at and 0 s of conversation)",
                        wrong.join(", ")
                    ),
                );
            }
            wrong.is_empty()
        }
    }
}

/// Does the answered leg `answered` match the rung leg `rung`? The queue and ring group must
/// agree when the answer names them.
fn leg_matches(rung: &Leg, answered: &Leg) -> bool {
    rung.user == answered.user
        && (answered.queue.is_none() || rung.queue == answered.queue)
        && (answered.ring_group.is_none() || rung.ring_group == answered.ring_group)
}

fn visit<'a>(visits: &'a mut Vec<Visit>, name: &str) -> &'a mut Visit {
    let i = match visits.iter().position(|v| &*v.name == name) {
        Some(i) => i,
        None => {
            visits.push(Visit {
                name: name.into(),
                summarised: false,
                rung_since_summary: false,
                last_timedout: false,
                last_duration: None,
            });
            visits.len() - 1
        }
    };
    &mut visits[i]
}

fn show_stamp(s: Option<Stamp>) -> String {
    match s {
        Some(s) => s.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => "null".into(),
    }
}

fn show_int(n: Option<u64>) -> String {
    n.map_or_else(|| "none".into(), |n| n.to_string())
}

/// A JSON value for a message, cut short.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => show_str(s),
        other => {
            let text = other.to_string();
            cut(&text, 60)
        }
    }
}

fn show_str(s: &str) -> String {
    format!("`{}`", cut(s, 60))
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What [`check_reader`] read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Non-blank lines.
    pub lines: u64,
    /// Envelopes skipped because the receiver did not accept them (`response_status` not 2xx).
    pub skipped: u64,
}

/// Why [`check_reader`] stopped before the end.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The first non-blank line is not JSON: the input is not a capture at all (a scenario
    /// file, a pretty-printed document), so its lines are not reported one by one.
    #[error("line {line} is not JSON ({error}), so this is not an NDJSON capture")]
    NotNdjson { line: u64, error: String },
}

/// Check an NDJSON capture line by line. A line is a payload object, an array of payloads, or an
/// envelope `{"received_at": …, "headers": {…}, "body": …}` (the `listen --save` format and the
/// delivery failure journal); envelopes the receiver answered with a non-2xx
/// `response_status` are skipped, since the sender retries those; envelopes whose headers mark
/// a one-off ([`TRIGGER_HEADER`]) are checked on their own. Blank lines are ignored. If
/// the first non-blank line is not JSON the input is not a capture ([`ReadError::NotNdjson`]);
/// a later line that is not JSON is a `malformed` violation. `on_violation` gets each violation
/// as it happens, with its 1-based line number. Does not call [`Checker::finish`].
pub fn check_reader(
    mut reader: impl BufRead,
    checker: &mut Checker,
    mut on_violation: impl FnMut(u64, &Violation),
) -> Result<ReadStats, ReadError> {
    let mut stats = ReadStats::default();
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(stats);
        }
        line_no += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        stats.lines += 1;
        let value: Value = match serde_json::from_slice(buf.trim_ascii_end()) {
            Ok(v) => v,
            Err(e) => {
                // The error's position is within this one line: keep its column only.
                let e = e.to_string().replace(" at line 1 column", " at column");
                if stats.lines == 1 {
                    return Err(ReadError::NotNdjson { line: line_no, error: e });
                }
                let v = checker.reject(format!("line {line_no} is not JSON: {e}"));
                on_violation(line_no, &v);
                continue;
            }
        };
        let (body, one_off) = match envelope_body(&value) {
            Envelope::Body(body, one_off) => (body, one_off),
            Envelope::Skipped => {
                stats.skipped += 1;
                continue;
            }
            Envelope::Bare => (&value, false),
        };
        let violations = if one_off { checker.observe_lone(body) } else { checker.observe(body) };
        for v in violations {
            on_violation(line_no, &v);
        }
    }
}

enum Envelope<'a> {
    Bare,
    /// The body, and whether the request was marked as a one-off ([`TRIGGER_HEADER`]).
    Body(&'a Value, bool),
    Skipped,
}

fn envelope_body(value: &Value) -> Envelope<'_> {
    let Some(map) = value.as_object() else { return Envelope::Bare };
    let Some(body) = map.get("body") else { return Envelope::Bare };
    if map.contains_key("type") {
        return Envelope::Bare;
    }
    let one_off = map
        .get("headers")
        .and_then(|h| h.get(TRIGGER_HEADER))
        .is_some_and(|v| is_one_off(v.as_str()));
    match map.get("response_status").and_then(Value::as_u64) {
        Some(code) if !(200..300).contains(&code) => Envelope::Skipped,
        _ => Envelope::Body(body, one_off),
    }
}

#[cfg(test)]
mod tests;
