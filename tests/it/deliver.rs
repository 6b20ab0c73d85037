//! Delivery through the library API (`pbxsim::deliver::deliver`) against real HTTP receivers on
//! 127.0.0.1:0, with synthetic event streams.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pbxsim::deliver::{
    CancelToken, DeliverOptions, Endpoint, Endpoints, Outcome, Pacing, RetryOn, deliver,
};
use pbxsim::engine::{Emission, Target};
use pbxsim::event::{EventType, EventTypeSet, NullStyle};

use crate::support::deliver::{Receiver, Reply, call_and_seq, closed_port, component, inbound};

fn emission(at: u64, call: u64, seq: u32) -> Emission {
    Emission { at, call, seq, target: Target::Global, event: inbound(call, seq) }
}

/// `calls` calls of `per_call` events each, interleaved by virtual time.
fn calls(calls: u64, per_call: u32) -> Vec<Emission> {
    let mut out = Vec::new();
    for seq in 0..per_call {
        for call in 0..calls {
            out.push(emission(u64::from(seq) * 1000 + call, call, seq));
        }
    }
    out.sort_by_key(|e| e.at);
    out
}

fn asap() -> DeliverOptions {
    DeliverOptions { pacing: Pacing::Asap, ..DeliverOptions::default() }
}

fn to(receiver: &Receiver, token: Option<&str>) -> Endpoints {
    Endpoints::single(Endpoint::new(format!("{}/hook", receiver.url), token.map(String::from)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_bodies_and_headers_per_endpoint() {
    let rx = Receiver::ok();
    let endpoints = Endpoints {
        global: Endpoint {
            url: format!("{}/global?x=1", rx.url).into(),
            token: Some("global-token".into()),
            headers: vec![("X-Env".into(), "ci".into())],
            ..Endpoint::default()
        },
        webhooks: vec![
            Endpoint {
                url: format!("{}/component", rx.url).into(),
                token: Some("object-token".into()),
                headers: vec![("X-Component".into(), "crm".into()), ("X-Two".into(), "2".into())],
                ..Endpoint::default()
            },
            Endpoint::new(format!("{}/tokenless", rx.url), None),
        ],
        ..Endpoints::default()
    };
    let events = vec![
        emission(0, 0, 0),
        Emission { at: 1, call: 0, seq: 1, target: Target::Webhook(0), event: component(0) },
        Emission { at: 2, call: 1, seq: 0, target: Target::Webhook(1), event: component(1) },
    ];
    let opts = DeliverOptions { nulls: NullStyle::Omit, ..asap() };
    let summary =
        deliver(events.clone().into_iter(), &endpoints, &opts, CancelToken::new()).await.unwrap();
    assert_eq!(summary.delivered, 3, "{}", summary.render());

    let got = rx.received();
    let by_path: HashMap<&str, _> = got.iter().map(|r| (r.path.as_str(), r)).collect();
    let global = by_path["/global?x=1"];
    assert_eq!(global.body, events[0].event.to_json(NullStyle::Omit).as_bytes());
    assert_eq!(global.header("content-type"), Some("application/json"));
    assert_eq!(global.header("x-pbx-token"), Some("global-token"));
    assert_eq!(global.header("x-env"), Some("ci"));
    assert_eq!(global.header("x-component"), None);

    let object = by_path["/component"];
    assert_eq!(object.body, events[1].event.to_json(NullStyle::Omit).as_bytes());
    assert_eq!(object.header("x-pbx-token"), Some("object-token"));
    assert_eq!(object.header("x-component"), Some("crm"));
    assert_eq!(object.header("x-two"), Some("2"));
    assert_eq!(object.header("x-env"), None);
    assert_eq!(object.header("content-type"), Some("application/json"));

    let tokenless = by_path["/tokenless"];
    assert_eq!(tokenless.header("x-pbx-token"), None);
    assert_eq!(tokenless.json()["type"], "webhook_component_event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_call_order_holds_under_concurrency_with_random_delays() {
    use rand::{RngExt, SeedableRng};
    let rng = std::sync::Mutex::new(rand::rngs::ChaCha8Rng::seed_from_u64(3));
    let rx = Receiver::start(move |_, _| Reply {
        delay: Duration::from_millis(rng.lock().unwrap().random_range(0..=20)),
        ..Reply::ok()
    });
    let (n_calls, per_call) = (200, 5);
    let opts = DeliverOptions { concurrency: 64, ..asap() };
    let summary =
        deliver(calls(n_calls, per_call).into_iter(), &to(&rx, None), &opts, CancelToken::new())
            .await
            .unwrap();
    assert_eq!(summary.delivered, n_calls * u64::from(per_call), "{}", summary.render());
    assert!(summary.is_balanced());

    let mut next: BTreeMap<u64, u32> = BTreeMap::new();
    for r in rx.received() {
        let (call, seq) = call_and_seq(&r.json());
        let expected = next.entry(call).or_default();
        assert_eq!(seq, *expected, "call {call} out of order");
        *expected += 1;
    }
    assert_eq!(next.len() as u64, n_calls);
    assert!(next.values().all(|n| *n == per_call));
    // Calls really ran side by side, within the cap.
    assert!(rx.max_in_flight() > 8, "max in flight {}", rx.max_in_flight());
    assert!(rx.max_in_flight() <= 64, "max in flight {}", rx.max_in_flight());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_deliver_every_event_exactly_once_when_every_third_request_fails() {
    let rx = Receiver::start(|n, _| if n % 3 == 2 { Reply::status(503) } else { Reply::ok() });
    let opts = DeliverOptions { retries: 5, concurrency: 16, ..asap() };
    let events = calls(100, 4);
    let generated = events.len() as u64;
    let summary =
        deliver(events.into_iter(), &to(&rx, Some("t")), &opts, CancelToken::new()).await.unwrap();
    let text = summary.render();

    let got = rx.received();
    let mut delivered: HashMap<Vec<u8>, u32> = HashMap::new();
    for r in got.iter().filter(|r| r.status == 200) {
        *delivered.entry(r.body.to_vec()).or_default() += 1;
    }
    assert_eq!(delivered.len() as u64, generated, "{text}");
    assert!(delivered.values().all(|n| *n == 1), "an event was delivered twice");

    let failures = got.iter().filter(|r| r.status == 503).count() as u64;
    assert!(failures > 0);
    assert_eq!(summary.generated, generated, "{text}");
    assert_eq!(summary.delivered, generated, "{text}");
    assert_eq!(summary.failed, 0, "{text}");
    assert_eq!(summary.sent, got.len() as u64, "{text}");
    assert_eq!(summary.retries, failures, "{text}");
    assert_eq!(summary.answers[&Outcome::Status(503)], failures, "{text}");
    assert_eq!(summary.answers[&Outcome::Status(200)], generated, "{text}");
    assert!(summary.is_balanced());
    assert_eq!(summary.exit(false).code(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    // The first request of every event is answered 429 with Retry-After: 1.
    let seen = std::sync::Mutex::new(std::collections::HashSet::new());
    let rx = Receiver::start(move |_, body| {
        if seen.lock().unwrap().insert(body.to_vec()) {
            Reply { status: 429, retry_after: Some("1"), ..Reply::ok() }
        } else {
            Reply::ok()
        }
    });
    let opts = DeliverOptions { retries: 1, ..asap() };
    let summary =
        deliver(calls(2, 1).into_iter(), &to(&rx, None), &opts, CancelToken::new()).await.unwrap();
    assert_eq!(summary.delivered, 2, "{}", summary.render());
    let got = rx.received();
    assert_eq!(got.len(), 4);
    for first in got.iter().filter(|r| r.status == 429) {
        let retry = got.iter().find(|r| r.status == 200 && r.body == first.body).unwrap();
        let waited = retry.at - first.at;
        assert!(waited >= Duration::from_millis(950), "retried after {waited:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_arithmetic_with_filtered_failed_and_skipped_events() {
    // Call 0's events fail; everything else succeeds.
    let rx = Receiver::start(|_, body| {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        if v["unique_call_id"] == "160000000000" { Reply::status(500) } else { Reply::ok() }
    });
    let mut events = Vec::new();
    for call in 0..10u64 {
        events.push(emission(call * 10, call, 0));
        events.push(emission(call * 10 + 1, call, 1));
        // Not ticked: filtered when global, sent when it goes to its webhook object.
        let mut queue = emission(call * 10 + 2, call, 2);
        queue.event = pbxsim::event::Event::WebhookComponentEvent(match component(call) {
            pbxsim::event::Event::WebhookComponentEvent(c) => c,
            _ => unreachable!(),
        });
        events.push(queue.clone());
        queue.target = Target::Webhook(0);
        queue.at += 1;
        events.push(queue);
        events.push(emission(call * 10 + 5, call, 3));
    }
    let endpoints = Endpoints {
        global: Endpoint::new(format!("{}/g", rx.url), Some("t".into())),
        webhooks: vec![Endpoint::new(format!("{}/w", rx.url), Some("w".into()))],
        ..Endpoints::default()
    };
    let ticked: EventTypeSet = [EventType::UserInbound].into_iter().collect();
    let opts = DeliverOptions { ticked, stop_call_on_failure: true, concurrency: 4, ..asap() };
    let summary = deliver(events.into_iter(), &endpoints, &opts, CancelToken::new()).await.unwrap();
    let text = summary.render();
    assert!(summary.is_balanced(), "{text}");
    assert_eq!(summary.generated, 50, "{text}");
    assert_eq!(summary.filtered, 10, "{text}");
    // Call 0: its first event fails, the other three are skipped (the filtered one is not).
    assert_eq!(summary.failed, 4, "{text}");
    assert_eq!(summary.skipped, 3, "{text}");
    assert_eq!(summary.delivered, 36, "{text}");
    assert_eq!(summary.failures[&Outcome::Status(500)], 1, "{text}");
    assert_eq!(summary.sent, 37, "{text}");
    assert_eq!(rx.count(), 37);
    let by_type: HashMap<&str, _> = summary.by_type.iter().cloned().collect();
    let component_counts = by_type["webhook_component_event"];
    assert_eq!((component_counts.generated, component_counts.filtered), (20, 10));
    for (_, c) in &summary.by_type {
        assert_eq!(c.generated, c.delivered + c.failed + c.filtered);
    }
    assert_eq!(summary.exit(false).code(), 1);
    assert_eq!(summary.exit(true).code(), 0);
    assert!(text.contains("generated 50  delivered 36  failed 4  filtered 10"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_calls_keep_sending_by_default() {
    let rx = Receiver::start(|_, _| Reply::status(400));
    let opts = DeliverOptions { retries: 3, ..asap() };
    let summary =
        deliver(calls(3, 3).into_iter(), &to(&rx, None), &opts, CancelToken::new()).await.unwrap();
    // 400 is not retried by default; every event is still attempted once.
    assert_eq!((summary.failed, summary.sent, summary.skipped), (9, 9, 0));
    assert_eq!(rx.count(), 9);
    assert_eq!(summary.exit(false).code(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speed_scales_virtual_time() {
    let rx = Receiver::ok();
    // One call per 30 virtual seconds, over a minute: 0 s, 30 s, 60 s.
    let events: Vec<Emission> = (0..3).map(|i| emission(i * 30_000, i, 0)).collect();
    let opts = DeliverOptions { pacing: Pacing::Speed(60.0), ..DeliverOptions::default() };
    let summary =
        deliver(events.into_iter(), &to(&rx, None), &opts, CancelToken::new()).await.unwrap();
    assert_eq!(summary.delivered, 3);
    let got = rx.received();
    let order: Vec<u64> = got.iter().map(|r| call_and_seq(&r.json()).0).collect();
    assert_eq!(order, vec![0, 1, 2]);
    // 30 virtual seconds at speed 60 is half a second. The first event may arrive a little
    // late (it opens a connection), so allow some slack below and plenty above.
    for pair in got.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(400), "gap {gap:?}");
        assert!(gap <= Duration::from_millis(1500), "gap {gap:?}");
    }
    let span = got[2].at - got[0].at;
    assert!(span >= Duration::from_millis(900), "a minute took {span:?}");
    assert!(summary.lateness.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_call_does_not_hold_up_the_others() {
    // Call 0's events take 3 s to answer; the others answer at once.
    let rx = Receiver::start(|_, body| {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        match v["unique_call_id"] == "160000000000" {
            true => Reply { delay: Duration::from_secs(3), ..Reply::ok() },
            false => Reply::ok(),
        }
    });
    let opts = DeliverOptions { concurrency: 8, ..asap() };
    let summary =
        deliver(calls(50, 2).into_iter(), &to(&rx, None), &opts, CancelToken::new()).await.unwrap();
    assert_eq!(summary.delivered, 100);
    let got = rx.received();
    // Call 0's second event arrives last: every other call finished while it waited.
    let last = got.last().unwrap().json();
    assert_eq!(call_and_seq(&last), (0, 1));
    assert_eq!(got.iter().filter(|r| call_and_seq(&r.json()).0 != 0).count(), 98);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_is_read_lazily_and_memory_stays_bounded() {
    // An endless stream against a receiver that holds every request for a long time.
    let rx = Receiver::start(|_, _| Reply { delay: Duration::from_secs(30), ..Reply::ok() });
    let pulled = Arc::new(AtomicU64::new(0));
    let counter = pulled.clone();
    let endless = (0u64..).map(move |i| {
        counter.fetch_add(1, Ordering::SeqCst);
        emission(0, i % 1000, (i / 1000) as u32)
    });
    let cancel = CancelToken::new();
    let opts = DeliverOptions { concurrency: 4, grace: Duration::from_millis(100), ..asap() };
    let endpoints = to(&rx, None);
    let run = {
        let cancel = cancel.clone();
        tokio::spawn(async move { deliver(endless, &endpoints, &opts, cancel).await })
    };
    // Wait until the workers are all busy and the buffer is full.
    while rx.count() < 4 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let read = pulled.load(Ordering::SeqCst);
    // 4 in flight + a buffer of 16 × 4 + 1024, + the one item in the dispatcher's hands.
    assert!(read <= 4 + 16 * 4 + 1024 + 1, "read {read} events ahead");
    cancel.cancel();
    let summary = run.await.unwrap().unwrap();
    assert!(summary.interrupted);
    assert!(summary.is_balanced(), "{}", summary.render());
    assert_eq!(summary.generated, pulled.load(Ordering::SeqCst));
    assert_eq!(summary.delivered, 0);
    assert_eq!(summary.cancelled, summary.generated);
    assert_eq!(summary.exit(false).code(), 130);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupting_lets_requests_in_flight_finish_within_the_grace() {
    let rx = Receiver::start(|_, _| Reply { delay: Duration::from_millis(300), ..Reply::ok() });
    let cancel = CancelToken::new();
    let opts = DeliverOptions { concurrency: 2, grace: Duration::from_secs(5), ..asap() };
    let endpoints = to(&rx, None);
    let run = {
        let cancel = cancel.clone();
        tokio::spawn(
            async move { deliver(calls(20, 3).into_iter(), &endpoints, &opts, cancel).await },
        )
    };
    while rx.count() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cancel.cancel();
    let summary = run.await.unwrap().unwrap();
    let text = summary.render();
    assert!(summary.interrupted && summary.is_balanced(), "{text}");
    // The requests in flight finished and were delivered; nothing new started.
    assert_eq!(summary.delivered, rx.count(), "{text}");
    assert!(summary.delivered >= 2, "{text}");
    assert_eq!(summary.cancelled, summary.generated - summary.delivered, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_refused_all() {
    let url = format!("http://127.0.0.1:{}/hook", closed_port());
    let endpoints = Endpoints::single(Endpoint::new(url.clone(), None));
    let opts = DeliverOptions { retries: 2, retry_on: RetryOn::default(), ..asap() };
    let summary =
        deliver(calls(3, 2).into_iter(), &endpoints, &opts, CancelToken::new()).await.unwrap();
    assert!(summary.refused_all);
    assert_eq!(summary.exit(true).code(), 3);
    assert_eq!(summary.failed, 6);
    assert_eq!(summary.sent, 18);
    let message = summary.unreachable_message().unwrap();
    assert!(message.contains(&url) && message.contains("Is the receiver running?"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_failed_attempts_and_the_retry_does_not_wait_behind_them() {
    // The first request of every event hangs for 5 s; the retry is answered at once.
    let seen = std::sync::Mutex::new(std::collections::HashSet::new());
    let rx = Receiver::start(move |_, body| match seen.lock().unwrap().insert(body.to_vec()) {
        true => Reply { delay: Duration::from_secs(5), ..Reply::ok() },
        false => Reply::ok(),
    });
    let opts = DeliverOptions {
        timeout: Duration::from_millis(300),
        retries: 1,
        concurrency: 2,
        ..asap()
    };
    let summary =
        deliver(calls(2, 2).into_iter(), &to(&rx, None), &opts, CancelToken::new()).await.unwrap();
    let text = summary.render();
    assert_eq!(summary.delivered, 4, "{text}");
    assert_eq!(summary.answers[&Outcome::Timeout], 4, "{text}");
    assert_eq!(summary.retries, 4, "{text}");
    assert!(summary.is_balanced());

    // Without retries a timeout is a final failure.
    let rx = Receiver::start(|_, _| Reply { delay: Duration::from_secs(5), ..Reply::ok() });
    let opts = DeliverOptions { timeout: Duration::from_millis(200), ..asap() };
    let summary =
        deliver(calls(1, 2).into_iter(), &to(&rx, None), &opts, CancelToken::new()).await.unwrap();
    assert_eq!((summary.failed, summary.failures[&Outcome::Timeout]), (2, 2));
}

#[tokio::test]
async fn bad_settings_are_errors_before_anything_is_sent() {
    let rx = Receiver::ok();
    let endpoints = to(&rx, None);
    for speed in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let opts = DeliverOptions { pacing: Pacing::Speed(speed), ..DeliverOptions::default() };
        let result = deliver(calls(1, 1).into_iter(), &endpoints, &opts, CancelToken::new());
        assert!(matches!(result.await, Err(pbxsim::deliver::DeliverError::BadSpeed(_))));
    }
    let ftp = Endpoints::single(Endpoint::new("ftp://127.0.0.1/", None));
    let result = deliver(calls(1, 1).into_iter(), &ftp, &asap(), CancelToken::new()).await;
    assert!(matches!(result, Err(pbxsim::deliver::DeliverError::BadUrl { .. })));
    let opts =
        DeliverOptions { failed_journal: Some("/nonexistent-dir/journal.ndjson".into()), ..asap() };
    let result = deliver(calls(1, 1).into_iter(), &endpoints, &opts, CancelToken::new()).await;
    assert!(matches!(result, Err(pbxsim::deliver::DeliverError::Journal { .. })));
    assert_eq!(rx.count(), 0);
}
