//! Scenario files: the PBX model, the global webhook, scripted calls, loaded from TOML and checked.
//!
//! [`Scenario`] is the checked, resolved form the engine runs. [`load`] and [`parse`] turn a TOML
//! file into it, or into a [`Diagnostic`] naming the file, line and
//! column. `[traffic]` is checked against the PBX and `[expect]` thresholds are parsed when the
//! file is read, so a scenario is valid throughout. The file format is documented in
//! `docs/scenario-format.md`; [`file`](mod@file) holds its serde types and [`json_schema`] describes it for
//! editors.
//!
//! Reading a file, inside this module: `read` (the [`load`] and [`parse`] entry) deserializes the
//! TOML into [`file`](mod@file)'s types, rewording TOML errors in `toml_errors`; `resolve` turns
//! them into a [`Scenario`] (its `pbx` and `calls` parts resolving the PBX's objects and the
//! scripted calls), with `env` expanding `${VAR}`, `spans` locating key paths and `loops`
//! finding call flows that never end; diagnostics quote the source as `redact` masks it.

pub mod builtin_pbx;
pub mod chaos;
mod env;
pub mod file;
mod loops;
mod read;
mod redact;
mod resolve;
pub mod single_call;
mod spans;
pub mod threshold;
mod toml_errors;
pub mod traffic;

pub use read::{load, parse};

use chrono::{DateTime, FixedOffset, Utc};

use crate::diagnostic::Diagnostic;
use crate::duration::Millis;
use crate::event::{NullStyle, Str};
use crate::pbx::{GlobalWebhook, NumberId, Pbx, UserId};
use threshold::Threshold;
use traffic::TrafficSpec;

/// A loaded, checked scenario.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    /// A short name for reports; defaults to the file stem.
    pub name: String,
    /// The RNG seed. Default 1.
    pub seed: u64,
    /// The virtual clock's origin. `None`: the caller chooses (the CLI uses the current time).
    pub start_time: Option<DateTime<Utc>>,
    /// Time zone offset for timestamps; `None` is UTC with a `Z` suffix.
    pub utc_offset: Option<FixedOffset>,
    /// How "not applicable" fields appear on the wire.
    pub nulls: NullStyle,
    pub pbx: Pbx,
    pub webhook: GlobalWebhook,
    /// Scripted calls, sorted by `at` (stable: file order breaks ties).
    pub calls: Vec<ScriptedCall>,
    /// The playback speed the file suggests (virtual seconds per real second); `--speed`
    /// overrides it. `None`: real time.
    pub speed: Option<f64>,
    /// The `[traffic]` table, read and checked: it resolves against `pbx` (`pbxsim load` may
    /// override fields from flags and resolve it again). `run` does not play it.
    pub traffic: Option<TrafficSpec>,
    /// The `[expect]` thresholds, in file order; `run` and `load` set exit code 1 if one fails.
    pub expect: Vec<Threshold>,
    /// The `[chaos]` table: fault injection toward the receiver (`--chaos` overrides it).
    pub chaos: Option<crate::scenario::chaos::Chaos>,
}

impl Scenario {
    /// Reads and checks a scenario file: the same as [`load`]. A bad file is a
    /// [`Diagnostic`] naming the file, line and column.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Scenario, Box<Diagnostic>> {
        load(path.as_ref())
    }

    /// Checks a scenario given as TOML text, `name` standing for its file in messages: the
    /// same as [`parse`].
    pub fn parse(text: &str, name: &str) -> Result<Scenario, Box<Diagnostic>> {
        parse(text, name)
    }
}

/// The JSON Schema of the scenario file (`pbxsim schema scenario`).
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(file::ScenarioFile);
    serde_json::to_value(&schema).expect("schema serializes")
}

/// One scripted call of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedCall {
    /// When the call starts, after the scenario's start.
    pub at: Millis,
    pub kind: CallKind,
    /// Inbound: the caller's number (CLI). Outbound: the caller ID presented by the user.
    pub caller_id: Str,
    /// Inbound: the caller's CNAM, if any. Unused for outbound calls.
    pub caller_name: Option<Str>,
    pub behaviour: Behaviour,
}

/// Which way a call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallKind {
    /// From outside, arriving on one of the PBX's numbers.
    Inbound { number: NumberId },
    /// From a user to an outside number.
    Outbound { user: UserId, dest: Str },
}

/// What happens during a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Behaviour {
    /// Who answers when rung (inbound), or whether the far end answers (outbound: `Any` or
    /// `Nobody`).
    pub answer: Answer,
    /// How long a phone rings before it is answered.
    pub answer_after: Millis,
    /// The conversation's length once answered.
    pub talk: Millis,
    /// The caller hangs up this long after the call started, unless answered by then. For an
    /// unanswered outbound call, how long the user lets it ring (default 30 s).
    pub abandon_after: Option<Millis>,
    /// The length of the message left when the call reaches voicemail; 0 hangs up at the
    /// greeting without leaving one.
    pub voicemail: Millis,
    /// The chance that a rung agent who would answer does not (generated traffic only).
    pub no_answer_probability: f64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            answer: Answer::Any,
            answer_after: 5_000,
            talk: 60_000,
            abandon_after: None,
            voicemail: 15_000,
            no_answer_probability: 0.0,
        }
    }
}

/// Who answers a ringing call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The first user rung answers.
    Any,
    /// Only this user answers; other users rung do not.
    User(UserId),
    /// Nobody answers.
    Nobody,
}
