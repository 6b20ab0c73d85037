//! The scenario file as written: serde types that mirror the TOML, keep the spans of values for
//! diagnostics, and derive the JSON Schema of `pbxsim schema scenario`.
//!
//! Nothing here is checked beyond its TOML type; [`super::load`] reads a file into these and
//! resolves them into the [`Scenario`](super::Scenario) the engine runs. Doc comments become
//! schema descriptions, which editors show as hover text.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::event::NullStyle;
use crate::pbx::{RecordingMode, RingMode, Strategy, UnansweredCompletion, WrapupBlocks};
use crate::secret::{Secret, SecretUrl};

/// A value with the byte range it was read from.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Sp<T>(toml::Spanned<T>);

impl<T> Sp<T> {
    pub fn new(value: T, span: Range<usize>) -> Self {
        Self(toml::Spanned::new(span, value))
    }
    pub fn span(&self) -> Range<usize> {
        self.0.span()
    }
    pub fn get(&self) -> &T {
        self.0.get_ref()
    }
}

impl<T: PartialEq> PartialEq for Sp<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}
impl<T: Eq> Eq for Sp<T> {}
impl<T: Ord> PartialOrd for Sp<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Ord> Ord for Sp<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.get().cmp(other.get())
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
}

/// Text as the file wrote it, whichever type holds it: a plain string, a [`Secret`] or a
/// [`SecretUrl`] (the resolver expands `${VAR}` in all three alike).
pub(crate) trait Written {
    fn written(&self) -> &str;
}

impl Written for String {
    fn written(&self) -> &str {
        self
    }
}

impl Written for Secret {
    fn written(&self) -> &str {
        self.expose()
    }
}

impl Written for SecretUrl {
    fn written(&self) -> &str {
        self.expose()
    }
}

/// A duration such as `15s`, `2m`, `1h30m` or `250ms`.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct DurationText(pub String);

impl JsonSchema for DurationText {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": r"^\s*(0|([0-9]+(\.[0-9]+)?(ms|s|sec|m|min|h|d))+)\s*$",
            "examples": ["15s", "2m", "1h30m", "250ms"],
        })
    }
}

/// An RFC 3339 instant, written as a string (`"2026-03-02T09:00:00Z"`) or a TOML offset
/// date-time (`2026-03-02T09:00:00Z`).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct DateTimeValue(pub toml::Value);

impl JsonSchema for DateTimeValue {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "DateTime".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "date-time",
            "examples": ["2026-03-02T09:00:00Z"],
        })
    }
}

/// Extra HTTP headers, name = value (values are often API keys: held as [`Secret`]s).
pub type Headers = BTreeMap<Sp<String>, Sp<Secret>>;

/// A pbxsim scenario: a PBX, its webhook settings and the calls to play through it.
///
/// Every string may use `${VAR}` or `${VAR:-default}` to read an environment variable (`$$` is a
/// literal `$`). Durations are written like `15s`, `2m`, `1h30m` or `250ms`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "pbxsim scenario")]
pub struct ScenarioFile {
    /// A short name for reports. Default: the file name without `.toml`.
    pub name: Option<Sp<String>>,
    /// The random seed. Default 1. The same file and seed give the same events.
    pub seed: Option<Sp<u64>>,
    /// When the virtual clock starts (RFC 3339). Default: the time of the run.
    pub start_time: Option<Sp<DateTimeValue>>,
    /// A time zone offset such as `+10:00`: timestamps carry it instead of `Z`.
    pub utc_offset: Option<Sp<String>>,
    /// How fields that do not apply appear on the wire: `null` (default), `empty`, `omit` or
    /// `string` (the text `"null"`).
    pub nulls: Option<NullStyle>,
    /// What a user who rang but did not answer gets: `none` (default: no event) or `completed`
    /// (a `user_inbound_completed` with `connected_at` null and `conversation_duration` 0).
    pub unanswered_completion: Option<UnansweredCompletion>,
    /// The playback speed this scenario suggests (virtual seconds per real second); `--speed`
    /// overrides it. Default: real time.
    pub speed: Option<Sp<f64>>,
    /// The global webhook (Settings → Integrations).
    pub webhook: Option<WebhookFile>,
    /// Where recordings made by a `record` step in a call flow are sent, and those of users
    /// without their own `recording` table.
    pub recording: Option<Sp<RecordingFile>>,
    #[serde(default)]
    pub users: Vec<Sp<UserFile>>,
    #[serde(default)]
    pub queues: Vec<Sp<QueueFile>>,
    #[serde(default)]
    pub ring_groups: Vec<Sp<RingGroupFile>>,
    /// Voicemail boxes.
    #[serde(default)]
    pub voicemail: Vec<Sp<VoicemailFile>>,
    /// Webhook objects placed in call flows (`webhook:NAME` steps).
    #[serde(default)]
    pub webhooks: Vec<Sp<WebhookObjectFile>>,
    /// Phone numbers (DIDs) and their call flows.
    #[serde(default)]
    pub numbers: Vec<Sp<NumberFile>>,
    /// Scripted calls.
    #[serde(default)]
    pub calls: Vec<Sp<CallFile>>,
    /// Generated traffic for `pbxsim load`: arrival rate and stages, the inbound/outbound mix,
    /// and distributions of talk time, answer delay, patience and voicemail length.
    #[schemars(with = "Option<crate::scenario::traffic::TrafficSpec>")]
    pub traffic: Option<Sp<toml::Table>>,
    /// Pass/fail thresholds checked after the run (exit code 1 if one fails).
    pub expect: Option<ExpectFile>,
    /// Fault injection toward the receiver; `--chaos` overrides it key by key.
    pub chaos: Option<ChaosFile>,
}

/// The `[expect]` table.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectFile {
    /// Thresholds such as `"p99 < 250ms"`, `"error_rate < 0.1%"`, `"rate >= 95%"` or
    /// `"throughput >= 500/s"`. Metrics: p50, p90, p95, p99, p99.9, max, mean (add `_raw` for
    /// request latency without the correction for coordinated omission), error_rate, rate,
    /// throughput. Latency units: us, ms, s, m.
    #[serde(default)]
    #[schemars(with = "Vec<ThresholdText>")]
    pub thresholds: Vec<Sp<String>>,
}

/// A threshold, `metric op limit`.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct ThresholdText(pub String);

impl JsonSchema for ThresholdText {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Threshold".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "examples": ["p99 < 250ms", "error_rate < 0.1%", "rate >= 95%", "throughput >= 500/s"],
        })
    }
}

/// Fault injection toward the receiver: the keys of `--chaos`. Probabilities are fractions
/// (`0.05`) or percentages (`"5%"`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChaosFile {
    /// Probability that a POST is sent again after it was delivered.
    pub duplicate: Option<Sp<ChaosValue>>,
    /// Probability that an event is swapped with its call's next event.
    pub reorder: Option<Sp<ChaosValue>>,
    /// `"P:D"`: probability that a POST is held back, and for how long, e.g. `"0.1:2s"`.
    pub delay: Option<Sp<ChaosValue>>,
    /// Probability of a forged copy with a wrong `X-Pbx-Token` before a POST.
    pub wrong_token: Option<Sp<ChaosValue>>,
    /// Probability of a forged copy without `X-Pbx-Token` before a POST.
    pub no_token: Option<Sp<ChaosValue>>,
    /// Up to this many consecutive events of a call per POST, as a JSON array.
    pub batch: Option<Sp<ChaosValue>>,
    /// Phone numbers as `digits` (default), `e164` or `local`.
    pub numbers: Option<Sp<ChaosValue>>,
    /// Fields that do not apply as `null`, `empty`, `omit` or `string` (the text `"null"`).
    pub nulls: Option<Sp<ChaosValue>>,
    /// Durations as `int` (default) or `string`.
    pub durations: Option<Sp<ChaosValue>>,
    /// `call_recording_link` as `null` (default) or `url` (a plausible https URL per call).
    pub recording_link: Option<Sp<ChaosValue>>,
    /// Probability that a body carries an extra field receivers must ignore.
    pub extra_fields: Option<Sp<ChaosValue>>,
}

impl ChaosFile {
    /// The keys that are set, as written, with their values.
    pub fn entries(&self) -> Vec<(&'static str, &Sp<ChaosValue>)> {
        let all = [
            ("duplicate", &self.duplicate),
            ("reorder", &self.reorder),
            ("delay", &self.delay),
            ("wrong_token", &self.wrong_token),
            ("no_token", &self.no_token),
            ("batch", &self.batch),
            ("numbers", &self.numbers),
            ("nulls", &self.nulls),
            ("durations", &self.durations),
            ("recording_link", &self.recording_link),
            ("extra_fields", &self.extra_fields),
        ];
        all.into_iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v))).collect()
    }
}

/// A `[chaos]` value: a number or a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct ChaosValue(pub toml::Value);

impl JsonSchema for ChaosValue {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "ChaosValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["number", "string"], "examples": [0.05, "5%", "0.1:2s", 5, "e164"] })
    }
}

/// The global webhook settings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookFile {
    /// Where events are POSTed (http or https). Default: `--target`, or the built-in receiver.
    pub url: Option<Sp<SecretUrl>>,
    /// Sent as the `X-Pbx-Token` header. Use `${VAR}` so the secret is not checked in.
    pub token: Option<Sp<Secret>>,
    /// The ticked event types; only these are sent. Default: all 12.
    pub events: Option<Vec<Sp<String>>>,
    /// Extra headers sent with every event.
    #[serde(default)]
    pub headers: Headers,
    /// One URL per event type: `{ queue_call = "http://127.0.0.1:3000/queue" }`. These types
    /// are sent there instead of `url`, with the same token and headers; other types go to
    /// `url`. Webhook objects without their own `url` follow the `webhook_component_event`
    /// route.
    #[serde(default)]
    #[schemars(schema_with = "routes_schema")]
    pub routes: Routes,
}

/// `[webhook] routes`: event type → URL.
pub type Routes = BTreeMap<Sp<String>, Sp<SecretUrl>>;

fn routes_schema(_: &mut SchemaGenerator) -> Schema {
    let types: Vec<&str> = crate::event::EventType::ALL.iter().map(|t| t.as_str()).collect();
    json_schema!({
        "type": "object",
        "propertyNames": { "enum": types },
        "additionalProperties": { "type": "string", "format": "uri" },
        "examples": [{ "queue_call": "http://127.0.0.1:3000/queue" }],
    })
}

/// Where recordings are delivered.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingFile {
    #[serde(default)]
    pub emails: Vec<Sp<String>>,
    /// Default "Call recording".
    pub subject: Option<Sp<String>>,
    /// Default "A call recording is attached.".
    pub message: Option<Sp<String>>,
    /// `email` (default) or `storage`.
    pub mode: Option<RecordingMode>,
}

/// A user: a person with an extension.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserFile {
    pub name: Sp<String>,
    /// The extension, digits in quotes: `"1010"`.
    pub extension: Sp<String>,
    /// Record inbound calls this user answers. Default false.
    #[serde(default)]
    pub record_inbound: bool,
    /// Record this user's outbound calls. Default false.
    #[serde(default)]
    pub record_outbound: bool,
    /// Where this user's recordings go. Default: the PBX's `[recording]`.
    pub recording: Option<Sp<RecordingFile>>,
    /// The caller ID on this user's outbound calls. Default: the first number, else the
    /// extension.
    pub outbound_cli: Option<Sp<String>>,
}

/// A call queue.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueFile {
    pub name: Sp<String>,
    /// Member extensions.
    pub members: Sp<Vec<Sp<String>>>,
    /// Default `ringall`.
    pub strategy: Option<Strategy>,
    /// How long one attempt rings a member. Default 20s.
    pub ring_timeout: Option<Sp<DurationText>>,
    /// The pause between attempts. Default 5s.
    pub retry: Option<Sp<DurationText>>,
    /// The longest a caller waits before the queue times out. Default 5m.
    pub max_wait: Option<Sp<DurationText>>,
    /// How long a member stays unavailable after a call. Default 0s.
    pub wrapup: Option<Sp<DurationText>>,
    /// What a member in this queue's wrap-up is held back from: `queue` (default: this queue's
    /// calls only; direct calls, ring groups and other queues still ring them) or `all`
    /// (every inbound call).
    pub wrapup_blocks: Option<WrapupBlocks>,
    /// Where a timed-out call goes, e.g. `"voicemail:Support VM"`. Default: the next step.
    pub failover: Option<Sp<StepFile>>,
}

/// A ring group.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RingGroupFile {
    pub name: Sp<String>,
    /// Member extensions, in ringing order.
    pub members: Sp<Vec<Sp<String>>>,
    /// `simultaneous` (default) or `sequential`.
    pub mode: Option<RingMode>,
    /// Simultaneous: how long all ring. Sequential: how long each rings. Default 20s.
    pub ring_time: Option<Sp<DurationText>>,
    /// Where an unanswered call goes. Default: the next step.
    pub no_answer: Option<Sp<StepFile>>,
}

/// A voicemail box.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VoicemailFile {
    pub name: Sp<String>,
    #[serde(default)]
    pub emails: Vec<Sp<String>>,
    /// Default "New voicemail".
    pub subject: Option<Sp<String>>,
    /// Default "You have a new voicemail.".
    pub message: Option<Sp<String>>,
}

/// A webhook object placed in call flows.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookObjectFile {
    pub name: Sp<String>,
    /// Where it POSTs. Default: the global target (its `webhook_component_event` route, else
    /// its `url`, after `--target`).
    pub url: Option<Sp<SecretUrl>>,
    /// Sent as `X-Pbx-Token`. Default: the global token (`--token`, `PBXSIM_TOKEN`, else
    /// `[webhook] token`); `""` sends none.
    pub token: Option<Sp<Secret>>,
    #[serde(default)]
    pub headers: Headers,
}

/// A phone number and its call flow.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberFile {
    /// Digits without `+`, in quotes: `"61300000000"`.
    pub number: Sp<String>,
    /// The steps a call on this number takes, in order.
    pub flow: Sp<Vec<Sp<StepFile>>>,
}

/// A call-flow step: `"kind:name"` (`webhook:`, `queue:`, `ring_group:`, `user:`, `voicemail:`),
/// `"record"`, `"hangup"`, or a table with options.
#[derive(Debug, Clone)]
pub enum StepFile {
    Text(String),
    Table(Box<StepTable>),
}

/// A call-flow step with options, e.g. `{ queue = "Support", on_timeout = "voicemail:VM" }`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepTable {
    /// Fire this webhook object.
    pub webhook: Option<Sp<String>>,
    /// Queue the caller in this queue.
    pub queue: Option<Sp<String>>,
    /// Ring this ring group.
    pub ring_group: Option<Sp<String>>,
    /// Ring the user with this extension.
    pub user: Option<Sp<String>>,
    /// Send the caller to this voicemail box.
    pub voicemail: Option<Sp<String>>,
    /// Queue steps: where a timed-out call goes (overrides the queue's failover).
    pub on_timeout: Option<Sp<StepFile>>,
    /// Ring-group steps: where an unanswered call goes (overrides the group's no_answer).
    pub on_no_answer: Option<Sp<StepFile>>,
    /// User steps: how long the user rings. Default 20s.
    pub ring: Option<Sp<DurationText>>,
}

impl<'de> Deserialize<'de> for StepFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StepVisitor;
        impl<'de> Visitor<'de> for StepVisitor {
            type Value = StepFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    r#"a step such as "queue:Support", or a table such as { queue = "Support" }"#,
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StepFile, E> {
                Ok(StepFile::Text(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StepFile, A::Error> {
                StepTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| StepFile::Table(Box::new(t)))
            }
        }
        deserializer.deserialize_any(StepVisitor)
    }
}

impl JsonSchema for StepFile {
    fn schema_name() -> Cow<'static, str> {
        "Step".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let table = generator.subschema_for::<StepTable>();
        json_schema!({
            "description": "A call-flow step: \"webhook:NAME\", \"record\", \"queue:NAME\", \
                \"ring_group:NAME\", \"user:EXTENSION\", \"voicemail:NAME\", \"hangup\", or a \
                table with options.",
            "anyOf": [
                {
                    "type": "string",
                    "pattern": r"^\s*(record|hangup|(webhook|queue|ring_group|user|voicemail)\s*:.+)\s*$",
                    "examples": ["queue:Support", "voicemail:Support VM", "record", "hangup"],
                },
                table,
            ],
        })
    }
}

/// Which way a scripted call goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From outside to one of the numbers.
    #[default]
    Inbound,
    /// From a user to an outside number.
    Outbound,
}

/// One scripted call.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallFile {
    /// When the call starts, after the scenario's start: `"0s"`, `"1m30s"`.
    pub at: Sp<DurationText>,
    /// `inbound` (default) or `outbound`.
    pub direction: Option<Direction>,
    /// Inbound: the caller's number. Outbound: the calling user's extension.
    pub from: Sp<String>,
    /// Inbound: one of the `[[numbers]]`. Outbound: the number dialled.
    pub to: Sp<String>,
    /// Inbound: the caller's name (CNAM). Default: none.
    pub caller_name: Option<Sp<String>>,
    /// `any` (default: the first user rung answers), an extension, or `none`. Outbound: `any`
    /// (the far end answers) or `none`.
    pub answered_by: Option<Sp<String>>,
    /// How long a phone rings before it is answered. Default 5s.
    pub answer_after: Option<Sp<DurationText>>,
    /// The conversation's length. Default 60s.
    pub talk: Option<Sp<DurationText>>,
    /// The caller hangs up this long after the call started, if not answered by then.
    /// Outbound and unanswered: how long the user lets it ring (default 30s).
    pub abandon_after: Option<Sp<DurationText>>,
    /// The message length if the call reaches voicemail. Default 15s; `"0s"` leaves none.
    pub voicemail: Option<Sp<DurationText>>,
    /// Outbound: the caller ID presented. Default: the user's `outbound_cli`, else the first
    /// number, else the extension.
    pub caller_id: Option<Sp<String>>,
}
