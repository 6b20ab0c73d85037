//! The library alone: a scenario played through `pbxsim::Session` to a small axum receiver on
//! loopback, and the outcome checked against what the receiver saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

const TOKEN: &str = "s3cret-lib";

/// Starts a receiver on 127.0.0.1:0 that answers 200 to `X-Pbx-Token: TOKEN` and 401 to any
/// other; returns its URL and the count of requests it accepted.
async fn receiver() -> (String, Arc<AtomicU64>) {
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = accepted.clone();
    let app = axum::Router::new().route(
        "/{*path}",
        post(move |headers: HeaderMap| {
            let counter = counter.clone();
            async move {
                if headers.get("x-pbx-token").and_then(|v| v.to_str().ok()) == Some(TOKEN) {
                    counter.fetch_add(1, Ordering::SeqCst);
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, accepted)
}

fn options(url: &str, token: &str) -> pbxsim::SessionOptions {
    let mut options = pbxsim::SessionOptions::default();
    options.overrides.target = Some(url.into());
    options.overrides.token = Some(token.into());
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_delivers_every_event_and_says_ok() {
    let (url, accepted) = receiver().await;
    let scenario = pbxsim::Scenario::load("scenarios/quickstart.toml").unwrap();
    let session = pbxsim::Session::scripted(scenario, pbxsim::ScriptedOptions::asap())
        .unwrap()
        .with_options(options(&url, TOKEN));
    let sent = session.preview().unwrap().sent;
    assert!(sent > 0);
    let outcome = session.run(&mut pbxsim::session::Quiet).await.unwrap();
    let summary = outcome.summary().expect("a scripted run");
    assert_eq!(outcome.exit, pbxsim::Exit::Ok, "{outcome}");
    assert_eq!(summary.delivered, sent, "{outcome}");
    assert_eq!(summary.failed, 0);
    assert_eq!(accepted.load(Ordering::SeqCst), sent, "the receiver saw every event");
    assert!(outcome.receiver.is_none(), "a target was given: no built-in receiver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_refuses_the_token_fails_the_session() {
    let (url, accepted) = receiver().await;
    let scenario = pbxsim::Scenario::load("scenarios/quickstart.toml").unwrap();
    let mut options = options(&url, "wrong");
    options.deliver.retries = 0;
    let session = pbxsim::Session::scripted(scenario, pbxsim::ScriptedOptions::asap())
        .unwrap()
        .with_options(options);
    let outcome = session.run(&mut pbxsim::session::Quiet).await.unwrap();
    let summary = outcome.summary().expect("a scripted run");
    assert_eq!(outcome.exit, pbxsim::Exit::Failed, "{outcome}");
    assert_eq!(summary.delivered, 0);
    assert!(summary.failed > 0);
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_threshold_fails_an_otherwise_clean_session() {
    let (url, _) = receiver().await;
    let scenario = pbxsim::Scenario::load("scenarios/quickstart.toml").unwrap();
    let mut options = options(&url, TOKEN);
    options.thresholds = vec!["p99 < 1us".parse().unwrap()];
    let session = pbxsim::Session::scripted(scenario, pbxsim::ScriptedOptions::asap())
        .unwrap()
        .with_options(options);
    let outcome = session.run(&mut pbxsim::session::Quiet).await.unwrap();
    assert_eq!(outcome.verdicts.len(), 1);
    assert!(!outcome.verdicts[0].pass, "{outcome}");
    assert_eq!(outcome.exit, pbxsim::Exit::Failed);
}
