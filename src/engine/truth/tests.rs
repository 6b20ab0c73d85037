//! Unit tests of the truth recorder: every outcome, durations as in the events, one line per
//! call with events, nothing kept once a call has ended.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::*;
use crate::engine::Engine;
use crate::engine::Options;
use crate::engine::feed::Feed;

const SCENARIO: &str = r#"
[[users]]
name = "Alice"
extension = "1010"

[[users]]
name = "Bob"
extension = "1011"
record_outbound = true

[[queues]]
name = "Support"
members = ["1010"]
max_wait = "30s"

[[ring_groups]]
name = "Sales"
members = ["1011"]
ring_time = "10s"

[[voicemail]]
name = "VM"

[[numbers]]
number = "61300000000"
flow = ["record", "queue:Support", "hangup"]

[[numbers]]
number = "61300000100"
flow = ["ring_group:Sales", "voicemail:VM"]

[[numbers]]
number = "61300000200"
flow = [{ user = "1011", ring = "5s" }]

[[numbers]]
number = "61300000300"
flow = ["queue:Support", "voicemail:VM"]

# 0: answered in the queue, recorded.
[[calls]]
at = "0s"
from = "61400000001"
to = "61300000000"
answered_by = "1010"
answer_after = "4s"
talk = "20s"

# 1: the ring group rings out, a voicemail.
[[calls]]
at = "1s"
from = "61400000002"
to = "61300000100"
answered_by = "none"
voicemail = "12s"

# 2: a direct ring that runs out (Bob's phone is free again after call 1's ring group).
[[calls]]
at = "12s"
from = "61400000003"
to = "61300000200"
answered_by = "none"

# 3: Alice is on call 0: the caller waits, then hangs up.
[[calls]]
at = "3s"
from = "61400000004"
to = "61300000000"
abandon_after = "10s"

# 4: Bob dials out, answered.
[[calls]]
at = "40s"
direction = "outbound"
from = "1011"
to = "61400000009"
answer_after = "3s"
talk = "30s"

# 5: Bob is on call 4: not placed, no events, no line.
[[calls]]
at = "45s"
direction = "outbound"
from = "1011"
to = "61400000010"

# 6: the queue times out, the caller hangs up at the greeting.
[[calls]]
at = "50s"
from = "61400000005"
to = "61300000300"
answered_by = "none"
voicemail = "0s"
"#;

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn record(source: &str) -> (Vec<Emission>, Vec<Value>, TruthStats) {
    let scenario = Arc::new(crate::scenario::parse(source, "t.toml").unwrap());
    let start = "2026-03-02T09:00:00Z".parse().unwrap();
    let engine = Engine::new(scenario.clone(), Options::new(3, start));
    let out = Shared::default();
    let mut recorder = Recorder::new(Timeline::new(start, scenario.utc_offset), out.clone());
    let mut events = Vec::new();
    let mut ends = Vec::new();
    for item in crate::engine::feed::with_truth(engine, &mut recorder) {
        match item {
            Feed::Event(e) => events.push(e),
            Feed::CallEnded(call) => ends.push(call),
        }
    }
    // Each call's line is written by the time its end is passed on.
    assert_eq!(recorder.calls.len(), 0, "nothing kept after the calls ended");
    let stats = recorder.finish().unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(ends.len(), 7, "every call ends, the one not placed too");
    (events, lines, stats)
}

fn by_caller<'a>(lines: &'a [Value], caller: &str) -> &'a Value {
    lines.iter().find(|l| l["caller_id"] == caller || l["dest_number"] == caller).unwrap()
}

#[test]
fn every_outcome_with_its_visits_and_durations() {
    let (events, lines, stats) = record(SCENARIO);
    assert_eq!(stats, TruthStats { lines: 6, unfinished: 0 });
    let ids: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.event.unique_call_id()).collect();
    assert_eq!(ids.len(), lines.len(), "one line per call with events");

    let answered = by_caller(&lines, "61400000001");
    assert_eq!(answered["outcome"], "answered");
    assert_eq!(answered["direction"], "inbound");
    assert_eq!(answered["answered_by"]["user_number"], "1010");
    assert_eq!(answered["connected_at"], "2026-03-02T09:00:04.000Z");
    assert_eq!(
        (answered["call_duration"].as_u64(), answered["conversation_duration"].as_u64()),
        (Some(24), Some(20))
    );
    assert_eq!(answered["ended_at"], "2026-03-02T09:00:24.000Z");
    assert_eq!(
        answered["visits"],
        serde_json::json!([{"kind": "queue", "name": "Support", "status": "answered"}])
    );
    assert_eq!(answered["recording"], true);
    assert_eq!(answered["voicemail"], false);
    assert_eq!(answered["rung"], serde_json::json!(["1010"]));
    // Durations and connected_at as the call's own completion says.
    let id = answered["unique_call_id"].as_str().unwrap();
    let completion = events
        .iter()
        .find(|e| {
            e.event.unique_call_id() == id
                && e.event.event_type() == crate::event::EventType::UserInboundCompleted
        })
        .map(|e| e.event.to_value(crate::event::NullStyle::Null))
        .unwrap();
    for k in ["connected_at", "call_duration", "conversation_duration", "call_start_at"] {
        assert_eq!(answered[k], completion[k], "{k}");
    }
    assert_eq!(
        answered["events"],
        events.iter().filter(|e| e.event.unique_call_id() == id).count()
    );

    let vm = by_caller(&lines, "61400000002");
    assert_eq!(vm["outcome"], "voicemail");
    assert_eq!(vm["voicemail"], true);
    assert!(vm["answered_by"].is_null() && vm["connected_at"].is_null());
    assert_eq!(vm["visits"][0]["status"], "timedout");
    assert_eq!(vm["call_duration"], 22, "10 s ringing and a 12 s message");

    let direct = by_caller(&lines, "61400000003");
    assert_eq!(direct["outcome"], "unanswered");
    assert_eq!(
        (direct["call_duration"].as_u64(), direct["conversation_duration"].as_u64()),
        (Some(5), Some(0))
    );
    assert_eq!(direct["visits"], serde_json::json!([]));

    let abandoned = by_caller(&lines, "61400000004");
    assert_eq!(abandoned["outcome"], "abandoned");
    assert_eq!(abandoned["visits"][0]["status"], "abandoned");
    assert_eq!(abandoned["rung"], serde_json::json!([]), "Alice was busy");

    let outbound = by_caller(&lines, "61400000009");
    assert_eq!(outbound["direction"], "outbound");
    assert_eq!(outbound["outcome"], "answered");
    assert_eq!(outbound["from_user"]["user_number"], "1011");
    assert!(outbound["answered_by"].is_null());
    assert_eq!(outbound["recording"], true);
    assert_eq!(outbound["conversation_duration"], 30);

    assert!(lines.iter().all(|l| l["dest_number"] != "61400000010"), "not placed: no line");

    let timedout = by_caller(&lines, "61400000005");
    assert_eq!(timedout["outcome"], "timedout");
    assert_eq!(timedout["voicemail"], false);
    assert_eq!(timedout["call_duration"], 30);
}

#[test]
fn lines_come_in_order_of_the_calls_ends_and_keep_the_offset() {
    let (_, lines, _) = record(&format!("utc_offset = \"+10:00\"\n{SCENARIO}"));
    let ends: Vec<chrono::DateTime<chrono::FixedOffset>> = lines
        .iter()
        .map(|l| chrono::DateTime::parse_from_rfc3339(l["ended_at"].as_str().unwrap()).unwrap())
        .collect();
    assert!(ends.windows(2).all(|w| w[0] <= w[1]), "{ends:?}");
    assert!(lines.iter().all(|l| l["ended_at"].as_str().unwrap().ends_with("+10:00")));
}

#[test]
fn a_call_still_in_progress_has_no_line() {
    let scenario = Arc::new(crate::scenario::parse(SCENARIO, "t.toml").unwrap());
    let start = "2026-03-02T09:00:00Z".parse().unwrap();
    let engine = Engine::new(scenario, Options::new(3, start));
    let mut recorder = Recorder::new(Timeline::new(start, None), io::sink());
    // Stop after the first event: call 0 is in progress.
    let first = crate::engine::feed::with_truth(engine, &mut recorder).next();
    assert!(matches!(first, Some(Feed::Event(_))));
    assert_eq!(recorder.finish().unwrap(), TruthStats { lines: 0, unfinished: 1 });
}

#[test]
fn the_schema_names_every_field() {
    let schema = json_schema();
    let props = schema["properties"].as_object().unwrap();
    for k in [
        "unique_call_id",
        "direction",
        "outcome",
        "answered_by",
        "visits",
        "connected_at",
        "call_duration",
        "conversation_duration",
        "voicemail",
        "recording",
    ] {
        assert!(props.contains_key(k), "{k}");
    }
    let text = schema.to_string();
    for outcome in ["answered", "abandoned", "voicemail", "timedout", "unanswered"] {
        assert!(text.contains(&format!("\"{outcome}\"")), "{outcome}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(100))]

    /// Over random PBXs and calls (both completion variants, both wrap-up kinds): one line
    /// per call with events, nothing left in progress, and durations that agree with every
    /// completion and summary.
    #[test]
    fn truth_agrees_with_the_engine_on_random_models(
        sc in crate::engine::tests::arb_scenario(),
        seed in 0u64..1000,
    ) {
        let start = "2026-03-02T09:00:00Z".parse().unwrap();
        let engine = Engine::new(Arc::new(sc), Options::new(seed, start));
        let out = Shared::default();
        let mut recorder = Recorder::new(Timeline::new(start, None), out.clone());
        let mut with_events = std::collections::HashSet::new();
        let mut summaries: HashMap<String, Vec<Value>> = HashMap::new();
        for item in crate::engine::feed::with_truth(engine, &mut recorder) {
            if let Feed::Event(e) = item {
                with_events.insert(e.event.unique_call_id().to_string());
                if e.event.event_type().fields().iter().any(|f| f.name == "call_duration") {
                    let v = e.event.to_value(crate::event::NullStyle::Null);
                    summaries.entry(e.event.unique_call_id().to_string()).or_default().push(v);
                }
            }
        }
        let written = recorder.finish().unwrap();
        proptest::prop_assert_eq!(written.unfinished, 0);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        proptest::prop_assert_eq!(lines.len(), with_events.len());
        for line in &lines {
            let id = line["unique_call_id"].as_str().unwrap();
            proptest::prop_assert!(with_events.contains(id));
            for s in summaries.get(id).into_iter().flatten() {
                // Completions and summaries end with the call, or before it (a missed ring, a
                // queue that timed out before voicemail).
                proptest::prop_assert!(s["call_duration"].as_u64() <= line["call_duration"].as_u64());
                let answered = !s["connected_at"].is_null();
                if answered && line["outcome"] == "answered" {
                    proptest::prop_assert_eq!(&s["connected_at"], &line["connected_at"]);
                    proptest::prop_assert_eq!(&s["call_duration"], &line["call_duration"]);
                    proptest::prop_assert_eq!(&s["conversation_duration"], &line["conversation_duration"]);
                }
                proptest::prop_assert!(!answered || line["outcome"] == "answered", "{}", line);
            }
        }
    }
}
