//! The resolver through [`parse_with_env`]: every setting, object, step and call of a scenario
//! file, and the diagnostics for mistakes in them.

use super::*;
use crate::event::NullStyle;
use crate::scenario::read::parse_with_env;
use crate::scenario::{Answer, Behaviour, CallKind};

fn env(name: &str) -> Option<String> {
    match name {
        "PBX_TOKEN" => Some("tok-from-env".into()),
        "HOOK_HOST" => Some("hooks.example.com".into()),
        _ => None,
    }
}

fn ok(source: &str) -> Scenario {
    parse_with_env(source, "scenarios/test.toml", &env)
        .unwrap_or_else(|d| panic!("{}", d.render(false)))
}

fn err(source: &str) -> Diagnostic {
    match parse_with_env(source, "scenarios/test.toml", &env) {
        Ok(_) => panic!("accepted:\n{source}"),
        Err(d) => *d,
    }
}

const PBX: &str = r#"
[[users]]
name = "Alice"
extension = "1010"

[[users]]
name = "Bob"
extension = "1011"

[[queues]]
name = "Support"
members = ["1010", "1011"]

[[ring_groups]]
name = "Sales"
members = ["1011"]

[[voicemail]]
name = "VM"

[[webhooks]]
name = "CRM"
"#;

/// The PBX above plus one number with `flow`.
fn with_flow(flow: &str) -> String {
    format!("{PBX}\n[[numbers]]\nnumber = \"61300000000\"\nflow = {flow}\n")
}

fn flow(flow: &str) -> Vec<Step> {
    ok(&with_flow(flow)).pbx.numbers[0].flow.clone()
}

#[test]
fn defaults() {
    let s = ok("");
    assert_eq!(s.name, "test");
    assert_eq!(s.seed, 1);
    assert_eq!(s.start_time, None);
    assert_eq!(s.utc_offset, None);
    assert_eq!(s.nulls, NullStyle::Null);
    assert_eq!(s.speed, None);
    assert_eq!(s.webhook.events, EventTypeSet::ALL);
    assert_eq!(s.webhook.url, None);
    assert!(s.calls.is_empty() && s.traffic.is_none() && s.expect.is_empty());
}

#[test]
fn top_level_settings() {
    let s = ok(r#"
name = "demo"
seed = 7
start_time = 2026-03-02T09:00:00Z
utc_offset = "+10:00"
nulls = "omit"
speed = 10

[webhook]
url = "https://${HOOK_HOST}/hook"
token = "${PBX_TOKEN}"
events = ["queue_call", "voicemail"]
headers = { "X-Tenant" = "acme" }
"#);
    assert_eq!(s.name, "demo");
    assert_eq!(s.seed, 7);
    assert_eq!(s.start_time, Some("2026-03-02T09:00:00Z".parse().unwrap()));
    assert_eq!(s.utc_offset.map(|o| o.local_minus_utc()), Some(36_000));
    assert_eq!(s.nulls, NullStyle::Omit);
    assert_eq!(s.speed, Some(10.0));
    assert_eq!(
        s.webhook.url.as_ref().map(SecretUrl::expose),
        Some("https://hooks.example.com/hook")
    );
    assert_eq!(s.webhook.token.expose(), "tok-from-env");
    let events: Vec<EventType> = s.webhook.events.iter().collect();
    assert_eq!(events, [EventType::QueueCall, EventType::Voicemail]);
    assert_eq!(s.webhook.headers, [("X-Tenant".to_string(), "acme".into())]);
}

#[test]
fn webhook_routes_and_object_tokens() {
    let s = ok(r#"
[webhook]
url = "http://127.0.0.1:3000/hook"
events = ["queue_call", "voicemail"]
routes = { queue_call = "http://127.0.0.1:3000/queue", webhook_component_event = "http://127.0.0.1:3000/c" }

[[webhooks]]
name = "A"

[[webhooks]]
name = "B"
token = ""

[[webhooks]]
name = "C"
url = "http://crm.example.com/"
token = "own"
"#);
    assert_eq!(
        s.webhook.routes,
        [
            (EventType::QueueCall, "http://127.0.0.1:3000/queue".into()),
            (EventType::WebhookComponentEvent, "http://127.0.0.1:3000/c".into()),
        ]
    );
    let tokens: Vec<Option<&str>> =
        s.pbx.webhooks.iter().map(|w| w.token.as_ref().map(Secret::expose)).collect();
    assert_eq!(tokens, [None, Some(""), Some("own")]);

    let d = err("[webhook]\nroutes = { queue_cal = \"http://127.0.0.1:3000/q\" }\n");
    assert!(d.message().contains("unknown event type `queue_cal`"), "{}", d.message());
    let d = err("[webhook]\nroutes = { queue_call = \"127.0.0.1:3000/q\" }\n");
    assert!(d.message().contains("malformed URL"), "{}", d.message());
    let d = err("[webhook]\nevents = [\"voicemail\"]\nroutes = { queue_call = \"http://h/q\" }\n");
    assert!(d.message().contains("is not in `events`"), "{}", d.message());
}

#[test]
fn open_choices_read_from_the_file() {
    use crate::pbx::{UnansweredCompletion, WrapupBlocks};
    let s = ok(&with_flow(r#"["queue:Support"]"#));
    assert_eq!(s.pbx.unanswered_completion, UnansweredCompletion::None);
    assert_eq!(s.pbx.queues[0].wrapup_blocks, WrapupBlocks::Queue);
    let text = format!(
        "unanswered_completion = \"completed\"\n{}",
        with_flow(r#"["queue:Support"]"#)
            .replace("[[queues]]\n", "[[queues]]\nwrapup_blocks = \"all\"\n")
    );
    let s = ok(&text);
    assert_eq!(s.pbx.unanswered_completion, UnansweredCompletion::Completed);
    assert_eq!(s.pbx.queues[0].wrapup_blocks, WrapupBlocks::All);
    let d = err("unanswered_completion = \"complete\"");
    let shown = d.render(false);
    assert!(shown.contains("did you mean `completed`?"), "{shown}");
    assert!(shown.contains("test.toml:1:25"), "{shown}");
}

#[test]
fn users_without_a_recording_table_use_the_pbxs() {
    let s = ok(r#"
[recording]
emails = ["recordings@example.com"]
subject = "PBX recording"
mode = "storage"

[[users]]
name = "Alice"
extension = "1010"
record_inbound = true
record_outbound = true

[[users]]
name = "Bob"
extension = "1011"
record_outbound = true
recording = { emails = ["bob@example.com"] }
"#);
    let alice = &s.pbx.users[0].recording;
    assert_eq!(alice.emails, [Str::from("recordings@example.com")]);
    assert_eq!(&*alice.subject, "PBX recording");
    assert_eq!(alice.mode, crate::pbx::RecordingMode::Storage);
    // A user's own table replaces the PBX's whole (defaults included).
    let bob = &s.pbx.users[1].recording;
    assert_eq!(bob.emails, [Str::from("bob@example.com")]);
    assert_eq!(&*bob.subject, "Call recording");
    assert_eq!(bob.mode, crate::pbx::RecordingMode::Email);
}

#[test]
fn start_time_may_be_a_string() {
    let s = ok(r#"start_time = "2026-03-02T19:00:00+10:00""#);
    assert_eq!(s.start_time, Some("2026-03-02T09:00:00Z".parse().unwrap()));
    let d = err("start_time = 2026-03-02T09:00:00");
    assert!(d.message().contains("cannot read start_time"), "{}", d.message());
}

#[test]
fn pbx_objects_and_defaults() {
    let s = ok(&with_flow(r#"["queue:Support"]"#));
    let q = &s.pbx.queues[0];
    assert_eq!(q.members, [0, 1]);
    assert_eq!(q.strategy, Strategy::Ringall);
    assert_eq!((q.ring_timeout, q.retry, q.max_wait, q.wrapup), (20_000, 5_000, 300_000, 0));
    assert_eq!(q.failover, None);
    let g = &s.pbx.ring_groups[0];
    assert_eq!((g.mode, g.ring_time), (RingMode::Simultaneous, 20_000));
    assert_eq!(&*s.pbx.voicemail[0].subject, "New voicemail");
    assert_eq!(s.pbx.webhooks[0].url, None);
    assert_eq!(&*s.pbx.recording.subject, "Call recording");
}

#[test]
fn step_strings() {
    assert_eq!(
        flow(
            r#"["webhook:CRM", "record", "queue: Support", "ring_group:Sales", "user:1011", "voicemail:VM", "hangup"]"#
        ),
        [
            Step::Webhook(0),
            Step::Record,
            Step::Queue { queue: 0, on_timeout: None },
            Step::RingGroup { group: 0, on_no_answer: None },
            Step::User { user: 1, ring: None },
            Step::Voicemail(0),
            Step::Hangup,
        ]
    );
}

#[test]
fn step_tables() {
    assert_eq!(
        flow(
            r#"[{ queue = "Support", on_timeout = { ring_group = "Sales", on_no_answer = "voicemail:VM" } }, { user = "1010", ring = "25s" }]"#
        ),
        [
            Step::Queue {
                queue: 0,
                on_timeout: Some(Box::new(Step::RingGroup {
                    group: 0,
                    on_no_answer: Some(Box::new(Step::Voicemail(0))),
                })),
            },
            Step::User { user: 0, ring: Some(25_000) },
        ]
    );
}

#[test]
fn bad_steps() {
    let cases = [
        (r#"["record:VM"]"#, "the `record` step takes no name"),
        (r#"["queue"]"#, "the `queue` step needs a name"),
        (r#"["queue:"]"#, "the `queue` step needs a name"),
        (r#"["ringgroup:Sales"]"#, "unknown step kind `ringgroup`"),
        (r#"["user:Alice"]"#, "no user with extension Alice"),
        (r#"[{ user = "1010", on_timeout = "hangup" }]"#, "`on_timeout` does not apply"),
        (r#"[{ }]"#, "names no step"),
        (r#"[{ user = "1010", ring = "0s" }]"#, "ring must be more than 0s"),
        (r#"[]"#, "has no steps"),
        (r#"[7]"#, "wrong type"),
    ];
    for (flow, message) in cases {
        let d = err(&with_flow(flow));
        assert!(d.message().contains(message), "{flow}: {}", d.message());
    }
    let d = err(&with_flow(r#"["ringgroup:Sales"]"#));
    assert!(d.help_text().unwrap_or_default().contains("did you mean `ring_group`?"));
    let d = err(&with_flow(r#"["user:Alice"]"#));
    assert!(d.help_text().unwrap_or_default().contains("`Alice` is 1010"));
}

#[test]
fn calls_are_resolved_and_sorted_stably() {
    let source = with_flow(r#"["queue:Support"]"#)
        + r#"
[[calls]]
at = "1m"
from = "61400000001"
to = "61300000000"
answered_by = "1011"
answer_after = "8s"
talk = "2m"
abandon_after = "45s"
voicemail = "0s"

[[calls]]
at = "0s"
direction = "outbound"
from = "1010"
to = "61400000002"
answered_by = "none"

[[calls]]
at = "1m"
from = "61400000003"
caller_name = "Jane"
to = "61300000000"
"#;
    let s = ok(&source);
    let callers: Vec<&str> = s.calls.iter().map(|c| &*c.caller_id).collect();
    // Outbound without outbound_cli presents the first number.
    assert_eq!(callers, ["61300000000", "61400000001", "61400000003"]);
    let out = &s.calls[0];
    assert_eq!(out.kind, CallKind::Outbound { user: 0, dest: "61400000002".into() });
    assert_eq!(out.behaviour.answer, Answer::Nobody);
    let first = &s.calls[1];
    assert_eq!(first.at, 60_000);
    assert_eq!(first.kind, CallKind::Inbound { number: 0 });
    assert_eq!(
        first.behaviour,
        Behaviour {
            answer: Answer::User(1),
            answer_after: 8_000,
            talk: 120_000,
            abandon_after: Some(45_000),
            voicemail: 0,
            no_answer_probability: 0.0,
        }
    );
    assert_eq!(s.calls[2].behaviour, Behaviour::default());
    assert_eq!(s.calls[2].caller_name.as_deref(), Some("Jane"));
}

#[test]
fn all_semantic_errors_are_reported_in_file_order() {
    let d = err(r#"
[[users]]
name = "A"
extension = "1010"

[[queues]]
name = "Q"
members = ["1011"]
wrapup = "-1s"

[[numbers]]
number = "6130"
flow = ["voicemail:X"]
"#);
    let messages: Vec<&str> = std::iter::once(d.message())
        .chain(d.related_diagnostics().iter().map(|r| r.message()))
        .collect();
    assert_eq!(
        messages,
        ["no user with extension 1011", "negative duration `-1s`", "no voicemail box named `X`"]
    );
    assert_eq!(d.line_column(), Some((8, 12)));
}

#[test]
fn traffic_errors_point_at_the_key() {
    // (the [traffic] table, the marked text, a piece of the message, a piece of the help)
    let cases = [
        ("rate = \"fast\"", "\"fast\"", "`traffic.rate`: cannot read rate `fast`", "30/s"),
        ("rat = \"1/s\"", "rat", "`traffic.rat`: unknown key", "did you mean `rate`?"),
        (
            "stages = [{ rate = \"1/s\", for = \"1m\" }, { rate = \"x\", for = \"1m\" }]",
            "\"x\"",
            "`traffic.stages[1].rate`: cannot read rate",
            "write it like",
        ),
        (
            "stages = [{ rate = \"1/s\", fore = \"1m\" }]",
            "fore",
            "`traffic.stages[0]`: unknown key `fore`",
            "did you mean `for`?",
        ),
        (
            "rate = \"1/s\"\ntalk = { dist = \"exponental\", mean = \"1m\" }",
            "\"exponental\"",
            "unknown value `exponental`",
            "did you mean `exponential`?",
        ),
        (
            "rate = \"1/s\"\nnumbers = { \"61300000001\" = 1 }",
            "1",
            "no number `61300000001` in this PBX",
            "did you mean `61300000000`?",
        ),
        ("rate = 5", "5", "wrong type: expected a string", "quotes"),
        ("outbound = 0.5", "[traffic]", "`traffic.rate`: missing", "set a rate"),
    ];
    for (table, marked, message, help) in cases {
        let source = format!("{}\n[traffic]\n{table}\n", with_flow(r#"["queue:Support"]"#));
        let d = err(&source);
        let span = d.span().unwrap_or_default();
        assert_eq!(&source[span], marked, "{table}: {}", d.message());
        assert!(d.message().contains(message), "{table}: {}", d.message());
        let h = d.help_text().unwrap_or_default();
        assert!(h.contains(help), "{table}: {h}");
    }
    let source = format!("{}\n[traffic]\nrate = \"2/m\"\n", with_flow(r#"["queue:Support"]"#));
    assert_eq!(ok(&source).traffic.and_then(|t| t.rate), Some("2/m".to_string()));
}

#[test]
fn expect_thresholds_are_parsed_and_errors_point_into_the_string() {
    let s = ok("[expect]\nthresholds = [\"p99 < 250ms\", 'error_rate<0.1%']\n");
    let shown: Vec<String> = s.expect.iter().map(|t| t.to_string()).collect();
    assert_eq!(shown, ["p99 < 250ms", "error_rate < 0.1%"]);

    let source = "[expect]\nthresholds = [\"p98 < 1s\", \"p99 < 250\"]\n";
    let d = err(source);
    assert_eq!(d.message(), "bad threshold: unknown metric `p98`");
    assert_eq!(&source[d.span().unwrap_or_default()], "p98");
    assert!(d.help_text().unwrap_or_default().contains("did you mean `p99`?"));
    let second = &d.related_diagnostics()[0];
    assert_eq!(second.message(), "bad threshold: missing unit after `250`");
    assert_eq!(&source[second.span().unwrap_or_default()], "250");
    assert_eq!(second.line_column(), Some((2, 34)));

    let d = err("[expect]\ntreshold = []\n");
    assert_eq!(d.message(), "unknown key `treshold`");
    assert!(d.help_text().unwrap_or_default().contains("did you mean `thresholds`?"));
}

#[test]
fn undefined_variables_point_at_the_reference() {
    let source = "[webhook]\ntoken = \"Bearer ${NOPE}\"\n";
    let d = err(source);
    assert_eq!(d.message(), "environment variable `NOPE` is not set");
    assert_eq!(&source[d.span().unwrap()], "${NOPE}");
}
