//! pbxsim inside your own `cargo test`: your receiver is started on 127.0.0.1 port 0,
//! [`pbxsim::Session`] plays `scenarios/quickstart.toml` at it, and the test asserts on the
//! outcome (exit code, counts) and on what your receiver stored.
//!
//! ```sh
//! cargo run --example receiver_test      # the same run as the test, printed
//! cargo test --example receiver_test     # the tests below (plain `cargo test` runs them too,
//!                                        # through tests/it/user_test_helper.rs)
//! ```
//!
//! To use it in your crate, add to its `Cargo.toml`
//!
//! ```toml
//! [dev-dependencies]
//! pbxsim = { path = "../pbxsim" }   # or { git = "<this repository's URL>" }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! copy `scenarios/quickstart.toml` (or your own scenario) into your crate, and copy
//! `mod tests` below into `tests/pbx_webhooks.rs`, with [`app`] replaced by your own router.
//! The receiver here is a stand-in, kept short; `examples/receiver_axum.rs` is a complete one.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use subtle::ConstantTimeEq;

/// The token the tests give pbxsim and the receiver.
pub const TOKEN: &str = "receiver-test-s3cret";

/// The scenario the tests play; in your crate, where you copied it.
pub const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.toml");

/// What the stand-in receiver stored: events per type, the calls it heard of, and how many
/// requests it refused.
#[derive(Debug, Default)]
pub struct Seen {
    pub by_type: BTreeMap<String, u64>,
    pub calls: BTreeSet<String>,
    pub refused: u64,
}

impl Seen {
    /// Events accepted, of every type.
    pub fn events(&self) -> u64 {
        self.by_type.values().sum()
    }
}

type Shared = Arc<Mutex<Seen>>;

/// The receiver under test (yours goes here): `POST /hook` with the right `X-Pbx-Token` and a
/// JSON object with a `type` is stored and answered 200; a wrong or missing token gets 401 and
/// a body that is not an event 400.
pub fn app(token: &'static str) -> (Router, Shared) {
    let seen = Shared::default();
    let router =
        Router::new()
            .route(
                "/hook",
                post(
                    move |State(seen): State<Shared>,
                          headers: HeaderMap,
                          body: axum::body::Bytes| {
                        async move {
                            let given =
                                headers.get("x-pbx-token").map(|v| v.as_bytes()).unwrap_or(b"");
                            if !bool::from(given.ct_eq(token.as_bytes())) {
                                seen.lock().unwrap().refused += 1;
                                return StatusCode::UNAUTHORIZED;
                            }
                            let Ok(Value::Object(event)) = serde_json::from_slice::<Value>(&body)
                            else {
                                return StatusCode::BAD_REQUEST;
                            };
                            let Some(Value::String(ty)) = event.get("type") else {
                                return StatusCode::BAD_REQUEST;
                            };
                            let mut seen = seen.lock().unwrap();
                            *seen.by_type.entry(ty.clone()).or_default() += 1;
                            if let Some(Value::String(id)) = event.get("unique_call_id") {
                                seen.calls.insert(id.clone());
                            }
                            StatusCode::OK
                        }
                    },
                ),
            )
            .with_state(seen.clone());
    (router, seen)
}

/// Serves `router` on 127.0.0.1 port 0 (a free port) and returns its webhook URL.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let url = format!("http://{}/hook", listener.local_addr().expect("a local address"));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    url
}

/// Where the session sends: `url`, with `token` in every event's `X-Pbx-Token`.
pub fn options(url: &str, token: &str) -> pbxsim::SessionOptions {
    let mut options = pbxsim::SessionOptions::default();
    options.overrides.target = Some(url.into());
    options.overrides.token = Some(token.into());
    options
}

/// A session playing [`SCENARIO`] as fast as the receiver answers, with `options`.
pub fn session(options: pbxsim::SessionOptions) -> pbxsim::Session {
    let scenario =
        pbxsim::Scenario::load(SCENARIO).unwrap_or_else(|d| panic!("{}", d.render(false)));
    pbxsim::Session::scripted(scenario, pbxsim::ScriptedOptions::asap())
        .expect("the scenario plays")
        .with_options(options)
}

/// `cargo run --example receiver_test`: the first test's run, printed.
fn main() -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let (router, seen) = app(TOKEN);
        let url = serve(router).await;
        let outcome = match session(options(&url, TOKEN)).run(&mut pbxsim::session::Quiet).await {
            Ok(outcome) => outcome,
            Err(e) => {
                eprintln!("error: {e}");
                return e.exit().into();
            }
        };
        print!("{outcome}");
        println!("the receiver stored: {:?}", seen.lock().unwrap());
        outcome.exit.into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // A multi-threaded runtime: the receiver and pbxsim's delivery run side by side.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_receiver_stores_every_event_of_the_quickstart_scenario() {
        let (router, seen) = app(TOKEN);
        let url = serve(router).await;
        let session = session(options(&url, TOKEN));
        // What the scenario will send, simulated in advance.
        let expected = session.preview().expect("scripted calls").sent;

        let outcome = session.run(&mut pbxsim::session::Quiet).await.expect("the session runs");

        // pbxsim's side: every event answered 2xx, nothing failed, no threshold broken.
        assert_eq!(outcome.exit, pbxsim::Exit::Ok, "{outcome}");
        let summary = outcome.summary().expect("a scripted run");
        assert_eq!(summary.delivered, expected, "{outcome}");
        assert_eq!(summary.failed, 0, "{outcome}");
        // The receiver's side: it stored what pbxsim says it delivered, type by type.
        let seen = seen.lock().unwrap();
        assert_eq!(seen.events(), expected, "{seen:?}");
        for (ty, counts) in &summary.by_type {
            assert_eq!(seen.by_type.get(*ty).copied().unwrap_or(0), counts.delivered, "{ty}");
        }
        assert_eq!(seen.by_type.len(), 12, "quickstart sends all 12 types: {seen:?}");
        assert_eq!(seen.calls.len(), 7, "one per [[calls]] entry: {seen:?}");
        assert_eq!(seen.refused, 0);
    }

    // `--chaos` from a test: before about half the events pbxsim sends a forged copy with a
    // wrong token, and before about half one with no token; a receiver that checks its token
    // refuses every forgery (401) and stores only the real events.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_receiver_refuses_forged_tokens() {
        use pbxsim::scenario::chaos::{Chaos, parse_list};

        let (router, seen) = app(TOKEN);
        let url = serve(router).await;
        let mut chaos = Chaos::from_settings(&parse_list("wrong_token=0.5,no_token=0.5").unwrap());
        chaos.seed = 7; // which events get a forged copy: the same every run
        let mut options = options(&url, TOKEN);
        options.deliver.chaos = Some(chaos);
        let session = session(options);
        let expected = session.preview().expect("scripted calls").sent;

        let outcome = session.run(&mut pbxsim::session::Quiet).await.expect("the session runs");

        assert_eq!(outcome.exit, pbxsim::Exit::Ok, "{outcome}");
        let summary = outcome.summary().expect("a scripted run");
        assert_eq!(summary.delivered, expected, "the real events still arrive: {outcome}");
        let chaos = summary.chaos.as_ref().expect("a chaos report");
        assert!(chaos.forged_sent > 0, "{outcome}");
        assert_eq!(chaos.forged_accepted, 0, "a forged token was accepted: {outcome}");
        assert_eq!(chaos.forged_rejected, chaos.forged_sent, "{outcome}");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.refused, chaos.forged_sent, "the receiver counted each forgery");
        assert_eq!(seen.events(), expected, "and stored only the real events: {seen:?}");
    }
}
