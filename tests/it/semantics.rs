//! Telephony semantics and ground truth end to end: unanswered completions, the payload
//! variants of `--chaos`, `--truth`, recording fallbacks and wrap-up, with the real binary
//! against a real HTTP receiver on loopback (a test server, or the built-in one).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

use crate::support::deliver::{Received, Receiver};
use crate::support::scenario_files;

/// A fresh directory under the system's temp directory, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pbxsim-semantics-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pbxsim() -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("pbxsim");
    cmd.env("NO_COLOR", "1").env_remove("PBX_TOKEN").env_remove("PBXSIM_TOKEN");
    cmd
}

fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

/// `run FILE --dry-run --truth`: the bodies and the truth lines.
fn dry_run_with_truth(file: &str, extra: &[&str]) -> (Vec<Value>, Vec<Value>) {
    let dir = TempDir::new();
    let truth = dir.path().join("truth.ndjson");
    let out = pbxsim()
        .args(["run", file, "--dry-run", "--truth"])
        .arg(&truth)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{file}: {stderr}");
    let truth_lines = lines(&std::fs::read_to_string(&truth).unwrap());
    assert!(stderr.contains(&format!("truth: {} calls written to", truth_lines.len())), "{stderr}");
    (lines(&String::from_utf8(out.stdout).unwrap()), truth_lines)
}

fn group_by_call(events: &[Value]) -> BTreeMap<String, Vec<&Value>> {
    let mut calls: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in events {
        calls.entry(e["unique_call_id"].as_str().unwrap().to_string()).or_default().push(e);
    }
    calls
}

fn ty(e: &Value) -> &str {
    e["type"].as_str().unwrap()
}

/// Every truth line agrees with its call's events: the ids, the direction, the visits, who
/// answered and when, the durations, voicemail and recording. `all_ticked`: every type is sent,
/// so the truth's event counts are those of the output.
fn check_truth(file: &str, events: &[Value], truth: &[Value], all_ticked: bool) {
    let calls = group_by_call(events);
    let mut by_id: BTreeMap<String, &Value> = BTreeMap::new();
    for t in truth {
        let id = t["unique_call_id"].as_str().unwrap().to_string();
        assert!(by_id.insert(id.clone(), t).is_none(), "{file}: two lines for call {id}");
    }
    let event_ids: BTreeSet<&String> = calls.keys().collect();
    let truth_ids: BTreeSet<&String> = by_id.keys().collect();
    if all_ticked {
        assert_eq!(event_ids, truth_ids, "{file}: one line per call");
    } else {
        assert!(event_ids.is_subset(&truth_ids), "{file}: a call with events has no line");
    }
    for (id, t) in &by_id {
        let empty = Vec::new();
        let evs = calls.get(id).unwrap_or(&empty);
        let what = format!("{file}: call {id}: {t}");
        let count = t["events"].as_u64().unwrap() as usize;
        if all_ticked {
            assert_eq!(count, evs.len(), "{what}");
        } else {
            assert!(count >= evs.len(), "{what}");
        }
        let has = |name: &str| evs.iter().any(|e| ty(e) == name);
        let outbound = evs.iter().any(|e| ty(e).contains("outbound"));
        if !evs.is_empty() {
            assert_eq!(t["direction"], if outbound { "outbound" } else { "inbound" }, "{what}");
            assert_eq!(t["call_start_at"], evs[0]["call_start_at"], "{what}");
        }
        assert!(t["ended_at"].as_str().unwrap() >= t["call_start_at"].as_str().unwrap(), "{what}");
        if !all_ticked {
            continue;
        }
        let visits: Vec<Value> = evs
            .iter()
            .filter(|e| matches!(ty(e), "queue_call" | "ring_group_call"))
            .map(|e| {
                let (kind, name) = match ty(e) {
                    "queue_call" => ("queue", &e["queue_name"]),
                    _ => ("ring_group", &e["ring_group_name"]),
                };
                serde_json::json!({"kind": kind, "name": name, "status": e["status"]})
            })
            .collect();
        assert_eq!(t["visits"], Value::Array(visits.clone()), "{what}");
        let mut rung: Vec<&str> = Vec::new();
        for e in evs.iter().filter(|e| ty(e) == "user_inbound") {
            let ext = e["user_number"].as_str().unwrap();
            if !rung.contains(&ext) {
                rung.push(ext);
            }
        }
        assert_eq!(t["rung"], serde_json::json!(rung), "{what}");
        assert_eq!(t["voicemail"], has("voicemail"), "{what}");
        assert_eq!(t["recording"], has("recording_inbound") || has("recording_outbound"), "{what}");
        assert_eq!(t["outcome"] == "voicemail", has("voicemail"), "{what}");
        let completion = evs.iter().find(|e| {
            matches!(ty(e), "user_inbound_completed" | "user_outbound_completed")
                && !e["connected_at"].is_null()
        });
        match t["outcome"].as_str().unwrap() {
            "answered" => {
                let done = completion.unwrap_or_else(|| panic!("{what}: no answered completion"));
                for k in ["connected_at", "call_duration", "conversation_duration"] {
                    assert_eq!(t[k], done[k], "{what}: {k}");
                }
                let user = if outbound { &t["from_user"] } else { &t["answered_by"] };
                assert_eq!(user["user_number"], done["user_number"], "{what}");
                if let Some(last) = visits.last() {
                    assert_eq!(last["status"], "answered", "{what}");
                }
            }
            other => {
                assert!(completion.is_none(), "{what}");
                assert!(!has("user_inbound_answered") && !has("user_outbound_answered"), "{what}");
                assert!(t["connected_at"].is_null() && t["answered_by"].is_null(), "{what}");
                assert_eq!(t["conversation_duration"], 0, "{what}");
                let last = visits.last().map(|v| v["status"].as_str().unwrap());
                match other {
                    "abandoned" => assert!(matches!(last, None | Some("abandoned")), "{what}"),
                    "timedout" => assert_eq!(last, Some("timedout"), "{what}"),
                    "voicemail" | "unanswered" => {}
                    _ => panic!("{what}: unknown outcome"),
                }
            }
        }
        // A summary or completion's call_duration never exceeds the call's.
        for e in evs.iter().filter(|e| e["call_duration"].is_u64()) {
            assert!(e["call_duration"].as_u64() <= t["call_duration"].as_u64(), "{what}: {e}");
        }
    }
}

#[test]
fn every_scenarios_truth_agrees_with_its_events_in_both_completion_variants() {
    let files = scenario_files();
    assert!(files.len() >= 15, "{files:?}");
    for file in files {
        let all_ticked = !file.ends_with("global-filter.toml");
        let (events, truth) = dry_run_with_truth(&file, &[]);
        assert!(!truth.is_empty(), "{file}");
        check_truth(&file, &events, &truth, all_ticked);
        // Completions for missed rings add events, and change nothing else.
        let (more, truth2) = dry_run_with_truth(&file, &["--unanswered-completion", "completed"]);
        check_truth(&file, &more, &truth2, all_ticked);
        assert_eq!(truth.len(), truth2.len(), "{file}");
        for (a, b) in truth.iter().zip(&truth2) {
            let strip = |v: &Value| {
                let mut v = v.clone();
                v.as_object_mut().unwrap().remove("events");
                v
            };
            assert_eq!(strip(a), strip(b), "{file}");
        }
    }
}

#[test]
fn quickstart_truth_is_pinned() {
    let (_, truth) = dry_run_with_truth("scenarios/quickstart.toml", &[]);
    let text: Vec<String> = truth.iter().map(|t| t.to_string()).collect();
    insta::assert_snapshot!("truth__quickstart", text.join("\n"));
}

#[test]
fn the_truth_schema_describes_a_line() {
    let out = pbxsim().args(["schema", "truth"]).output().unwrap();
    assert!(out.status.success());
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "pbxsim truth line");
    let (_, truth) = dry_run_with_truth("scenarios/quickstart.toml", &[]);
    let props = schema["properties"].as_object().unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    for t in &truth {
        let keys: BTreeSet<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, props.keys().map(String::as_str).collect(), "every key is described");
        let errors: Vec<String> = validator.iter_errors(t).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{t}: {errors:?}");
    }
    // It can fail: a wrong outcome is refused.
    let mut bad = truth[0].clone();
    bad["outcome"] = Value::from("maybe");
    assert!(!validator.is_valid(&bad));
}

#[test]
fn a_truth_file_that_cannot_be_written_is_a_usage_error() {
    let out = pbxsim()
        .args([
            "run",
            "scenarios/quickstart.toml",
            "--asap",
            "--truth",
            "/nonexistent/dir/t.ndjson",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot write /nonexistent/dir/t.ndjson"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("delivered"), "nothing was sent");
}

/// Runs `args` against `receiver` and returns the received bodies (arrays flattened).
fn received_events(received: &[Received]) -> Vec<Value> {
    received
        .iter()
        .flat_map(|r| match r.json() {
            Value::Array(items) => items,
            one => vec![one],
        })
        .collect()
}

#[test]
fn run_truth_matches_what_a_real_receiver_got() {
    let receiver = Receiver::ok();
    let dir = TempDir::new();
    let truth = dir.path().join("truth.ndjson");
    let out = pbxsim()
        .args(["run", "scenarios/quickstart.toml", "--asap", "--token", "T", "--target"])
        .arg(&receiver.url)
        .arg("--truth")
        .arg(&truth)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let events = received_events(&receiver.received());
    let truth = lines(&std::fs::read_to_string(&truth).unwrap());
    check_truth("quickstart (received)", &events, &truth, true);
    // The same as the dry run's: the truth does not depend on the delivery.
    let (_, dry) = dry_run_with_truth("scenarios/quickstart.toml", &[]);
    assert_eq!(truth, dry);
}

#[test]
fn call_and_load_write_truth_too() {
    let receiver = Receiver::ok();
    let dir = TempDir::new();
    let truth = dir.path().join("call.ndjson");
    let out = pbxsim()
        .args(["call", "inbound", "--via", "queue:Support", "--outcome", "abandoned", "--target"])
        .arg(&receiver.url)
        .arg("--truth")
        .arg(&truth)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let line = lines(&std::fs::read_to_string(&truth).unwrap());
    assert_eq!(line.len(), 1);
    assert_eq!(line[0]["outcome"], "abandoned");
    assert_eq!(line[0]["visits"][0]["status"], "abandoned");
    let events = received_events(&receiver.received());
    assert!(events.iter().all(|e| e["unique_call_id"] == line[0]["unique_call_id"]));
    assert_eq!(line[0]["events"], events.len());

    let receiver = Receiver::ok();
    let truth = dir.path().join("load.ndjson");
    let out = pbxsim()
        .args(["load", "--rate", "20/s", "--duration", "1s", "--speed", "600", "-q", "--target"])
        .arg(&receiver.url)
        .arg("--truth")
        .arg(&truth)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let events = received_events(&receiver.received());
    let truth = lines(&std::fs::read_to_string(&truth).unwrap());
    assert!(!truth.is_empty());
    // Every call ended within the drain: one line per call the receiver heard of.
    check_truth("load", &events, &truth, true);
}

#[test]
fn unanswered_completions_reach_a_real_receiver_and_pass_the_built_in_one() {
    let receiver = Receiver::ok();
    let out = pbxsim()
        .args(["run", "scenarios/ring-group-simultaneous.toml", "--asap"])
        .args(["--unanswered-completion", "completed", "--target"])
        .arg(&receiver.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let events = received_events(&receiver.received());
    let missed: Vec<&Value> = events
        .iter()
        .filter(|e| ty(e) == "user_inbound_completed" && e["connected_at"].is_null())
        .collect();
    assert!(!missed.is_empty());
    assert!(
        missed.iter().all(|e| e["conversation_duration"] == 0 && e["ring_group_name"].is_string())
    );

    // The built-in receiver's checker takes them (and `call` has the flag too).
    let out = pbxsim()
        .args(["call", "inbound", "--via", "user:1002", "--outcome", "no-answer"])
        .args(["--unanswered-completion", "completed"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("user_inbound_completed") && stdout.contains("violations: 0"),
        "{stdout}"
    );
}

#[test]
fn the_flag_overrides_the_files_unanswered_completion() {
    let dir = TempDir::new();
    let file = dir.path().join("missed.toml");
    let text = std::fs::read_to_string("scenarios/user-direct.toml").unwrap();
    std::fs::write(&file, format!("unanswered_completion = \"completed\"\n{text}")).unwrap();
    let file = file.to_string_lossy().into_owned();
    let missed = |extra: &[&str]| {
        let (events, _) = dry_run_with_truth(&file, extra);
        events
            .iter()
            .filter(|e| ty(e) == "user_inbound_completed" && e["connected_at"].is_null())
            .count()
    };
    assert!(missed(&[]) > 0, "the file asks for them");
    assert_eq!(missed(&["--unanswered-completion", "none"]), 0, "the flag wins");
    let out = pbxsim()
        .args(["run", &file, "--dry-run", "--unanswered-completion", "complete"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `completed`?"));
}

fn run_chaos_to(receiver: &Receiver, chaos: &str) -> Vec<Value> {
    let out = pbxsim()
        .args(["run", "scenarios/quickstart.toml", "--asap", "--token", "T", "--chaos", chaos])
        .arg("--target")
        .arg(&receiver.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    received_events(&receiver.received())
}

fn sorted_strings(events: &[Value]) -> Vec<String> {
    let mut all: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    all.sort();
    all
}

#[test]
fn payload_variants_reach_a_real_receiver_seeded_and_reproducible() {
    let chaos = "recording_link=url,nulls=string,extra_fields=0.5";
    let first = Receiver::ok();
    let events = run_chaos_to(&first, chaos);
    let again = Receiver::ok();
    assert_eq!(sorted_strings(&run_chaos_to(&again, chaos)), sorted_strings(&events));

    let recordings: Vec<&Value> = events
        .iter()
        .filter(|e| matches!(ty(e), "voicemail" | "recording_inbound" | "recording_outbound"))
        .collect();
    assert!(recordings.len() >= 3);
    for r in &recordings {
        let link = r["call_recording_link"].as_str().unwrap();
        let id = r["unique_call_id"].as_str().unwrap();
        assert!(link.starts_with(&format!("https://recordings.example.com/{id}/")), "{link}");
    }
    let extra = events.iter().filter(|e| e.get("pbxsim_extra").is_some()).count();
    assert!(extra > 0 && extra < events.len(), "{extra} of {}", events.len());
    assert!(events.iter().all(|e| e.as_object().unwrap().values().all(|v| !v.is_null())));
    assert!(events.iter().any(|e| e["queue_name"] == "null"), "\"null\" for not applicable");

    // `pbxsim check` reads the capture: extra fields break `fields` unless accepted.
    let dir = TempDir::new();
    let capture = dir.path().join("capture.ndjson");
    let mut text = String::new();
    for r in first.received() {
        text.push_str(&String::from_utf8_lossy(&r.body));
        text.push('\n');
    }
    std::fs::write(&capture, text).unwrap();
    let out = pbxsim().arg("check").arg(&capture).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("unknown field `pbxsim_extra`"), "{stdout}");
    let out = pbxsim().arg("check").arg(&capture).arg("--extra-fields").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("violations: 0"), "{stdout}");
}

#[test]
fn the_built_in_receiver_accepts_every_payload_variant() {
    for chaos in ["recording_link=url", "nulls=string", "extra_fields=1", "nulls=string,batch=3"] {
        let out = pbxsim()
            .args(["run", "scenarios/quickstart.toml", "--asap", "--chaos", chaos])
            .args(["--unanswered-completion", "completed"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{chaos}: {stdout}");
        assert!(stdout.contains("violations: 0"), "{chaos}: {stdout}");
    }
}

/// A scenario in a temporary directory; returns the directory (keep it alive) and the path.
fn temp_scenario(text: &str) -> (TempDir, String) {
    let dir = TempDir::new();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

#[test]
fn users_who_record_without_their_own_settings_use_the_pbxs() {
    let (_dir, file) = temp_scenario(
        r#"
start_time = "2026-03-02T09:00:00Z"
[recording]
emails = ["recordings@example.com"]
subject = "PBX recording"

[[users]]
name = "Alice"
extension = "1010"
record_inbound = true
record_outbound = true

[[numbers]]
number = "61300000000"
flow = ["user:1010"]

[[calls]]
at = "0s"
from = "61400000001"
to = "61300000000"

[[calls]]
at = "5m"
direction = "outbound"
from = "1010"
to = "61400000009"
"#,
    );
    let (events, _) = dry_run_with_truth(&file, &[]);
    let recordings: Vec<&Value> =
        events.iter().filter(|e| ty(e).starts_with("recording_")).collect();
    assert_eq!(recordings.len(), 2);
    for r in recordings {
        assert_eq!(r["emails"], "recordings@example.com", "{r}");
        assert_eq!(r["email_subject"], "PBX recording", "{r}");
    }
}

#[test]
fn a_user_in_wrap_up_gets_direct_calls_unless_the_queue_blocks_all() {
    let text = |blocks: &str| {
        format!(
            r#"
start_time = "2026-03-02T09:00:00Z"
[[users]]
name = "Alice"
extension = "1010"

[[queues]]
name = "Support"
members = ["1010"]
wrapup = "2m"
{blocks}

[[numbers]]
number = "61300000000"
flow = ["queue:Support"]

[[numbers]]
number = "61300000010"
flow = ["user:1010"]

[[calls]]
at = "0s"
from = "61400000001"
to = "61300000000"
talk = "30s"

# During Alice's wrap-up (35 s to 2m35s): a direct call.
[[calls]]
at = "1m"
from = "61400000002"
to = "61300000010"
"#
        )
    };
    let rung_on_direct = |blocks: &str| {
        let (_dir, file) = temp_scenario(&text(blocks));
        let (events, truth) = dry_run_with_truth(&file, &[]);
        let direct = truth.iter().find(|t| t["dest_number"] == "61300000010");
        (events.len(), direct.map(|t| t["outcome"].clone()))
    };
    let (_, outcome) = rung_on_direct("");
    assert_eq!(outcome, Some(Value::from("answered")), "the default rings her");
    let (_, outcome) = rung_on_direct("wrapup_blocks = \"queue\"");
    assert_eq!(outcome, Some(Value::from("answered")));
    let (_, outcome) = rung_on_direct("wrapup_blocks = \"all\"");
    assert_eq!(outcome, None, "not rung: the call sends nothing");
    // A typo is a scenario error at its line, with a hint.
    let (_dir, file) = temp_scenario(&text("wrapup_blocks = \"everything\""));
    let out = pbxsim().args(["validate", &file]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("s.toml:11:17") && stderr.contains("queue, all"), "{stderr}");
}
