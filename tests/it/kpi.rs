//! The contact-centre KPIs of `load` and `run` against an independent count: pbxsim plays to a
//! real receiver on 127.0.0.1:0, and the test counts offered, answered, abandoned and timed-out
//! visits, the service level, the answer delays and the talk time itself from the
//! `queue_call` / `ring_group_call` (and completion) bodies that receiver got, then compares
//! them with the report's `kpis`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::deliver::Receiver;
use crate::support::{pbxsim_output, temp, text};

/// One group's figures as the test counts them.
#[derive(Debug, Default, PartialEq)]
struct Count {
    offered: u64,
    answered: u64,
    abandoned: u64,
    timedout: u64,
    answered_within: u64,
    answer_delay_ms: u64,
    talk_s: u64,
}

fn millis(ts: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(ts)
        .unwrap_or_else(|e| panic!("{ts}: {e}"))
        .timestamp_millis()
}

/// Per (`queue` | `ring group`, name), from the delivered summaries.
fn count(bodies: &[Value], service_level_ms: i64) -> BTreeMap<(String, String), Count> {
    let mut out: BTreeMap<(String, String), Count> = BTreeMap::new();
    for b in bodies {
        let (kind, name) = match b["type"].as_str() {
            Some("queue_call") => ("queue", &b["queue_name"]),
            Some("ring_group_call") => ("ring group", &b["ring_group_name"]),
            _ => continue,
        };
        let c = out.entry((kind.to_string(), name.as_str().unwrap().to_string())).or_default();
        c.offered += 1;
        match b["status"].as_str().unwrap() {
            "answered" => {
                c.answered += 1;
                c.talk_s += b["conversation_duration"].as_u64().unwrap();
                let delay = millis(b["connected_at"].as_str().unwrap())
                    - millis(b["call_start_at"].as_str().unwrap());
                assert!(delay >= 0, "{b}");
                c.answer_delay_ms += delay as u64;
                c.answered_within += u64::from(delay <= service_level_ms);
            }
            "abandoned" => c.abandoned += 1,
            "timedout" => c.timedout += 1,
            other => panic!("status {other}"),
        }
    }
    out
}

/// Talk seconds per extension, from the completions.
fn talk_by_user(bodies: &[Value]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for b in bodies {
        let answered = match b["type"].as_str() {
            Some("user_inbound_completed") => !b["connected_at"].is_null(),
            Some("user_outbound_completed") => true,
            _ => false,
        };
        if answered {
            *out.entry(b["user_number"].as_str().unwrap().to_string()).or_default() +=
                b["conversation_duration"].as_u64().unwrap();
        }
    }
    out
}

/// The report's figures in the test's shape.
fn reported(kpis: &Value) -> BTreeMap<(String, String), (Count, Value)> {
    let mut out = BTreeMap::new();
    for (kind, key) in [("queue", "queues"), ("ring group", "ring_groups")] {
        for g in kpis[key].as_array().unwrap() {
            let n = |k: &str| g[k].as_u64().unwrap_or_else(|| panic!("{k} in {g}"));
            let c = Count {
                offered: n("offered"),
                answered: n("answered"),
                abandoned: n("abandoned"),
                timedout: n("timedout"),
                answered_within: n("answered_within"),
                answer_delay_ms: n("answer_delay_ms"),
                talk_s: n("talk_s"),
            };
            out.insert((kind.to_string(), g["name"].as_str().unwrap().to_string()), (c, g.clone()));
        }
    }
    out
}

fn bodies(rx: &Receiver) -> Vec<Value> {
    rx.received().iter().filter(|r| r.status == 200).map(|r| r.json()).collect()
}

/// The report's KPIs agree with the count, group by group; returns how many visits there were.
fn agree(kpis: &Value, bodies: &[Value], service_level_ms: i64) -> u64 {
    let counted = count(bodies, service_level_ms);
    let reported = reported(kpis);
    let mut visits = 0;
    for (group, (figures, g)) in &reported {
        let mine = counted.get(group);
        let empty = Count::default();
        assert_eq!(figures, mine.unwrap_or(&empty), "{group:?}: report {g}");
        visits += figures.offered;
        let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
        let close = |field: &str, want: Option<f64>| match (g[field].as_f64(), want) {
            (Some(got), Some(want)) => assert!((got - want).abs() < 1e-9, "{field}: {got} {want}"),
            (got, want) => assert_eq!(got, want, "{group:?} {field}"),
        };
        close("service_level", ratio(figures.answered_within, figures.offered));
        close("abandon_rate", ratio(figures.abandoned, figures.offered));
        close("asa_s", ratio(figures.answer_delay_ms, figures.answered).map(|ms| ms / 1000.0));
        close("aht_s", ratio(figures.talk_s, figures.answered));
    }
    for group in counted.keys() {
        assert!(reported.contains_key(group), "the report lists {group:?}");
    }
    visits
}

#[test]
fn load_kpis_agree_with_the_summaries_the_receiver_got() {
    let rx = Receiver::ok();
    let report = temp("kpi", "load.json");
    let out = pbxsim_output(&[
        "load",
        "--target",
        &format!("{}/hook", rx.url),
        "--max-calls",
        "400",
        "--rate",
        "200/s",
        "--speed",
        "120",
        "--seed",
        "11",
        "--start-time",
        "2026-03-02T09:00:00Z",
        "--service-level",
        "30s",
        "--report",
        report.to_str().unwrap(),
        "-q",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["events"]["failed"], 0, "every event reached the receiver");
    assert_eq!(r["calls"]["cut_off"], 0);
    let bodies = bodies(&rx);
    assert_eq!(bodies.len() as u64, r["events"]["delivered"].as_u64().unwrap());
    let kpis = &r["kpis"];
    assert_eq!(kpis["service_level_s"], 30.0);
    let visits = agree(kpis, &bodies, 30_000);
    assert!(visits > 100, "a load worth checking: {visits} visits");
    let counted = count(&bodies, 30_000);
    let all = |f: fn(&Count) -> u64| counted.values().map(f).sum::<u64>();
    assert!(all(|c| c.abandoned) > 0 && all(|c| c.answered) > 0, "{counted:?}");
    assert!(
        all(|c| c.answered_within) < all(|c| c.answered),
        "some answers came later than 30 s, so the threshold is tested: {counted:?}"
    );

    // Occupancy: the members' talk time (from the completions) over members × the span.
    let pbx = pbxsim::scenario::builtin_pbx::midsize().pbx;
    let talk = talk_by_user(&bodies);
    let span = kpis["span_s"].as_f64().unwrap();
    assert!(span > 0.0);
    for (i, q) in pbx.queues.iter().enumerate() {
        let members: Vec<String> =
            q.members.iter().map(|&u| pbx.users[u].extension.to_string()).collect();
        let busy: u64 = members.iter().filter_map(|m| talk.get(m)).sum();
        let g = &kpis["queues"][i];
        assert_eq!(g["name"], &*q.name);
        assert_eq!(g["agents"], members.len() as u64);
        assert_eq!(g["agent_talk_s"], busy, "{}", q.name);
        let occupancy = g["occupancy"].as_f64().unwrap();
        assert!((occupancy - busy as f64 / (members.len() as f64 * span)).abs() < 1e-9);
        assert!(occupancy > 0.0 && occupancy <= 1.0, "{occupancy}");
    }

    // The text has the table, one line per queue and ring group.
    assert!(stdout.contains("answered within 30 s of arrival"), "{stdout}");
    for q in &pbx.queues {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(&format!("queue {}", q.name))),
            "{stdout}"
        );
    }
    for g in &pbx.ring_groups {
        assert!(stdout.contains(&format!("ring group {}", g.name)), "{stdout}");
    }
}

#[test]
fn run_kpis_agree_with_the_summaries_the_receiver_got() {
    let rx = Receiver::ok();
    let report = temp("kpi", "run.json");
    let out = pbxsim_output(&[
        "run",
        "scenarios/queue-outcomes.toml",
        "--target",
        &format!("{}/hook", rx.url),
        "--asap",
        "--start-time",
        "2026-03-02T09:00:00Z",
        "--report",
        report.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let bodies = bodies(&rx);
    let kpis = &r["kpis"];
    assert_eq!(kpis["service_level_s"], 20.0, "the default");
    let visits = agree(kpis, &bodies, 20_000);
    let counted = count(&bodies, 20_000);
    assert!(visits >= 3, "{counted:?}");
    // queue-outcomes plays an answered, an abandoned and a timed-out queue call.
    let all = |f: fn(&Count) -> u64| counted.values().map(f).sum::<u64>();
    assert!(
        all(|c| c.answered) > 0 && all(|c| c.abandoned) > 0 && all(|c| c.timedout) > 0,
        "{counted:?}"
    );
    // The timed-out caller went on to voicemail.
    let to_voicemail: u64 = kpis["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["timedout_to_voicemail"].as_u64().unwrap())
        .sum();
    assert_eq!(to_voicemail, all(|c| c.timedout), "{kpis}");
    // The run's calls by outcome are in its report too.
    let o = &r["outcomes"];
    for outcome in ["answered", "abandoned", "voicemail"] {
        assert!(o[outcome].as_u64().unwrap() >= 1, "{outcome}: {o}");
    }
}
