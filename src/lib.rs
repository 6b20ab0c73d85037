//! pbxsim: simulate a hosted PBX and emit its webhook events.
//!
//! Data flows one way: [`scenario`] (parse + check) → [`engine`] (discrete-event simulation) →
//! [`deliver`] (HTTP, NDJSON) → report. The wire format lives in [`event`] alone.

pub mod deliver;
pub mod duration;
pub mod engine;
pub mod event;
pub mod pbx;
pub mod scenario;
pub mod suggest;
pub mod time;
