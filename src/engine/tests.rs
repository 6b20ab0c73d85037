//! Unit and property tests of the engine, on PBX models built in code.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::{
    Just, ProptestConfig, prop, prop_assert, prop_assert_eq, prop_oneof, proptest,
};
use proptest::strategy::Strategy as Gen;
use serde_json::Value;

use super::*;
use crate::event::{EventType, NullStyle, Str};
use crate::pbx::Strategy;
use crate::pbx::*;
use crate::scenario::{Answer, Behaviour, CallKind, Scenario, ScriptedCall};

fn s(text: &str) -> Str {
    Str::from(text)
}

fn user(name: &str, ext: &str) -> User {
    User {
        name: s(name),
        extension: s(ext),
        record_inbound: false,
        record_outbound: false,
        recording: RecordingSettings {
            emails: vec![s("rec@example.com")],
            subject: s("Recording"),
            message: s("Attached"),
            mode: RecordingMode::Email,
        },
        outbound_cli: None,
    }
}

/// Four users (1010..1013), a queue, a ring group, a voicemail box, a webhook object, and
/// numbers: 100 → user 1010; 200 → webhook, record, queue → voicemail; 300 → ring group → vm.
fn pbx(strategy: Strategy, mode: RingMode) -> Pbx {
    let users = vec![
        user("Alice", "1010"),
        user("Bob", "1011"),
        user("Carol", "1012"),
        user("Dave", "1013"),
    ];
    Pbx {
        users,
        queues: vec![Queue {
            name: s("Support"),
            members: vec![0, 1, 2],
            strategy,
            ring_timeout: 15_000,
            retry: 5_000,
            max_wait: 120_000,
            wrapup: 10_000,
            wrapup_blocks: WrapupBlocks::Queue,
            failover: Some(Box::new(Step::Voicemail(0))),
        }],
        ring_groups: vec![RingGroup {
            name: s("Sales"),
            members: vec![2, 3],
            mode,
            ring_time: 20_000,
            no_answer: Some(Box::new(Step::Voicemail(0))),
        }],
        voicemail: vec![VoicemailBox {
            name: s("Main"),
            emails: vec![s("a@example.com"), s("b@example.com")],
            subject: s("New voicemail"),
            message: s("You have a message"),
        }],
        webhooks: vec![WebhookObject {
            name: s("CRM"),
            url: None,
            token: Some("t".into()),
            headers: vec![],
        }],
        numbers: vec![
            Number { number: s("61300000100"), flow: vec![Step::User { user: 0, ring: None }] },
            Number {
                number: s("61300000200"),
                flow: vec![
                    Step::Webhook(0),
                    Step::Record,
                    Step::Queue { queue: 0, on_timeout: None },
                ],
            },
            Number {
                number: s("61300000300"),
                flow: vec![Step::RingGroup { group: 0, on_no_answer: None }],
            },
        ],
        recording: RecordingSettings {
            emails: vec![s("recordings@example.com")],
            subject: s("Call recording"),
            message: s("Recording attached"),
            mode: RecordingMode::Email,
        },
        unanswered_completion: UnansweredCompletion::None,
    }
}

fn inbound(at: Millis, number: usize, behaviour: Behaviour) -> ScriptedCall {
    ScriptedCall {
        at,
        kind: CallKind::Inbound { number },
        caller_id: s("61400000001"),
        caller_name: Some(s("Jane Citizen")),
        behaviour,
    }
}

fn scenario(pbx: Pbx, calls: Vec<ScriptedCall>) -> Arc<Scenario> {
    Arc::new(Scenario { seed: 7, pbx, calls, ..Scenario::default() })
}

fn run(scenario: Arc<Scenario>) -> Vec<Emission> {
    let start = "2026-03-02T09:00:00Z".parse().unwrap();
    Engine::new(scenario, Options::new(7, start)).collect()
}

fn types(emissions: &[Emission]) -> Vec<&'static str> {
    emissions.iter().map(|e| e.event.event_type().as_str()).collect()
}

fn json(e: &Emission) -> Value {
    e.event.to_value(NullStyle::Null)
}

fn behaviour(answer: Answer, answer_after: Millis, talk: Millis) -> Behaviour {
    Behaviour { answer, answer_after, talk, ..Behaviour::default() }
}

#[test]
fn direct_user_answered() {
    let sc = scenario(
        pbx(Strategy::Ringall, RingMode::Simultaneous),
        vec![inbound(0, 0, behaviour(Answer::Any, 14_000, 14_000))],
    );
    let out = run(sc);
    assert_eq!(types(&out), ["user_inbound", "user_inbound_answered", "user_inbound_completed"]);
    let done = json(&out[2]);
    assert_eq!(done["call_start_at"], "2026-03-02T09:00:00.000Z");
    assert_eq!(done["connected_at"], "2026-03-02T09:00:14.000Z");
    assert_eq!(done["call_duration"], 28);
    assert_eq!(done["conversation_duration"], 14);
    assert!(done["queue_name"].is_null());
    assert_eq!(out[2].at, 28_000);
}

#[test]
fn direct_user_not_answered_ends_the_call() {
    let sc = scenario(
        pbx(Strategy::Ringall, RingMode::Simultaneous),
        vec![inbound(0, 0, behaviour(Answer::Nobody, 0, 0))],
    );
    assert_eq!(types(&run(sc)), ["user_inbound"]);
}

#[test]
fn queue_answered_sends_summary_after_completion_then_recording() {
    let sc = scenario(
        pbx(Strategy::Linear, RingMode::Simultaneous),
        vec![inbound(0, 1, behaviour(Answer::User(1), 5_000, 60_000))],
    );
    let out = run(sc);
    assert_eq!(
        types(&out),
        [
            "webhook_component_event",
            "user_inbound", // Alice rings 15 s, no answer
            "user_inbound", // Bob, after the 5 s retry pause
            "user_inbound_answered",
            "user_inbound_completed",
            "queue_call",
            "recording_inbound",
        ]
    );
    assert_eq!(out[0].target, Target::Webhook(0));
    assert_eq!(json(&out[1])["user_number"], "1010");
    assert_eq!(json(&out[2])["user_number"], "1011");
    assert_eq!(out[2].at, 20_000);
    let done = json(&out[4]);
    let summary = json(&out[5]);
    assert_eq!(summary["status"], "answered");
    for k in ["user_number", "connected_at", "call_duration", "conversation_duration"] {
        assert_eq!(summary[k], done[k], "{k}");
    }
    assert_eq!(summary["queue_name"], "Support");
    assert_eq!(json(&out[6])["recorded_at"], "2026-03-02T09:00:00.000Z");
    assert!(out.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(out.iter().enumerate().all(|(i, e)| e.seq as usize == i));
}

#[test]
fn queue_abandoned() {
    let b = Behaviour { abandon_after: Some(30_000), ..behaviour(Answer::Nobody, 0, 0) };
    let sc = scenario(pbx(Strategy::Ringall, RingMode::Simultaneous), vec![inbound(0, 1, b)]);
    let out = run(sc);
    let t = types(&out);
    assert_eq!(t.last(), Some(&"queue_call"));
    let summary = json(out.last().unwrap());
    assert_eq!(summary["status"], "abandoned");
    assert!(summary["connected_at"].is_null());
    assert!(summary["user_number"].is_null());
    assert_eq!(summary["call_duration"], 30);
    assert_eq!(summary["conversation_duration"], 0);
    assert!(!t.contains(&"recording_inbound"), "unanswered calls leave no recording");
}

#[test]
fn queue_timeout_goes_to_voicemail() {
    let b = Behaviour { voicemail: 20_000, ..behaviour(Answer::Nobody, 0, 0) };
    let sc = scenario(pbx(Strategy::Ringall, RingMode::Simultaneous), vec![inbound(0, 1, b)]);
    let out = run(sc);
    let t = types(&out);
    assert_eq!(&t[t.len() - 2..], ["queue_call", "voicemail"]);
    let summary = json(&out[out.len() - 2]);
    assert_eq!(summary["status"], "timedout");
    assert_eq!(summary["call_duration"], 120);
    let vm = json(out.last().unwrap());
    assert_eq!(vm["recorded_at"], "2026-03-02T09:02:00.000Z");
    assert_eq!(vm["emails"], "a@example.com,b@example.com");
    assert!(vm["call_recording_link"].is_null());
    assert_eq!(out.last().unwrap().at, 140_000);
    // ringall: three members ring per attempt; 120 s / (15 s ring + 5 s pause) = 6 attempts.
    assert_eq!(t.iter().filter(|t| **t == "user_inbound").count(), 18);
}

#[test]
fn ring_group_sequential_then_voicemail() {
    let sc = scenario(
        pbx(Strategy::Ringall, RingMode::Sequential),
        vec![inbound(0, 2, behaviour(Answer::Nobody, 0, 0))],
    );
    let out = run(sc);
    assert_eq!(types(&out), ["user_inbound", "user_inbound", "ring_group_call", "voicemail"]);
    assert_eq!(out[1].at, 20_000);
    assert_eq!(json(&out[1])["ring_group_name"], "Sales");
    assert_eq!(json(&out[2])["status"], "timedout");
}

#[test]
fn ring_group_simultaneous_answered() {
    let sc = scenario(
        pbx(Strategy::Ringall, RingMode::Simultaneous),
        vec![inbound(0, 2, behaviour(Answer::User(3), 4_000, 30_000))],
    );
    let out = run(sc);
    assert_eq!(
        types(&out),
        [
            "user_inbound",
            "user_inbound",
            "user_inbound_answered",
            "user_inbound_completed",
            "ring_group_call"
        ]
    );
    assert_eq!(json(&out[2])["user_number"], "1013");
    assert_eq!(json(&out[4])["status"], "answered");
}

#[test]
fn outbound_answered_with_storage_recording_and_unanswered() {
    let mut p = pbx(Strategy::Ringall, RingMode::Simultaneous);
    p.users[0].record_outbound = true;
    p.users[0].recording.mode = RecordingMode::Storage;
    let out_call = |at, answer| ScriptedCall {
        at,
        kind: CallKind::Outbound { user: 0, dest: s("61499999999") },
        caller_id: s("61300000100"),
        caller_name: None,
        behaviour: behaviour(answer, 6_000, 30_000),
    };
    let sc = scenario(p, vec![out_call(0, Answer::Any), out_call(100_000, Answer::Nobody)]);
    let out = run(sc);
    assert_eq!(
        types(&out),
        [
            "user_outbound",
            "user_outbound_answered",
            "user_outbound_completed",
            "recording_outbound",
            "user_outbound",
            "user_outbound_completed",
        ]
    );
    let rec = json(&out[3]);
    assert_eq!(rec["mode"], "storage");
    assert!(rec["email_message"].is_null());
    let missed = json(&out[5]);
    assert!(missed["connected_at"].is_null());
    assert_eq!(missed["conversation_duration"], 0);
    assert_eq!(missed["call_duration"], 30);
}

#[test]
fn busy_agents_are_skipped_and_queue_builds_up() {
    // Two callers to a one-agent queue: the second waits until the first call and the
    // agent's wrap-up are over.
    let mut p = pbx(Strategy::Ringall, RingMode::Simultaneous);
    p.queues[0].members = vec![0];
    let b = behaviour(Answer::Any, 2_000, 30_000);
    let sc = scenario(p, vec![inbound(0, 1, b.clone()), inbound(1_000, 1, b)]);
    let out = run(sc);
    let answered: Vec<&Emission> =
        out.iter().filter(|e| e.event.event_type() == EventType::UserInboundAnswered).collect();
    assert_eq!(answered.len(), 2);
    // First: rings at 0, answered at 2 s, ends at 32 s, wrap-up to 42 s; second rings at 42 s.
    assert_eq!(answered[1].at, 44_000);
}

/// The users rung (`user_inbound`) for each call, by call index.
fn rung_per_call(out: &[Emission], calls: usize) -> Vec<Vec<String>> {
    let mut rung = vec![Vec::new(); calls];
    for e in out.iter().filter(|e| e.event.event_type() == EventType::UserInbound) {
        rung[e.call as usize].push(json(e)["user_number"].as_str().unwrap().to_string());
    }
    rung
}

#[test]
fn wrap_up_holds_back_only_its_queue_unless_it_blocks_all() {
    let nobody = |abandon_after| Behaviour {
        abandon_after: Some(abandon_after),
        ..behaviour(Answer::Nobody, 0, 0)
    };
    for blocks in [WrapupBlocks::Queue, WrapupBlocks::All] {
        let mut p = pbx(Strategy::Ringall, RingMode::Simultaneous);
        p.queues[0].wrapup_blocks = blocks;
        p.ring_groups[0].members = vec![0, 3];
        p.ring_groups[0].no_answer = None;
        p.queues[0].failover = None;
        p.numbers[0].flow = vec![Step::User { user: 0, ring: Some(1_000) }];
        let calls = vec![
            // Alice answers a queue call at 2 s; it ends at 12 s, her wrap-up lasts to 22 s.
            inbound(0, 1, behaviour(Answer::User(0), 2_000, 10_000)),
            // Another queue call during the wrap-up: not offered to Alice.
            inbound(13_000, 1, nobody(2_000)),
            ScriptedCall {
                at: 15_500,
                kind: CallKind::Outbound { user: 0, dest: s("61499999999") },
                caller_id: s("61300000100"),
                caller_name: None,
                behaviour: nobody(1_000),
            },
            // A direct call and a ring group call during the wrap-up.
            inbound(17_000, 0, nobody(60_000)),
            inbound(19_000, 2, nobody(60_000)),
        ];
        let out = run(scenario(p, calls));
        check_invariants(&out).unwrap();
        let rung = rung_per_call(&out, 5);
        assert_eq!(rung[0], ["1010", "1011", "1012"]);
        assert_eq!(rung[1], ["1011", "1012"], "{blocks:?}: the queue waits for the wrap-up");
        assert!(
            out.iter().any(|e| e.call == 2 && e.event.event_type() == EventType::UserOutbound),
            "{blocks:?}: a user in wrap-up may dial out"
        );
        match blocks {
            WrapupBlocks::Queue => {
                assert_eq!(rung[3], ["1010"], "a direct call rings a user in wrap-up");
                assert_eq!(rung[4], ["1010", "1013"], "so does a ring group");
            }
            WrapupBlocks::All => {
                assert!(rung[3].is_empty(), "{:?}", rung[3]);
                assert_eq!(rung[4], ["1013"]);
            }
        }
    }
}

/// The checker's violations over an engine's output (none expected).
fn violations(out: &[Emission]) -> Vec<String> {
    let mut checker = crate::check::Checker::new(crate::check::CheckerConfig::default());
    let mut found: Vec<String> = Vec::new();
    for e in out {
        found.extend(checker.observe(&json(e)).iter().map(|v| v.to_string()));
    }
    found.extend(checker.finish().iter().map(|v| v.to_string()));
    found
}

#[test]
fn unanswered_completion_goes_to_every_user_who_rang_and_did_not_answer() {
    let mut p = pbx(Strategy::Ringall, RingMode::Simultaneous);
    p.unanswered_completion = UnansweredCompletion::Completed;

    // A direct call that rings out.
    let out = run(scenario(p.clone(), vec![inbound(0, 0, behaviour(Answer::Nobody, 0, 0))]));
    assert_eq!(types(&out), ["user_inbound", "user_inbound_completed"]);
    let missed = json(&out[1]);
    assert!(missed["connected_at"].is_null());
    assert_eq!(
        (missed["call_duration"].as_u64(), missed["conversation_duration"].as_u64()),
        (Some(20), Some(0))
    );
    assert_eq!(missed["user_number"], "1010");
    assert_eq!(out[1].at, 20_000);

    // A ring group: Dave answers; Carol, who rang too, completes right after the answer.
    let out =
        run(scenario(p.clone(), vec![inbound(0, 2, behaviour(Answer::User(3), 5_000, 10_000))]));
    assert_eq!(
        types(&out),
        [
            "user_inbound",
            "user_inbound",
            "user_inbound_answered",
            "user_inbound_completed",
            "user_inbound_completed",
            "ring_group_call",
        ]
    );
    let missed = json(&out[3]);
    assert_eq!(
        (missed["user_number"].as_str(), missed["ring_group_name"].as_str()),
        (Some("1012"), Some("Sales"))
    );
    assert!(missed["connected_at"].is_null());
    assert_eq!(missed["call_duration"], 5);
    assert_eq!(json(&out[4])["user_number"], "1013");
    assert_eq!(json(&out[4])["connected_at"], "2026-03-02T09:00:05.000Z");
    assert_eq!(json(&out[5])["status"], "answered");
    assert!(violations(&out).is_empty(), "{:?}", violations(&out));

    // A queue: every attempt's members complete when it rings out, and again when the caller
    // abandons during the next one.
    let abandon = Behaviour { abandon_after: Some(30_000), ..behaviour(Answer::Nobody, 0, 0) };
    let out = run(scenario(p.clone(), vec![inbound(0, 1, abandon.clone())]));
    let missed: Vec<(Millis, Value)> = out
        .iter()
        .filter(|e| e.event.event_type() == EventType::UserInboundCompleted)
        .map(|e| (e.at, json(e)))
        .collect();
    assert_eq!(missed.len(), 6, "{:?}", types(&out));
    assert!(
        missed.iter().all(|(_, m)| m["connected_at"].is_null() && m["queue_name"] == "Support")
    );
    assert_eq!(
        missed.iter().map(|(at, _)| *at).collect::<Vec<_>>(),
        [15_000, 15_000, 15_000, 30_000, 30_000, 30_000]
    );
    assert_eq!(types(&out).last(), Some(&"queue_call"));
    check_invariants(&out).unwrap();
    assert!(violations(&out).is_empty(), "{:?}", violations(&out));

    // The default sends none of them.
    p.unanswered_completion = UnansweredCompletion::None;
    let out = run(scenario(p, vec![inbound(0, 1, abandon)]));
    assert!(!types(&out).contains(&"user_inbound_completed"), "{:?}", types(&out));
}

#[test]
fn same_seed_same_bytes_and_ids_depend_on_seed() {
    let calls = || {
        (0..20)
            .map(|i| inbound(i * 7_000, (i % 3) as usize, behaviour(Answer::Any, 3_000, 40_000)))
            .collect::<Vec<_>>()
    };
    let text = |seed| {
        let start = "2026-03-02T09:00:00Z".parse().unwrap();
        let sc = scenario(pbx(Strategy::Random, RingMode::Simultaneous), calls());
        Engine::new(sc, Options::new(seed, start))
            .map(|e| e.event.to_json(NullStyle::Null))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(text(1), text(1));
    assert_ne!(text(1), text(2));
}

#[test]
fn utc_offset_applies_to_every_timestamp() {
    let mut sc = Scenario {
        pbx: pbx(Strategy::Ringall, RingMode::Simultaneous),
        calls: vec![inbound(0, 0, behaviour(Answer::Any, 1_000, 1_000))],
        ..Scenario::default()
    };
    sc.utc_offset = crate::time::parse_offset("+10:00");
    let out = run(Arc::new(sc));
    assert_eq!(json(&out[2])["connected_at"], "2026-03-02T19:00:01.000+10:00");
}

// ---- invariants over random models ----------------------------------------------------------

/// Checks the engine's invariants over one run's output; returns a description of the first
/// broken one.
pub(crate) fn check_invariants(out: &[Emission]) -> Result<(), String> {
    let secs = |v: &Value| -> i64 {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().timestamp_millis()
    };
    let mut last_at = 0;
    let mut per_call: HashMap<u64, Vec<&Emission>> = HashMap::new();
    for e in out {
        if e.at < last_at {
            return Err(format!("emissions out of time order at {}", e.at));
        }
        last_at = e.at;
        per_call.entry(e.call).or_default().push(e);
    }
    // user -> busy intervals [connected, end)
    let mut busy: HashMap<String, Vec<(i64, i64, u64)>> = HashMap::new();
    for (call, events) in &per_call {
        let first = json(events[0]);
        let start = &first["call_start_at"];
        let cli = first.get("caller_id").or(first.get("user_number")).unwrap().clone();
        let mut open_visits: HashMap<String, bool> = HashMap::new();
        let mut last_summary: HashMap<String, Millis> = HashMap::new();
        let mut answered = false;
        for (i, e) in events.iter().enumerate() {
            if e.seq as usize != i {
                return Err(format!("call {call}: seq {} at position {i}", e.seq));
            }
            let v = json(e);
            let ty = e.event.event_type();
            if v.get("call_start_at").is_some_and(|s| s != start) {
                return Err(format!("call {call}: call_start_at differs in {ty}"));
            }
            let this_cli = v.get("caller_id").or(v.get("user_number")).unwrap();
            if ty != EventType::UserOutbound
                && !matches!(
                    ty,
                    EventType::UserOutboundAnswered
                        | EventType::UserOutboundCompleted
                        | EventType::RecordingOutbound
                )
                && this_cli != &cli
            {
                return Err(format!("call {call}: caller differs in {ty}"));
            }
            if let (Some(cd), Some(conv)) =
                (v["call_duration"].as_i64(), v["conversation_duration"].as_i64())
            {
                let start_ms = secs(start);
                if v["connected_at"].is_null() {
                    if conv != 0 {
                        return Err(format!("call {call}: {ty} unanswered with conversation"));
                    }
                } else {
                    let conn = secs(&v["connected_at"]);
                    let a = start_ms + cd * 1000;
                    let b = conn + conv * 1000;
                    if (a - b).abs() > 1000 || conn < start_ms || conv > cd {
                        return Err(format!("call {call}: {ty} duration arithmetic {v}"));
                    }
                    if matches!(
                        ty,
                        EventType::UserInboundCompleted | EventType::UserOutboundCompleted
                    ) {
                        let user = v["user_number"].as_str().unwrap().to_string();
                        busy.entry(user).or_default().push((conn, conn + conv * 1000, *call));
                    }
                }
            }
            match ty {
                EventType::UserInbound => {
                    if let Some(q) = v["queue_name"].as_str() {
                        open_visits.insert(format!("q:{q}"), true);
                    }
                    if let Some(g) = v["ring_group_name"].as_str() {
                        open_visits.insert(format!("g:{g}"), true);
                    }
                }
                EventType::UserInboundAnswered => {
                    if answered {
                        return Err(format!("call {call}: answered twice"));
                    }
                    answered = true;
                }
                EventType::QueueCall | EventType::RingGroupCall => {
                    let key = match ty {
                        EventType::QueueCall => format!("q:{}", v["queue_name"].as_str().unwrap()),
                        _ => format!("g:{}", v["ring_group_name"].as_str().unwrap()),
                    };
                    // A summary closes the visit. A visit can end without ringing anyone (all
                    // members busy), so two summaries in a row are fine, but never at the same
                    // instant: every visit lasts at least its max wait or ring time.
                    if last_summary.insert(key.clone(), e.at) == Some(e.at) {
                        return Err(format!("call {call}: two summaries for one visit {key}"));
                    }
                    open_visits.insert(key, false);
                }
                EventType::Voicemail if answered => {
                    return Err(format!("call {call}: voicemail after answer"));
                }
                _ => {}
            }
        }
        if let Some((k, _)) = open_visits.iter().find(|(_, open)| **open) {
            return Err(format!("call {call}: visit {k} has no summary"));
        }
    }
    for (user, mut spans) in busy {
        spans.sort();
        for w in spans.windows(2) {
            if w[1].0 < w[0].1 {
                return Err(format!("user {user} on calls {} and {} at once", w[0].2, w[1].2));
            }
        }
    }
    Ok(())
}

fn arb_behaviour(users: usize) -> impl Gen<Value = Behaviour> {
    (
        prop_oneof![Just(Answer::Any), Just(Answer::Nobody), (0..users).prop_map(Answer::User)],
        0u64..40_000,
        0u64..300_000,
        proptest::option::of(0u64..200_000),
        0u64..60_000,
    )
        .prop_map(|(answer, answer_after, talk, abandon_after, voicemail)| Behaviour {
            answer,
            answer_after,
            talk,
            abandon_after,
            voicemail,
            no_answer_probability: 0.0,
        })
}

fn arb_step(queues: usize, groups: usize, users: usize) -> impl Gen<Value = Step> {
    prop_oneof![
        Just(Step::Webhook(0)),
        Just(Step::Record),
        (0..queues).prop_map(|queue| Step::Queue { queue, on_timeout: None }),
        (0..queues, 0..users).prop_map(|(queue, u)| Step::Queue {
            queue,
            on_timeout: Some(Box::new(Step::User { user: u, ring: Some(10_000) }))
        }),
        (0..groups).prop_map(|group| Step::RingGroup { group, on_no_answer: None }),
        (0..users).prop_map(|user| Step::User { user, ring: None }),
        Just(Step::Voicemail(0)),
        Just(Step::Hangup),
    ]
}

pub(crate) fn arb_scenario() -> impl Gen<Value = Scenario> {
    let users = 4usize;
    let strategies = prop::sample::select(Strategy::ALL.to_vec());
    let blocks = prop::sample::select(vec![WrapupBlocks::Queue, WrapupBlocks::All]);
    let queue =
        (strategies, prop::sample::subsequence(vec![0, 1, 2, 3], 1..=4), 0u64..30_000, blocks);
    (
        prop::collection::vec(queue, 1..3),
        (prop::bool::ANY, prop::bool::ANY),
        prop::collection::vec(arb_step(1, 1, users), 1..5),
        prop::collection::vec(
            (0u64..600_000, 0usize..3, prop::bool::ANY, arb_behaviour(users)),
            1..40,
        ),
    )
        .prop_map(move |(queues, (sequential, missed), flow, calls)| {
            let mut p = pbx(Strategy::Ringall, RingMode::Simultaneous);
            if missed {
                p.unanswered_completion = UnansweredCompletion::Completed;
            }
            let template = p.queues[0].clone();
            p.queues = queues
                .into_iter()
                .enumerate()
                .map(|(i, (strategy, members, wrapup, wrapup_blocks))| Queue {
                    name: s(&format!("Q{i}")),
                    members,
                    strategy,
                    wrapup,
                    wrapup_blocks,
                    ..template.clone()
                })
                .collect();
            if sequential {
                p.ring_groups[0].mode = RingMode::Sequential;
            }
            p.users[1].record_inbound = true;
            p.users[2].record_outbound = true;
            p.numbers.push(Number { number: s("61300000999"), flow });
            let mut calls: Vec<ScriptedCall> = calls
                .into_iter()
                .map(|(at, number, outbound, behaviour)| {
                    if outbound {
                        ScriptedCall {
                            at,
                            kind: CallKind::Outbound { user: number, dest: s("61499999999") },
                            caller_id: s("61300000100"),
                            caller_name: None,
                            behaviour: Behaviour {
                                answer: if behaviour.answer == Answer::Nobody {
                                    Answer::Nobody
                                } else {
                                    Answer::Any
                                },
                                ..behaviour
                            },
                        }
                    } else {
                        // Half the inbound calls use the random flow (number 3).
                        let n = if at % 2 == 0 { 3 } else { number };
                        inbound(at, n, behaviour)
                    }
                })
                .collect();
            calls.sort_by_key(|c| c.at);
            Scenario { pbx: p, calls, ..Scenario::default() }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn invariants_hold_for_random_models(sc in arb_scenario(), seed in 0u64..1000) {
        let start = "2026-03-02T09:00:00Z".parse().unwrap();
        let n_calls = sc.calls.len() as u64;
        let mut engine = Engine::new(Arc::new(sc), Options::new(seed, start));
        let out: Vec<Emission> = engine.by_ref().collect();
        if let Err(e) = check_invariants(&out) {
            prop_assert!(false, "{}", e);
        }
        // The conformance checker (which a user points at real traffic) agrees.
        let mut checker = crate::check::Checker::new(crate::check::CheckerConfig::default());
        let mut violations: Vec<String> = Vec::new();
        for e in &out {
            violations.extend(checker.observe(&json(e)).iter().map(|v| v.to_string()));
        }
        violations.extend(checker.finish().iter().map(|v| v.to_string()));
        prop_assert!(violations.is_empty(), "{}", violations.join("\n"));
        prop_assert_eq!(engine.stats().calls, n_calls);
        prop_assert_eq!(engine.stats().ended, n_calls, "every call ends");
        prop_assert_eq!(engine.active_calls(), 0);
    }

    #[test]
    fn ended_calls_are_reported_once_after_their_last_event(
        sc in arb_scenario(),
        seed in 0u64..1000,
    ) {
        let start = "2026-03-02T09:00:00Z".parse().unwrap();
        let mut engine = Engine::new(Arc::new(sc), Options::new(seed, start)).track_ended_calls();
        let mut ended = std::collections::HashSet::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            while let Some(call) = engine.take_ended() {
                prop_assert!(ended.insert(call), "call {} reported twice", call);
            }
            let Some(e) = engine.next() else { break };
            prop_assert!(!ended.contains(&e.call), "call {} has an event after its end", e.call);
            seen.insert(e.call);
        }
        while let Some(call) = engine.take_ended() {
            prop_assert!(ended.insert(call), "call {} reported twice", call);
        }
        prop_assert_eq!(ended.len() as u64, engine.stats().ended);
        prop_assert!(seen.is_subset(&ended), "a call with events was never reported ended");
    }
}

/// A PBX built in code can hold loops the scenario loader refuses: the engine's per-call limits
/// stop them, and name the call.
#[test]
fn backstop_stops_a_call_that_loops_for_ever() {
    let mut p = pbx(Strategy::Ringall, RingMode::Simultaneous);
    p.queues[0].failover = Some(Box::new(Step::Queue { queue: 0, on_timeout: None }));
    let calls = vec![
        inbound(0, 1, behaviour(Answer::Nobody, 5_000, 60_000)),
        inbound(1_000, 0, behaviour(Answer::Any, 5_000, 60_000)),
    ];
    let start = "2026-03-02T09:00:00Z".parse().unwrap();
    let engine = Engine::new(scenario(p, calls), Options::new(7, start));
    let backstop = engine.backstop();
    let out: Vec<Emission> = engine.collect();
    let runaway = backstop.tripped().expect("the backstop stopped the looping call");
    assert_eq!(runaway.call, 0);
    assert_eq!(runaway.what, "call-flow steps");
    assert_eq!(runaway.limit, u64::from(MAX_STEPS_PER_CALL));
    assert_eq!(&*runaway.dest, "61300000200");
    let timeouts = out.iter().filter(|e| e.event.event_type() == EventType::QueueCall).count();
    assert_eq!(timeouts as u32, MAX_STEPS_PER_CALL - 2, "one timed-out visit per step after two");
    let message = runaway.to_string();
    assert!(message.starts_with("call 1 of the run (unique_call_id "), "{message}");
    assert!(message.contains("went past 1000 call-flow steps without ending"), "{message}");
}

/// A loop that takes no time (a ring group whose members are all busy goes to its no-answer
/// step at once) recurses in the engine: the limit comes before the stack runs out.
#[test]
fn backstop_stops_a_loop_that_takes_no_time() {
    let mut p = pbx(Strategy::Ringall, RingMode::Simultaneous);
    p.ring_groups[0].members = vec![0];
    p.ring_groups[0].no_answer = Some(Box::new(Step::RingGroup { group: 0, on_no_answer: None }));
    let calls = vec![
        // Alice (1010) answers a direct call and talks for an hour...
        inbound(0, 0, behaviour(Answer::Any, 1_000, 3_600_000)),
        // ...so the ring group, whose only member she is, rings nobody.
        inbound(60_000, 2, behaviour(Answer::Any, 1_000, 60_000)),
    ];
    let start = "2026-03-02T09:00:00Z".parse().unwrap();
    let engine = Engine::new(scenario(p, calls), Options::new(7, start));
    let backstop = engine.backstop();
    let out: Vec<Emission> = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || engine.collect())
        .expect("thread starts")
        .join()
        .expect("no stack overflow");
    let runaway = backstop.tripped().expect("stopped");
    assert_eq!((runaway.call, runaway.what), (1, "call-flow steps"));
    // One ring_group_call summary per step, and nothing after the limit.
    assert_eq!(out.iter().filter(|e| e.call == 1).count(), MAX_STEPS_PER_CALL as usize);
}

/// One queue visit can cause many events without a loop (a long wait, a short ring timeout):
/// the events limit bounds it.
#[test]
fn backstop_bounds_the_events_of_one_call() {
    let mut p = pbx(Strategy::Ringall, RingMode::Simultaneous);
    let q = &mut p.queues[0];
    (q.ring_timeout, q.retry, q.max_wait) = (1, 0, u64::MAX / 4);
    let calls = vec![inbound(0, 1, behaviour(Answer::Nobody, 5_000, 60_000))];
    let start = "2026-03-02T09:00:00Z".parse().unwrap();
    let engine = Engine::new(scenario(p, calls), Options::new(7, start));
    let backstop = engine.backstop();
    let count = engine.count();
    let runaway = backstop.tripped().expect("stopped");
    assert_eq!(runaway.what, "events");
    assert_eq!(count as u32, MAX_EVENTS_PER_CALL);
}

#[test]
fn valid_calls_never_trip_the_backstop() {
    let sc = scenario(
        pbx(Strategy::Linear, RingMode::Sequential),
        vec![
            inbound(0, 1, behaviour(Answer::Nobody, 5_000, 60_000)),
            inbound(0, 2, behaviour(Answer::Any, 5_000, 60_000)),
        ],
    );
    let start = "2026-03-02T09:00:00Z".parse().unwrap();
    let engine = Engine::new(sc, Options::new(7, start));
    let backstop = engine.backstop();
    assert!(engine.count() > 0);
    assert_eq!(backstop.tripped(), None);
}

#[test]
fn a_preview_counts_the_events_and_finds_the_last_ones_time() {
    let sc = scenario(
        pbx(Strategy::Ringall, RingMode::Simultaneous),
        vec![
            inbound(0, 0, behaviour(Answer::Any, 14_000, 14_000)),
            inbound(60_000, 0, behaviour(Answer::Any, 5_000, 30_000)),
        ],
    );
    let out = run(sc.clone());
    let p = super::preview(&sc, 7);
    assert_eq!(p.events, out.len() as u64);
    assert_eq!(p.sent, p.events);
    assert_eq!(p.last_at, out.iter().map(|e| e.at).max().unwrap());
    assert_eq!(p.last_at, 95_000);
}
