//! One-shot events (`pbxsim trigger`): a realistic fake payload of any type, with the users,
//! queues and numbers of the built-in PBX, edited field by field with `--set field=value` and
//! `--unset field` (each checked against the type's fields), then made consistent again
//! ([`reconcile`]: durations and times follow the fields set).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use fake::Fake;
use fake::faker::name::en::Name;
use rand::RngExt;
use serde_json::{Map, Value};

use crate::event::{self, CallStatus, Event, EventType, FieldKind, Str};
use crate::pbx::{Pbx, RecordingMode, RecordingSettings, Step};

/// Why an edit could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("`{0}` is not of the form field=value, like queue_name=Support")]
    NotAnAssignment(String),
    #[error("{ty} has no field `{field}`{hint}")]
    UnknownField { ty: EventType, field: String, hint: String },
    /// `type` is the event type itself, not a field to edit.
    #[error("`type` is the event's type, not a field to edit")]
    TypeField,
    #[error("{ty}.{field} is an integer (whole seconds); `{value}` is not")]
    NotAnInteger { ty: EventType, field: &'static str, value: String },
    #[error("{ty}.status must be answered, abandoned or timedout, not `{value}`{hint}")]
    BadStatus { ty: EventType, value: String, hint: String },
    /// The fields set cannot all hold in one call (see [`reconcile`]).
    #[error("{0}")]
    Inconsistent(String),
    /// `connected_at` was set to null on a summary whose status is answered.
    #[error(
        "connected_at=null means nobody answered, but status is answered; add \
         status=abandoned (or timedout)"
    )]
    UnansweredButAnswered,
}

/// `field=value`, split at the first `=`.
pub fn parse_assignment(text: &str) -> Result<(String, String), EditError> {
    match text.split_once('=') {
        Some((field, value)) if !field.trim().is_empty() => {
            Ok((field.trim().to_string(), value.to_string()))
        }
        _ => Err(EditError::NotAnAssignment(text.to_string())),
    }
}

fn field_of(ty: EventType, name: &str) -> Result<event::Field, EditError> {
    if name == "type" {
        return Err(EditError::TypeField);
    }
    ty.field(name).ok_or_else(|| {
        let suggestion = crate::suggest::did_you_mean(name, ty.fields().iter().map(|f| f.name));
        let hint = if suggestion.is_empty() {
            let names: Vec<&str> = ty.fields().iter().map(|f| f.name).collect();
            format!("; its fields are {}", names.join(", "))
        } else {
            format!("; {suggestion}")
        };
        EditError::UnknownField { ty, field: name.to_string(), hint }
    })
}

/// The JSON value for `value` in field `name` of `ty`: strings stay strings, integers are
/// parsed, `null` is null for fields that may be null.
pub fn convert(ty: EventType, name: &str, value: &str) -> Result<Value, EditError> {
    let field = field_of(ty, name)?;
    match field.kind {
        FieldKind::String => Ok(Value::from(value)),
        FieldKind::OptionalString if value == "null" => Ok(Value::Null),
        FieldKind::OptionalString => Ok(Value::from(value)),
        FieldKind::Integer => value.trim().parse::<u64>().map(Value::from).map_err(|_| {
            EditError::NotAnInteger { ty, field: field.name, value: value.to_string() }
        }),
        FieldKind::Status => CallStatus::ALL
            .iter()
            .find(|s| s.as_str() == value)
            .map(|s| Value::from(s.as_str()))
            .ok_or_else(|| EditError::BadStatus {
                ty,
                value: value.to_string(),
                hint: match crate::suggest::closest(value, CallStatus::ALL.map(|s| s.as_str())) {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None => String::new(),
                },
            }),
    }
}

/// Applies `--set` assignments then `--unset` removals to a payload object of type `ty`.
pub fn apply_edits(
    ty: EventType,
    body: &mut Map<String, Value>,
    sets: &[(String, String)],
    unsets: &[String],
) -> Result<(), EditError> {
    for (name, value) in sets {
        let v = convert(ty, name, value)?;
        body.insert(name.clone(), v);
    }
    for name in unsets {
        field_of(ty, name)?;
        body.shift_remove(name);
    }
    Ok(())
}

fn digits(rng: &mut impl RngExt, prefix: &str, n: usize) -> Str {
    let mut s = String::from(prefix);
    for _ in 0..n {
        s.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    Str::from(s)
}

fn timestamp(t: DateTime<Utc>) -> Str {
    Str::from(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The PBX the fake data comes from: the built-in mid-size PBX of `pbxsim call` and
/// `pbxsim load` (see [`crate::scenario::builtin_pbx::midsize`]), so that names, extensions, queues, ring
/// groups and numbers agree with each other and with those commands.
fn fake_pbx() -> Pbx {
    crate::scenario::builtin_pbx::midsize().pbx
}

/// A number of `pbx` whose flow reaches `wanted` (directly or as a failover), else its first.
fn number_with(pbx: &Pbx, wanted: impl Fn(&Step) -> bool) -> Str {
    pbx.numbers
        .iter()
        .find(|n| n.flow.iter().any(&wanted))
        .or(pbx.numbers.first())
        .map_or_else(|| Str::from(crate::scenario::builtin_pbx::MAIN_NUMBER), |n| n.number.clone())
}

fn pick<'a, T>(rng: &mut impl RngExt, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A realistic payload of type `ty` for a call that ended at `now`, with users, queues, ring
/// groups, numbers and recording settings from the built-in PBX and a fake caller from `rng`.
/// Times and durations agree with each other.
pub fn fake_event(ty: EventType, rng: &mut impl RngExt, now: DateTime<Utc>) -> Event {
    let pbx = fake_pbx();
    let ring = rng.random_range(3..25i64);
    let talk = rng.random_range(20..600i64);
    let end = now;
    let connected = end - Duration::seconds(talk);
    let start = connected - Duration::seconds(ring);
    let id = digits(rng, "1", 11);
    let caller_id = digits(rng, "614", 8);
    let caller_name: String = Name().fake_with_rng(rng);
    let caller_name = Some(Str::from(caller_name));
    // An inbound call through a queue, answered by one of its members.
    let (q, queue) = {
        let q = rng.random_range(0..pbx.queues.len());
        (q, &pbx.queues[q])
    };
    let agent = &pbx.users[*pick(rng, &queue.members)];
    let queue_dest = number_with(&pbx, |s| matches!(s, Step::Queue { queue, .. } if *queue == q));
    // A ring group call, answered by one of its members.
    let (g, group) = {
        let g = rng.random_range(0..pbx.ring_groups.len());
        (g, &pbx.ring_groups[g])
    };
    let group_member = &pbx.users[*pick(rng, &group.members)];
    let group_dest =
        number_with(&pbx, |s| matches!(s, Step::RingGroup { group, .. } if *group == g));
    // An outbound call: a user dials out, showing the PBX's main number.
    let dialler = pick(rng, &pbx.users).clone();
    let outside = digits(rng, "614", 8);
    let main_number = number_with(&pbx, |_| false);
    let (call_start_at, connected_at) = (timestamp(start), timestamp(connected));
    let (call_duration, conversation_duration) = ((end - start).num_seconds() as u64, talk as u64);
    let queue_name = Some(queue.name.clone());
    let email_message =
        |r: &RecordingSettings| (r.mode == RecordingMode::Email).then(|| r.message.clone());
    match ty {
        EventType::UserInbound => Event::UserInbound(event::UserInbound {
            unique_call_id: id,
            caller_id,
            caller_name,
            user_name: agent.name.clone(),
            user_number: agent.extension.clone(),
            dest_number: queue_dest,
            call_start_at,
            queue_name,
            ring_group_name: None,
        }),
        EventType::UserInboundAnswered => Event::UserInboundAnswered(event::UserInboundAnswered {
            unique_call_id: id,
            caller_id,
            caller_name,
            user_name: agent.name.clone(),
            user_number: agent.extension.clone(),
            dest_number: queue_dest,
            call_start_at,
            connected_at,
            queue_name,
            ring_group_name: None,
        }),
        EventType::UserInboundCompleted => {
            Event::UserInboundCompleted(event::UserInboundCompleted {
                unique_call_id: id,
                caller_id,
                caller_name,
                user_name: agent.name.clone(),
                user_number: agent.extension.clone(),
                dest_number: queue_dest,
                call_start_at,
                connected_at: Some(connected_at),
                call_duration,
                conversation_duration,
                queue_name,
                ring_group_name: None,
            })
        }
        // Outbound: the caller ID is the PBX's number and the destination the outside party.
        EventType::UserOutbound => Event::UserOutbound(event::UserOutbound {
            unique_call_id: id,
            caller_id: main_number,
            user_name: dialler.name,
            user_number: dialler.extension,
            dest_number: outside,
            call_start_at,
        }),
        EventType::UserOutboundAnswered => {
            Event::UserOutboundAnswered(event::UserOutboundAnswered {
                unique_call_id: id,
                caller_id: main_number,
                user_name: dialler.name,
                user_number: dialler.extension,
                dest_number: outside,
                call_start_at,
                connected_at,
            })
        }
        EventType::UserOutboundCompleted => {
            Event::UserOutboundCompleted(event::UserOutboundCompleted {
                unique_call_id: id,
                caller_id: main_number,
                user_name: dialler.name,
                user_number: dialler.extension,
                dest_number: outside,
                call_start_at,
                connected_at: Some(connected_at),
                call_duration,
                conversation_duration,
            })
        }
        EventType::QueueCall => Event::QueueCall(event::QueueCall {
            unique_call_id: id,
            caller_id,
            caller_name,
            user_name: Some(agent.name.clone()),
            user_number: Some(agent.extension.clone()),
            dest_number: queue_dest,
            call_start_at,
            connected_at: Some(connected_at),
            call_duration,
            conversation_duration,
            queue_name: queue.name.clone(),
            status: CallStatus::Answered,
        }),
        EventType::RingGroupCall => Event::RingGroupCall(event::RingGroupCall {
            unique_call_id: id,
            caller_id,
            caller_name,
            user_name: Some(group_member.name.clone()),
            user_number: Some(group_member.extension.clone()),
            dest_number: group_dest,
            call_start_at,
            connected_at: Some(connected_at),
            call_duration,
            conversation_duration,
            ring_group_name: group.name.clone(),
            status: CallStatus::Answered,
        }),
        EventType::Voicemail => {
            // The queue's failover box (the built-in queues all fail over to voicemail).
            let vm = match queue.failover.as_deref() {
                Some(Step::Voicemail(v)) => &pbx.voicemail[*v],
                _ => &pbx.voicemail[0],
            };
            Event::Voicemail(event::Voicemail {
                unique_call_id: id,
                caller_id,
                dest_number: queue_dest,
                recorded_at: connected_at,
                emails: join(&vm.emails),
                email_subject: vm.subject.clone(),
                email_message: vm.message.clone(),
                call_recording_link: None,
            })
        }
        EventType::RecordingInbound => {
            let r = if agent.record_inbound { &agent.recording } else { &pbx.recording };
            Event::RecordingInbound(event::RecordingInbound {
                unique_call_id: id,
                caller_id,
                dest_number: queue_dest,
                recorded_at: connected_at,
                emails: join(&r.emails),
                email_subject: r.subject.clone(),
                call_recording_link: None,
                email_message: email_message(r),
            })
        }
        EventType::RecordingOutbound => {
            let r = &dialler.recording;
            Event::RecordingOutbound(event::RecordingOutbound {
                unique_call_id: id,
                caller_id: main_number,
                user_name: dialler.name.clone(),
                user_number: dialler.extension.clone(),
                dest_number: outside,
                recorded_at: connected_at,
                emails: join(&r.emails),
                email_subject: r.subject.clone(),
                call_recording_link: None,
                email_message: email_message(r),
                mode: (r.mode == RecordingMode::Storage).then(|| Str::from("storage")),
            })
        }
        EventType::WebhookComponentEvent => {
            let (w, hook) = (0, &pbx.webhooks[0]);
            Event::WebhookComponentEvent(event::WebhookComponentEvent {
                unique_call_id: id,
                user_name: caller_name,
                user_number: caller_id,
                dest_number: number_with(&pbx, |s| *s == Step::Webhook(w)),
                call_start_at,
                component_name: hook.name.clone(),
            })
        }
    }
}

fn join(emails: &[Str]) -> Str {
    Str::from(emails.iter().map(|e| &**e).collect::<Vec<_>>().join(","))
}

// ---- keeping a payload consistent after --set ----------------------------------------------

/// The call's timeline in a payload: start, ring (start → answer) and talk, in milliseconds.
struct CallTimes {
    start: DateTime<Utc>,
    ring: i64,
    talk: i64,
    answered: bool,
}

fn stamp(body: &Map<String, Value>, name: &str) -> Option<Result<DateTime<Utc>, String>> {
    match body.get(name)? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(
            DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|_| s.clone()),
        ),
        other => Some(Err(other.to_string())),
    }
}

fn seconds(body: &Map<String, Value>, name: &str) -> Option<i64> {
    body.get(name).and_then(Value::as_u64).and_then(|n| i64::try_from(n).ok())
}

/// After `--set`, makes the fields that depend on the ones set agree with them, so a
/// receiver's checks see a payload the PBX could have sent: `call_duration` = ring + talk,
/// `conversation_duration` = talk, `connected_at` = `call_start_at` + ring, and a summary whose
/// `status` is abandoned or timedout has no user, no `connected_at` and no talk. The fields set
/// are kept as given; the others move, keeping `call_start_at`, then the ring time, when they
/// can. `original` is the payload before the edits. Returns the fields it changed, or why the
/// fields set cannot agree. A timestamp set to something that is not RFC 3339 is taken as a
/// deliberate bad value: nothing is recomputed around it.
pub fn reconcile(
    ty: EventType,
    original: &Map<String, Value>,
    body: &mut Map<String, Value>,
    sets: &[(String, String)],
) -> Result<Vec<&'static str>, EditError> {
    let given = |name: &str| sets.iter().any(|(n, _)| n == name);
    let inconsistent = |why: String| Err(EditError::Inconsistent(why));
    let mut changed: Vec<&'static str> = Vec::new();
    let mut put = |body: &mut Map<String, Value>, name: &'static str, value: Value| {
        if body.get(name) != Some(&value) {
            body.insert(name.to_string(), value);
            changed.push(name);
        }
    };

    // A user set by extension takes that user's name, when the built-in PBX has one.
    if given("user_number") && !given("user_name") && ty.field("user_name").is_some() {
        if let Some(Value::String(ext)) = body.get("user_number") {
            let pbx = fake_pbx();
            if let Some(u) = pbx.users.iter().find(|u| &*u.extension == ext.as_str()) {
                put(body, "user_name", Value::from(&*u.name));
            }
        }
    }

    // Whether the call was answered: the summary's status, else whether connected_at is set.
    let has_status = ty.field("status").is_some();
    let status = body.get("status").and_then(Value::as_str).map(str::to_string);
    let connected_null = body.get("connected_at").is_some_and(|v| v.is_null() || v == "");
    let answered = matches!(status.as_deref(), Some("answered") | None);
    if has_status && answered && connected_null && given("connected_at") {
        return Err(EditError::UnansweredButAnswered);
    }
    if has_status && !answered {
        for name in ["user_name", "user_number", "connected_at"] {
            if given(name) && !body.get(name).is_none_or(|v| v.is_null() || v == "") {
                return inconsistent(format!(
                    "status={} means nobody answered, so the summary has no {name}; leave \
                     {name} out, or set status=answered",
                    status.as_deref().unwrap_or_default()
                ));
            }
        }
        for name in ["user_name", "user_number", "connected_at"] {
            put(body, name, Value::Null);
        }
    }
    let answered = if has_status { answered } else { !connected_null };

    let timed = ty.field("call_start_at").is_some() && ty.field("connected_at").is_some();
    if !timed {
        return Ok(changed);
    }
    let Some(Ok(start0)) = stamp(original, "call_start_at") else { return Ok(changed) };
    let connected0 = match stamp(original, "connected_at") {
        Some(Ok(c)) => c,
        _ => return Ok(changed),
    };
    let talk0 = seconds(original, "conversation_duration").map_or_else(|| 60_000, |t| t * 1000);
    let ring0 = (connected0 - start0).num_milliseconds();

    let start_given = match (given("call_start_at"), stamp(body, "call_start_at")) {
        (true, Some(Ok(t))) => Some(t),
        (true, _) => return Ok(changed),
        _ => None,
    };
    let connected_given = match (given("connected_at"), stamp(body, "connected_at")) {
        (true, Some(Ok(t))) => Some(t),
        (true, Some(Err(_))) => return Ok(changed),
        _ => None,
    };
    let has_durations = ty.field("call_duration").is_some();
    let d_given = (has_durations && given("call_duration"))
        .then(|| seconds(body, "call_duration"))
        .flatten()
        .map(|d| d * 1000);
    let t_given = (has_durations && given("conversation_duration"))
        .then(|| seconds(body, "conversation_duration"))
        .flatten()
        .map(|t| t * 1000);

    let line = if answered {
        if let (Some(d), Some(t)) = (d_given, t_given) {
            if t > d {
                return inconsistent(format!(
                    "conversation_duration={} is longer than call_duration={}; a call talks for \
                     at most its whole length",
                    t / 1000,
                    d / 1000
                ));
            }
        }
        // The ring time the fields set imply, else the fake call's (as far as it fits).
        let ring = match (d_given, t_given) {
            (Some(d), Some(t)) => d - t,
            (Some(d), None) => ring0.min(d),
            _ => ring0,
        };
        let (start, ring) = match (start_given, connected_given) {
            (Some(s), Some(c)) => (s, (c - s).num_milliseconds()),
            // connected_at alone: the call started that ring time before.
            (None, Some(c)) => (c - Duration::milliseconds(ring), ring),
            (s, None) => (s.unwrap_or(start0), ring),
        };
        if ring < 0 {
            return inconsistent(format!(
                "connected_at is {} s before call_start_at; a call is answered after it starts",
                -ring / 1000
            ));
        }
        let talk = match (t_given, d_given) {
            (Some(t), _) => t,
            (None, Some(d)) if d < ring => {
                return inconsistent(format!(
                    "call_duration={} is shorter than the {} s from call_start_at to connected_at",
                    d / 1000,
                    ring / 1000
                ));
            }
            (None, Some(d)) => d - ring,
            (None, None) => talk0,
        };
        if let (Some(d), Some(t)) = (d_given, t_given) {
            if (d - (ring + t)).abs() > 1_000 {
                return inconsistent(format!(
                    "call_duration={} is not the {} s from call_start_at to connected_at plus \
                     conversation_duration={}",
                    d / 1000,
                    ring / 1000,
                    t / 1000
                ));
            }
        }
        CallTimes { start, ring, talk, answered: true }
    } else {
        if t_given.is_some_and(|t| t > 0) {
            return inconsistent(
                "conversation_duration must be 0 for a call nobody answered (connected_at is \
                 null)"
                    .into(),
            );
        }
        let ring =
            d_given.unwrap_or_else(|| seconds(original, "call_duration").unwrap_or(0) * 1000);
        CallTimes { start: start_given.unwrap_or(start0), ring, talk: 0, answered: false }
    };

    if !given("call_start_at") {
        put(body, "call_start_at", Value::from(&*timestamp(line.start)));
    }
    if line.answered && !given("connected_at") {
        let at = line.start + Duration::milliseconds(line.ring);
        put(body, "connected_at", Value::from(&*timestamp(at)));
    }
    if has_durations {
        if !given("call_duration") {
            put(body, "call_duration", Value::from((line.ring + line.talk) / 1000));
        }
        if !given("conversation_duration") {
            put(body, "conversation_duration", Value::from(line.talk / 1000));
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::ChaCha8Rng;

    fn now() -> DateTime<Utc> {
        "2026-03-02T09:10:00Z".parse().unwrap()
    }

    #[test]
    fn every_type_fakes_a_valid_payload() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for ty in EventType::ALL {
            let event = fake_event(ty, &mut rng, now());
            assert_eq!(event.event_type(), ty);
            let json = event.to_json(Default::default());
            let back: Event = serde_json::from_str(&json).unwrap();
            assert_eq!(back, event);
        }
    }

    fn body(ty: EventType, seed: u64) -> Map<String, Value> {
        let event = fake_event(ty, &mut ChaCha8Rng::seed_from_u64(seed), now());
        match event.to_value(crate::event::NullStyle::Null) {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    /// `--set` then [`reconcile`], as `pbxsim trigger` does.
    fn edited(
        ty: EventType,
        seed: u64,
        sets: &[(&str, &str)],
    ) -> Result<(Map<String, Value>, Vec<&'static str>), EditError> {
        let sets: Vec<(String, String)> =
            sets.iter().map(|(f, v)| (f.to_string(), v.to_string())).collect();
        let original = body(ty, seed);
        let mut edited = original.clone();
        apply_edits(ty, &mut edited, &sets, &[])?;
        let changed = reconcile(ty, &original, &mut edited, &sets)?;
        Ok((edited, changed))
    }

    /// The violations the receiver's one-off check finds.
    fn violations(body: &Map<String, Value>) -> Vec<String> {
        let mut checker = crate::check::Checker::new(Default::default());
        let value = Value::Object(body.clone());
        checker.observe_lone(&value).iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn fake_users_queues_and_numbers_come_from_the_built_in_pbx() {
        let pbx = fake_pbx();
        for seed in 0..20 {
            for ty in EventType::ALL {
                let b = body(ty, seed);
                assert_eq!(violations(&b), Vec::<String>::new(), "{ty}: {b:?}");
                let text = |f: &str| b.get(f).and_then(Value::as_str).map(str::to_string);
                if let (Some(name), Some(ext)) = (text("user_name"), text("user_number")) {
                    if ty != EventType::WebhookComponentEvent {
                        let u = pbx.users.iter().find(|u| *u.extension == *ext).expect("a user");
                        assert_eq!(*u.name, *name, "{ty}: name and extension agree");
                        if let Some(q) = text("queue_name") {
                            let q = pbx.queues.iter().find(|x| *x.name == *q).expect("a queue");
                            assert!(
                                q.members.iter().any(|&m| pbx.users[m].extension == u.extension)
                            );
                        }
                        if let Some(g) = text("ring_group_name") {
                            let g = pbx.ring_groups.iter().find(|x| *x.name == *g).expect("group");
                            assert!(
                                g.members.iter().any(|&m| pbx.users[m].extension == u.extension)
                            );
                        }
                    }
                }
                if let Some(dest) = text("dest_number").filter(|d| d.starts_with("6129")) {
                    assert!(pbx.numbers.iter().any(|n| *n.number == *dest), "{ty}: {dest}");
                }
            }
        }
    }

    #[test]
    fn setting_call_duration_moves_the_conversation_not_the_start() {
        let before = body(EventType::UserInboundCompleted, 1);
        let (after, changed) =
            edited(EventType::UserInboundCompleted, 1, &[("call_duration", "95")]).unwrap();
        assert_eq!(changed, ["conversation_duration"]);
        assert_eq!(after["call_duration"], 95);
        assert_eq!(after["call_start_at"], before["call_start_at"]);
        assert_eq!(after["connected_at"], before["connected_at"]);
        let ring = before["call_duration"].as_u64().unwrap()
            - before["conversation_duration"].as_u64().unwrap();
        assert_eq!(after["conversation_duration"], 95 - ring);
        assert_eq!(violations(&after), Vec::<String>::new());
    }

    #[test]
    fn an_abandoned_summary_loses_its_user_and_talk() {
        let (after, _) = edited(EventType::QueueCall, 2, &[("status", "abandoned")]).unwrap();
        for f in ["user_name", "user_number", "connected_at"] {
            assert_eq!(after[f], Value::Null, "{f}");
        }
        assert_eq!(after["conversation_duration"], 0);
        assert_eq!(violations(&after), Vec::<String>::new());
    }

    #[test]
    fn combinations_that_cannot_hold_are_refused() {
        type Sets<'a> = &'a [(&'a str, &'a str)];
        let cases: [(EventType, Sets, &str); 5] = [
            (
                EventType::UserInboundCompleted,
                &[("call_duration", "95"), ("conversation_duration", "120")],
                "conversation_duration=120 is longer than call_duration=95",
            ),
            (
                EventType::UserInboundCompleted,
                &[
                    ("call_start_at", "2026-03-02T09:00:40Z"),
                    ("connected_at", "2026-03-02T09:00:30Z"),
                ],
                "connected_at is 10 s before call_start_at",
            ),
            (EventType::QueueCall, &[("connected_at", "null")], "add status=abandoned"),
            (
                EventType::RingGroupCall,
                &[("status", "timedout"), ("user_number", "1046")],
                "status=timedout means nobody answered, so the summary has no user_number",
            ),
            (
                EventType::UserOutboundCompleted,
                &[("connected_at", "null"), ("conversation_duration", "5")],
                "conversation_duration must be 0 for a call nobody answered",
            ),
        ];
        for (ty, sets, message) in cases {
            match edited(ty, 3, sets) {
                Err(e @ (EditError::Inconsistent(_) | EditError::UnansweredButAnswered)) => {
                    assert!(e.to_string().contains(message), "{ty} {sets:?}: {e}")
                }
                other => panic!("{ty} {sets:?}: {other:?}"),
            }
        }
    }

    /// Whatever single field is set, the payload either passes the receiver's checks of a
    /// one-off event or is refused as inconsistent.
    #[test]
    fn any_set_gives_a_consistent_payload_or_a_clear_refusal() {
        let values: [(&str, &[&str]); 7] = [
            ("call_duration", &["0", "5", "95", "3600"]),
            ("conversation_duration", &["0", "30", "4000"]),
            ("call_start_at", &["2026-03-02T09:00:00Z", "2026-03-02T09:00:00.250+10:00"]),
            ("connected_at", &["2026-03-02T09:00:30Z", "null"]),
            ("status", &["answered", "abandoned", "timedout"]),
            ("user_number", &["1010", "9999"]),
            ("queue_name", &["Billing"]),
        ];
        for ty in EventType::ALL {
            for (field, options) in values {
                let Some(f) = ty.field(field) else { continue };
                for value in options {
                    // `null` in a field that cannot be null is a bad value on purpose.
                    if *value == "null" && f.kind != FieldKind::OptionalString {
                        continue;
                    }
                    for seed in 0..5 {
                        match edited(ty, seed, &[(field, value)]) {
                            Ok((b, _)) => assert_eq!(
                                violations(&b),
                                Vec::<String>::new(),
                                "{ty} --set {field}={value}: {b:?}"
                            ),
                            Err(EditError::Inconsistent(_) | EditError::UnansweredButAnswered) => {}
                            Err(e) => panic!("{ty} --set {field}={value}: {e}"),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn set_converts_to_the_field_type() {
        let ty = EventType::UserInboundCompleted;
        assert_eq!(convert(ty, "call_duration", "42"), Ok(Value::from(42)));
        assert_eq!(convert(ty, "queue_name", "null"), Ok(Value::Null));
        assert_eq!(convert(ty, "user_number", "1010"), Ok(Value::from("1010")));
        assert!(matches!(
            convert(ty, "call_duration", "soon"),
            Err(EditError::NotAnInteger { .. })
        ));
        assert_eq!(
            convert(EventType::QueueCall, "status", "answerd").unwrap_err().to_string(),
            "queue_call.status must be answered, abandoned or timedout, not `answerd`; \
             did you mean `answered`?"
        );
    }

    #[test]
    fn unknown_fields_are_errors_with_a_suggestion() {
        let err = convert(EventType::UserInbound, "queue_nme", "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "user_inbound has no field `queue_nme`; did you mean `queue_name`?"
        );
        let mut body = Map::new();
        let err = apply_edits(EventType::Voicemail, &mut body, &[], &["connected_at".into()]);
        assert!(matches!(err, Err(EditError::UnknownField { .. })));
        assert_eq!(parse_assignment("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_assignment("novalue").is_err());
    }
}
