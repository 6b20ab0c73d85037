//! The event catalogue (`docs/events.md`, `pbxsim docs events`): every type's "when it fires"
//! line, field table and sample body, generated from the `payload!` definitions in [`super`].

use std::fmt::Write as _;

use super::*;

impl Event {
    /// A realistic payload of type `ty`, the same every time, with some optional fields set and
    /// some not: the sample body of the event catalogue, and of unit tests.
    pub fn sample(ty: EventType) -> Event {
        let t = Str::from;
        let id = t("160455961758");
        let cli = t("61400000001");
        let dest = t("61300000000");
        let start = t("2019-10-01T15:31:15.000Z");
        let conn = t("2019-10-01T15:31:29.000Z");
        match ty {
            EventType::UserInbound => Event::UserInbound(UserInbound {
                unique_call_id: id,
                caller_id: cli,
                caller_name: Some(t("Jane Citizen")),
                user_name: t("Alice"),
                user_number: t("1010"),
                dest_number: dest,
                call_start_at: start,
                queue_name: Some(t("Support")),
                ring_group_name: None,
            }),
            EventType::UserInboundAnswered => Event::UserInboundAnswered(UserInboundAnswered {
                unique_call_id: id,
                caller_id: cli,
                caller_name: None,
                user_name: t("Alice"),
                user_number: t("1010"),
                dest_number: dest,
                call_start_at: start,
                connected_at: conn,
                queue_name: None,
                ring_group_name: Some(t("Sales")),
            }),
            EventType::UserInboundCompleted => Event::UserInboundCompleted(UserInboundCompleted {
                unique_call_id: id,
                caller_id: cli,
                caller_name: None,
                user_name: t("Alice"),
                user_number: t("1010"),
                dest_number: dest,
                call_start_at: start,
                connected_at: Some(conn),
                call_duration: 28,
                conversation_duration: 14,
                queue_name: None,
                ring_group_name: None,
            }),
            EventType::UserOutbound => Event::UserOutbound(UserOutbound {
                unique_call_id: id,
                caller_id: dest,
                user_name: t("Bob"),
                user_number: t("1011"),
                dest_number: cli,
                call_start_at: start,
            }),
            EventType::UserOutboundAnswered => Event::UserOutboundAnswered(UserOutboundAnswered {
                unique_call_id: id,
                caller_id: dest,
                user_name: t("Bob"),
                user_number: t("1011"),
                dest_number: cli,
                call_start_at: start,
                connected_at: conn,
            }),
            EventType::UserOutboundCompleted => {
                Event::UserOutboundCompleted(UserOutboundCompleted {
                    unique_call_id: id,
                    caller_id: dest,
                    user_name: t("Bob"),
                    user_number: t("1011"),
                    dest_number: cli,
                    call_start_at: start,
                    connected_at: None,
                    call_duration: 30,
                    conversation_duration: 0,
                })
            }
            EventType::QueueCall => Event::QueueCall(QueueCall {
                unique_call_id: id,
                caller_id: cli,
                caller_name: None,
                user_name: None,
                user_number: None,
                dest_number: dest,
                call_start_at: start,
                connected_at: None,
                call_duration: 120,
                conversation_duration: 0,
                queue_name: t("Support"),
                status: CallStatus::Timedout,
            }),
            EventType::RingGroupCall => Event::RingGroupCall(RingGroupCall {
                unique_call_id: id,
                caller_id: cli,
                caller_name: Some(t("Jane")),
                user_name: Some(t("Alice")),
                user_number: Some(t("1010")),
                dest_number: dest,
                call_start_at: start,
                connected_at: Some(conn),
                call_duration: 28,
                conversation_duration: 14,
                ring_group_name: t("Sales"),
                status: CallStatus::Answered,
            }),
            EventType::Voicemail => Event::Voicemail(Voicemail {
                unique_call_id: id,
                caller_id: cli,
                dest_number: dest,
                recorded_at: conn,
                emails: t("a@example.com,b@example.com"),
                email_subject: t("New voicemail"),
                email_message: t("You have a new voicemail"),
                call_recording_link: None,
            }),
            EventType::RecordingInbound => Event::RecordingInbound(RecordingInbound {
                unique_call_id: id,
                caller_id: cli,
                dest_number: dest,
                recorded_at: conn,
                emails: t("rec@example.com"),
                email_subject: t("Call recording"),
                call_recording_link: None,
                email_message: Some(t("Recording attached")),
            }),
            EventType::RecordingOutbound => Event::RecordingOutbound(RecordingOutbound {
                unique_call_id: id,
                caller_id: dest,
                user_name: t("Bob"),
                user_number: t("1011"),
                dest_number: cli,
                recorded_at: conn,
                emails: t("bob@example.com"),
                email_subject: t("Your recording"),
                call_recording_link: None,
                email_message: None,
                mode: Some(t("storage")),
            }),
            EventType::WebhookComponentEvent => {
                Event::WebhookComponentEvent(WebhookComponentEvent {
                    unique_call_id: id,
                    user_name: Some(t("Jane Citizen")),
                    user_number: cli,
                    dest_number: dest,
                    call_start_at: start,
                    component_name: t("CRM lookup"),
                })
            }
        }
    }
}

/// The command that regenerates `docs/events.md`.
pub const REFRESH_COMMAND: &str = "cargo run -- docs events > docs/events.md";

/// When `ty` fires: the first paragraph of its payload struct's doc comment, without the
/// leading `` `wire_name`: ``, as one line starting with a capital.
pub fn when_it_fires(ty: EventType) -> String {
    let doc = ty.doc();
    let first = doc.split("\n\n").next().unwrap_or_default();
    let line = first.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>();
    let line = line.join(" ");
    let prefix = format!("`{ty}`: ");
    let text = line.strip_prefix(&prefix).unwrap_or(&line);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The JSON type of a field as the catalogue writes it.
fn json_type(kind: FieldKind) -> String {
    match kind {
        FieldKind::String | FieldKind::OptionalString => "string".to_string(),
        FieldKind::Integer => "integer".to_string(),
        FieldKind::Status => {
            let names: Vec<String> = CallStatus::ALL.iter().map(|s| format!("`{s}`")).collect();
            format!("string: {}", names.join(" \\| "))
        }
    }
}

/// The event catalogue in Markdown: for each of the 12 types, when it fires, where it is sent,
/// its fields (name, JSON type, nullable, meaning) in wire order and a sample body. This is
/// `docs/events.md`; a test fails when that file differs.
pub fn catalogue_markdown() -> String {
    let mut md = String::new();
    let nulls = NullStyle::NAMES.map(|n| format!("`\"{n}\"`")).join(", ");
    // Writing to a String cannot fail.
    let _ = write!(
        md,
        "# Event catalogue\n\n\
         <!-- Generated from src/event.rs by `pbxsim docs events`; do not edit by hand.\n     \
         Refresh it with: {REFRESH_COMMAND} -->\n\n\
         The {n} webhook event types pbxsim sends, as the vendor document describes them: when \
         each fires, its fields in wire order and a sample body. Every POST carries one JSON \
         object (`Content-Type: application/json`, the token in `X-Pbx-Token`) whose first key \
         is `type`, the event's wire name; the other keys follow in the order of the tables. \
         Timestamps are ISO 8601 in UTC with milliseconds (`2019-10-01T15:31:15.000Z`; a \
         scenario's `utc_offset` writes another offset), durations are integers (whole \
         seconds) and phone numbers digit strings without `+`; `--chaos` can vary the last two \
         (see the README). A nullable field is `null` when it does not apply; the scenario's \
         `nulls` ({nulls}) chooses how such fields appear. \
         `pbxsim schema events` prints the JSON Schema of all {n}; `pbxsim trigger TYPE \
         --print` prints one with fake data.\n\n\
         | type | when it fires |\n|---|---|\n",
        n = EventType::ALL.len(),
    );
    for ty in EventType::ALL {
        let _ = writeln!(md, "| [`{ty}`](#{ty}) | {} |", when_it_fires(ty));
    }
    for ty in EventType::ALL {
        let _ = write!(md, "\n## `{ty}`\n\n{}\n\n", when_it_fires(ty));
        let sent = if ty.is_component() {
            "Sent by a webhook object in a call flow to the object's own URL, with its own token \
             and headers, whatever `[webhook] events` ticks."
                .to_string()
        } else {
            format!("Sent to the global webhook URL when `{ty}` is ticked in `[webhook] events`.")
        };
        let _ = write!(
            md,
            "{sent}\n\n\
             | field | JSON type | nullable | meaning |\n|---|---|---|---|\n\
             | `type` | string | no | `\"{ty}\"` |\n"
        );
        for f in ty.fields() {
            let nullable = if f.kind == FieldKind::OptionalString { "yes" } else { "no" };
            let meaning = f.meaning.replace('|', "\\|");
            let _ =
                writeln!(md, "| `{}` | {} | {nullable} | {meaning} |", f.name, json_type(f.kind));
        }
        let body = serde_json::to_string_pretty(&Event::sample(ty).to_value(NullStyle::Null))
            .expect("a payload serializes");
        let _ = write!(md, "\n```json\n{body}\n```\n");
    }
    md
}
