//! Ground truth (`--truth FILE`): one JSON line per call, written when the call ends, saying
//! what a receiver's database should hold after the run.
//!
//! A [`Recorder`] consumes the engine's full event stream (before type filtering and chaos)
//! and its ended-call notifications ([`Engine::take_call_end`](crate::engine::Engine::take_call_end)): [`Recorder::event`] for each
//! emission, [`Recorder::ended`] when a call is over, which writes that call's [`Truth`] line
//! and forgets the call, so memory holds only the calls in progress.
//! [`feed::with_truth`](crate::engine::feed::with_truth) turns an engine into the delivery feed while
//! recording. The format's JSON Schema is [`json_schema`] (`pbxsim schema truth`).

use std::collections::HashMap;
use std::io::{self, Write};

use schemars::JsonSchema;
use serde::Serialize;

use crate::duration::Millis;
use crate::engine::{CallEnd, Emission, EndReason};
use crate::event::{Event, Str};
use crate::time::Timeline;

/// What a receiver should know about one call once it has ended: one line of `--truth`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(title = "pbxsim truth line")]
pub struct Truth {
    /// The call's `unique_call_id`, as in its events.
    pub unique_call_id: String,
    pub direction: Direction,
    /// As in the call's events (for a call with only a webhook object event, its
    /// `user_number`, the caller's CLI).
    pub caller_id: String,
    pub dest_number: String,
    /// As in the call's events.
    pub call_start_at: String,
    /// When the call ended, in the events' timestamp format.
    pub ended_at: String,
    pub outcome: Outcome,
    /// Inbound: the user who answered. Null when nobody did (and for outbound calls).
    pub answered_by: Option<UserRef>,
    /// Outbound: the user who dialled. Null for inbound calls.
    pub from_user: Option<UserRef>,
    /// When the call was answered, as in its events; null when it was not.
    pub connected_at: Option<String>,
    /// Seconds from `call_start_at` to the end, rounded down, as in the call's completions and
    /// summaries.
    pub call_duration: u64,
    /// Seconds from `connected_at` to the end, rounded down; 0 when not answered.
    pub conversation_duration: u64,
    /// Each queue or ring-group visit, in order, with the status of its summary.
    pub visits: Vec<Visit>,
    /// The extensions rung for the call (`user_inbound`), in order of their first ring.
    pub rung: Vec<String>,
    /// Whether a `voicemail` event was generated.
    pub voicemail: bool,
    /// Whether a `recording_inbound` or `recording_outbound` event was generated.
    pub recording: bool,
    /// How many events the call generated (all types, before the `[webhook] events` filter).
    pub events: u32,
}

/// Which way a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A user answered (inbound) or the far end did (outbound), and they talked.
    Answered,
    /// The caller hung up before anyone answered.
    Abandoned,
    /// The caller left a voicemail message.
    Voicemail,
    /// A queue or ring group gave up (its last visit `timedout`) and the call ended without a
    /// message, nobody being rung after it.
    Timedout,
    /// Nobody answered otherwise: a direct ring ran out, the flow ended or hung up, the caller
    /// hung up at a voicemail greeting, or the far end of an outbound call did not answer.
    Unanswered,
}

/// A user, as the events name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct UserRef {
    pub user_name: String,
    pub user_number: String,
}

/// One queue or ring-group visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Visit {
    pub kind: VisitKind,
    /// The queue's or ring group's name.
    pub name: String,
    /// The `status` of the visit's `queue_call` / `ring_group_call`.
    pub status: crate::event::CallStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisitKind {
    Queue,
    RingGroup,
}

/// The JSON Schema of a truth line (`pbxsim schema truth`).
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Truth);
    serde_json::to_value(&schema).expect("schema serializes")
}

/// What the recorder keeps of a call in progress.
#[derive(Debug, Default)]
struct InProgress {
    id: Option<Str>,
    outbound: bool,
    caller_id: Option<Str>,
    dest_number: Option<Str>,
    call_start_at: Option<Str>,
    answered_by: Option<UserRef>,
    from_user: Option<UserRef>,
    /// `connected_at` as written, and its virtual time.
    connected: Option<(Str, Millis)>,
    visits: Vec<Visit>,
    rung: Vec<String>,
    /// The last visit timed out and nobody has rung since.
    timed_out_last: bool,
    voicemail: bool,
    recording: bool,
    events: u32,
}

/// Counts of a finished recording.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TruthStats {
    /// Lines written (calls that ended with at least one event).
    pub lines: u64,
    /// Calls with events that had not ended when the stream stopped (cut off or
    /// interrupted): no line.
    pub unfinished: u64,
}

/// Builds truth lines from a stream of events and call ends; see the module documentation.
pub struct Recorder {
    timeline: Timeline,
    calls: HashMap<u64, InProgress>,
    out: Box<dyn Write + Send>,
    error: Option<io::Error>,
    lines: u64,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("calls", &self.calls.len())
            .field("lines", &self.lines)
            .finish()
    }
}

impl Recorder {
    /// A recorder writing lines to `out`; `timeline` formats `ended_at` as the events'
    /// timestamps are.
    pub fn new(timeline: Timeline, out: impl Write + Send + 'static) -> Self {
        Self {
            timeline,
            calls: HashMap::new(),
            out: Box::new(out),
            error: None,
            lines: 0,
            buf: Vec::with_capacity(512),
        }
    }

    /// Note one emission of the engine (any type, before filtering).
    pub fn event(&mut self, e: &Emission) {
        let call = self.calls.entry(e.call).or_default();
        call.events += 1;
        let ev = &e.event;
        if call.id.is_none() {
            call.id = Some(Str::from(ev.unique_call_id()));
        }
        let user = |name: &Str, number: &Str| UserRef {
            user_name: name.to_string(),
            user_number: number.to_string(),
        };
        match ev {
            Event::UserInbound(x) => {
                call.note(&x.caller_id, &x.dest_number, &x.call_start_at);
                if !call.rung.iter().any(|r| **r == *x.user_number) {
                    call.rung.push(x.user_number.to_string());
                }
                call.timed_out_last = false;
            }
            Event::UserInboundAnswered(x) => {
                call.note(&x.caller_id, &x.dest_number, &x.call_start_at);
                call.answered_by = Some(user(&x.user_name, &x.user_number));
                call.connected = Some((x.connected_at.clone(), e.at));
            }
            Event::UserInboundCompleted(x) => {
                call.note(&x.caller_id, &x.dest_number, &x.call_start_at);
            }
            Event::UserOutbound(x) => {
                call.outbound = true;
                call.note(&x.caller_id, &x.dest_number, &x.call_start_at);
                call.from_user = Some(user(&x.user_name, &x.user_number));
            }
            Event::UserOutboundAnswered(x) => {
                call.outbound = true;
                call.connected = Some((x.connected_at.clone(), e.at));
            }
            Event::UserOutboundCompleted(_) => call.outbound = true,
            Event::QueueCall(x) => {
                call.note(&x.caller_id, &x.dest_number, &x.call_start_at);
                call.visit(VisitKind::Queue, &x.queue_name, x.status);
            }
            Event::RingGroupCall(x) => {
                call.note(&x.caller_id, &x.dest_number, &x.call_start_at);
                call.visit(VisitKind::RingGroup, &x.ring_group_name, x.status);
            }
            Event::Voicemail(_) => call.voicemail = true,
            Event::RecordingInbound(_) => call.recording = true,
            Event::RecordingOutbound(_) => {
                call.outbound = true;
                call.recording = true;
            }
            Event::WebhookComponentEvent(x) => {
                call.note(&x.user_number, &x.dest_number, &x.call_start_at);
            }
        }
    }

    /// The call ended: write its line (if it had any event) and forget it.
    pub fn ended(&mut self, end: &CallEnd) {
        let Some(call) = self.calls.remove(&end.call) else { return };
        let Some(truth) = call.finish(end, &self.timeline) else { return };
        if self.error.is_some() {
            return;
        }
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, &truth).expect("truth serializes");
        self.buf.push(b'\n');
        match self.out.write_all(&self.buf) {
            Ok(()) => self.lines += 1,
            Err(e) => self.error = Some(e),
        }
    }

    /// Flush the output; the first write error, if any, else the counts.
    pub fn finish(mut self) -> io::Result<TruthStats> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(TruthStats { lines: self.lines, unfinished: self.calls.len() as u64 })
    }
}

impl InProgress {
    fn note(&mut self, caller_id: &Str, dest_number: &Str, call_start_at: &Str) {
        self.caller_id.get_or_insert_with(|| caller_id.clone());
        self.dest_number.get_or_insert_with(|| dest_number.clone());
        self.call_start_at.get_or_insert_with(|| call_start_at.clone());
    }

    fn visit(&mut self, kind: VisitKind, name: &Str, status: crate::event::CallStatus) {
        self.visits.push(Visit { kind, name: name.to_string(), status });
        self.timed_out_last = status == crate::event::CallStatus::Timedout;
    }

    fn finish(self, end: &CallEnd, timeline: &Timeline) -> Option<Truth> {
        let id = self.id?;
        let outcome = match end.how {
            EndReason::Answered => Outcome::Answered,
            EndReason::Voicemail => Outcome::Voicemail,
            EndReason::Abandoned => Outcome::Abandoned,
            EndReason::Unanswered if self.timed_out_last => Outcome::Timedout,
            EndReason::Unanswered | EndReason::NotPlaced => Outcome::Unanswered,
        };
        let text = |s: Option<Str>| s.map_or_else(String::new, |s| s.to_string());
        let call_duration = end.end.saturating_sub(end.start) / 1000;
        let conversation_duration =
            self.connected.as_ref().map_or(0, |(_, at)| end.end.saturating_sub(*at) / 1000);
        Some(Truth {
            unique_call_id: id.to_string(),
            direction: if self.outbound { Direction::Outbound } else { Direction::Inbound },
            caller_id: text(self.caller_id),
            dest_number: text(self.dest_number),
            call_start_at: text(self.call_start_at),
            ended_at: timeline.format(end.end),
            outcome,
            answered_by: self.answered_by,
            from_user: self.from_user,
            connected_at: self.connected.map(|(text, _)| text.to_string()),
            call_duration,
            conversation_duration,
            visits: self.visits,
            rung: self.rung,
            voicemail: self.voicemail,
            recording: self.recording,
            events: self.events,
        })
    }
}

#[cfg(test)]
mod tests;
