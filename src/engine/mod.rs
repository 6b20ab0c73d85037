//! The call-flow engine: a discrete-event simulation on a virtual clock with a seeded RNG.
//!
//! It plays the calls of a scenario through the PBX model and yields the webhook events they
//! cause as [`Emission`]s, in virtual-time order with each call's causal order kept. It does no
//! I/O and never reads the wall clock.

use crate::duration::Millis;
use crate::event::Event;
use crate::pbx::WebhookId;

/// Where an event is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// The global webhook URL (or `--target`).
    Global,
    /// A webhook object's own URL, token and headers.
    Webhook(WebhookId),
}

/// One webhook event, with when and where it is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Emission {
    /// Virtual time: milliseconds after the scenario's start.
    pub at: Millis,
    /// The call's index in the run, in order of arrival (0-based).
    pub call: u64,
    /// This event's position among its call's emitted events (0-based).
    pub seq: u32,
    pub target: Target,
    pub event: Event,
}
