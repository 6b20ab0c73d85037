//! Human-readable lines for what the receiver sees: one per event, one per violation, one per
//! rejected request. Colour is ANSI and only when the caller asks for it (the command line
//! decides: `--color`, `NO_COLOR`, `CLICOLOR_FORCE`, a terminal).

use std::fmt::Write as _;

use chrono::{DateTime, Local};
use serde_json::Value;

use crate::check::Violation;
use crate::event::EventType;

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const BOLD_RED: &str = "\x1b[1;31m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BLUE: &str = "\x1b[34m";
const MAGENTA: &str = "\x1b[35m";
const CYAN: &str = "\x1b[36m";

/// `text` with control characters (escape sequences a sender could use to rewrite the
/// terminal, newlines that would forge lines) shown as `\u{..}` escapes: what the receiver prints
/// comes from the network.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn paint(out: &mut String, color: bool, code: &str, text: &str) {
    if color {
        out.push_str(code);
        out.push_str(text);
        out.push_str(RESET);
    } else {
        out.push_str(text);
    }
}

fn type_color(t: Option<EventType>) -> &'static str {
    match t {
        Some(
            EventType::UserInbound
            | EventType::UserInboundAnswered
            | EventType::UserInboundCompleted
            | EventType::WebhookComponentEvent,
        ) => GREEN,
        Some(
            EventType::UserOutbound
            | EventType::UserOutboundAnswered
            | EventType::UserOutboundCompleted,
        ) => BLUE,
        Some(EventType::QueueCall | EventType::RingGroupCall) => MAGENTA,
        Some(EventType::Voicemail | EventType::RecordingInbound | EventType::RecordingOutbound) => {
            YELLOW
        }
        None => RED,
    }
}

/// `15:31:29.123` in local time.
pub fn clock(at: &DateTime<Local>) -> String {
    at.format("%H:%M:%S%.3f").to_string()
}

/// One event: time received, call id, type, and its key fields (user, queue or ring group,
/// status, durations, component), e.g.
/// `15:31:29.123  160455961758  user_inbound_completed   user 1011 Bob · queue Support · call 28s talk 14s`.
pub fn event_line(at: &DateTime<Local>, event: &Value, color: bool) -> String {
    // Empty and the text "null" (`nulls=string`) both mean "not applicable".
    let text = |name: &str| {
        event
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && *s != crate::event::NULL_TEXT)
            .map(printable)
    };
    let number = |name: &str| match event.get(name) {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() => Some(printable(s).into_owned()),
        _ => None,
    };
    let type_name = text("type").unwrap_or("(no type)".into());
    let ty = type_name.parse::<EventType>().ok();
    let mut line = String::new();
    paint(&mut line, color, DIM, &clock(at));
    line.push_str("  ");
    let call = text("unique_call_id").unwrap_or("-".into());
    paint(&mut line, color, CYAN, &format!("{call:<14}"));
    line.push_str("  ");
    paint(&mut line, color, type_color(ty), &format!("{type_name:<24}"));

    let mut parts: Vec<String> = Vec::new();
    if ty == Some(EventType::WebhookComponentEvent) {
        if let Some(c) = text("component_name") {
            parts.push(format!("component {c}"));
        }
        if let Some(n) = text("user_number") {
            parts.push(format!("caller {n}"));
        }
    } else if let Some(n) = text("user_number") {
        match text("user_name") {
            Some(name) => parts.push(format!("user {n} {name}")),
            None => parts.push(format!("user {n}")),
        }
    }
    if let Some(q) = text("queue_name") {
        parts.push(format!("queue {q}"));
    }
    if let Some(g) = text("ring_group_name") {
        parts.push(format!("ring group {g}"));
    }
    if let Some(s) = text("status") {
        parts.push(s.to_string());
    }
    if matches!(ty, Some(EventType::Voicemail | EventType::RecordingInbound)) {
        if let Some(c) = text("caller_id") {
            parts.push(format!("caller {c}"));
        }
    }
    match (number("call_duration"), number("conversation_duration")) {
        (Some(c), Some(t)) => parts.push(format!("call {c}s talk {t}s")),
        (Some(c), None) => parts.push(format!("call {c}s")),
        _ => {}
    }
    if !parts.is_empty() {
        line.push_str("  ");
        line.push_str(&parts.join(" · "));
    }
    line.trim_end().to_string()
}

/// One violation, clearly marked: `  ✗ violation [order] call 1604…: message`.
pub fn violation_line(v: &Violation, color: bool) -> String {
    let mut line = String::from("  ");
    paint(&mut line, color, BOLD_RED, "✗ violation");
    let _ = write!(line, " {}", printable(&v.to_string()));
    line
}

/// A request the receiver did not accept (or answered with a failure code on purpose).
pub fn rejected_line(
    at: &DateTime<Local>,
    path: &str,
    code: u16,
    reason: &str,
    color: bool,
) -> String {
    let mut line = String::new();
    paint(&mut line, color, DIM, &clock(at));
    line.push_str("  ");
    paint(&mut line, color, RED, &format!("{code}"));
    let _ = write!(line, " {}: {}", printable(path), printable(reason));
    line
}

/// The note appended to an event line whose request was answered with a non-2xx code.
pub fn not_accepted_note(code: u16, color: bool) -> String {
    let mut note = String::from("  ");
    paint(&mut note, color, RED, &format!("→ {code}, not checked"));
    note
}

/// After an event sent as a one-off (`pbxsim trigger`): checked on its own, not as a call.
pub fn one_off_note(color: bool) -> String {
    let mut note = String::from("  ");
    paint(&mut note, color, DIM, "(one-off: checked on its own)");
    note
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Rule;
    use serde_json::json;

    fn noon() -> DateTime<Local> {
        let t = chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap().and_hms_milli_opt(12, 0, 1, 5);
        t.unwrap().and_local_timezone(Local).earliest().unwrap()
    }

    #[test]
    fn event_lines_name_the_key_fields() {
        let e = json!({
            "type": "queue_call", "unique_call_id": "160455961758", "user_name": "Bob",
            "user_number": "1011", "queue_name": "Support", "status": "answered",
            "call_duration": 28, "conversation_duration": 14, "connected_at": null,
        });
        let line = event_line(&noon(), &e, false);
        assert_eq!(
            line,
            "12:00:01.005  160455961758    queue_call                user 1011 Bob · queue \
             Support · answered · call 28s talk 14s"
        );
        let coloured = event_line(&noon(), &e, true);
        assert!(coloured.contains("\x1b[35mqueue_call"), "{coloured:?}");
    }

    #[test]
    fn odd_events_still_print() {
        let line = event_line(&noon(), &json!({"hello": 1}), false);
        assert_eq!(line, "12:00:01.005  -               (no type)");
    }

    #[test]
    fn control_characters_from_the_network_are_escaped() {
        let e = json!({"type": "queue_call", "unique_call_id": "1\u{1b}[2J", "queue_name": "a\nb"});
        let line = event_line(&noon(), &e, false);
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.contains("1\\u{1b}[2J") && line.contains("queue a\\u{a}b"), "{line}");
        assert_eq!(printable("plain · text"), "plain · text");
    }

    #[test]
    fn violations_are_marked() {
        let v = Violation { call_id: "7".into(), rule: Rule::Order, message: "oops".into() };
        assert_eq!(violation_line(&v, false), "  ✗ violation [order] call 7: oops");
        assert!(violation_line(&v, true).contains(BOLD_RED));
    }
}
