//! `pbxsim validate` and `pbxsim schema scenario`, run as the real binary: every shipped scenario
//! is valid, every file of the broken corpus fails with exit code 2 and its expected message
//! (snapshotted), and the shipped scenarios match the published JSON Schema.

use std::path::Path;
use std::process::Output;

use assert_cmd::cargo::cargo_bin_cmd;

use crate::support::repo;

/// The variables scenario files read; removed so results do not depend on the caller's shell.
const SCENARIO_VARS: [&str; 3] = ["PBX_TOKEN", "CRM_TOKEN", "PBXSIM_TEST_UNSET_TOKEN"];

/// The `.toml` files of a directory of the repository, as paths relative to its root, sorted.
fn toml_files(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo().join(dir))
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .map(|path| format!("{dir}/{}", path.file_name().expect("file name").to_string_lossy()))
        .collect();
    files.sort();
    files
}

/// Runs `pbxsim ARGS` from the repository root, without color and scenario variables.
fn pbxsim(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = cargo_bin_cmd!("pbxsim");
    cmd.current_dir(repo()).env("NO_COLOR", "1").args(args);
    for var in SCENARIO_VARS {
        cmd.env_remove(var);
    }
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().expect("run pbxsim")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// The message a broken file must produce, from its first line: `# expect: MESSAGE`.
fn expected_message(file: &str) -> String {
    let source = std::fs::read_to_string(repo().join(file)).expect("read broken file");
    let first = source.lines().next().unwrap_or_default();
    first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{file}: the first line must be `# expect: MESSAGE`"))
        .to_string()
}

#[test]
fn every_broken_file_fails_with_its_expected_message() {
    let files = toml_files("tests/broken");
    assert!(files.len() >= 15, "the corpus has only {} files", files.len());
    for file in &files {
        let out = pbxsim(&["validate", file], &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: exit code; stderr:\n{stderr}");
        assert!(out.stdout.is_empty(), "{file}: nothing on stdout");
        let expected = expected_message(file);
        assert!(stderr.contains(&expected), "{file}: expected `{expected}` in:\n{stderr}");
        assert!(stderr.contains(&format!("[{file}:")), "{file}: names file:line:col:\n{stderr}");
        assert!(stderr.contains("help:"), "{file}: gives a hint:\n{stderr}");
        let name = Path::new(file).file_stem().expect("stem").to_string_lossy().into_owned();
        insta::assert_snapshot!(name, stderr);
    }
}

#[test]
fn secrets_are_never_printed() {
    let out = pbxsim(&["validate", "tests/broken/secret-redacted.toml"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr.contains("s3cret-do-not-print"), "token shown:\n{stderr}");
    assert!(stderr.contains("token = \"*******"), "masked token shown:\n{stderr}");

    // An expanded token never appears either, even when the error is on its line.
    let out = pbxsim(
        &["validate", "tests/broken/undefined-env.toml"],
        &[("PBX_TOKEN", "expanded-secret-value")],
    );
    assert!(!text(&out.stderr).contains("expanded-secret-value"));
}

#[test]
fn every_shipped_scenario_is_valid() {
    let files = toml_files("scenarios");
    assert!(files.iter().any(|f| f == "scenarios/quickstart.toml"), "{files:?}");
    for file in &files {
        let out = pbxsim(&["validate", file], &[]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{file}:\n{stderr}");
        assert!(stdout.starts_with(&format!("ok: {file}: ")), "{file}: {stdout}");
    }
}

#[test]
fn validates_several_files_and_fails_if_any_does() {
    let out =
        pbxsim(&["validate", "scenarios/quickstart.toml", "tests/broken/unknown-key.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).starts_with("ok: scenarios/quickstart.toml: "));
    assert!(text(&out.stderr).contains("unknown key `extention`"));
}

#[test]
fn a_missing_file_is_a_usage_error() {
    let out = pbxsim(&["validate", "scenarios/no-such-file.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read scenario file `scenarios/no-such-file.toml`"));
}

fn scenario_schema() -> serde_json::Value {
    let out = pbxsim(&["schema", "scenario"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

/// A TOML file as the JSON value an editor would check against the schema.
fn toml_as_json(file: &str) -> serde_json::Value {
    let source = std::fs::read_to_string(repo().join(file)).expect("read scenario");
    let value: toml::Value = toml::from_str(&source).expect("valid TOML");
    serde_json::to_value(value).expect("TOML converts to JSON")
}

#[test]
fn shipped_scenarios_match_the_json_schema() {
    let schema = scenario_schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    for file in toml_files("scenarios") {
        let instance = toml_as_json(&file);
        let errors: Vec<String> = validator.iter_errors(&instance).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{file}: {errors:#?}");
    }
}

#[test]
fn the_json_schema_rejects_mistakes() {
    let schema = scenario_schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    for file in [
        "tests/broken/unknown-key.toml",
        "tests/broken/unknown-top-level-key.toml",
        "tests/broken/extension-as-integer.toml",
        "tests/broken/bad-strategy.toml",
        "tests/broken/negative-duration.toml",
        "tests/broken/unknown-key-in-step.toml",
        "tests/broken/traffic-unknown-dist.toml",
        "tests/broken/traffic-unknown-key.toml",
        "tests/broken/expect-unknown-key.toml",
    ] {
        assert!(!validator.is_valid(&toml_as_json(file)), "{file} passed the schema");
    }
}
