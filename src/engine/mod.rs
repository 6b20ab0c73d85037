//! The call-flow engine: a discrete-event simulation on a virtual clock with a seeded RNG.
//!
//! It plays the calls of a scenario through the PBX model and yields the webhook events they
//! cause as [`Emission`]s, in virtual-time order with each call's causal order kept. It does no
//! I/O and never reads the wall clock: the same scenario, seed and start time give the same
//! events, byte for byte.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! let scenario = Arc::new(pbxsim::scenario::load("scenarios/quickstart.toml".as_ref())?);
//! let start = "2026-03-02T09:00:00Z".parse()?;
//! for emission in pbxsim::engine::Engine::new(scenario, pbxsim::engine::Options::new(1, start)) {
//!     println!("{}", emission.event.to_json(Default::default()));
//! }
//! # Ok(()) }
//! ```

mod sim;

use crate::duration::Millis;
use crate::event::{Event, EventTypeSet};
use crate::pbx::WebhookId;

pub use sim::{Engine, Options, Stats};

/// How a call ended, as the engine knows it ([`Engine::take_call_end`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// A user (inbound) or the far end (outbound) answered, and the call was hung up.
    Answered,
    /// The caller left a voicemail message.
    Voicemail,
    /// The caller hung up before anyone answered.
    Abandoned,
    /// Nobody answered: the flow ran out, reached `hangup`, a voicemail greeting without a
    /// message, or an outbound call the far end did not answer.
    Unanswered,
    /// An outbound call not placed because its user was busy (it has no events).
    NotPlaced,
}

/// A call that ended: its index (as in [`Emission::call`]), when it started and ended
/// (virtual time), and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallEnd {
    pub call: u64,
    pub start: Millis,
    pub end: Millis,
    pub how: EndReason,
}

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
    /// This event's position among its call's events (0-based, counting filtered ones too).
    pub seq: u32,
    pub target: Target,
    pub event: Event,
}

impl Emission {
    /// Whether this event is sent, given the ticked types of the global webhook settings.
    /// Webhook-object events are always sent to their object; global events only when ticked.
    pub fn is_sent(&self, ticked: EventTypeSet) -> bool {
        match self.target {
            Target::Webhook(_) => true,
            Target::Global => ticked.contains(self.event.event_type()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
