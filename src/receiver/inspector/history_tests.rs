//! The history's bounds, summaries and timelines.

use serde_json::json;

use super::*;
use crate::check::Rule;

fn at(ms: i64) -> DateTime<Local> {
    DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap().with_timezone(&Local)
}

fn feed(h: &mut History, ms: i64, body: &Value, status: u16, violations: Vec<Violation>) {
    h.record(Incoming {
        received_at: at(ms),
        path: "/hook",
        headers: vec![("x-pbx-token".into(), "***".into())],
        status,
        one_off: false,
        reason: None,
        body,
        violations,
    });
}

fn ev(ty: &str, call: &str, extra: Value) -> Value {
    let mut e = json!({
        "type": ty, "unique_call_id": call, "caller_id": "61400000001", "caller_name": "Carol",
        "dest_number": "61300000000", "call_start_at": "2019-10-01T15:31:15.000Z",
    });
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

#[test]
fn the_history_stays_within_its_bounds_and_evicts_the_oldest_calls() {
    let bounds = Bounds { max_calls: 50, max_events: 120, ..Bounds::default() };
    let mut h = History::new(bounds);
    for i in 0..1_000 {
        let id = format!("{}", 1000 + i);
        for ty in ["user_inbound", "user_inbound_answered", "user_inbound_completed"] {
            feed(&mut h, i, &ev(ty, &id, json!({"user_number": "1010"})), 200, vec![]);
        }
        let kept = h.kept();
        assert!(kept.calls <= 50 && kept.events <= 120, "after call {i}: {kept:?}");
    }
    let kept = h.kept();
    // 120 events of 3 each: 40 calls, the newest.
    assert_eq!((kept.calls, kept.events), (40, 120), "{kept:?}");
    assert_eq!(kept.calls_seen, 1_000);
    assert_eq!(kept.evicted_calls, 960);
    let (matched, page) = h.list(&Filter::default(), 0, 1_000);
    assert_eq!(matched, 40);
    let keys: Vec<&str> = page.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys.first(), Some(&"1999"), "newest first");
    assert_eq!(keys.last(), Some(&"1960"));
    assert!(h.timeline("1000").is_none(), "the oldest call is gone");
    assert!(h.entry(1).is_none());
}

#[test]
fn the_byte_bound_holds_too_and_huge_bodies_are_not_kept() {
    let bounds = Bounds { max_bytes: 100_000, max_body_bytes: 2_000, ..Bounds::default() };
    let mut h = History::new(bounds);
    for i in 0..500 {
        let big = "x".repeat(1_500);
        feed(
            &mut h,
            i,
            &ev("voicemail", &i.to_string(), json!({"email_message": big})),
            200,
            vec![],
        );
        assert!(h.kept().bytes <= 100_000, "{:?}", h.kept());
    }
    assert!(h.kept().calls < 100);
    feed(
        &mut h,
        1,
        &ev("voicemail", "huge", json!({"email_message": "y".repeat(5_000)})),
        200,
        vec![],
    );
    let t = h.timeline("huge").unwrap();
    assert_eq!(t.entries[0].entry.body, None);
    assert!(t.entries[0].entry.body_note.as_deref().unwrap().contains("not kept"));
}

#[test]
fn a_call_keeps_at_most_its_share_of_events() {
    let bounds = Bounds { max_events_per_call: 3, ..Bounds::default() };
    let mut h = History::new(bounds);
    for i in 0..10 {
        feed(&mut h, i, &ev("user_inbound", "7", json!({"user_number": "1010"})), 200, vec![]);
    }
    let (_, page) = h.list(&Filter::default(), 0, 10);
    assert_eq!((page[0].events, page[0].dropped), (3, 7));
}

#[test]
fn summaries_and_filters() {
    let mut h = History::new(Bounds::default());
    feed(
        &mut h,
        0,
        &ev(
            "user_inbound",
            "1",
            json!({"user_number": "1010", "user_name": "Alice", "queue_name": "Support"}),
        ),
        200,
        vec![],
    );
    feed(
        &mut h,
        1,
        &ev(
            "queue_call",
            "1",
            json!({"queue_name": "Support", "status": "abandoned", "call_duration": 30}),
        ),
        200,
        vec![],
    );
    feed(
        &mut h,
        2,
        &ev("user_outbound", "2", json!({"user_number": "1011", "user_name": "Bob"})),
        200,
        vec![],
    );
    let v = Violation { call_id: "2".into(), rule: Rule::Order, message: "out of order".into() };
    feed(
        &mut h,
        3,
        &ev(
            "user_outbound_answered",
            "2",
            json!({"user_number": "1011", "connected_at": "2019-10-01T15:31:20.000Z"}),
        ),
        200,
        vec![v],
    );
    feed(&mut h, 4, &Value::Null, 401, vec![]);

    let (n, all) = h.list(&Filter::default(), 0, 10);
    assert_eq!(n, 3);
    assert_eq!(all[0].key, "#5");
    assert_eq!(all[0].outcome, "refused");
    assert_eq!(all[0].answered_4xx, 1);
    let out = &all[1];
    assert_eq!((out.direction, out.outcome, out.violations), ("outbound", "answered", 1));
    assert_eq!(out.caller.as_deref(), Some("1011"));
    let inb = &all[2];
    assert_eq!((inb.direction, inb.outcome), ("inbound", "abandoned"));
    assert_eq!(
        inb.statuses,
        vec![Status { kind: "queue", name: "Support".into(), status: "abandoned".into() }]
    );

    let only = |f: Filter| h.list(&f, 0, 10).1.into_iter().map(|c| c.key).collect::<Vec<_>>();
    assert_eq!(only(Filter { violations_only: true, ..Filter::default() }), ["2"]);
    assert_eq!(only(Filter { outcome: Some("abandoned".into()), ..Filter::default() }), ["1"]);
    assert_eq!(only(Filter { event_type: Some("queue_call".into()), ..Filter::default() }), ["1"]);
    assert_eq!(only(Filter { text: Some("ALICE".into()), ..Filter::default() }), ["1"]);
    assert_eq!(only(Filter { text: Some("support".into()), ..Filter::default() }), ["1"]);
    assert_eq!(only(Filter { text: Some("1011".into()), ..Filter::default() }), ["2"]);
    // Paging: a window of the matches.
    let (n, page) = h.list(&Filter::default(), 1, 1);
    assert_eq!((n, page.len(), page[0].key.as_str()), (3, 1, "2"));

    // The violation sits on the event that broke the rule, with its explanation.
    let t = h.timeline("2").unwrap();
    assert!(t.entries[0].entry.violations.is_empty());
    assert_eq!(t.entries[1].entry.violations[0].rule, "order");
    assert_eq!(t.entries[1].entry.violations[0].explanation, Rule::Order.description());
    assert_eq!(h.changed_since(3, 10), ["#5", "2"]);
}

#[test]
fn violations_of_an_array_body_go_to_their_call() {
    let mut h = History::new(Bounds::default());
    let body = json!([ev("user_inbound", "a", json!({})), ev("user_inbound", "b", json!({}))]);
    let v = Violation { call_id: "a".into(), rule: Rule::Fields, message: "missing".into() };
    feed(&mut h, 0, &body, 200, vec![v]);
    assert_eq!(h.timeline("a").unwrap().entries[0].entry.violations.len(), 1);
    assert!(h.timeline("b").unwrap().entries[0].entry.violations.is_empty());
    assert_eq!(h.timeline("a").unwrap().entries[0].entry.request, 1);
    assert_eq!(h.timeline("b").unwrap().entries[0].entry.request, 1);
}

#[test]
fn the_timeline_is_in_pbx_time_with_who_rang_and_for_how_long() {
    let mut h = History::new(Bounds::default());
    let user =
        |n: &str| json!({"user_number": n, "user_name": format!("U{n}"), "queue_name": "Support"});
    // Received 1 s of wall time per 10 s of PBX time (--speed 10).
    feed(
        &mut h,
        0,
        &ev("webhook_component_event", "9", json!({"component_name": "crm"})),
        200,
        vec![],
    );
    feed(&mut h, 0, &ev("user_inbound", "9", user("1010")), 200, vec![]);
    feed(&mut h, 1_500, &ev("user_inbound", "9", user("1011")), 200, vec![]);
    let mut answered = ev("user_inbound_answered", "9", user("1011"));
    answered["connected_at"] = json!("2019-10-01T15:31:35.000Z");
    feed(&mut h, 2_000, &answered, 200, vec![]);
    let mut done = ev("user_inbound_completed", "9", user("1011"));
    done["connected_at"] = json!("2019-10-01T15:31:35.000Z");
    done["call_duration"] = json!(50);
    feed(&mut h, 5_000, &done, 200, vec![]);

    let t = h.timeline("9").unwrap();
    assert_eq!(t.start.as_deref(), Some("2019-10-01T15:31:15.000Z"));
    let at: Vec<(Option<i64>, bool)> = t.entries.iter().map(|e| (e.at_ms, e.estimated)).collect();
    assert_eq!(
        at,
        [
            (Some(0), false),
            (Some(0), true),
            (Some(15_000), true),
            (Some(20_000), false),
            (Some(50_000), false)
        ]
    );
    assert_eq!(t.rings.len(), 2);
    let (first, second) = (&t.rings[0], &t.rings[1]);
    assert_eq!(
        (first.user.as_str(), first.from_ms, first.to_ms, first.answered),
        ("1010 U1010", 0, Some(15_000), false)
    );
    assert_eq!(
        (second.user.as_str(), second.from_ms, second.to_ms, second.answered),
        ("1011 U1011", 15_000, Some(20_000), true)
    );
    assert_eq!(second.via.as_deref(), Some("queue Support"));
}

#[test]
fn end_of_stream_violations_belong_to_the_call() {
    let mut h = History::new(Bounds::default());
    feed(&mut h, 0, &ev("user_inbound", "5", json!({})), 200, vec![]);
    let v =
        Violation { call_id: "5".into(), rule: Rule::Incomplete, message: "never ended".into() };
    h.record_end(&[v]);
    let (_, page) = h.list(&Filter::default(), 0, 1);
    assert_eq!(page[0].violations, 1);
    assert_eq!(h.timeline("5").unwrap().end_violations[0].rule, "incomplete");
}

#[test]
fn users_rung_at_once_ring_until_someone_answers() {
    let mut h = History::new(Bounds::default());
    let user = |n: &str| json!({"user_number": n, "queue_name": "Support"});
    feed(&mut h, 0, &ev("user_inbound", "3", user("1010")), 200, vec![]);
    feed(&mut h, 3, &ev("user_inbound", "3", user("1011")), 200, vec![]);
    let mut answered = ev("user_inbound_answered", "3", user("1011"));
    answered["connected_at"] = json!("2019-10-01T15:31:22.000Z");
    feed(&mut h, 233, &answered, 200, vec![]);
    let t = h.timeline("3").unwrap();
    let rings: Vec<(i64, Option<i64>, bool)> =
        t.rings.iter().map(|r| (r.from_ms, r.to_ms, r.answered)).collect();
    assert_eq!(rings, [(0, Some(7_000), false), (0, Some(7_000), true)]);
}
