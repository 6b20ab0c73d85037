//! No false greens: a scenario with nothing to play, an empty capture and a file that is not a
//! capture at all fail, through the real binary, with one clear message each.

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::cargo::cargo_bin_cmd;

use crate::support::text;

fn pbxsim(args: &[&str], stdin: &str) -> Output {
    cargo_bin_cmd!("pbxsim")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("PBX_TOKEN")
        .env_remove("PBXSIM_TOKEN")
        .args(args)
        .write_stdin(stdin)
        .output()
        .expect("run pbxsim")
}

fn file(name: &str, source: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, source).expect("write");
    path.to_str().expect("UTF-8 path").to_string()
}

const USERS_ONLY: &str = "[[users]]\nname = \"Alice Nguyen\"\nextension = \"1010\"\n";

#[test]
fn run_refuses_a_scenario_with_nothing_to_play() {
    let empty = file("false-greens-empty.toml", "");
    let users = file("false-greens-users.toml", USERS_ONLY);
    let numbers = file(
        "false-greens-numbers.toml",
        &format!("{USERS_ONLY}[[numbers]]\nnumber = \"61290000001\"\nflow = [\"user:1010\"]\n"),
    );
    for (path, hint) in [
        (&empty, "add [[numbers]] with a call flow and [[calls]] to them"),
        (&users, "add [[numbers]] with a call flow and [[calls]] to them"),
        (&numbers, "to = \"61290000001\""),
    ] {
        for dry in [false, true] {
            // --asap does not apply to a dry run.
            let args = match dry {
                false => vec!["run", path.as_str(), "--asap"],
                true => vec!["run", path.as_str(), "--dry-run"],
            };
            let out = pbxsim(&args, "");
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains(&format!("error: {path} has nothing to play: no [[calls]]")),
                "{stderr}"
            );
            assert!(stderr.contains("help: ") && stderr.contains(hint), "{stderr}");
            assert!(out.stdout.is_empty(), "nothing played: {}", text(&out.stdout));
        }
    }
}

#[test]
fn validate_notes_nothing_to_play_but_passes() {
    let empty = file("false-greens-validate-empty.toml", "");
    let out = pbxsim(&["validate", &empty, "scenarios/quickstart.toml"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("ok: {empty}: 0 calls")));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("note: {empty}: nothing to play")), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "the quickstart gets no note: {stderr}");
}

#[test]
fn check_of_an_empty_capture_fails() {
    let empty = file("false-greens-empty.ndjson", "");
    for (args, stdin, shown) in [
        (vec!["check", empty.as_str()], "", empty.as_str()),
        (vec!["check", "-"], "\n  \n\n", "standard input"),
    ] {
        let out = pbxsim(&args, stdin);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("error: no events in {shown}: nothing was checked")));
        assert!(text(&out.stdout).contains("events:     0"));
    }
    // Only envelopes the receiver refused: nothing was checked either.
    let refused = file(
        "false-greens-refused.ndjson",
        "{\"received_at\":\"x\",\"headers\":{},\"response_status\":503,\"body\":{}}\n",
    );
    let out = pbxsim(&["check", &refused], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("(the 1 envelopes in it were answered with a failure code)")
    );
}

#[test]
fn check_of_a_file_that_is_not_ndjson_is_one_usage_error() {
    let out = pbxsim(&["check", "scenarios/quickstart.toml"], "");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "no line-by-line report: {}", text(&out.stdout));
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "error: scenarios/quickstart.toml: line 1 is not JSON (expected value at column 1), \
             so this is not an NDJSON capture\n"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("run `pbxsim validate scenarios/quickstart.toml`"), "{stderr}");

    // A pretty-printed JSON document is not NDJSON either.
    let pretty = file("false-greens-pretty.json", "{\n  \"type\": \"voicemail\"\n}\n");
    let out = pbxsim(&["check", &pretty], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("pbxsim validate"), "not a .toml file");
}
