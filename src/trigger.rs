//! One-shot events (`pbxsim trigger`): a realistic fake payload of any type, edited field by
//! field with `--set field=value` and `--unset field`, each checked against the type's fields.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use fake::Fake;
use fake::faker::internet::en::SafeEmail;
use fake::faker::name::en::Name;
use rand::RngExt;
use serde_json::{Map, Value};

use crate::event::{self, CallStatus, Event, EventType, FieldKind, Str};

/// Why an edit could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("`{0}` is not of the form field=value; write e.g. --set queue_name=Support")]
    NotAnAssignment(String),
    #[error("{ty} has no field `{field}`{hint}")]
    UnknownField { ty: EventType, field: String, hint: String },
    #[error("the type is chosen by the TYPE argument, not by --set/--unset")]
    TypeField,
    #[error("{ty}.{field} is an integer (whole seconds); `{value}` is not")]
    NotAnInteger { ty: EventType, field: &'static str, value: String },
    #[error("{ty}.status must be answered, abandoned or timedout, not `{value}`{hint}")]
    BadStatus { ty: EventType, value: String, hint: String },
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

/// A realistic payload of type `ty` for a call that ended at `now`, with fake names, numbers
/// and emails from `rng`. Times and durations agree with each other.
pub fn fake_event(ty: EventType, rng: &mut impl RngExt, now: DateTime<Utc>) -> Event {
    let ring = rng.random_range(3..25i64);
    let talk = rng.random_range(20..600i64);
    let end = now;
    let connected = end - Duration::seconds(talk);
    let start = connected - Duration::seconds(ring);
    let id = digits(rng, "1", 11);
    let caller_id = digits(rng, "614", 8);
    let caller_name: String = Name().fake_with_rng(rng);
    let caller_name = Some(Str::from(caller_name));
    let user_name: String = Name().fake_with_rng(rng);
    let user_name = Str::from(user_name);
    let user_number = digits(rng, "10", 2);
    let dest_number = digits(rng, "6130", 7);
    let email: String = SafeEmail().fake_with_rng(rng);
    let emails = Str::from(email);
    let (call_start_at, connected_at) = (timestamp(start), timestamp(connected));
    let (call_duration, conversation_duration) = ((end - start).num_seconds() as u64, talk as u64);
    let queue_name = Some(Str::from("Support"));
    match ty {
        EventType::UserInbound => Event::UserInbound(event::UserInbound {
            unique_call_id: id,
            caller_id,
            caller_name,
            user_name,
            user_number,
            dest_number,
            call_start_at,
            queue_name,
            ring_group_name: None,
        }),
        EventType::UserInboundAnswered => Event::UserInboundAnswered(event::UserInboundAnswered {
            unique_call_id: id,
            caller_id,
            caller_name,
            user_name,
            user_number,
            dest_number,
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
                user_name,
                user_number,
                dest_number,
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
            caller_id: dest_number,
            user_name,
            user_number,
            dest_number: caller_id,
            call_start_at,
        }),
        EventType::UserOutboundAnswered => {
            Event::UserOutboundAnswered(event::UserOutboundAnswered {
                unique_call_id: id,
                caller_id: dest_number,
                user_name,
                user_number,
                dest_number: caller_id,
                call_start_at,
                connected_at,
            })
        }
        EventType::UserOutboundCompleted => {
            Event::UserOutboundCompleted(event::UserOutboundCompleted {
                unique_call_id: id,
                caller_id: dest_number,
                user_name,
                user_number,
                dest_number: caller_id,
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
            user_name: Some(user_name),
            user_number: Some(user_number),
            dest_number,
            call_start_at,
            connected_at: Some(connected_at),
            call_duration,
            conversation_duration,
            queue_name: Str::from("Support"),
            status: CallStatus::Answered,
        }),
        EventType::RingGroupCall => Event::RingGroupCall(event::RingGroupCall {
            unique_call_id: id,
            caller_id,
            caller_name,
            user_name: Some(user_name),
            user_number: Some(user_number),
            dest_number,
            call_start_at,
            connected_at: Some(connected_at),
            call_duration,
            conversation_duration,
            ring_group_name: Str::from("Sales"),
            status: CallStatus::Answered,
        }),
        EventType::Voicemail => Event::Voicemail(event::Voicemail {
            unique_call_id: id,
            caller_id,
            dest_number,
            recorded_at: connected_at,
            emails,
            email_subject: Str::from("New voicemail"),
            email_message: Str::from("You have a new voicemail message."),
            call_recording_link: None,
        }),
        EventType::RecordingInbound => Event::RecordingInbound(event::RecordingInbound {
            unique_call_id: id,
            caller_id,
            dest_number,
            recorded_at: connected_at,
            emails,
            email_subject: Str::from("Call recording"),
            call_recording_link: None,
            email_message: Some(Str::from("A recording of the call is attached.")),
        }),
        EventType::RecordingOutbound => Event::RecordingOutbound(event::RecordingOutbound {
            unique_call_id: id,
            caller_id: dest_number,
            user_name,
            user_number,
            dest_number: caller_id,
            recorded_at: connected_at,
            emails,
            email_subject: Str::from("Your call recording"),
            call_recording_link: None,
            email_message: Some(Str::from("A recording of your call is attached.")),
            mode: None,
        }),
        EventType::WebhookComponentEvent => {
            Event::WebhookComponentEvent(event::WebhookComponentEvent {
                unique_call_id: id,
                user_name: caller_name,
                user_number: caller_id,
                dest_number,
                call_start_at,
                component_name: Str::from("CRM lookup"),
            })
        }
    }
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
