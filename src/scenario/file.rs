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

use crate::event::{DurationStyle, NullStyle, NumberStyle};
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
#[schemars(transform = toml_table)]
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
    #[schemars(with = "Option<Keyword<NullStyle>>")]
    pub nulls: Option<NullStyle>,
    /// What a user who rang but did not answer gets: `none` (default: no event) or `completed`
    /// (a `user_inbound_completed` with `connected_at` null and `conversation_duration` 0).
    #[schemars(with = "Option<Keyword<UnansweredCompletion>>")]
    pub unanswered_completion: Option<UnansweredCompletion>,
    /// The playback speed this scenario suggests (virtual seconds per real second); `--speed`
    /// overrides it. Default: real time.
    pub speed: Option<Sp<f64>>,
    /// The global webhook (Settings → Integrations).
    pub webhook: Option<WebhookFile>,
    /// Where recordings made by a `record` step in a call flow are sent, and those of users
    /// without their own `recording` table.
    pub recording: Option<Sp<RecordingFile>>,
    /// Users: people with an extension, rung by queues, ring groups and `user:` steps, and
    /// the callers of outbound calls.
    #[serde(default)]
    pub users: Vec<Sp<UserFile>>,
    /// Call queues: callers wait until a member answers or `max_wait` passes.
    #[serde(default)]
    pub queues: Vec<Sp<QueueFile>>,
    /// Ring groups: members ring together or one after another, then `no_answer`.
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
#[schemars(transform = toml_table)]
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
#[schemars(transform = toml_table)]
pub struct ChaosFile {
    /// Probability that a POST is sent again after it was delivered.
    #[schemars(with = "Option<ChaosProbability>")]
    pub duplicate: Option<Sp<ChaosValue>>,
    /// Probability that an event is swapped with its call's next event.
    #[schemars(with = "Option<ChaosProbability>")]
    pub reorder: Option<Sp<ChaosValue>>,
    /// `"P:D"`: probability that a POST is held back, and for how long, e.g. `"0.1:2s"`.
    #[schemars(with = "Option<ChaosDelay>")]
    pub delay: Option<Sp<ChaosValue>>,
    /// Probability of a forged copy with a wrong `X-Pbx-Token` before a POST.
    #[schemars(with = "Option<ChaosProbability>")]
    pub wrong_token: Option<Sp<ChaosValue>>,
    /// Probability of a forged copy without `X-Pbx-Token` before a POST.
    #[schemars(with = "Option<ChaosProbability>")]
    pub no_token: Option<Sp<ChaosValue>>,
    /// Up to this many consecutive events of a call per POST, as a JSON array.
    #[schemars(with = "Option<ChaosBatch>")]
    pub batch: Option<Sp<ChaosValue>>,
    /// Phone numbers as `digits` (default), `e164` or `local`.
    #[schemars(with = "Option<Keyword<NumberStyle>>")]
    pub numbers: Option<Sp<ChaosValue>>,
    /// Fields that do not apply as `null`, `empty`, `omit` or `string` (the text `"null"`).
    #[schemars(with = "Option<Keyword<NullStyle>>")]
    pub nulls: Option<Sp<ChaosValue>>,
    /// Durations as `int` (default) or `string`.
    #[schemars(with = "Option<Keyword<DurationStyle>>")]
    pub durations: Option<Sp<ChaosValue>>,
    /// `call_recording_link` as `null` (default) or `url` (a plausible https URL per call).
    #[schemars(with = "Option<RecordingLinkText>")]
    pub recording_link: Option<Sp<ChaosValue>>,
    /// Probability that a body carries an extra field receivers must ignore.
    #[schemars(with = "Option<ChaosProbability>")]
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
#[schemars(transform = toml_table)]
pub struct WebhookFile {
    /// Where events are POSTed (http or https). Default: `--target`, or the built-in receiver.
    pub url: Option<Sp<SecretUrl>>,
    /// Sent as the `X-Pbx-Token` header. Use `${VAR}` so the secret is not checked in.
    pub token: Option<Sp<Secret>>,
    /// The ticked event types; only these are sent. Default: all 12.
    #[schemars(with = "Option<Vec<EventTypeName>>")]
    pub events: Option<Vec<Sp<String>>>,
    /// Extra headers sent with every event.
    #[serde(default)]
    #[schemars(transform = entries("A header sent with every global event: name = value."))]
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
        "additionalProperties": {
            "description": "Where events of this type are POSTed (http or https).",
            "type": "string",
            "format": "uri",
        },
        "examples": [{ "queue_call": "http://127.0.0.1:3000/queue" }],
    })
}

/// Where recordings are delivered.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = toml_table)]
pub struct RecordingFile {
    /// Who receives recordings by email, one address per string: `["ops@example.com"]`.
    #[serde(default)]
    pub emails: Vec<Sp<String>>,
    /// Default "Call recording".
    pub subject: Option<Sp<String>>,
    /// Default "A call recording is attached.".
    pub message: Option<Sp<String>>,
    /// `email` (default) or `storage`.
    #[schemars(with = "Option<Keyword<RecordingMode>>")]
    pub mode: Option<RecordingMode>,
}

/// A user: a person with an extension.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = toml_table)]
pub struct UserFile {
    /// The user's name, as events carry it in `user_name`.
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
#[schemars(transform = toml_table)]
pub struct QueueFile {
    /// The queue's name: `queue:NAME` steps and `queue_name` in events refer to it.
    pub name: Sp<String>,
    /// Member extensions.
    pub members: Sp<Vec<Sp<String>>>,
    /// Which available members ring: `ringall` (default), `linear`, `round_robin`,
    /// `least_recent`, `fewest_calls` or `random`.
    #[schemars(with = "Option<Keyword<Strategy>>")]
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
    #[schemars(with = "Option<Keyword<WrapupBlocks>>")]
    pub wrapup_blocks: Option<WrapupBlocks>,
    /// Where a timed-out call goes, e.g. `"voicemail:Support VM"`. Default: the next step.
    pub failover: Option<Sp<StepFile>>,
}

/// A ring group.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = toml_table)]
pub struct RingGroupFile {
    /// The ring group's name: `ring_group:NAME` steps and `ring_group_name` in events refer
    /// to it.
    pub name: Sp<String>,
    /// Member extensions, in ringing order.
    pub members: Sp<Vec<Sp<String>>>,
    /// `simultaneous` (default) or `sequential`.
    #[schemars(with = "Option<Keyword<RingMode>>")]
    pub mode: Option<RingMode>,
    /// Simultaneous: how long all ring. Sequential: how long each rings. Default 20s.
    pub ring_time: Option<Sp<DurationText>>,
    /// Where an unanswered call goes. Default: the next step.
    pub no_answer: Option<Sp<StepFile>>,
}

/// A voicemail box.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = toml_table)]
pub struct VoicemailFile {
    /// The box's name: `voicemail:NAME` steps refer to it.
    pub name: Sp<String>,
    /// Who is notified of a new message, one address per string.
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
#[schemars(transform = toml_table)]
pub struct WebhookObjectFile {
    /// The object's name: `webhook:NAME` steps refer to it.
    pub name: Sp<String>,
    /// Where it POSTs. Default: the global target (its `webhook_component_event` route, else
    /// its `url`, after `--target`).
    pub url: Option<Sp<SecretUrl>>,
    /// Sent as `X-Pbx-Token`. Default: the global token (`--token`, `PBXSIM_TOKEN`, else
    /// `[webhook] token`); `""` sends none.
    pub token: Option<Sp<Secret>>,
    /// Extra headers this object sends, name = value.
    #[serde(default)]
    #[schemars(transform = entries("A header this object sends: name = value."))]
    pub headers: Headers,
}

/// A phone number and its call flow.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = toml_table)]
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
#[schemars(transform = toml_table)]
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
                keywords(&[
                    ("record", "Record the rest of the call (`recording_inbound` after it ends)."),
                    ("hangup", "The PBX hangs up."),
                ]),
                {
                    "description": "`KIND:NAME`: fire a webhook object, queue the caller, ring a \
                        ring group or a user (by extension), or send the caller to a voicemail box.",
                    "type": "string",
                    "pattern": r"^\s*(webhook|queue|ring_group|user|voicemail)\s*:\s*\S",
                    "examples": ["queue:Support", "voicemail:Support VM", "user:1010"],
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
#[schemars(transform = toml_table)]
pub struct CallFile {
    /// When the call starts, after the scenario's start: `"0s"`, `"1m30s"`.
    pub at: Sp<DurationText>,
    /// `inbound` (default) or `outbound`.
    #[schemars(with = "Option<Keyword<Direction>>")]
    pub direction: Option<Direction>,
    /// Inbound: the caller's number. Outbound: the calling user's extension.
    pub from: Sp<String>,
    /// Inbound: one of the `[[numbers]]`. Outbound: the number dialled.
    pub to: Sp<String>,
    /// Inbound: the caller's name (CNAM). Default: none.
    pub caller_name: Option<Sp<String>>,
    /// `any` (default: the first user rung answers), an extension, or `none`. Outbound: `any`
    /// (the far end answers) or `none`.
    #[schemars(with = "Option<AnsweredBy>")]
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

// ---- the schema as editors use it -----------------------------------------------------------
//
// `schema/scenario.schema.json` is this schema; Taplo (Even Better TOML) checks scenario files
// with it as they are typed. Three rules make its messages useful there:
// - TOML has no null, so an optional key is its value's schema alone, not `anyOf [value,
//   null]` (an editor would report a misspelt keyword as an `anyOf` failure);
// - a keyword-valued key is an `enum` (`"roundrobin" is not one of ["ringall", …]`), with the
//   meaning of each keyword in `x-taplo.docs.enumValues` for completion;
// - a key that takes a keyword or a value is an `anyOf` whose keyword alternative is an `enum`.

use serde_json::Value;

/// Field transform of a map (a table of free keys): documents its entries, as `doc`.
pub(crate) fn entries(doc: &'static str) -> impl FnMut(&mut Schema) {
    move |schema| {
        if let Some(Value::Object(entry)) = schema.get_mut("additionalProperties") {
            entry.insert("description".into(), doc.into());
        }
    }
}

/// Container transform of every table type: its optional keys lose the `null` that `Option`
/// adds for JSON.
pub(crate) fn toml_table(schema: &mut Schema) {
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        properties.values_mut().for_each(drop_null);
    }
}

/// `value`'s schema without its `null` alternative.
pub(crate) fn drop_null(value: &mut Value) {
    let Some(object) = value.as_object_mut() else { return };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            object.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = object.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    let null = serde_json::json!({ "type": "null" });
    let other = match object.get("anyOf") {
        Some(Value::Array(alternatives)) if alternatives.len() == 2 => {
            alternatives.iter().position(|a| *a == null).map(|i| alternatives[1 - i].clone())
        }
        _ => None,
    };
    if let Some(Value::Object(other)) = other {
        object.remove("anyOf");
        for (key, value) in other {
            // The key's own description wins over its type's.
            object.entry(key).or_insert(value);
        }
    }
}

/// The schema of a keyword-valued key of type `T` (a unit-variant enum): an `enum` of its
/// keywords, each documented by its variant's doc comment.
pub struct Keyword<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Keyword<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        format!("Keyword<{}>", T::schema_id()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = T::json_schema(generator);
        let variants = match schema.get("oneOf") {
            Some(Value::Array(variants)) => variants.clone(),
            // Variants without doc comments are an `enum` already.
            _ => return schema,
        };
        let mut keywords = Vec::new();
        let mut docs = Vec::new();
        for variant in &variants {
            let Some(keyword) = variant.get("const") else { return schema };
            keywords.push(keyword.clone());
            docs.push(variant.get("description").cloned().unwrap_or(Value::Null));
        }
        schema.remove("oneOf");
        schema.insert("type".into(), "string".into());
        schema.insert("enum".into(), keywords.into());
        schema.insert("x-taplo".into(), serde_json::json!({ "docs": { "enumValues": docs } }));
        schema
    }
}

/// A keyword schema from its words and their meanings.
fn keywords(words: &[(&str, &str)]) -> Value {
    let (names, docs): (Vec<&str>, Vec<&str>) = words.iter().copied().unzip();
    serde_json::json!({
        "type": "string",
        "enum": names,
        "x-taplo": { "docs": { "enumValues": docs } },
    })
}

/// `[webhook] events`: an event type's wire name.
pub struct EventTypeName;

impl JsonSchema for EventTypeName {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "EventType".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = crate::event::EventType::ALL.iter().map(|t| t.as_str()).collect();
        json_schema!({ "type": "string", "enum": names })
    }
}

/// `answered_by`: `any`, `none` or an extension.
pub struct AnsweredBy;

impl JsonSchema for AnsweredBy {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "AnsweredBy".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                keywords(&[
                    ("any", "The first user rung answers (outbound: the far end answers)."),
                    ("none", "Nobody answers."),
                ]),
                {
                    "description": "The extension of the user who answers (inbound).",
                    "type": "string",
                    "pattern": r"^\s*[0-9]+\s*$|\$\{",
                    "examples": ["1010"],
                },
            ],
        })
    }
}

/// A `[chaos]` probability: a fraction (`0.05`) or a percentage (`"5%"`).
pub struct ChaosProbability;

impl JsonSchema for ChaosProbability {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Probability".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["number", "string"],
            "minimum": 0,
            "maximum": 1,
            "pattern": r"^\s*[0-9.]+\s*%?\s*$",
            "examples": [0.05, "5%"],
        })
    }
}

/// `[chaos] delay`: `"P:D"`, a probability and a duration.
pub struct ChaosDelay;

impl JsonSchema for ChaosDelay {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "ChaosDelay".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": r"^\s*[0-9.]+\s*%?\s*:\s*([0-9]+(\.[0-9]+)?(ms|s|sec|m|min|h|d))+\s*$",
            "examples": ["0.1:2s", "5%:250ms"],
        })
    }
}

/// `[chaos] batch`: the most events per POST.
pub struct ChaosBatch;

impl JsonSchema for ChaosBatch {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "ChaosBatch".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["integer", "string"],
            "minimum": 1,
            "maximum": crate::scenario::chaos::MAX_BATCH,
            "pattern": r"^\s*[0-9]+\s*$",
            "examples": [5],
        })
    }
}

/// `[chaos] recording_link`.
pub struct RecordingLinkText;

impl JsonSchema for RecordingLinkText {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "RecordingLink".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let words = [
            ("null", "`null`, as the vendor document says (the default)."),
            ("url", "A plausible https URL, the same for a call in every run with the same seed."),
        ];
        keywords(&words).try_into().expect("an object")
    }
}
