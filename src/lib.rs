//! pbxsim: simulate a hosted PBX and emit its webhook events.
//!
//! Data flows one way: [`scenario`] (parse + check) → [`engine`] (discrete-event simulation) →
//! [`deliver`] (HTTP, NDJSON) → report. The wire format lives in [`event`] alone.

pub mod check;
pub mod deliver;
pub mod diagnostic;
pub mod duration;
pub mod engine;
pub mod event;
pub mod fd_limit;
pub mod pbx;
pub mod receiver;
pub mod report;
pub mod scenario;
pub mod secret;
pub mod session;
pub mod suggest;
pub mod time;
pub mod tls;
pub mod trigger;
