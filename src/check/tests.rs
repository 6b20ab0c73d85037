//! Unit tests of the conformance checker: realistic calls pass, each rule catches its breakage.

use serde_json::{Value, json};

use super::*;
use crate::event::{NullStyle, apply_null_style};

const ID: &str = "160455961758";
const CLI: &str = "61400000001";
const DEST: &str = "61300000000";

/// The wire timestamp `secs` seconds after the call's start (2019-10-01T15:31:15Z).
fn at(secs: i64) -> String {
    let start: DateTime<chrono::Utc> = "2019-10-01T15:31:15Z".parse().unwrap();
    (start + chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The call-wide fields of an inbound event.
fn inbound(ty: &str) -> Value {
    json!({
        "type": ty, "unique_call_id": ID, "caller_id": CLI, "caller_name": "Jane Citizen",
        "dest_number": DEST, "call_start_at": at(0),
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    let (Some(map), Value::Object(extra)) = (base.as_object_mut(), extra) else { unreachable!() };
    map.extend(extra);
    base
}

fn ui(user: &str, queue: Option<&str>, rg: Option<&str>) -> Value {
    with(
        inbound("user_inbound"),
        json!({"user_name": format!("User {user}"), "user_number": user,
               "queue_name": queue, "ring_group_name": rg}),
    )
}

fn uia(user: &str, queue: Option<&str>, rg: Option<&str>, connected: i64) -> Value {
    with(
        ui(user, queue, rg),
        json!({"type": "user_inbound_answered", "connected_at": at(connected)}),
    )
}

fn uic(user: &str, queue: Option<&str>, rg: Option<&str>, connected: i64, end: i64) -> Value {
    with(
        uia(user, queue, rg, connected),
        json!({"type": "user_inbound_completed", "call_duration": end,
               "conversation_duration": end - connected}),
    )
}

/// A `user_inbound_completed` for a user who rang and did not answer
/// (`unanswered_completion = "completed"`).
fn missed(user: &str, queue: Option<&str>, rg: Option<&str>, end: i64) -> Value {
    with(
        ui(user, queue, rg),
        json!({"type": "user_inbound_completed", "connected_at": null, "call_duration": end,
               "conversation_duration": 0}),
    )
}

/// A queue or ring group summary; `answer` is `(user, connected)` for an answered one.
fn summary(ty: &str, name: &str, status: &str, answer: Option<(&str, i64)>, end: i64) -> Value {
    let name_field = if ty == "queue_call" { "queue_name" } else { "ring_group_name" };
    let (user_name, user, connected, talk) = match answer {
        Some((user, c)) => (json!(format!("User {user}")), json!(user), json!(at(c)), end - c),
        None => (Value::Null, Value::Null, Value::Null, 0),
    };
    with(
        inbound(ty),
        json!({"user_name": user_name, "user_number": user, "connected_at": connected,
               "call_duration": end, "conversation_duration": talk,
               name_field: name, "status": status}),
    )
}

fn qc(name: &str, status: &str, answer: Option<(&str, i64)>, end: i64) -> Value {
    summary("queue_call", name, status, answer, end)
}

fn rgc(name: &str, status: &str, answer: Option<(&str, i64)>, end: i64) -> Value {
    summary("ring_group_call", name, status, answer, end)
}

fn voicemail(recorded: i64) -> Value {
    json!({
        "type": "voicemail", "unique_call_id": ID, "caller_id": CLI, "dest_number": DEST,
        "recorded_at": at(recorded), "emails": "a@example.com", "email_subject": "New voicemail",
        "email_message": "You have a new voicemail", "call_recording_link": null,
    })
}

fn rec_in(recorded: i64) -> Value {
    json!({
        "type": "recording_inbound", "unique_call_id": ID, "caller_id": CLI,
        "dest_number": DEST, "recorded_at": at(recorded), "emails": "rec@example.com",
        "email_subject": "Call recording", "call_recording_link": null, "email_message": null,
    })
}

fn wce() -> Value {
    json!({
        "type": "webhook_component_event", "unique_call_id": ID, "user_name": "Jane Citizen",
        "user_number": CLI, "dest_number": DEST, "call_start_at": at(0),
        "component_name": "CRM lookup",
    })
}

fn outbound(ty: &str, user: &str) -> Value {
    json!({
        "type": ty, "unique_call_id": ID, "caller_id": DEST, "user_name": format!("User {user}"),
        "user_number": user, "dest_number": CLI, "call_start_at": at(0),
    })
}

fn uo(user: &str) -> Value {
    outbound("user_outbound", user)
}

fn uoa(user: &str, connected: i64) -> Value {
    with(outbound("user_outbound_answered", user), json!({"connected_at": at(connected)}))
}

fn uoc(user: &str, connected: Option<i64>, end: i64) -> Value {
    let talk = connected.map_or(0, |c| end - c);
    with(
        outbound("user_outbound_completed", user),
        json!({"connected_at": connected.map(at), "call_duration": end,
               "conversation_duration": talk}),
    )
}

fn rec_out(user: &str, recorded: i64) -> Value {
    json!({
        "type": "recording_outbound", "unique_call_id": ID, "caller_id": DEST,
        "user_name": format!("User {user}"), "user_number": user, "dest_number": CLI,
        "recorded_at": at(recorded), "emails": "bob@example.com", "email_subject": "Recording",
        "call_recording_link": null, "email_message": null, "mode": "storage",
    })
}

/// Run a whole call (finish included) and return every violation.
fn run_with(cfg: CheckerConfig, events: &[Value]) -> Vec<Violation> {
    let mut checker = Checker::new(cfg);
    let mut all: Vec<Violation> = events.iter().flat_map(|e| checker.observe(e)).collect();
    all.extend(checker.finish());
    assert_eq!(checker.summary().violations, all.len() as u64);
    all
}

fn run(events: &[Value]) -> Vec<Violation> {
    run_with(CheckerConfig::default(), events)
}

fn rules(violations: &[Violation]) -> Vec<Rule> {
    violations.iter().map(|v| v.rule).collect()
}

/// Exactly one violation, of `rule`, whose message contains `needle`. The end-of-stream rules
/// run only when `rule` is one of them.
#[track_caller]
fn expect_one(events: &[Value], rule: Rule, needle: &str) {
    let found = if rule == Rule::Incomplete {
        run(events)
    } else {
        let mut checker = Checker::new(CheckerConfig::default());
        events.iter().flat_map(|e| checker.observe(e)).collect()
    };
    assert_eq!(rules(&found), vec![rule], "{found:#?}");
    assert!(found[0].message.contains(needle), "{:?} lacks {needle:?}", found[0].message);
    assert_eq!(found[0].call_id, ID);
}

fn good_calls() -> Vec<(&'static str, Vec<Value>)> {
    let q = Some("Support");
    let g = Some("Sales");
    vec![
        (
            "queue answered, ringall, recorded, with a webhook object",
            vec![
                wce(),
                ui("1010", q, None),
                ui("1011", q, None),
                uia("1011", q, None, 14),
                uic("1011", q, None, 14, 28),
                qc("Support", "answered", Some(("1011", 14)), 28),
                rec_in(28),
            ],
        ),
        (
            "queue timed out to voicemail",
            vec![
                ui("1010", q, None),
                ui("1011", q, None),
                ui("1010", q, None),
                qc("Support", "timedout", None, 120),
                voicemail(150),
            ],
        ),
        ("queue abandoned with every agent busy", vec![qc("Support", "abandoned", None, 30)]),
        (
            "ring group, sequential, answered",
            vec![
                ui("1010", None, g),
                ui("1011", None, g),
                uia("1011", None, g, 20),
                uic("1011", None, g, 20, 50),
                rgc("Sales", "answered", Some(("1011", 20)), 50),
            ],
        ),
        (
            "queue timed out, then a ring group answered",
            vec![
                ui("1010", q, None),
                qc("Support", "timedout", None, 60),
                ui("1012", None, g),
                uia("1012", None, g, 65),
                uic("1012", None, g, 65, 125),
                rgc("Sales", "answered", Some(("1012", 65)), 125),
            ],
        ),
        ("direct user, no answer, voicemail", vec![ui("1010", None, None), voicemail(40)]),
        (
            "direct user answered",
            vec![
                ui("1010", None, None),
                uia("1010", None, None, 6),
                uic("1010", None, None, 6, 66),
            ],
        ),
        (
            "outbound answered and recorded",
            vec![uo("1011"), uoa("1011", 9), uoc("1011", Some(9), 70), rec_out("1011", 70)],
        ),
        ("outbound unanswered", vec![uo("1011"), uoc("1011", None, 30)]),
        (
            "direct user rings out, with an unanswered completion",
            vec![ui("1010", None, None), missed("1010", None, None, 20), voicemail(20)],
        ),
        (
            "ring group answered, the other member completes unanswered",
            vec![
                ui("1010", None, g),
                ui("1011", None, g),
                uia("1011", None, g, 5),
                missed("1010", None, g, 5),
                uic("1011", None, g, 5, 35),
                rgc("Sales", "answered", Some(("1011", 5)), 35),
            ],
        ),
        (
            "queue: a member misses an attempt, then answers the next",
            vec![
                ui("1010", q, None),
                ui("1011", q, None),
                missed("1010", q, None, 15),
                missed("1011", q, None, 15),
                ui("1010", q, None),
                uia("1010", q, None, 22),
                uic("1010", q, None, 22, 60),
                qc("Support", "answered", Some(("1010", 22)), 60),
            ],
        ),
    ]
}

#[test]
fn realistic_calls_have_no_violations() {
    for (name, events) in good_calls() {
        assert_eq!(run(&events), vec![], "{name}");
    }
}

#[test]
fn realistic_calls_pass_in_every_null_style() {
    for style in [NullStyle::Empty, NullStyle::Omit, NullStyle::String] {
        for (name, mut events) in good_calls() {
            events.iter_mut().for_each(|e| apply_null_style(e, style));
            assert_eq!(run(&events), vec![], "{name} {style:?}");
        }
    }
}

#[test]
fn the_text_null_is_not_applicable_only_where_a_field_may_be_null() {
    // `nulls=string` in a required field is still wrong.
    let mut bad = ui("1010", None, None);
    bad["call_start_at"] = json!("null");
    let found = run(&[bad]);
    assert!(found.iter().any(|v| v.message.contains("not an RFC 3339 timestamp")), "{found:#?}");
    // A summary of an unanswered visit with "null" user and connected_at is consistent.
    let mut summary = qc("Support", "timedout", None, 60);
    for k in ["user_name", "user_number", "connected_at", "caller_name"] {
        summary[k] = json!("null");
    }
    assert_eq!(run(&[ui("1010", Some("Support"), None), summary]), vec![]);
}

#[test]
fn extra_fields_break_the_fields_rule_unless_accepted() {
    let q = Some("Support");
    let mut events = vec![
        ui("1010", q, None),
        uia("1010", q, None, 5),
        uic("1010", q, None, 5, 65),
        qc("Support", "answered", Some(("1010", 5)), 65),
    ];
    events[1]["pbxsim_extra"] = json!({"source": "pbxsim"});
    events[3]["pbxsim_extra"] = json!(42);
    let found = run(&events);
    assert_eq!(rules(&found), vec![Rule::Fields, Rule::Fields], "{found:#?}");
    assert!(found[0].message.contains("unknown field `pbxsim_extra`"), "{}", found[0].message);
    let cfg = CheckerConfig { extra_fields: true, ..CheckerConfig::default() };
    assert_eq!(run_with(cfg, &events), vec![]);
}

#[test]
fn recording_links_may_be_urls() {
    let mut vm = voicemail(40);
    vm["call_recording_link"] =
        json!("https://recordings.example.com/160455961758/voicemail-1.wav");
    let mut rec = rec_in(28);
    rec["call_recording_link"] = json!("https://recordings.example.com/1/inbound-2.wav");
    assert_eq!(run(&[ui("1010", None, None), vm]), vec![]);
    let q = Some("Support");
    let answered = [
        ui("1010", q, None),
        uia("1010", q, None, 5),
        uic("1010", q, None, 5, 28),
        qc("Support", "answered", Some(("1010", 5)), 28),
        rec,
    ];
    assert_eq!(run(&answered), vec![]);
}

#[test]
fn a_batched_array_is_its_elements_in_order() {
    let mut checker = Checker::new(CheckerConfig::default());
    let (_, events) = good_calls().swap_remove(0);
    assert_eq!(checker.observe(&Value::Array(events.clone())), vec![]);
    let summary = checker.summary();
    assert_eq!(summary.calls, 1);
    assert_eq!(summary.events, events.len() as u64);
    assert_eq!(summary.events_of(EventType::UserInbound), 2);
    assert_eq!(summary.events_of(EventType::QueueCall), 1);
    // Reversed, the same events break the order rule.
    let reversed: Vec<Value> = events.into_iter().rev().collect();
    let mut checker = Checker::new(CheckerConfig::default());
    let found = checker.observe(&Value::Array(reversed));
    assert!(found.iter().any(|v| v.rule == Rule::Order), "{found:#?}");
}

#[test]
fn calls_are_followed_separately() {
    let mut other = ui("1010", None, None);
    other["unique_call_id"] = json!("999");
    other["caller_id"] = json!("61400000099");
    let mut checker = Checker::new(CheckerConfig::default());
    assert_eq!(checker.observe(&ui("1010", None, None)), vec![]);
    assert_eq!(checker.observe(&other), vec![]);
    assert_eq!(checker.summary().calls, 2);
}

// ----- fields -----

#[test]
fn fields_unknown_type_suggests_the_closest() {
    let mut e = ui("1010", None, None);
    e["type"] = json!("user_inbound_answerd");
    expect_one(&[e], Rule::Fields, "did you mean `user_inbound_answered`?");
}

#[test]
fn fields_missing_wrong_types_and_unknown_fields() {
    let mut e = uic("1010", None, None, 6, 66);
    e.as_object_mut().unwrap().remove("dest_number");
    e["call_duration"] = json!("66");
    e["caler_name"] = json!("Jane");
    e["connected_at"] = json!("yesterday");
    let mut found = run(&[ui("1010", None, None), uia("1010", None, None, 6), e]);
    // The unreadable connected_at also breaks the order rule; this test is about fields.
    found.retain(|v| v.rule != Rule::Order);
    let messages: Vec<&str> = found.iter().map(|v| v.message.as_str()).collect();
    assert!(found.iter().all(|v| v.rule == Rule::Fields), "{found:#?}");
    assert_eq!(found.len(), 4, "{messages:#?}");
    assert!(messages[0].contains("missing field `dest_number`"));
    assert!(messages[1].contains("`connected_at` is not an RFC 3339 timestamp"));
    assert!(messages[2].contains("`call_duration` must be a non-negative integer, got `66`"));
    assert!(messages[3].contains("unknown field `caler_name`; did you mean `caller_name`?"));
}

#[test]
fn fields_status_and_negative_integers() {
    let mut e = qc("Support", "timedout", None, 60);
    e["status"] = json!("missed");
    e["call_duration"] = json!(-3);
    let found = run(&[e]);
    assert_eq!(rules(&found), vec![Rule::Fields, Rule::Fields], "{found:#?}");
    assert!(found[0].message.contains("`call_duration` must be a non-negative integer"));
    assert!(found[1].message.contains("`status` must be one of answered|abandoned|timedout"));
}

#[test]
fn fields_digit_strings_pass_when_lenient() {
    let mut e = qc("Support", "timedout", None, 60);
    e["call_duration"] = json!("60");
    let cfg = CheckerConfig { lenient_numbers: true, ..CheckerConfig::default() };
    assert_eq!(run_with(cfg, &[e]), vec![]);
}

#[test]
fn fields_any_offset_is_fine() {
    let mut events = good_calls().swap_remove(6).1;
    for e in &mut events {
        for f in ["call_start_at", "connected_at"] {
            if let Some(Value::String(s)) = e.get(f) {
                let t = DateTime::parse_from_rfc3339(s).unwrap();
                let offset = FixedOffset::east_opt(10 * 3600).unwrap();
                e[f] = json!(t.with_timezone(&offset).to_rfc3339());
            }
        }
    }
    assert!(events[0]["call_start_at"].as_str().unwrap().ends_with("+10:00"));
    assert_eq!(run(&events), vec![]);
}

#[test]
fn fields_a_body_that_is_not_an_object_is_malformed() {
    let mut checker = Checker::new(CheckerConfig::default());
    let found = checker.observe(&json!("hello"));
    assert_eq!(rules(&found), vec![Rule::Malformed]);
    let found = checker.observe(&json!([ui("1010", None, None), 7]));
    assert_eq!(rules(&found), vec![Rule::Malformed]);
    assert!(found[0].message.contains("got a number"));
}

// ----- call-fields -----

#[test]
fn call_fields_must_agree_across_the_call() {
    let mut e = uia("1010", None, None, 6);
    e["caller_id"] = json!("61400000002");
    expect_one(&[ui("1010", None, None), e], Rule::CallFields, "caller_id is `61400000002`");

    let mut e = ui("1010", None, None);
    e["call_start_at"] = json!(at(1));
    expect_one(&[wce(), e], Rule::CallFields, "call_start_at");

    let mut w = wce();
    w["user_number"] = json!("61400000002");
    expect_one(&[ui("1010", None, None), w], Rule::CallFields, "user_number (the caller's CLI)");
}

#[test]
fn call_fields_caller_name_may_be_null_but_not_different() {
    let mut e = ui("1011", None, None);
    e["caller_name"] = Value::Null;
    assert_eq!(run(&[ui("1010", None, None), e.clone(), voicemail(30)]), vec![]);
    e["caller_name"] = json!("John Citizen");
    expect_one(&[ui("1010", None, None), e], Rule::CallFields, "caller_name");
}

// ----- durations -----

#[test]
fn durations_must_add_up() {
    let mut e = uic("1010", None, None, 6, 66);
    e["conversation_duration"] = json!(50);
    expect_one(
        &[ui("1010", None, None), uia("1010", None, None, 6), e],
        Rule::Durations,
        "end 10 s apart",
    );
}

#[test]
fn durations_one_second_of_rounding_is_fine() {
    let mut e = uic("1010", None, None, 6, 66);
    e["conversation_duration"] = json!(59);
    assert_eq!(run(&[ui("1010", None, None), uia("1010", None, None, 6), e]), vec![]);
}

#[test]
fn durations_conversation_within_the_call() {
    let mut e = uoc("1011", Some(9), 70);
    e["conversation_duration"] = json!(75);
    e["call_duration"] = json!(66);
    e["connected_at"] = json!(at(-9));
    let found = run(&[uo("1011"), uoa("1011", 9), e]);
    let found: Vec<_> = found.into_iter().filter(|v| v.rule == Rule::Durations).collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].message.contains("is before call_start_at"));
    assert!(found[1].message.contains("conversation_duration 75 exceeds call_duration 66"));
}

#[test]
fn durations_unanswered_means_no_conversation() {
    let mut e = uoc("1011", None, 30);
    e["conversation_duration"] = json!(12);
    expect_one(&[uo("1011"), e], Rule::Durations, "connected_at is null");
}

#[test]
fn durations_recorded_after_the_start() {
    expect_one(&[ui("1010", None, None), voicemail(-5)], Rule::Durations, "recorded_at");
}

// ----- order -----

#[test]
fn order_answered_needs_a_ring_for_that_user_and_queue() {
    expect_one(
        &[ui("1010", Some("Support"), None), uia("1011", Some("Support"), None, 5)],
        Rule::Order,
        "user_inbound_answered for user 1011 via queue Support without an earlier user_inbound",
    );
    expect_one(
        &[ui("1010", Some("Support"), None), uia("1010", Some("Sales Queue"), None, 5)],
        Rule::Order,
        "without an earlier user_inbound",
    );
}

#[test]
fn order_completed_needs_the_answer() {
    expect_one(
        &[ui("1010", None, None), uic("1010", None, None, 6, 66)],
        Rule::Order,
        "without an earlier user_inbound_answered",
    );
    expect_one(
        &[ui("1010", None, None), uia("1010", None, None, 6), uic("1010", None, None, 7, 66)],
        Rule::Order,
        "does not match the call's user_inbound_answered",
    );
}

#[test]
fn order_unanswered_completions_follow_a_ring_each() {
    expect_one(
        &[missed("1010", None, None, 20)],
        Rule::Order,
        "without an earlier user_inbound for it",
    );
    // The leg must match: a ring via the queue does not cover one via the ring group.
    expect_one(
        &[ui("1010", Some("Support"), None), missed("1010", None, Some("Sales"), 20)],
        Rule::Order,
        "without an earlier user_inbound for it",
    );
    expect_one(
        &[ui("1010", None, None), missed("1010", None, None, 20), missed("1010", None, None, 20)],
        Rule::Order,
        "a second user_inbound_completed without connected_at",
    );
    expect_one(
        &[ui("1010", None, None), uia("1010", None, None, 6), missed("1010", None, None, 9)],
        Rule::Order,
        "who answered the call",
    );
    // Not ticked: nothing to match against.
    let ticked: EventTypeSet = [EventType::UserInboundCompleted].into_iter().collect();
    let cfg = CheckerConfig { ticked, ..CheckerConfig::default() };
    assert_eq!(run_with(cfg, &[missed("1010", None, None, 20)]), vec![]);
}

#[test]
fn order_one_answer_per_call() {
    let found = run(&[
        ui("1010", None, None),
        ui("1011", None, None),
        uia("1010", None, None, 6),
        uia("1011", None, None, 7),
        uic("1010", None, None, 6, 66),
    ]);
    assert_eq!(rules(&found), vec![Rule::Order], "{found:#?}");
    assert!(found[0].message.contains("a second user_inbound_answered"));
}

#[test]
fn order_answered_summary_matches_the_completed_call() {
    let q = Some("Support");
    expect_one(
        &[ui("1010", q, None), qc("Support", "answered", Some(("1010", 6)), 66)],
        Rule::Order,
        "without an earlier user_inbound_completed",
    );
    let mut summary = qc("Support", "answered", Some(("1010", 6)), 66);
    summary["call_duration"] = json!(67);
    summary["conversation_duration"] = json!(61);
    expect_one(
        &[ui("1010", q, None), uia("1010", q, None, 6), uic("1010", q, None, 6, 66), summary],
        Rule::Order,
        "differs in call_duration (66), conversation_duration (60)",
    );
}

#[test]
fn order_one_summary_per_queue_visit() {
    let q = Some("Support");
    expect_one(
        &[
            ui("1010", q, None),
            qc("Support", "timedout", None, 60),
            qc("Support", "timedout", None, 60),
        ],
        Rule::Order,
        "duplicate summary",
    );
    expect_one(
        &[
            ui("1010", q, None),
            qc("Support", "abandoned", None, 30),
            qc("Support", "timedout", None, 60),
        ],
        Rule::Order,
        "duplicate summary",
    );
    // A second visit to the same queue, with a ring in between, is fine.
    let events = [
        ui("1010", q, None),
        qc("Support", "timedout", None, 60),
        ui("1010", q, None),
        qc("Support", "timedout", None, 120),
    ];
    assert_eq!(run(&events), vec![]);
}

#[test]
fn order_outbound() {
    expect_one(&[uoa("1011", 9)], Rule::Order, "without an earlier user_outbound");
    expect_one(
        &[uo("1011"), uoc("1011", Some(9), 70)],
        Rule::Order,
        "but no earlier user_outbound_answered",
    );
    expect_one(
        &[uo("1011"), uoa("1011", 9), uoc("1011", None, 70)],
        Rule::Order,
        "has no connected_at but the call was answered",
    );
    expect_one(
        &[uo("1011"), uoa("1011", 9), rec_out("1011", 70)],
        Rule::Order,
        "recording_outbound before user_outbound_completed",
    );
}

#[test]
fn order_recordings_come_last() {
    expect_one(
        &[ui("1010", None, None), uia("1010", None, None, 6), rec_in(66)],
        Rule::Order,
        "recording_inbound before the user_inbound_completed",
    );
    let found = run(&[ui("1010", None, None), voicemail(40), rec_in(40), ui("1011", None, None)]);
    assert_eq!(rules(&found), vec![Rule::Order], "{found:#?}");
    assert!(found[0].message.contains("user_inbound after the call's recording event"));
}

#[test]
fn order_directions_never_mix() {
    let mut vm = voicemail(40);
    vm["caller_id"] = json!(DEST);
    vm["dest_number"] = json!(CLI);
    expect_one(&[uo("1011"), vm, uoc("1011", None, 30)], Rule::Order, "never mix directions");
}

#[test]
fn order_rules_skip_predecessors_not_ticked() {
    let q = Some("Support");
    let events = [uia("1010", q, None, 6), qc("Support", "answered", Some(("1010", 6)), 66)];
    let ticked: EventTypeSet =
        [EventType::UserInboundAnswered, EventType::QueueCall].into_iter().collect();
    let cfg = CheckerConfig { ticked, ..CheckerConfig::default() };
    assert_eq!(run_with(cfg, &events), vec![]);
    // With everything ticked, the same stream lacks its user_inbound and completion.
    let found = run(&events);
    assert_eq!(rules(&found), vec![Rule::Order, Rule::Order, Rule::Incomplete], "{found:#?}");
}

// ----- status -----

#[test]
fn status_answered_names_the_user() {
    let mut e = qc("Support", "answered", None, 60);
    e["conversation_duration"] = json!(0);
    expect_one(&[e], Rule::Status, "has status answered but no user_number and no connected_at");
}

#[test]
fn status_unanswered_has_no_user() {
    let mut e = rgc("Sales", "abandoned", None, 60);
    e["user_number"] = json!("1010");
    expect_one(&[ui("1010", None, Some("Sales")), e], Rule::Status, "user_number is set");
}

// ----- voicemail-after-answer -----

#[test]
fn voicemail_after_answer() {
    expect_one(
        &[
            ui("1010", None, None),
            uia("1010", None, None, 6),
            uic("1010", None, None, 6, 66),
            voicemail(90),
        ],
        Rule::VoicemailAfterAnswer,
        "voicemail in a call answered by user 1010",
    );
}

// ----- incomplete -----

#[test]
fn incomplete_answered_but_never_completed() {
    expect_one(
        &[ui("1010", None, None), uia("1010", None, None, 6)],
        Rule::Incomplete,
        "answered but never completed",
    );
}

#[test]
fn incomplete_queue_visit_without_summary() {
    let q = Some("Support");
    expect_one(
        &[ui("1010", q, None), uia("1010", q, None, 6), uic("1010", q, None, 6, 66)],
        Rule::Incomplete,
        "queue visit without summary",
    );
    let cfg = CheckerConfig {
        ticked: EventTypeSet::ALL.iter().filter(|t| *t != EventType::QueueCall).collect(),
        ..CheckerConfig::default()
    };
    assert_eq!(run_with(cfg, &[ui("1010", q, None)]), vec![]);
}

#[test]
fn finish_runs_once() {
    let mut checker = Checker::new(CheckerConfig::default());
    checker.observe(&uo("1011"));
    assert_eq!(rules(&checker.finish()), vec![Rule::Incomplete]);
    assert_eq!(checker.finish(), vec![]);
    assert_eq!(checker.summary().violations_of(Rule::Incomplete), 1);
}

// ----- offline reading -----

#[test]
fn reads_bare_lines_arrays_and_envelopes() {
    let good = good_calls().swap_remove(6).1;
    let envelope = json!({"received_at": "x", "path": "/", "headers": {}, "body": good[1]});
    let rejected =
        json!({"received_at": "x", "headers": {}, "response_status": 503, "body": good[2]});
    let text = format!(
        "{}\n\n{}\n{}\nnot json\n{}\n",
        good[0],
        envelope,
        rejected,
        Value::Array(vec![good[2].clone()])
    );
    let mut checker = Checker::new(CheckerConfig::default());
    let mut seen = Vec::new();
    let stats = check_reader(text.as_bytes(), &mut checker, |line, v| seen.push((line, v.clone())))
        .unwrap();
    assert_eq!(stats, ReadStats { lines: 5, skipped: 1 });
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].0, 5);
    assert_eq!(seen[0].1.rule, Rule::Malformed);
    assert!(seen[0].1.message.starts_with("line 5 is not JSON"));
    assert_eq!(checker.summary().events, 3);
    assert_eq!(checker.finish(), vec![]);
}

#[test]
fn a_reader_whose_first_line_is_not_json_is_not_a_capture() {
    let text = format!("\n# a scenario\n{}\n", good_calls()[0].1[0]);
    let mut checker = Checker::new(CheckerConfig::default());
    let mut seen = 0;
    let err = check_reader(text.as_bytes(), &mut checker, |_, _| seen += 1).unwrap_err();
    assert!(matches!(err, ReadError::NotNdjson { line: 2, .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("line 2 is not JSON (expected value at column 1)"),
        "{err}"
    );
    assert_eq!((seen, checker.summary().events), (0, 0), "nothing checked");
}

#[test]
fn summary_prints_counts() {
    let mut checker = Checker::new(CheckerConfig::default());
    for e in &good_calls()[0].1 {
        checker.observe(e);
    }
    checker.observe(&voicemail(40));
    let text = checker.summary().to_string();
    assert!(text.contains("calls seen: 1"), "{text}");
    assert!(text.contains("\n  user_inbound                     2\n"), "{text}");
    assert!(text.ends_with("violations: 1\n  voicemail-after-answer           1"), "{text}");
}

#[test]
fn lone_events_are_checked_on_their_own() {
    // An answered summary, alone: an order violation in a call, fine as a one-off.
    let answered = qc("Support", "answered", Some(("1010", 14)), 28);
    assert_eq!(rules(&run(std::slice::from_ref(&answered))), [Rule::Order]);
    let fields = CheckerConfig { scope: Scope::Fields, ..CheckerConfig::default() };
    assert_eq!(run_with(fields, &[answered.clone(), answered.clone()]), vec![]);
    let mut checker = Checker::new(CheckerConfig::default());
    assert_eq!(checker.observe_lone(&answered), vec![]);
    assert_eq!(checker.observe_lone(&uia("1010", Some("Support"), None, 10)), vec![]);
    assert_eq!(checker.finish(), vec![], "a one-off is never incomplete");
    assert_eq!((checker.summary().events, checker.summary().calls), (2, 1));

    // What an event says about itself is still checked.
    let mut checker = Checker::new(CheckerConfig::default());
    let mut long_talk = uic("1010", Some("Support"), None, 14, 28);
    long_talk["conversation_duration"] = json!(95);
    let found = rules(&checker.observe_lone(&long_talk));
    assert!(!found.is_empty() && found.iter().all(|r| *r == Rule::Durations), "{found:?}");
    let mut abandoned = qc("Support", "abandoned", None, 28);
    abandoned["user_number"] = json!("1010");
    assert_eq!(rules(&checker.observe_lone(&abandoned)), [Rule::Status]);
    let mut missing = answered.clone();
    missing.as_object_mut().unwrap().remove("queue_name");
    assert_eq!(rules(&checker.observe_lone(&missing)), [Rule::Fields]);
}

#[test]
fn saved_one_off_envelopes_are_checked_on_their_own() {
    let answered = qc("Support", "answered", Some(("1010", 14)), 28);
    let envelope = |one_off: bool| {
        let headers = if one_off { json!({TRIGGER_HEADER: "1"}) } else { json!({}) };
        json!({"received_at": "x", "headers": headers, "response_status": 200, "body": answered})
    };
    for (one_off, expected) in [(true, 0), (false, 1)] {
        let text = format!("{}\n", envelope(one_off));
        let mut checker = Checker::new(CheckerConfig::default());
        let mut seen = 0;
        check_reader(text.as_bytes(), &mut checker, |_, _| seen += 1).unwrap();
        assert_eq!(seen, expected, "one-off {one_off}");
    }
    assert!(is_one_off(Some("1")) && !is_one_off(Some("0")) && !is_one_off(None));
}
