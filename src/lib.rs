//! pbxsim: simulate a hosted PBX and emit its webhook events.
//!
//! Data flows one way: [`scenario`] (parse + check) → [`engine`] (discrete-event simulation) →
//! [`deliver`] (HTTP, NDJSON) → report. The wire format lives in [`event`] alone.

pub mod builtin;
pub mod chaos;
pub mod check;
pub mod deliver;
pub mod diagnostic;
pub mod duration;
pub mod engine;
pub mod event;
pub mod limits;
pub mod load;
pub mod oneshot;
pub mod pbx;
pub mod play;
pub mod receiver;
pub mod report;
pub mod scenario;
pub mod secret;
pub mod sink;
pub mod suggest;
pub mod time;
pub mod traffic;
pub mod trigger;
pub mod truth;
