//! The PBX model: users, queues, ring groups, voicemail boxes, webhook objects and numbers with
//! their call flows, as the engine sees them once a scenario has been loaded and checked.
//!
//! Objects refer to each other by index (`UserId`, `QueueId`, …) into the vectors of [`Pbx`];
//! the scenario loader guarantees every index is valid.

use serde::{Deserialize, Serialize};

use crate::duration::Millis;
use crate::event::{EventType, EventTypeSet, Str};
use crate::secret::{Secret, SecretUrl};

pub type UserId = usize;
pub type QueueId = usize;
pub type RingGroupId = usize;
pub type VoicemailId = usize;
pub type WebhookId = usize;
pub type NumberId = usize;

/// The whole phone system.
#[derive(Debug, Clone, Default)]
pub struct Pbx {
    pub users: Vec<User>,
    pub queues: Vec<Queue>,
    pub ring_groups: Vec<RingGroup>,
    pub voicemail: Vec<VoicemailBox>,
    pub webhooks: Vec<WebhookObject>,
    pub numbers: Vec<Number>,
    /// Who receives the recordings made by a `record` step in a call flow.
    pub recording: RecordingSettings,
    /// Whether users who rang but did not answer get a `user_inbound_completed`.
    pub unanswered_completion: UnansweredCompletion,
}

/// What a user who rang but did not answer gets when their phone stops ringing. The vendor
/// document leaves it open ("triggered when a call to a User is completed").
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UnansweredCompletion {
    /// Nothing: only the user who answers gets `user_inbound_completed`.
    #[default]
    None,
    /// A `user_inbound_completed` with `connected_at: null` and `conversation_duration: 0`.
    Completed,
}

impl UnansweredCompletion {
    pub const NAMES: [&'static str; 2] = ["none", "completed"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Completed => "completed",
        }
    }
}

impl std::str::FromStr for UnansweredCompletion {
    /// What to write instead: "did you mean `completed`? (one of none, completed)".
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let names = Self::NAMES;
        [Self::None, Self::Completed].into_iter().find(|v| v.as_str() == s).ok_or_else(|| {
            match crate::suggest::closest(s, names) {
                Some(name) => format!("did you mean `{name}`? (one of {})", names.join(", ")),
                None => format!("write one of {}", names.join(", ")),
            }
        })
    }
}

impl Pbx {
    pub fn user_by_extension(&self, extension: &str) -> Option<UserId> {
        self.users.iter().position(|u| &*u.extension == extension)
    }
    pub fn number_by_digits(&self, number: &str) -> Option<NumberId> {
        self.numbers.iter().position(|n| &*n.number == number)
    }
    pub fn queue_by_name(&self, name: &str) -> Option<QueueId> {
        self.queues.iter().position(|q| &*q.name == name)
    }
    pub fn ring_group_by_name(&self, name: &str) -> Option<RingGroupId> {
        self.ring_groups.iter().position(|g| &*g.name == name)
    }
    pub fn voicemail_by_name(&self, name: &str) -> Option<VoicemailId> {
        self.voicemail.iter().position(|v| &*v.name == name)
    }
    pub fn webhook_by_name(&self, name: &str) -> Option<WebhookId> {
        self.webhooks.iter().position(|w| &*w.name == name)
    }
}

/// A user (an extension with a person behind it).
#[derive(Debug, Clone)]
pub struct User {
    pub name: Str,
    /// The extension number, e.g. `1010`; sent as `user_number`.
    pub extension: Str,
    /// Whether inbound calls this user answers are recorded (`recording_inbound`).
    pub record_inbound: bool,
    /// Whether this user's outbound calls are recorded (`recording_outbound`).
    pub record_outbound: bool,
    /// Where this user's recordings go (the loader copies the PBX's when the file has none).
    pub recording: RecordingSettings,
    /// The caller ID presented on this user's outbound calls; `None` uses the PBX's first
    /// number (or the extension when the PBX has no numbers).
    pub outbound_cli: Option<Str>,
}

/// Where a recording is delivered.
#[derive(Debug, Clone, Default)]
pub struct RecordingSettings {
    /// Comma-separated on the wire.
    pub emails: Vec<Str>,
    pub subject: Str,
    pub message: Str,
    pub mode: RecordingMode,
}

/// `email` sends the recording by email; `storage` saves it to storage (`mode: "storage"`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RecordingMode {
    /// The recording is emailed to `emails`.
    #[default]
    Email,
    /// The recording is saved to storage.
    Storage,
}

/// How a queue picks which available members ring (the engine's `strategy` module does the
/// picking).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Every available member rings at once.
    #[default]
    Ringall,
    /// Members ring one at a time in the order listed, starting from the first each attempt.
    Linear,
    /// Members ring one at a time, starting after the member who rang last.
    RoundRobin,
    /// The member whose last call ended longest ago rings.
    LeastRecent,
    /// The member who has answered the fewest calls rings.
    FewestCalls,
    /// A random available member rings.
    Random,
}

impl Strategy {
    pub const ALL: [Strategy; 6] = [
        Self::Ringall,
        Self::Linear,
        Self::RoundRobin,
        Self::LeastRecent,
        Self::FewestCalls,
        Self::Random,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ringall => "ringall",
            Self::Linear => "linear",
            Self::RoundRobin => "round_robin",
            Self::LeastRecent => "least_recent",
            Self::FewestCalls => "fewest_calls",
            Self::Random => "random",
        }
    }
}

/// A call queue.
#[derive(Debug, Clone)]
pub struct Queue {
    pub name: Str,
    pub members: Vec<UserId>,
    pub strategy: Strategy,
    /// How long one attempt rings a member before giving up on them.
    pub ring_timeout: Millis,
    /// The pause between two attempts.
    pub retry: Millis,
    /// The longest a caller waits before the queue gives up (`timedout`).
    pub max_wait: Millis,
    /// After a call from this queue, a member stays unavailable this long.
    pub wrapup: Millis,
    /// Which calls a member in this queue's wrap-up is held back from.
    pub wrapup_blocks: WrapupBlocks,
    /// Where the call goes when the queue times out; `None` continues with the next step.
    pub failover: Option<Box<Step>>,
}

/// Which calls a member in a queue's wrap-up is held back from. Outbound calls the member
/// places are never held back.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WrapupBlocks {
    /// Only this queue's own distribution: direct calls, ring groups and other queues still
    /// ring the member.
    #[default]
    Queue,
    /// Every inbound call: no queue, ring group or direct user step rings the member.
    All,
}

/// How a ring group rings its members.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RingMode {
    /// All members at once, for `ring_time`.
    #[default]
    Simultaneous,
    /// One member after another, each for `ring_time`.
    Sequential,
}

/// A ring group.
#[derive(Debug, Clone)]
pub struct RingGroup {
    pub name: Str,
    pub members: Vec<UserId>,
    pub mode: RingMode,
    /// Simultaneous: how long all members ring. Sequential: how long each member rings.
    pub ring_time: Millis,
    /// Where the call goes when nobody answers; `None` continues with the next step.
    pub no_answer: Option<Box<Step>>,
}

/// A voicemail box.
#[derive(Debug, Clone)]
pub struct VoicemailBox {
    pub name: Str,
    pub emails: Vec<Str>,
    pub subject: Str,
    pub message: Str,
}

/// A webhook object placed in call flows: it posts `webhook_component_event` to its own URL.
#[derive(Debug, Clone)]
pub struct WebhookObject {
    pub name: Str,
    /// `None` sends to the global target (useful with `--target` or the built-in receiver):
    /// the global webhook's route for `webhook_component_event` if it has one, else its URL.
    pub url: Option<SecretUrl>,
    /// `None` carries the global token (the one the run uses: `--token`, `PBXSIM_TOKEN`, else
    /// the file's); `Some("")` sends no token; `Some(t)` sends `t`.
    pub token: Option<Secret>,
    /// Extra headers; every value is held as a [`Secret`].
    pub headers: Vec<(String, Secret)>,
}

/// A phone number (DID) and the call flow of calls arriving on it.
#[derive(Debug, Clone)]
pub struct Number {
    pub number: Str,
    pub flow: Vec<Step>,
}

/// One step of a call flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Fire the webhook object, then continue.
    Webhook(WebhookId),
    /// Record the rest of the call (`recording_inbound` after it ends), then continue.
    Record,
    /// Queue the caller; on timeout go to `on_timeout`, else the queue's failover, else on.
    Queue { queue: QueueId, on_timeout: Option<Box<Step>> },
    /// Ring the group; on no answer go to `on_no_answer`, else the group's step, else on.
    RingGroup { group: RingGroupId, on_no_answer: Option<Box<Step>> },
    /// Ring one user for `ring` (default 20 s); if unanswered, continue.
    User { user: UserId, ring: Option<Millis> },
    /// The caller leaves a message; the call ends.
    Voicemail(VoicemailId),
    /// The PBX hangs up.
    Hangup,
}

/// The global webhook settings (Settings → Integrations).
#[derive(Debug, Clone, Default)]
pub struct GlobalWebhook {
    /// `None` when the scenario names no URL; `run` then uses `--target` or the built-in receiver.
    pub url: Option<SecretUrl>,
    /// Empty when the scenario gives none.
    pub token: Secret,
    /// The ticked event types; only these are sent to `url`.
    pub events: EventTypeSet,
    /// Extra headers sent with every global event; every value is held as a [`Secret`].
    pub headers: Vec<(String, Secret)>,
    /// One URL per event type (`[webhook] routes`): these types go there instead of `url`,
    /// with the same token and headers. At most one entry per type.
    pub routes: Vec<(EventType, SecretUrl)>,
}

impl GlobalWebhook {
    /// Whether a route for `t` can ever be used: `t` is ticked, or it is
    /// `webhook_component_event` (webhook objects send it whatever is ticked, and those without
    /// a url of their own follow its route).
    pub fn can_route(&self, t: EventType) -> bool {
        t == EventType::WebhookComponentEvent || self.events.contains(t)
    }
}
