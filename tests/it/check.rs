//! `pbxsim check` over hand-made captures: the good one passes, each broken one fails with its
//! rule named (and only that rule).

use std::path::Path;

use pbxsim::check::Rule;

fn check(file: &str, extra: &[&str]) -> (i32, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/captures");
    let out = assert_cmd::cargo::cargo_bin_cmd!("pbxsim")
        .current_dir(dir)
        .arg("check")
        .arg(file)
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn good_capture_passes() {
    let (code, out) = check("good.ndjson", &[]);
    assert_eq!(code, 0, "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn each_broken_capture_names_its_rule() {
    for rule in Rule::ALL {
        let file = format!("{}.ndjson", rule.as_str());
        let (code, out) = check(&file, &[]);
        assert_eq!(code, 1, "{file}: {out}");
        assert!(out.contains(&format!("[{rule}]")), "{file}: {out}");
        for other in Rule::ALL.iter().filter(|r| **r != rule) {
            assert!(!out.contains(&format!("[{other}]")), "{file} also breaks {other}: {out}");
        }
        insta::assert_snapshot!(rule.as_str(), out);
    }
}

#[test]
fn types_not_ticked_relax_the_order_rules() {
    // Without user_inbound ticked, the answer needs no earlier ring.
    let types = "user_inbound_answered,user_inbound_completed,queue_call";
    let (code, out) = check("order.ndjson", &["--types", types]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn an_unreadable_file_exits_2() {
    let (code, out) = {
        let out = assert_cmd::cargo::cargo_bin_cmd!("pbxsim")
            .args(["check", "no/such/capture.ndjson"])
            .output()
            .unwrap();
        (out.status.code().unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert_eq!(code, 2);
    assert!(out.contains("cannot read no/such/capture.ndjson"), "{out}");
}

#[test]
fn reads_standard_input() {
    let capture = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/captures/voicemail-after-answer.ndjson"),
    )
    .unwrap();
    let out = assert_cmd::cargo::cargo_bin_cmd!("pbxsim")
        .args(["check", "-"])
        .write_stdin(capture)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("-:4: [voicemail-after-answer] call 2601"), "{text}");
}
