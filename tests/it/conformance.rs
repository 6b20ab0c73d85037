//! The conformance checker over every scenario's events: the engine must break no rule, with
//! every null style, and with only the ticked types delivered.

use std::path::Path;
use std::sync::Arc;

use pbxsim::check::{Checker, CheckerConfig};
use pbxsim::engine::{Engine, Options};
use pbxsim::event::NullStyle;

use crate::support::scenario_files;

#[test]
fn every_event_of_every_scenario_validates_against_the_event_schema() {
    let schema = pbxsim::event::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let mut checked = 0;
    for path in scenario_files().iter().map(Path::new) {
        let scenario = Arc::new(pbxsim::scenario::load(path).expect("scenario loads"));
        let start = "2026-03-02T09:00:00Z".parse().unwrap();
        for e in Engine::new(Arc::clone(&scenario), Options::new(scenario.seed, start)) {
            for nulls in [NullStyle::Null, NullStyle::Omit] {
                let value = e.event.to_value(nulls);
                let errors: Vec<String> =
                    validator.iter_errors(&value).map(|err| err.to_string()).collect();
                assert!(errors.is_empty(), "{}: {value}: {errors:?}", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} payloads checked");
    // And the schema can fail: a string duration is not a payload.
    let mut bad = serde_json::json!({"type": "voicemail"});
    bad["unique_call_id"] = serde_json::json!(5);
    assert!(!validator.is_valid(&bad));
}

#[test]
fn every_scenario_conforms() {
    for path in scenario_files().iter().map(Path::new) {
        let scenario = Arc::new(
            pbxsim::scenario::load(path).unwrap_or_else(|d| panic!("{}", d.render(false))),
        );
        let ticked = scenario.webhook.events;
        for nulls in [NullStyle::Null, NullStyle::Empty, NullStyle::Omit] {
            let mut checker = Checker::new(CheckerConfig { ticked, ..CheckerConfig::default() });
            let start = "2026-03-02T09:00:00Z".parse().unwrap();
            let mut violations = Vec::new();
            let mut events = 0;
            for e in Engine::new(Arc::clone(&scenario), Options::new(scenario.seed, start)) {
                if !e.is_sent(ticked) {
                    continue;
                }
                events += 1;
                violations.extend(checker.observe(&e.event.to_value(nulls)));
            }
            violations.extend(checker.finish());
            assert!(events > 0, "{}: no events", path.display());
            assert!(
                violations.is_empty(),
                "{} ({nulls:?}): {}",
                path.display(),
                violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n")
            );
        }
    }
}
