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

pub mod arrivals;
pub mod feed;
pub mod load_plan;
mod sim;
mod strategy;
pub mod truth;

use std::sync::{Arc, OnceLock};

use crate::duration::Millis;
use crate::event::{Event, EventTypeSet, Str};
use crate::pbx::WebhookId;

pub use sim::{Engine, Options, Stats};

/// The most call-flow steps one call may take: its number's flow steps and every failover and
/// no-answer step it is sent to. A backstop for a flow that never ends (the scenario loader
/// already refuses such flows): a call that needs more stops the engine with [`Runaway`].
pub const MAX_STEPS_PER_CALL: u32 = 1_000;

/// The most events one call may cause; past it the engine stops with [`Runaway`].
pub const MAX_EVENTS_PER_CALL: u32 = 100_000;

/// A call that went past [`MAX_STEPS_PER_CALL`] or [`MAX_EVENTS_PER_CALL`]: the engine stopped
/// there, so the run is incomplete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "call {} of the run (unique_call_id {unique_call_id}, to {dest}) went past {limit} {what} \
     without ending, so the run was stopped there",
    call + 1
)]
pub struct Runaway {
    /// The call's index in the run (0-based, as in [`Emission::call`]).
    pub call: u64,
    pub unique_call_id: Str,
    /// The number called.
    pub dest: Str,
    /// The limit it went past.
    pub limit: u64,
    /// `call-flow steps` or `events`.
    pub what: &'static str,
}

/// Where the engine reports a [`Runaway`] call; a clone of [`Engine::backstop`] outlives the
/// engine it came from.
#[derive(Debug, Clone, Default)]
pub struct Backstop(Arc<OnceLock<Runaway>>);

impl Backstop {
    /// The call that stopped the engine, if one did.
    pub fn tripped(&self) -> Option<&Runaway> {
        self.0.get()
    }

    fn trip(&self, runaway: Runaway) {
        let _ = self.0.set(runaway);
    }
}

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

/// What playing a scenario's scripted calls will emit, found in advance by simulating them
/// (the engine is deterministic and needs no I/O, so this is exact and fast).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview {
    /// Events emitted, sent or not.
    pub events: u64,
    /// Events that will be sent (global events of ticked types, and webhook-object events).
    pub sent: u64,
    /// The virtual time of the last event (0 with none).
    pub last_at: Millis,
    /// The call that went past the engine's per-call limits, if one did: playing the
    /// scenario would stop there, so callers refuse it before sending anything.
    pub runaway: Option<Runaway>,
}

/// Simulate the scenario's scripted calls with `seed` (the start time changes no virtual
/// time, so any will do) and count what they emit.
pub fn preview(scenario: &std::sync::Arc<crate::scenario::Scenario>, seed: u64) -> Preview {
    let ticked = scenario.webhook.events;
    let options = Options::new(seed, chrono::DateTime::UNIX_EPOCH);
    let mut p = Preview::default();
    let engine = Engine::new(scenario.clone(), options);
    let backstop = engine.backstop();
    for e in engine {
        p.events += 1;
        p.sent += u64::from(e.is_sent(ticked));
        p.last_at = p.last_at.max(e.at);
    }
    p.runaway = backstop.tripped().cloned();
    p
}

#[cfg(test)]
pub(crate) mod tests;
