//! `pbxsim trigger` and `pbxsim call`: the real binary, against a real receiver on loopback
//! and against the built-in receiver.

use pbxsim::event::EventType;

use crate::support::deliver::Receiver;
use crate::support::{self, pbxsim_output};

#[test]
fn trigger_prints_every_type_valid_against_the_schema() {
    let schema = pbxsim::event::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for ty in EventType::ALL {
        let out = pbxsim_output(&["trigger", ty.as_str(), "--print", "--seed", "5"]);
        assert!(out.status.success(), "{ty}: {}", String::from_utf8_lossy(&out.stderr));
        let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(body["type"], ty.as_str());
        assert!(validator.is_valid(&body), "{ty}: {body}");
        let event: pbxsim::event::Event = serde_json::from_value(body).expect("typed");
        assert_eq!(event.event_type(), ty);
    }
}

#[test]
fn trigger_set_converts_types_and_unset_removes() {
    let out = pbxsim_output(&[
        "trigger",
        "user_inbound_completed",
        "--print",
        "--set",
        "call_duration=95",
        "--set",
        "queue_name=null",
        "--set",
        "user_number=1010",
        "--unset",
        "caller_name",
    ]);
    assert!(out.status.success());
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["call_duration"], 95);
    assert!(body["queue_name"].is_null());
    assert_eq!(body["user_number"], "1010");
    assert!(body.get("caller_name").is_none());
}

#[test]
fn trigger_rejects_unknown_fields_and_bad_values() {
    let out = pbxsim_output(&["trigger", "user_inbound", "--print", "--set", "queue_nme=Sales"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean `queue_name`?"), "{err}");
    let out = pbxsim_output(&["trigger", "queue_call", "--print", "--set", "call_duration=soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is an integer"));
    let out = pbxsim_output(&["trigger", "queue_cal", "--print"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `queue_call`?"));
    // The fix in the flag's words (the library's own names no flag).
    let out = pbxsim_output(&["trigger", "queue_call", "--print", "--set", "connected_at=null"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: connected_at=null means nobody answered, but status is answered; add --set \
         status=abandoned (or timedout)\nhelp: change the --set values so they fit one call, or \
         add --raw to send them as given\n"
    );
}

#[test]
fn trigger_sends_with_the_token() {
    let receiver = Receiver::ok();
    let out =
        pbxsim_output(&["trigger", "voicemail", "--target", &receiver.url, "--token", "tok-123"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("x-pbx-token"), Some("tok-123"));
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    assert_eq!(got[0].json()["type"], "voicemail");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("tok-123"));
}

#[test]
fn trigger_reports_failures() {
    let receiver = Receiver::start(|_, _| support::deliver::Reply::status(500));
    let out = pbxsim_output(&["trigger", "queue_call", "--target", &receiver.url]);
    assert_eq!(out.status.code(), Some(1));
    let url = format!("http://127.0.0.1:{}/", support::deliver::closed_port());
    let out = pbxsim_output(&["trigger", "queue_call", "--target", &url]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn call_every_outcome_conforms_at_the_built_in_receiver() {
    let cases: &[&[&str]] = &[
        &["inbound", "--outcome", "answered", "--record"],
        &["inbound", "--outcome", "abandoned"],
        &["inbound", "--outcome", "timedout"],
        &["inbound", "--outcome", "voicemail"],
        &["inbound", "--outcome", "no-answer"],
        &["inbound", "--via", "ring_group:Reception", "--outcome", "answered"],
        &["inbound", "--via", "ring-group:Management", "--outcome", "voicemail"],
        &["inbound", "--via", "user:1002", "--outcome", "answered", "--talk", "30s"],
        &["inbound", "--via", "user:1002", "--outcome", "voicemail"],
        &["outbound", "--outcome", "answered", "--record"],
        &["outbound", "--outcome", "no-answer"],
        &["inbound", "--scenario", "scenarios/quickstart.toml", "--via", "queue:Support"],
    ];
    for case in cases {
        let mut args = vec!["call"];
        args.extend_from_slice(case);
        args.push("--quiet");
        let out = pbxsim_output(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{case:?}\n{stdout}");
        assert!(stdout.contains("violations: 0"), "{case:?}\n{stdout}");
        assert!(stdout.contains("failed 0"), "{case:?}\n{stdout}");
    }
}

#[test]
fn call_outcomes_end_with_the_right_events() {
    let last_types = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["call"];
        all.extend_from_slice(args);
        all.push("--dry-run");
        let out = pbxsim_output(&all);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].to_string())
            .collect()
    };
    let t = last_types(&["inbound", "--outcome", "voicemail"]);
    assert_eq!(t.last().unwrap(), "\"voicemail\"");
    let t = last_types(&["inbound", "--outcome", "abandoned"]);
    assert_eq!(t.last().unwrap(), "\"queue_call\"");
    let t = last_types(&["outbound", "--outcome", "answered", "--record"]);
    assert_eq!(t.last().unwrap(), "\"recording_outbound\"");
    let out = pbxsim_output(&["call", "inbound", "--via", "queue:Suport", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `Support`?"));
}
