//! The inspector's page and API over real HTTP on 127.0.0.1 port 0: the key, origin and host
//! checks, what is counted, replay, and the live stream's end.

use serde_json::{Value, json};

use crate::receiver::{Output, ReceiverConfig, RunningReceiver, start};

use super::{InspectorConfig, KEY_HEADER};

const TOKEN: &str = "s3cret-api-9";

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn with_ui(inspector: Option<InspectorConfig>) -> RunningReceiver {
    let cfg = ReceiverConfig {
        token: Some(TOKEN.into()),
        output: Output::sink(),
        inspector,
        ..ReceiverConfig::default()
    };
    start("127.0.0.1:0".parse().unwrap(), cfg).await.unwrap()
}

fn event(ty: &str, call: &str) -> Value {
    json!({
        "type": ty, "unique_call_id": call, "caller_id": "61400000001", "caller_name": null,
        "user_name": "Alice", "user_number": "1010", "dest_number": "61300000000",
        "call_start_at": "2019-10-01T15:31:15.000Z", "queue_name": null, "ring_group_name": null,
    })
}

/// The page, and the key it carries.
async fn page(http: &reqwest::Client, r: &RunningReceiver) -> (String, String) {
    let res = http.get(r.inspector_url().unwrap()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = res.text().await.unwrap();
    let key = html.split("name=\"pbxsim-key\" content=\"").nth(1).unwrap();
    let key = key.split('"').next().unwrap().to_string();
    assert_eq!(key.len(), 32);
    (html, key)
}

async fn webhook(http: &reqwest::Client, r: &RunningReceiver, body: &Value) -> u16 {
    let res = http.post(format!("{}hook", r.url())).header("x-pbx-token", TOKEN).json(body);
    res.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn the_api_wants_the_pages_key_its_origin_and_a_plain_host() {
    let r = with_ui(Some(InspectorConfig::default())).await;
    let http = client();
    let (html, key) = page(&http, &r).await;
    assert!(!html.contains(TOKEN));
    let calls = format!("{}_pbxsim/api/calls", r.url());
    let get = |extra: &[(&str, &str)]| {
        let mut req = http.get(&calls);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req.send()
    };
    assert_eq!(get(&[]).await.unwrap().status(), 403, "no key");
    assert_eq!(get(&[(KEY_HEADER, "0123")]).await.unwrap().status(), 403, "wrong key");
    assert_eq!(get(&[(KEY_HEADER, &key)]).await.unwrap().status(), 200);
    let origin = [(KEY_HEADER, key.as_str()), ("origin", "http://evil.example")];
    assert_eq!(get(&origin).await.unwrap().status(), 403, "another site's page");
    let site = [(KEY_HEADER, key.as_str()), ("sec-fetch-site", "cross-site")];
    assert_eq!(get(&site).await.unwrap().status(), 403);
    let rebound = [(KEY_HEADER, key.as_str()), ("host", "evil.example")];
    assert_eq!(get(&rebound).await.unwrap().status(), 403, "DNS rebinding");
    let own = format!("http://{}", r.addr);
    let same = [(KEY_HEADER, key.as_str()), ("origin", own.as_str())];
    assert_eq!(get(&same).await.unwrap().status(), 200);
    assert_eq!(http.get(format!("{}_pbxsim/app.js", r.url())).send().await.unwrap().status(), 200);

    // Webhooks are as before: GET of another path is a 405, POST anywhere is an event.
    assert_eq!(http.get(format!("{}hook", r.url())).send().await.unwrap().status(), 405);
    assert_eq!(webhook(&http, &r, &event("user_inbound", "42")).await, 200);
    let stats = r.stats();
    assert_eq!((stats.requests, stats.code(405), stats.events_received), (2, 1, 1), "{stats}");

    let list: Value = get(&[(KEY_HEADER, &key)]).await.unwrap().json().await.unwrap();
    assert_eq!(list["matched"], 2, "{list}");
    assert_eq!(list["calls"][0]["key"], "42", "newest first");
    assert_eq!(list["calls"][1]["outcome"], "refused");
    assert_eq!(list["counters"]["answered_4xx"], 1);
    let one = http.get(format!("{}_pbxsim/api/call?id=42", r.url())).header(KEY_HEADER, &key);
    let one: Value = one.send().await.unwrap().json().await.unwrap();
    assert_eq!(one["entries"][0]["type"], "user_inbound");
    let text = format!("{list}{one}");
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("\"***\""), "the token header is shown as ***: {text}");
    r.shutdown().await;
}

#[tokio::test]
async fn without_ui_get_of_the_root_is_a_405_as_before() {
    let r = with_ui(None).await;
    assert_eq!(client().get(r.url()).send().await.unwrap().status(), 405);
    assert!(r.inspector_url().is_none());
    assert_eq!(r.stats().requests, 1);
}

#[tokio::test]
async fn replay_sends_with_the_token_to_the_typed_url() {
    let r = with_ui(Some(InspectorConfig::default())).await;
    let target = with_ui(None).await;
    let http = client();
    let (_, key) = page(&http, &r).await;
    assert_eq!(webhook(&http, &r, &event("user_inbound", "7")).await, 200);
    assert_eq!(webhook(&http, &r, &event("user_inbound", "7")).await, 200);
    let replay = |body: Value| {
        http.post(format!("{}_pbxsim/api/replay", r.url()))
            .header(KEY_HEADER, &key)
            .json(&body)
            .send()
    };
    let to = format!("{}again", target.url());
    let one: Value = replay(json!({"url": to, "seq": 1})).await.unwrap().json().await.unwrap();
    assert_eq!(one["results"][0]["status"], 200, "{one}");
    let all: Value = replay(json!({"url": to, "call": "7"})).await.unwrap().json().await.unwrap();
    assert_eq!(all["results"].as_array().unwrap().len(), 2, "{all}");
    let edited = json!({"url": to, "body": event("voicemail", "8").to_string()});
    let edited: Value = replay(edited).await.unwrap().json().await.unwrap();
    assert_eq!(edited["results"][0]["status"], 200, "{edited}");
    // The target checks the token: all four were accepted, none refused.
    let got = target.stats();
    assert_eq!((got.events_received, got.code(200), got.code(401)), (4, 4, 0), "{got}");

    for (body, code) in [
        (json!({"url": to, "body": "{not json"}), 400),
        (json!({"url": "file:///etc/passwd", "seq": 1}), 400),
        (json!({"url": "http://u:p@127.0.0.1/", "seq": 1}), 400),
        (json!({"url": to, "seq": 99}), 404),
        (json!({"url": to, "seq": 1, "call": "7"}), 400),
    ] {
        assert_eq!(replay(body.clone()).await.unwrap().status(), code, "{body}");
    }
    let form = http
        .post(format!("{}_pbxsim/api/replay", r.url()))
        .header(KEY_HEADER, &key)
        .header("content-type", "text/plain")
        .body(json!({"url": to, "seq": 1}).to_string());
    assert_eq!(form.send().await.unwrap().status(), 415, "a form post");
    assert_eq!(target.stats().events_received, 4, "nothing refused was sent");
}

#[tokio::test]
async fn the_live_stream_tells_of_changes_and_ends_cleanly_when_the_receiver_stops() {
    let r = with_ui(Some(InspectorConfig::default())).await;
    let http = client();
    let (_, key) = page(&http, &r).await;
    let url = format!("{}_pbxsim/api/stream?key={key}", r.url());
    let mut stream = http.get(&url).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let first = String::from_utf8(stream.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(first.starts_with("data: {") && first.contains("\"version\":0"), "{first}");
    assert_eq!(webhook(&http, &r, &event("user_inbound", "55")).await, 200);
    let next = String::from_utf8(stream.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(next.contains("\"changed\":[\"55\"]"), "{next}");
    r.shutdown().await;
    // The server ended the stream itself (a clean end, not a dropped connection).
    assert!(matches!(stream.chunk().await, Ok(None)), "the stream ends cleanly");
}
