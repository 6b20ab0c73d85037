//! The HTML report (`--html`) and `pbxsim report show`, through the real binary against real
//! receivers on 127.0.0.1:0.
//!
//! The HTML page is opened in headless Chromium: every chart's SVG exists and has drawn marks,
//! the page makes no network request (counted over the DevTools protocol), and neither the
//! page nor the JSON report holds the run's token, the target's secret query value or a secret
//! header's value. `report show` prints what the live run printed, writes the same HTML and
//! JUnit, and refuses a bad file with its path (and line and column), exit 2.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headless_chrome::Tab;
use headless_chrome::protocol::cdp::Network;
use headless_chrome::protocol::cdp::types::Event;
use serde_json::Value;

use crate::support::browser::{chromium_or_skip, launch};
use crate::support::deliver::Receiver;
use crate::support::{pbxsim_output, tempdir, text};

const TOKEN: &str = "tok-H7ml-REPORT-5531";
const QUERY_SECRET: &str = "qsec-URL-8841";
const HEADER_SECRET: &str = "hsec-KEY-2207";

const CHARTS: [&str; 8] = [
    "chart-throughput",
    "chart-latency",
    "chart-raw-latency",
    "chart-histogram",
    "chart-answers",
    "chart-outcomes",
    "chart-kpi-service-level",
    "chart-kpi-outcomes",
];

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Evaluate the expression `js` in the page and return its value as JSON.
fn eval(tab: &Tab, js: &str) -> Value {
    let wrapped = format!("JSON.stringify(({js}))");
    let result = tab.evaluate(&wrapped, false).unwrap_or_else(|e| panic!("{js}: {e}"));
    match result.value {
        Some(Value::String(json)) => serde_json::from_str(&json).unwrap(),
        _ => Value::Null,
    }
}

#[test]
fn the_html_report_draws_every_chart_loads_nothing_and_holds_no_secret() {
    let rx = Receiver::ok();
    let dir = tempdir("report-html");
    let (html, json) = (dir.join("load.html"), dir.join("load.json"));
    let target = format!("{}/hook?token={QUERY_SECRET}&tenant=acme", rx.url);
    let out = pbxsim_output(&[
        "load",
        "--target",
        &target,
        "--token",
        TOKEN,
        "-H",
        &format!("X-Api-Key: {HEADER_SECRET}"),
        "--max-calls",
        "150",
        "--rate",
        "100/s",
        "--seed",
        "5",
        "--threshold",
        "p99<10s",
        "--threshold",
        "error_rate<1%",
        "--html",
        html.to_str().unwrap(),
        "--report",
        json.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(rx.received().iter().all(|r| r.header("x-pbx-token") == Some(TOKEN)), "sent it");

    let page = read(&html);
    let report = read(&json);
    // The series adds up to the run's own counts.
    let r: Value = serde_json::from_str(&report).unwrap();
    let rows = r["series"]["rows"].as_array().unwrap();
    let sum = |k: &str| rows.iter().map(|row| row[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("delivered"), r["events"]["delivered"].as_u64().unwrap(), "{}", r["series"]);
    assert_eq!(sum("sent"), r["events"]["requests"].as_u64().unwrap());
    assert!(rows.iter().any(|row| row["latency"].is_object() && row["raw"].is_object()));
    for (what, file) in [("the HTML report", &page), ("the JSON report", &report)] {
        for secret in [TOKEN, QUERY_SECRET, HEADER_SECRET] {
            assert!(!file.contains(secret), "{what} holds the secret {secret}");
        }
    }
    // The settings show where the events went, masked, and which header was added.
    assert!(page.contains("hook?token=***&amp;tenant=acme"), "the target, masked");
    assert!(page.contains("X-Api-Key"), "the header's name");
    assert!(page.contains("from --token (not shown)"));
    // Nothing in the file can make the browser fetch anything.
    assert!(page.contains("default-src 'none'"), "a Content-Security-Policy that blocks loads");
    for needle in ["<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import"] {
        assert!(!page.contains(needle), "the page holds {needle}");
    }

    // `run --html` too: the same settings, the same masking.
    let run_html = dir.join("run.html");
    let out = pbxsim_output(&[
        "run",
        "scenarios/queue-outcomes.toml",
        "--target",
        &target,
        "--token",
        TOKEN,
        "-H",
        &format!("X-Api-Key: {HEADER_SECRET}"),
        "--asap",
        "-q",
        "--html",
        run_html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let run_page = read(&run_html);
    for secret in [TOKEN, QUERY_SECRET, HEADER_SECRET] {
        assert!(!run_page.contains(secret), "run's HTML report holds the secret {secret}");
    }
    assert!(run_page.contains("pbxsim run report: queue outcomes"));
    assert!(CHARTS.iter().all(|id| run_page.contains(&format!("id=\"{id}\""))));

    let Some(chromium) = chromium_or_skip("the HTML report's browser test") else { return };
    let browser = launch(chromium, "report");
    let tab = browser.new_tab().unwrap();
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = requests.clone();
    tab.add_event_listener(Arc::new(move |event: &Event| {
        if let Event::NetworkRequestWillBeSent(e) = event {
            seen.lock().unwrap().push(e.params.request.url.clone());
        }
    }))
    .unwrap();
    tab.call_method(Network::Enable {
        max_total_buffer_size: None,
        max_resource_buffer_size: None,
        max_post_data_size: None,
        report_direct_socket_traffic: None,
        enable_durable_messages: None,
    })
    .unwrap();
    let url = format!("file://{}", html.display());
    tab.navigate_to(&url).unwrap().wait_until_navigated().unwrap();
    assert_eq!(eval(&tab, "document.title"), "pbxsim load report: built-in mid-size PBX");
    for id in CHARTS {
        let js = format!(
            "(() => {{ const s = document.getElementById('{id}'); if (!s || s.tagName !== 'svg') \
             return null; const r = s.getBoundingClientRect(); return {{ marks: \
             s.querySelectorAll('polyline, rect.bar').length, width: r.width, height: r.height, \
             empty: s.textContent.includes('no data') }}; }})()"
        );
        let chart = eval(&tab, &js);
        assert!(chart.is_object(), "{id} is an SVG in the page");
        assert!(chart["marks"].as_u64().unwrap() > 0, "{id} draws something: {chart}");
        assert!(chart["width"].as_f64().unwrap() > 100.0, "{id} is laid out: {chart}");
        assert!(chart["height"].as_f64().unwrap() > 20.0, "{id} is laid out: {chart}");
        assert_eq!(chart["empty"], false, "{id} has data");
    }
    // The throughput lines have a point per second of the run.
    let points =
        eval(&tab, "document.querySelector('#chart-throughput polyline').points.numberOfItems");
    assert!(points.as_u64().unwrap() >= 2, "{points}");
    let verdicts = eval(&tab, "document.querySelectorAll('#threshold-table .badge.pass').length");
    assert_eq!(verdicts, 2);
    let rows = eval(&tab, "document.querySelectorAll('#kpi-table tr').length");
    assert_eq!(rows, 1 + 4 + 2, "a header, 4 queues and 2 ring groups");
    // Give a late request the chance to show, then: the document itself, nothing else.
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let requests = requests.lock().unwrap().clone();
    assert!(requests.iter().all(|r| *r == url), "the page made requests: {requests:?}");
}

#[test]
fn report_show_prints_what_the_live_load_printed_and_writes_the_same_html_and_junit() {
    let rx = Receiver::ok();
    let dir = tempdir("report-show");
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let live = pbxsim_output(&[
        "load",
        "--target",
        &format!("{}/hook", rx.url),
        "--max-calls",
        "60",
        "--rate",
        "60/s",
        "--seed",
        "9",
        "--threshold",
        "p99<10s",
        "--threshold",
        "p50<1us",
        "--report",
        &p("load.json"),
        "--html",
        &p("live.html"),
        "--junit",
        &p("live.xml"),
        "-q",
    ]);
    assert_eq!(live.status.code(), Some(1), "p50<1us fails: {}", text(&live.stderr));
    let shown = pbxsim_output(&[
        "report",
        "show",
        &p("load.json"),
        "--html",
        &p("show.html"),
        "--junit",
        &p("show.xml"),
    ]);
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown.stderr));
    let (live_text, shown_text) = (text(&live.stdout), text(&shown.stdout));
    assert!(
        shown_text.starts_with("load       built-in mid-size PBX (open model), seed 9"),
        "{shown_text}"
    );
    assert!(shown_text.contains("kpis       service level"), "{shown_text}");
    assert_eq!(shown_text, live_text, "report show prints the live run's text");
    assert_eq!(read(&dir.join("show.html")), read(&dir.join("live.html")));
    assert_eq!(read(&dir.join("show.xml")), read(&dir.join("live.xml")));
    assert!(read(&dir.join("show.xml")).contains("failures=\"1\""));
}

#[test]
fn report_show_prints_what_the_live_run_printed_with_the_built_in_receiver() {
    let dir = tempdir("report-show-run");
    let json = dir.join("run.json");
    let live = pbxsim_output(&[
        "run",
        "scenarios/queue-outcomes.toml",
        "--asap",
        "--quiet",
        "--start-time",
        "2026-03-02T09:00:00Z",
        "--threshold",
        "p99<10s",
        "--report",
        json.to_str().unwrap(),
    ]);
    assert_eq!(live.status.code(), Some(0), "{}", text(&live.stderr));
    let shown = pbxsim_output(&["report", "show", json.to_str().unwrap()]);
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown.stderr));
    let (live_text, shown_text) = (text(&live.stdout), text(&shown.stdout));
    // The live run printed its header (with the receiver's port) first; the rest is the same.
    assert!(shown_text.starts_with("events     generated"), "{shown_text}");
    for part in ["kpis       service level", "thresholds 1 passed, 0 failed", "built-in receiver"] {
        assert!(shown_text.contains(part), "{part}: {shown_text}");
    }
    assert!(live_text.ends_with(&shown_text), "live:\n{live_text}\nshown:\n{shown_text}");
    assert!(live_text.len() > shown_text.len());
}

#[test]
fn report_show_refuses_a_bad_file_with_its_path_and_position() {
    let dir = tempdir("report-bad");
    let file = |name: &str, body: &str| {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        path.to_str().unwrap().to_string()
    };
    let cases = [
        (dir.join("missing.json").to_str().unwrap().to_string(), "cannot read".to_string()),
        (file("syntax.json", "{\"version\": 1,\n  \"model\": }\n"), "syntax.json:2:12:".into()),
        (
            file("short.json", "{\"version\": 1,\n"),
            "short.json:2:1: the JSON ends too early".into(),
        ),
        (file("array.json", "[1, 2]"), "an array, not an object".into()),
        (file("other.json", "{\"name\": \"x\"}"), "not a pbxsim report".into()),
        (
            file("partial.json", "{\"version\": 1, \"model\": \"open\"}"),
            "not a pbxsim load report: missing field".into(),
        ),
        (
            file("future.json", "{\"version\": 99, \"command\": \"run\"}"),
            "newer than this pbxsim reads".into(),
        ),
    ];
    for (path, want) in cases {
        let out = pbxsim_output(&["report", "show", &path]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{path}: {stderr}");
        assert!(
            stderr.contains(&path) || stderr.contains(path.rsplit('/').next().unwrap()),
            "{stderr}"
        );
        assert!(stderr.contains(&want), "{path}: want {want:?} in {stderr}");
        assert!(text(&out.stdout).is_empty(), "nothing on stdout");
    }
}

#[test]
fn the_html_notes_name_the_flags() {
    let dir = tempdir("report-html-words");
    let (json, html) = (dir.join("run.json"), dir.join("run.html"));
    let args = ["run", "scenarios/quickstart.toml", "--asap", "-q", "--report"];
    let live = pbxsim_output(&[&args[..], &[json.to_str().unwrap()]].concat());
    assert_eq!(live.status.code(), Some(0), "{}", text(&live.stderr));
    let shown = pbxsim_output(&[
        "report",
        "show",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown.stderr));
    let page = read(&html);
    assert!(
        page.contains(
            "Not measured: the run was not paced (--asap), so there is no intended send time."
        ),
        "{page}"
    );
    assert!(
        page.contains(
            "<p class=note>No thresholds were set (--threshold, or [expect] in the file).</p>"
        ),
        "{page}"
    );
}
