//! pbxsim: simulate a hosted PBX and emit its webhook events.
//!
//! **Start here.** [`Scenario::load`] reads and checks a scenario file; [`Session`] plays its
//! scripted calls (or a load of generated traffic) to your receiver or to the built-in one and
//! returns an [`Outcome`] with an [`Exit`]; [`Event`](event::Event) is one webhook body.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let scenario = pbxsim::Scenario::load("scenarios/quickstart.toml")?;
//! let session = pbxsim::Session::scripted(scenario, pbxsim::ScriptedOptions::asap())?;
//! let outcome = session.run_blocking(&mut pbxsim::session::Quiet)?;
//! assert!(outcome.exit.is_ok(), "{outcome}");
//! # Ok(())
//! # }
//! ```
//!
//! **The crate map.** Data flows one way, and each module imports only the ones before it:
//!
//! | stage | modules | what they hold |
//! |---|---|---|
//! | utilities | [`duration`], [`time`], [`diagnostic`], [`secret`], [`fd_limit`], [`exit`] | durations, the PBX clock, file:line:col errors, redaction, exit codes |
//! | wire format | [`event`] | the twelve event types, their fields and JSON (the one owner of wire names) |
//! | model | [`pbx`] | users, queues, ring groups, voicemail, webhook objects, call flows |
//! | configuration | [`scenario`] | scenario files, `[traffic]`, `[expect]` thresholds, `[chaos]` settings, the built-in PBX |
//! | simulation | [`engine`] | the call-flow state machine, arrivals, load plans, the feed to delivery, ground truth |
//! | delivery | [`deliver`] | HTTP with retries and pacing, chaos faults, the dry run, summaries |
//! | reports | [`report`] | verdicts, load reports, JUnit, CSV, progress |
//! | front door | [`session`] | [`Session`]: one run from scenario to [`Outcome`] |
//! | receiving | [`receiver`], [`check`], [`trigger`] | the built-in receiver and inspector, conformance checks, one-off events |

pub mod check;
pub mod deliver;
pub mod diagnostic;
pub mod duration;
pub mod engine;
pub mod event;
pub mod exit;
pub mod fd_limit;
pub mod pbx;
pub mod receiver;
pub mod report;
pub mod scenario;
pub mod secret;
pub mod session;
pub(crate) mod suggest;
pub mod time;
pub(crate) mod tls;
pub mod trigger;

pub use exit::Exit;
pub use scenario::Scenario;
pub use session::{Outcome, ScriptedOptions, Session, SessionOptions};
