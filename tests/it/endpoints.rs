//! Every event authenticated, one URL per event type, and what a run says when the receiver
//! refuses its token or is not there: the real binary against a receiver on 127.0.0.1 that
//! accepts exactly one token.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;

use crate::support::deliver::{Received, Receiver, Reply, closed_port};
use crate::support::{scenario_files, tempdir, text};

/// The one token the receiver accepts.
const TOKEN: &str = "one-token-7f3a91";
/// Values the scenario files' `${PBX_TOKEN}` / `${CRM_TOKEN}` read: never the receiver's.
const FILE_TOKEN: &str = "file-token-not-accepted";

fn one_token_receiver() -> Receiver {
    Receiver::start_with_headers(|_, headers, _| {
        match headers.get("x-pbx-token").is_some_and(|t| t == TOKEN) {
            true => Reply::ok(),
            false => Reply::status(401),
        }
    })
}

/// `pbxsim ARGS` with the scenario files' variables pointing at a token the receiver refuses.
fn pbxsim(args: &[&str]) -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("pbxsim");
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env("PBX_TOKEN", FILE_TOKEN)
        .env("CRM_TOKEN", FILE_TOKEN)
        .env_remove("PBXSIM_TOKEN")
        .timeout(std::time::Duration::from_secs(120));
    cmd
}

/// The scenarios shipped in scenarios/ that have scripted calls (every one of them today).
fn shipped_scenarios_with_calls() -> Vec<PathBuf> {
    scenario_files()
        .into_iter()
        .map(PathBuf::from)
        .filter(|p| {
            let table: toml::Table = toml::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            table.get("calls").and_then(|c| c.as_array()).is_some_and(|c| !c.is_empty())
        })
        .collect()
}

/// How many events a scenario sends (its dry run's lines).
fn events_of(file: &Path) -> usize {
    let out = pbxsim(&["run", file.to_str().unwrap(), "--dry-run"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    out.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count()
}

fn statuses(received: &[Received]) -> BTreeMap<u16, usize> {
    let mut out = BTreeMap::new();
    for r in received {
        *out.entry(r.status).or_default() += 1;
    }
    out
}

#[test]
fn every_shipped_scenario_gets_only_2xx_from_a_one_token_receiver() {
    let files = shipped_scenarios_with_calls();
    assert!(files.len() >= 15, "{files:?}");
    let mut objects = 0;
    for file in &files {
        let rx = one_token_receiver();
        let url = format!("{}/hook", rx.url);
        let name = file.to_str().unwrap();
        let out =
            pbxsim(&["run", name, "--asap", "--target", &url, "--token", TOKEN]).output().unwrap();
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name}:\n{stdout}\n{}", text(&out.stderr));
        let received = rx.received();
        assert_eq!(statuses(&received), BTreeMap::from([(200, events_of(file))]), "{name}");
        for r in &received {
            assert_eq!(r.header("x-pbx-token"), Some(TOKEN), "{name}: {}", text(&r.body));
            objects += usize::from(r.json()["type"] == "webhook_component_event");
        }
        assert!(!stdout.contains(TOKEN) && !stdout.contains("refused"), "{name}: {stdout}");
    }
    assert!(objects > 0, "webhook objects' events were among them");
}

#[test]
fn the_token_from_pbxsim_token_reaches_webhook_objects_too() {
    let rx = one_token_receiver();
    let url = format!("{}/hook", rx.url);
    let out = pbxsim(&["run", "scenarios/webhook-object.toml", "--asap", "--target", &url])
        .env("PBXSIM_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let received = rx.received();
    assert!(received.iter().any(|r| r.json()["type"] == "webhook_component_event"));
    assert!(received.iter().all(|r| r.status == 200), "{:?}", statuses(&received));
}

#[test]
fn load_with_the_built_in_pbx_gets_only_2xx() {
    let rx = one_token_receiver();
    let url = format!("{}/hook", rx.url);
    let dir = tempdir("ep-load");
    let report = dir.join("load.json");
    let out = pbxsim(&["load", "--target", &url, "--token", TOKEN, "--max-calls", "200", "--asap"])
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    let received = rx.received();
    assert!(received.len() > 200, "{}", received.len());
    assert!(received.iter().all(|r| r.status == 200), "{:?}", statuses(&received));
    let objects: Vec<&Received> =
        received.iter().filter(|r| r.json()["type"] == "webhook_component_event").collect();
    assert!(!objects.is_empty(), "the built-in PBX's webhook object fired");
    for r in objects {
        assert_eq!(r.header("x-pbx-token"), Some(TOKEN));
        assert_eq!(r.header("x-crm-source"), Some("pbxsim"), "its documented extra header");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["events"]["failed"], 0);
    assert!(json.get("refused").is_none(), "{json}");
}

/// The quickstart with `[webhook] routes` added.
fn routed_quickstart(dir: &Path, routes: &str) -> PathBuf {
    let text = std::fs::read_to_string("scenarios/quickstart.toml").unwrap();
    let text = text.replacen("[webhook]\n", &format!("[webhook]\nroutes = {{ {routes} }}\n"), 1);
    let path = dir.join("routed.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn routes_send_each_type_to_its_url_with_the_global_token() {
    let rx = one_token_receiver();
    let base = rx.url.clone();
    let dir = tempdir("ep-routes");
    let file = routed_quickstart(
        &dir,
        &format!("queue_call = \"{base}/queue\", voicemail = \"{base}/file-voicemail\""),
    );
    let file = file.to_str().unwrap();
    let routes = [
        format!("voicemail={base}/voicemail"),
        format!("user_inbound_completed={base}/completed"),
        format!("webhook_component_event={base}/component"),
    ];
    let mut args = vec!["run", file, "--asap", "--target"];
    let hook = format!("{base}/hook");
    args.push(&hook);
    args.extend(["--token", TOKEN]);
    for r in &routes {
        args.extend(["--route", r.as_str()]);
    }
    let out = pbxsim(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let expected_path = |kind: &str| match kind {
        "queue_call" => "/queue",
        "voicemail" => "/voicemail",
        "user_inbound_completed" => "/completed",
        "webhook_component_event" => "/component",
        _ => "/hook",
    };
    let received = rx.received();
    let mut kinds = std::collections::BTreeSet::new();
    for r in &received {
        let kind = r.json()["type"].as_str().unwrap().to_string();
        assert_eq!(r.path, expected_path(&kind), "{kind}");
        assert_eq!(r.header("x-pbx-token"), Some(TOKEN), "{kind}");
        assert_eq!(r.status, 200);
        kinds.insert(kind);
    }
    for kind in ["queue_call", "voicemail", "user_inbound_completed", "webhook_component_event"] {
        assert!(kinds.contains(kind), "{kind} was sent: {kinds:?}");
    }
    assert!(kinds.contains("user_inbound"), "unrouted types still go to the global URL");

    // The dry-run envelope shows the same routed targets.
    let mut dry = args.clone();
    dry.retain(|a| *a != "--asap");
    dry.extend(["--dry-run", "--envelope"]);
    let out = pbxsim(&dry).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = text(&out.stdout);
    assert_eq!(lines.lines().count(), received.len());
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let kind = v["body"]["type"].as_str().unwrap();
        assert_eq!(v["target"], format!("{base}{}", expected_path(kind)), "{kind}");
        assert_eq!(v["headers"]["x-pbx-token"], "***");
    }
}

#[test]
fn bad_routes_are_clear_errors_and_nothing_is_sent() {
    let rx = one_token_receiver();
    let hook = format!("{}/hook", rx.url);
    let cases: [(&[&str], &str); 6] = [
        (&["--route", "queue_cal=http://127.0.0.1:1/q"], "did you mean `queue_call`?"),
        (&["--route", "queue_call=ftp://127.0.0.1/q"], "the scheme must be http or https"),
        (&["--route", "queue_call"], "write it as TYPE=URL"),
        (&["--route", "queue_call=not a url"], "bad URL `not a url` for queue_call"),
        (&["--route", "queue_call=http://127.0.0.1:1/q?token=s3cr3t&x=http"], ""),
        (&["--route", "user_inbound=http://127.0.0.1:1/in"], "never sends `user_inbound`"),
    ];
    for (route, message) in cases {
        let mut args = vec!["run", "scenarios/global-filter.toml", "--asap", "--target", &hook];
        args.extend(route);
        if message.is_empty() {
            // A valid route: a dry run shows it, its secret masked (--asap does not apply).
            args.retain(|a| *a != "--asap");
            args.extend(["--dry-run", "--envelope"]);
            let out = pbxsim(&args).output().unwrap();
            let stdout = text(&out.stdout);
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert!(stdout.contains("\"target\":\"http://127.0.0.1:1/q?token=***&x=http\""));
            assert!(!stdout.contains("s3cr3t"), "{stdout}");
            continue;
        }
        let out = pbxsim(&args).output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{route:?}: {stderr}");
        assert!(stderr.contains(message), "{route:?}: expected `{message}` in {stderr}");
    }
    let out = pbxsim(&["load", "--route", "queue_cal=http://127.0.0.1:1/q"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("did you mean `queue_call`?"), "{}", text(&out.stderr));
    let out =
        pbxsim(&["call", "inbound", "--route", "voicemai=http://127.0.0.1:1/v"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("did you mean `voicemail`?"), "{}", text(&out.stderr));
    assert_eq!(rx.count(), 0, "nothing was sent");
}

#[test]
fn a_refused_run_names_the_endpoint_and_token_source_but_never_the_token() {
    let rx = one_token_receiver();
    let hook = format!("{}/hook", rx.url);
    let wrong = "wrong-token-5d2c";
    let quickstart = ["run", "scenarios/quickstart.toml", "--asap", "--target", hook.as_str()];

    // --token, PBXSIM_TOKEN, the file's token, none: each named, with its fix in the flags'
    // words (the library's own name no flag).
    let flag = pbxsim(&quickstart).args(["--token", wrong]).output().unwrap();
    let env = pbxsim(&quickstart).env("PBXSIM_TOKEN", wrong).output().unwrap();
    let file = pbxsim(&quickstart).output().unwrap();
    let none = pbxsim(&quickstart).args(["--token", ""]).output().unwrap();
    for (out, source, fix) in [
        (
            &flag,
            "sent with the token from --token",
            "Check that --token is the token the receiver expects.",
        ),
        (
            &env,
            "sent with the token from PBXSIM_TOKEN",
            "Check the value of PBXSIM_TOKEN, or pass --token TOKEN.",
        ),
        (
            &file,
            "sent with the token from the scenario's [webhook] token",
            "Pass --token TOKEN (or set PBXSIM_TOKEN) to send the receiver's token.",
        ),
        (
            &none,
            "sent with no token",
            "Pass --token TOKEN, set PBXSIM_TOKEN, or set `token` in the scenario's [webhook] \
             table.",
        ),
    ] {
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        let refused: Vec<&str> = stdout.lines().filter(|l| l.starts_with("refused")).collect();
        assert_eq!(refused.len(), 1, "one endpoint URL, one line: {stdout}");
        let line = refused[0];
        assert!(line.contains("(401) by ") && line.contains(&hook), "{line}");
        assert!(line.contains("global events, webhook object `CRM lookup`"), "{line}");
        assert!(line.contains(&format!("{source}. {fix}")) && line.ends_with(fix), "{line}");
        for secret in [wrong, FILE_TOKEN] {
            assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} shown");
        }
    }

    // A webhook object with its own token, and one with none, are named as such.
    let dir = tempdir("ep-refused");
    let scenario = dir.join("objects.toml");
    let source = std::fs::read_to_string("scenarios/quickstart.toml").unwrap().replacen(
        "name = \"CRM lookup\"\n",
        &format!("name = \"CRM lookup\"\ntoken = \"{FILE_TOKEN}\"\n"),
        1,
    );
    std::fs::write(&scenario, &source).unwrap();
    let out = pbxsim(&["run", scenario.to_str().unwrap(), "--asap", "--target", &hook])
        .args(["--token", TOKEN])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "(webhook object `CRM lookup`): sent with webhook object `CRM lookup`'s own token. \
             Remove `token` from webhook object `CRM lookup`"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("global events"), "the global events were accepted: {stdout}");
    std::fs::write(&scenario, source.replacen(&format!("\"{FILE_TOKEN}\""), "\"\"", 1)).unwrap();
    let out = pbxsim(&["run", scenario.to_str().unwrap(), "--asap", "--target", &hook])
        .args(["--token", TOKEN])
        .output()
        .unwrap();
    assert!(text(&out.stdout).contains("sent with no token (webhook object `CRM lookup` sets"));

    // The load report says the same, in its text and its JSON.
    let report = dir.join("load.json");
    let out = pbxsim(&["load", "--target", &hook, "--max-calls", "20", "--asap", "--report"])
        .arg(&report)
        .env("PBXSIM_TOKEN", wrong)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("refused    ") && stdout.contains("PBXSIM_TOKEN"), "{stdout}");
    let json = std::fs::read_to_string(&report).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let refused = v["refused"].as_str().unwrap();
    assert!(refused.contains("sent with the token from PBXSIM_TOKEN"), "{refused}");
    assert!(!json.contains(wrong) && !stdout.contains(wrong));
}

#[test]
fn could_not_connect_is_said_once_with_the_url_masked() {
    let url = format!("http://127.0.0.1:{}/hook?token=q-s3cret&tenant=acme", closed_port());
    let masked = url.replace("q-s3cret", "***");
    let runs: [&[&str]; 3] = [
        &["run", "scenarios/quickstart.toml", "--asap", "--target", &url],
        &["load", "--max-calls", "5", "--asap", "--target", &url],
        &["call", "inbound", "--target", &url],
    ];
    for args in runs {
        let out = pbxsim(args).output().unwrap();
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(3), "{args:?}: {all}");
        assert_eq!(all.matches("could not connect").count(), 1, "{args:?}: {all}");
        assert!(all.contains(&format!("error: could not connect to {masked} (")), "{all}");
        assert!(!all.contains("q-s3cret"), "{args:?}: {all}");
    }
}

#[test]
fn a_journal_with_a_masked_target_is_replayed_with_target() {
    let down = Receiver::start(|_, _| Reply::status(503));
    let secret_url = format!("{}/hook?token=q-s3cret", down.url);
    let dir = tempdir("ep-journal");
    let journal = dir.join("failed.ndjson");
    let out = pbxsim(&["run", "scenarios/user-direct.toml", "--asap", "--target", &secret_url])
        .arg("--failed")
        .arg(&journal)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert!(!lines.is_empty() && !lines.contains("q-s3cret"), "{lines}");
    assert!(lines.contains(&format!("\"target\":\"{}/hook?token=***\"", down.url)), "{lines}");
    let real = down.received();
    assert!(real.iter().all(|r| r.path == "/hook?token=q-s3cret"), "the real URL was sent");

    // The masked target cannot be sent: replay says so and asks for --target.
    let out = pbxsim(&["replay", journal.to_str().unwrap()]).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("masked") && stderr.contains("pass --target"), "{stderr}");
    let up = Receiver::ok();
    let target = format!("{}/hook?token=q-s3cret", up.url);
    let out = pbxsim(&["replay", journal.to_str().unwrap(), "--target", &target]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(up.count() as usize, lines.lines().count());
    assert!(up.received().iter().all(|r| r.path == "/hook?token=q-s3cret"));
}
