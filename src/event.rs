//! The wire format: the 12 webhook payload types, their JSON names and field types.
//!
//! This is the only module that knows wire names. Every payload the engine, `trigger`, the
//! receiver and the checker handle is one of the [`Event`] variants below, with the field names
//! and JSON types of the vendor document (`shared/reference/pbx-webhook-events.txt`):
//! strings are strings, `call_duration` and `conversation_duration` are integers, and the `type`
//! field carries the wire name. Fields the document marks "if applicable" or "if it exists" are
//! `Option`s; they serialize as `null` by default, and [`NullStyle`] switches them to empty
//! strings or omission.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A shared, immutable string. Call-wide fields (`unique_call_id`, `caller_id`, …) are shared by
/// every event of a call, so cloning them must be cheap.
pub type Str = Arc<str>;

mod catalogue;

pub use catalogue::{REFRESH_COMMAND, catalogue_markdown, when_it_fires};

/// Defines a payload struct with its serde derives, its field table ([`Field`]) and a fast JSON
/// writer whose output is byte-identical to serde_json's (a unit test holds it to that), all from
/// one list, so a field is declared once.
///
/// Each field is its wire name (the Rust name is the JSON key: no `rename`, which the macro does
/// not accept), its doc comment (its meaning, for the field table and the JSON Schema), then at
/// most plain `#[serde(word)]` attributes, then its type, whose [`FieldKind`] follows from it.
/// The struct's doc comment starts with `` `wire_name`: `` and says when the event fires; its
/// first paragraph is the event catalogue's "when" line.
macro_rules! payload {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            $(
                $(#[doc = $fdoc:literal])*
                $(#[serde($serde:ident)])*
                pub $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $( $(#[doc = $fdoc])* $(#[serde($serde)])* pub $field: $ty, )*
        }

        impl $name {
            /// This payload's fields except `type`, in wire order.
            pub const FIELDS: &'static [Field] = &[$(
                Field {
                    name: stringify!($field),
                    kind: <$ty as WriteValue>::KIND,
                    meaning: concat!($($fdoc),*).trim_ascii(),
                },
            )*];

            /// The struct's doc comment, one line per `///` line.
            const DOC: &'static str = concat!($($doc, "\n"),*);
        }

        impl WriteFields for $name {
            fn write_fields(&self, out: &mut Vec<u8>) {
                $(
                    out.extend_from_slice(concat!(",\"", stringify!($field), "\":").as_bytes());
                    self.$field.write_value(out);
                )*
            }
        }
    };
}

/// The fast path of [`Event::write_json`]: writes the fields after `"type":"…"`.
trait WriteFields {
    fn write_fields(&self, out: &mut Vec<u8>);
}

/// A field value that writes itself as JSON, and whose Rust type says its [`FieldKind`].
trait WriteValue {
    /// The JSON type of a field of this Rust type.
    const KIND: FieldKind;
    fn write_value(&self, out: &mut Vec<u8>);
}

impl WriteValue for Str {
    const KIND: FieldKind = FieldKind::String;

    fn write_value(&self, out: &mut Vec<u8>) {
        write_json_str(self, out);
    }
}

impl WriteValue for Option<Str> {
    const KIND: FieldKind = FieldKind::OptionalString;

    fn write_value(&self, out: &mut Vec<u8>) {
        match self {
            Some(s) => write_json_str(s, out),
            None => out.extend_from_slice(b"null"),
        }
    }
}

impl WriteValue for u64 {
    const KIND: FieldKind = FieldKind::Integer;

    fn write_value(&self, out: &mut Vec<u8>) {
        let mut digits = [0u8; 20];
        let mut n = *self;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[i..]);
    }
}

impl WriteValue for CallStatus {
    const KIND: FieldKind = FieldKind::Status;

    fn write_value(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        out.extend_from_slice(self.as_str().as_bytes());
        out.push(b'"');
    }
}

/// Writes a JSON string. Text with nothing to escape (nearly all of it) is copied as is; the
/// rest goes through serde_json, so the output is always the same as serde_json's.
fn write_json_str(text: &str, out: &mut Vec<u8>) {
    if needs_escape(text.as_bytes()) {
        // Writing a string into a Vec cannot fail.
        serde_json::to_writer(&mut *out, text).expect("string serializes");
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// Whether any byte is a control character, `"` or `\`, eight bytes at a time.
fn needs_escape(bytes: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // Bytes below 0x20 (ignoring bytes >= 0x80, which need no escape), '"' and '\'.
        let control = x.wrapping_sub(LO * 0x20) & !x & HI;
        if control | has_zero(x ^ (LO * b'"' as u64)) | has_zero(x ^ (LO * b'\\' as u64)) != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// One webhook payload, tagged by its wire `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    UserInbound(UserInbound),
    UserInboundAnswered(UserInboundAnswered),
    UserInboundCompleted(UserInboundCompleted),
    UserOutbound(UserOutbound),
    UserOutboundAnswered(UserOutboundAnswered),
    UserOutboundCompleted(UserOutboundCompleted),
    QueueCall(QueueCall),
    RingGroupCall(RingGroupCall),
    Voicemail(Voicemail),
    RecordingInbound(RecordingInbound),
    RecordingOutbound(RecordingOutbound),
    WebhookComponentEvent(WebhookComponentEvent),
}

payload! {
    /// `user_inbound`: a call reaches a user and starts ringing.
    pub struct UserInbound {
        /// The call's id, the same in every event of the call.
        pub unique_call_id: Str,
        /// The caller's number (CLI).
        pub caller_id: Str,
        /// The caller's name (CNAM), if known.
        #[serde(default)]
        pub caller_name: Option<Str>,
        /// Name of the user whose phone is ringing.
        pub user_name: Str,
        /// Extension of the user whose phone is ringing.
        pub user_number: Str,
        /// The PBX number the call came in on.
        pub dest_number: Str,
        /// When the call arrived on the PBX.
        pub call_start_at: Str,
        /// The queue ringing the user, if a queue rang them.
        #[serde(default)]
        pub queue_name: Option<Str>,
        /// The ring group ringing the user, if a ring group rang them.
        #[serde(default)]
        pub ring_group_name: Option<Str>,
    }
}

payload! {
    /// `user_inbound_answered`: a user answers an inbound call.
    pub struct UserInboundAnswered {
        /// The call's id, the same in every event of the call.
        pub unique_call_id: Str,
        /// The caller's number (CLI).
        pub caller_id: Str,
        /// The caller's name (CNAM), if known.
        #[serde(default)]
        pub caller_name: Option<Str>,
        /// Name of the user who answered.
        pub user_name: Str,
        /// Extension of the user who answered.
        pub user_number: Str,
        /// The PBX number the call came in on.
        pub dest_number: Str,
        /// When the call arrived on the PBX.
        pub call_start_at: Str,
        /// When the user answered.
        pub connected_at: Str,
        /// The queue that routed the call to the user, if any.
        #[serde(default)]
        pub queue_name: Option<Str>,
        /// The ring group that routed the call to the user, if any.
        #[serde(default)]
        pub ring_group_name: Option<Str>,
    }
}

payload! {
    /// `user_inbound_completed`: an answered inbound call to a user ends. With the scenario's
    /// `unanswered_completion = "completed"` it is also sent to a user who rang but did not
    /// answer, with `connected_at` null and `conversation_duration` 0.
    pub struct UserInboundCompleted {
        /// The call's id, the same in every event of the call.
        pub unique_call_id: Str,
        /// The caller's number (CLI).
        pub caller_id: Str,
        /// The caller's name (CNAM), if known.
        #[serde(default)]
        pub caller_name: Option<Str>,
        /// Name of the user who answered (or rang, for a missed call).
        pub user_name: Str,
        /// Extension of the user who answered (or rang, for a missed call).
        pub user_number: Str,
        /// The PBX number the call came in on.
        pub dest_number: Str,
        /// When the call arrived on the PBX.
        pub call_start_at: Str,
        /// When the user answered; null if they did not.
        #[serde(default)]
        pub connected_at: Option<Str>,
        /// Whole seconds from `call_start_at` to the end (ringing and talk).
        pub call_duration: u64,
        /// Whole seconds from `connected_at` to the end (talk only); 0 if not answered.
        pub conversation_duration: u64,
        /// The queue that routed the call to the user, if any.
        #[serde(default)]
        pub queue_name: Option<Str>,
        /// The ring group that routed the call to the user, if any.
        #[serde(default)]
        pub ring_group_name: Option<Str>,
    }
}

payload! {
    /// `user_outbound`: a user starts an outbound call.
    pub struct UserOutbound {
        /// The call's id, the same in every event of the call.
        pub unique_call_id: Str,
        /// The number the outbound call presents as its caller ID.
        pub caller_id: Str,
        /// Name of the user placing the call.
        pub user_name: Str,
        /// Extension of the user placing the call.
        pub user_number: Str,
        /// The number dialled.
        pub dest_number: Str,
        /// When the user started the call.
        pub call_start_at: Str,
    }
}

payload! {
    /// `user_outbound_answered`: the called party answers a user's outbound call.
    pub struct UserOutboundAnswered {
        /// The call's id, the same in every event of the call.
        pub unique_call_id: Str,
        /// The number the outbound call presents as its caller ID.
        pub caller_id: Str,
        /// Name of the user who placed the call.
        pub user_name: Str,
        /// Extension of the user who placed the call.
        pub user_number: Str,
        /// The number dialled.
        pub dest_number: Str,
        /// When the user started the call.
        pub call_start_at: Str,
        /// When the called party answered.
        pub connected_at: Str,
    }
}

payload! {
    /// `user_outbound_completed`: a user's outbound call ends (`connected_at` is null and the
    /// conversation 0 when nobody answered).
    pub struct UserOutboundCompleted {
        /// The call's id, the same in every event of the call.
        pub unique_call_id: Str,
        /// The number the outbound call presents as its caller ID.
        pub caller_id: Str,
        /// Name of the user who placed the call.
        pub user_name: Str,
        /// Extension of the user who placed the call.
        pub user_number: Str,
        /// The number dialled.
        pub dest_number: Str,
        /// When the user started the call.
        pub call_start_at: Str,
        /// When the called party answered; null if nobody did.
        #[serde(default)]
        pub connected_at: Option<Str>,
        /// Whole seconds from `call_start_at` to the end (ringing and talk).
        pub call_duration: u64,
        /// Whole seconds from `connected_at` to the end (talk only); 0 if not answered.
        pub conversation_duration: u64,
    }
}

/// How a call left a queue or ring group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Answered,
    Abandoned,
    Timedout,
}

impl CallStatus {
    pub const ALL: [CallStatus; 3] = [Self::Answered, Self::Abandoned, Self::Timedout];

    /// The wire name of this status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Abandoned => "abandoned",
            Self::Timedout => "timedout",
        }
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

payload! {
    /// `queue_call`: the summary of a call's time in a queue, sent when it leaves the queue.
    pub struct QueueCall {
        /// The call's id, the same in every event of the call.
        pub unique_call_id: Str,
        /// The caller's number (CLI).
        pub caller_id: Str,
        /// The caller's name (CNAM), if known.
        #[serde(default)]
        pub caller_name: Option<Str>,
        /// Name of the user who answered; null if nobody did.
        #[serde(default)]
        pub user_name: Option<Str>,
        /// Extension of the user who answered; null if nobody did.
        #[serde(default)]
        pub user_number: Option<Str>,
        /// The PBX number the call came in on.
        pub dest_number: Str,
        /// When the call arrived on the PBX.
        pub call_start_at: Str,
        /// When the user answered; null if nobody did.
        #[serde(default)]
        pub connected_at: Option<Str>,
        /// Whole seconds from `call_start_at` to the end of the visit (of the call, if answered).
        pub call_duration: u64,
        /// Whole seconds from `connected_at` to the end (talk only); 0 if not answered.
        pub conversation_duration: u64,
        /// The queue.
        pub queue_name: Str,
        /// How the call left the queue: answered, abandoned (the caller hung up) or timedout.
        pub status: CallStatus,
    }
}

payload! {
    /// `ring_group_call`: the summary of a call's time in a ring group, sent when it leaves the
    /// group.
    pub struct RingGroupCall {
        /// The call's id, the same in every event of the call.
        pub unique_call_id: Str,
        /// The caller's number (CLI).
        pub caller_id: Str,
        /// The caller's name (CNAM), if known.
        #[serde(default)]
        pub caller_name: Option<Str>,
        /// Name of the user who answered; null if nobody did.
        #[serde(default)]
        pub user_name: Option<Str>,
        /// Extension of the user who answered; null if nobody did.
        #[serde(default)]
        pub user_number: Option<Str>,
        /// The PBX number the call came in on.
        pub dest_number: Str,
        /// When the call arrived on the PBX.
        pub call_start_at: Str,
        /// When the user answered; null if nobody did.
        #[serde(default)]
        pub connected_at: Option<Str>,
        /// Whole seconds from `call_start_at` to the end of the visit (of the call, if answered).
        pub call_duration: u64,
        /// Whole seconds from `connected_at` to the end (talk only); 0 if not answered.
        pub conversation_duration: u64,
        /// The ring group.
        pub ring_group_name: Str,
        /// How the call left the group: answered, abandoned (the caller hung up) or timedout.
        pub status: CallStatus,
    }
}

payload! {
    /// `voicemail`: a caller left a voicemail message (sent when the message ends).
    pub struct Voicemail {
        /// The call's id, the same in every event of the call.
        pub unique_call_id: Str,
        /// The caller's number (CLI).
        pub caller_id: Str,
        /// The PBX number the call came in on.
        pub dest_number: Str,
        /// When the message began.
        pub recorded_at: Str,
        /// The voicemail box's email addresses, comma-separated.
        pub emails: Str,
        /// The voicemail box's email subject.
        pub email_subject: Str,
        /// The body of the email sent.
        pub email_message: Str,
        /// Null ("pending future development" in the vendor document); `--chaos
        /// recording_link=url` makes it an https URL.
        #[serde(default)]
        pub call_recording_link: Option<Str>,
    }
}

payload! {
    /// `recording_inbound`: an inbound call finished recording (sent after the call ends).
    pub struct RecordingInbound {
        /// The call's id, the same in every event of the call.
        pub unique_call_id: Str,
        /// The caller's number (CLI).
        pub caller_id: Str,
        /// The PBX number the call came in on.
        pub dest_number: Str,
        /// When recording began.
        pub recorded_at: Str,
        /// The recording's email addresses, comma-separated.
        pub emails: Str,
        /// The recording email's subject.
        pub email_subject: Str,
        /// Null ("pending future development" in the vendor document); `--chaos
        /// recording_link=url` makes it an https URL.
        #[serde(default)]
        pub call_recording_link: Option<Str>,
        /// The body of the email sent; null when recordings go to storage.
        #[serde(default)]
        pub email_message: Option<Str>,
    }
}

payload! {
    /// `recording_outbound`: an answered outbound call finished recording (sent after the call
    /// ends).
    pub struct RecordingOutbound {
        /// The call's id, the same in every event of the call.
        pub unique_call_id: Str,
        /// The number the outbound call presented as its caller ID.
        pub caller_id: Str,
        /// Name of the user who placed the call.
        pub user_name: Str,
        /// Extension of the user who placed the call.
        pub user_number: Str,
        /// The number dialled.
        pub dest_number: Str,
        /// When recording began.
        pub recorded_at: Str,
        /// The user's recording email addresses, comma-separated.
        pub emails: Str,
        /// The recording email's subject.
        pub email_subject: Str,
        /// Null ("pending future development" in the vendor document); `--chaos
        /// recording_link=url` makes it an https URL.
        #[serde(default)]
        pub call_recording_link: Option<Str>,
        /// The body of the email sent; null when recordings go to storage.
        #[serde(default)]
        pub email_message: Option<Str>,
        /// `"storage"` when the user's recordings go to storage, else null.
        #[serde(default)]
        pub mode: Option<Str>,
    }
}

payload! {
    /// `webhook_component_event`: a call reaches a webhook object in its call flow.
    ///
    /// `user_name` is the caller's CNAM and `user_number` the caller's CLI, as the vendor
    /// document says.
    pub struct WebhookComponentEvent {
        /// The call's id, the same in every event of the call.
        pub unique_call_id: Str,
        /// The caller's name (CNAM), if known: not a PBX user.
        #[serde(default)]
        pub user_name: Option<Str>,
        /// The caller's number (CLI): not a PBX user.
        pub user_number: Str,
        /// The PBX number the call came in on.
        pub dest_number: Str,
        /// When the call arrived on the PBX.
        pub call_start_at: Str,
        /// The name of the webhook object.
        pub component_name: Str,
    }
}

/// The 12 event types, by wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    UserInbound,
    UserInboundAnswered,
    UserInboundCompleted,
    UserOutbound,
    UserOutboundAnswered,
    UserOutboundCompleted,
    QueueCall,
    RingGroupCall,
    Voicemail,
    RecordingInbound,
    RecordingOutbound,
    WebhookComponentEvent,
}

/// The JSON type of a payload field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Always a string.
    String,
    /// A string, or null / empty / absent when not applicable.
    OptionalString,
    /// A non-negative integer (whole seconds).
    Integer,
    /// One of `answered`, `abandoned`, `timedout`.
    Status,
}

/// One field of a payload type, in the vendor document's order. The tables are generated by
/// the `payload!` definitions above, from the same list as the structs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The JSON key.
    pub name: &'static str,
    /// The JSON type, from the field's Rust type.
    pub kind: FieldKind,
    /// What the field means in this type (the field's doc comment), for the event catalogue.
    pub meaning: &'static str,
}

impl EventType {
    /// All 12 types, in the vendor document's order.
    pub const ALL: [EventType; 12] = [
        Self::UserInbound,
        Self::UserInboundAnswered,
        Self::UserInboundCompleted,
        Self::UserOutbound,
        Self::UserOutboundAnswered,
        Self::UserOutboundCompleted,
        Self::QueueCall,
        Self::RingGroupCall,
        Self::Voicemail,
        Self::RecordingInbound,
        Self::RecordingOutbound,
        Self::WebhookComponentEvent,
    ];

    /// The wire name (`user_inbound`, …, `webhook_component_event`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserInbound => "user_inbound",
            Self::UserInboundAnswered => "user_inbound_answered",
            Self::UserInboundCompleted => "user_inbound_completed",
            Self::UserOutbound => "user_outbound",
            Self::UserOutboundAnswered => "user_outbound_answered",
            Self::UserOutboundCompleted => "user_outbound_completed",
            Self::QueueCall => "queue_call",
            Self::RingGroupCall => "ring_group_call",
            Self::Voicemail => "voicemail",
            Self::RecordingInbound => "recording_inbound",
            Self::RecordingOutbound => "recording_outbound",
            Self::WebhookComponentEvent => "webhook_component_event",
        }
    }

    /// A stable index in `0..12`, usable for per-type counters and bit sets.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The payload fields of this type except `type`, in the vendor document's order.
    pub fn fields(self) -> &'static [Field] {
        self.declared().0
    }

    /// The doc comment of this type's payload struct: `` `wire_name`: `` and when it fires.
    pub(crate) fn doc(self) -> &'static str {
        self.declared().1
    }

    /// What `payload!` declared for this type: its field table and its doc comment.
    fn declared(self) -> (&'static [Field], &'static str) {
        macro_rules! of {
            ($payload:ident) => {
                ($payload::FIELDS, $payload::DOC)
            };
        }
        match self {
            Self::UserInbound => of!(UserInbound),
            Self::UserInboundAnswered => of!(UserInboundAnswered),
            Self::UserInboundCompleted => of!(UserInboundCompleted),
            Self::UserOutbound => of!(UserOutbound),
            Self::UserOutboundAnswered => of!(UserOutboundAnswered),
            Self::UserOutboundCompleted => of!(UserOutboundCompleted),
            Self::QueueCall => of!(QueueCall),
            Self::RingGroupCall => of!(RingGroupCall),
            Self::Voicemail => of!(Voicemail),
            Self::RecordingInbound => of!(RecordingInbound),
            Self::RecordingOutbound => of!(RecordingOutbound),
            Self::WebhookComponentEvent => of!(WebhookComponentEvent),
        }
    }

    /// The field called `name`, if this type has one.
    pub fn field(self, name: &str) -> Option<Field> {
        self.fields().iter().copied().find(|f| f.name == name)
    }

    /// Whether this type is sent by a webhook object in a call flow (to the object's own URL)
    /// rather than by the global webhook settings.
    pub fn is_component(self) -> bool {
        self == Self::WebhookComponentEvent
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a name that is not one of the 12 wire names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type `{name}`{}", suggestion_suffix(.suggestion))]
pub struct UnknownEventType {
    pub name: String,
    pub suggestion: Option<&'static str>,
}

fn suggestion_suffix(s: &Option<&'static str>) -> String {
    match s {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|t| t.as_str() == name).ok_or_else(|| UnknownEventType {
            name: name.to_string(),
            suggestion: crate::suggest::closest(name, Self::ALL.iter().map(|t| t.as_str())),
        })
    }
}

/// A set of event types, e.g. the tick boxes of the global webhook settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventTypeSet(u16);

impl EventTypeSet {
    pub const ALL: EventTypeSet = EventTypeSet((1 << 12) - 1);
    pub const EMPTY: EventTypeSet = EventTypeSet(0);

    pub fn contains(self, t: EventType) -> bool {
        self.0 & (1 << t.index()) != 0
    }
    pub fn insert(&mut self, t: EventType) {
        self.0 |= 1 << t.index();
    }
    pub fn iter(self) -> impl Iterator<Item = EventType> {
        EventType::ALL.into_iter().filter(move |t| self.contains(*t))
    }
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl Default for EventTypeSet {
    fn default() -> Self {
        Self::ALL
    }
}

impl FromIterator<EventType> for EventTypeSet {
    fn from_iter<I: IntoIterator<Item = EventType>>(iter: I) -> Self {
        let mut set = Self::EMPTY;
        for t in iter {
            set.insert(t);
        }
        set
    }
}

/// How fields that are "not applicable" appear on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NullStyle {
    /// `"queue_name": null` (the default, as seen in real payloads).
    #[default]
    Null,
    /// `"queue_name": ""`.
    Empty,
    /// The key is left out.
    Omit,
    /// `"queue_name": "null"`: the literal string, as some senders write it.
    String,
}

impl Event {
    /// The wire type of this payload.
    pub fn event_type(&self) -> EventType {
        match self {
            Self::UserInbound(_) => EventType::UserInbound,
            Self::UserInboundAnswered(_) => EventType::UserInboundAnswered,
            Self::UserInboundCompleted(_) => EventType::UserInboundCompleted,
            Self::UserOutbound(_) => EventType::UserOutbound,
            Self::UserOutboundAnswered(_) => EventType::UserOutboundAnswered,
            Self::UserOutboundCompleted(_) => EventType::UserOutboundCompleted,
            Self::QueueCall(_) => EventType::QueueCall,
            Self::RingGroupCall(_) => EventType::RingGroupCall,
            Self::Voicemail(_) => EventType::Voicemail,
            Self::RecordingInbound(_) => EventType::RecordingInbound,
            Self::RecordingOutbound(_) => EventType::RecordingOutbound,
            Self::WebhookComponentEvent(_) => EventType::WebhookComponentEvent,
        }
    }

    /// The `unique_call_id` every payload carries.
    pub fn unique_call_id(&self) -> &str {
        match self {
            Self::UserInbound(e) => &e.unique_call_id,
            Self::UserInboundAnswered(e) => &e.unique_call_id,
            Self::UserInboundCompleted(e) => &e.unique_call_id,
            Self::UserOutbound(e) => &e.unique_call_id,
            Self::UserOutboundAnswered(e) => &e.unique_call_id,
            Self::UserOutboundCompleted(e) => &e.unique_call_id,
            Self::QueueCall(e) => &e.unique_call_id,
            Self::RingGroupCall(e) => &e.unique_call_id,
            Self::Voicemail(e) => &e.unique_call_id,
            Self::RecordingInbound(e) => &e.unique_call_id,
            Self::RecordingOutbound(e) => &e.unique_call_id,
            Self::WebhookComponentEvent(e) => &e.unique_call_id,
        }
    }

    /// Append this payload's JSON to `out`, with "not applicable" fields in `style`.
    pub fn write_json(&self, style: NullStyle, out: &mut Vec<u8>) {
        match style {
            // Serializing plain structs into a Vec cannot fail.
            NullStyle::Null => self.write_json_fast(out),
            _ => {
                let value = self.to_value(style);
                serde_json::to_writer(&mut *out, &value).expect("value serializes");
            }
        }
    }

    fn write_json_fast(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(self.event_type().as_str().as_bytes());
        out.push(b'"');
        match self {
            Self::UserInbound(e) => e.write_fields(out),
            Self::UserInboundAnswered(e) => e.write_fields(out),
            Self::UserInboundCompleted(e) => e.write_fields(out),
            Self::UserOutbound(e) => e.write_fields(out),
            Self::UserOutboundAnswered(e) => e.write_fields(out),
            Self::UserOutboundCompleted(e) => e.write_fields(out),
            Self::QueueCall(e) => e.write_fields(out),
            Self::RingGroupCall(e) => e.write_fields(out),
            Self::Voicemail(e) => e.write_fields(out),
            Self::RecordingInbound(e) => e.write_fields(out),
            Self::RecordingOutbound(e) => e.write_fields(out),
            Self::WebhookComponentEvent(e) => e.write_fields(out),
        }
        out.push(b'}');
    }

    /// This payload as a JSON string, with "not applicable" fields in `style`.
    pub fn to_json(&self, style: NullStyle) -> String {
        let mut out = Vec::with_capacity(384);
        self.write_json(style, &mut out);
        // serde_json only writes valid UTF-8.
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    /// This payload as a JSON value, with "not applicable" fields in `style`.
    pub fn to_value(&self, style: NullStyle) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("event serializes");
        apply_null_style(&mut value, style);
        value
    }
}

/// How phone numbers appear on the wire. pbxsim's own form, as in real payloads, is digits with
/// the country code and no `+` (`61290000001`); receivers meet the other two from other senders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NumberStyle {
    /// `61290000001` (the default, as seen in real payloads).
    #[default]
    Digits,
    /// `+61290000001`.
    E164,
    /// The national form with its trunk prefix: `0290000001` (`2125550100` in North America).
    Local,
}

impl NumberStyle {
    pub const NAMES: [&'static str; 3] = ["digits", "e164", "local"];

    /// This style's name as written in settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Digits => "digits",
            Self::E164 => "e164",
            Self::Local => "local",
        }
    }

    /// `number` in this style, or `None` when it is not an international number in digits
    /// (extensions such as `1010` and anything else are left alone).
    pub fn restyle(self, number: &str) -> Option<String> {
        // Full numbers have a country code and 7 or more further digits; extensions are short.
        if number.len() < 8 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        match self {
            Self::Digits => None,
            Self::E164 => Some(format!("+{number}")),
            Self::Local => {
                let code = country_code_len(number);
                let trunk = if number.starts_with('1') { "" } else { "0" };
                Some(format!("{trunk}{}", &number[code..]))
            }
        }
    }
}

impl FromStr for NumberStyle {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [Self::Digits, Self::E164, Self::Local].into_iter().find(|v| v.as_str() == s).ok_or(())
    }
}

/// The length of the country code an international number in digits starts with (ITU-T E.164
/// assignments: 1 and 7 are one digit, the two-digit codes below, the rest three).
fn country_code_len(digits: &str) -> usize {
    const TWO: &[&str] = &[
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    match digits.as_bytes().first() {
        Some(b'1' | b'7') => 1,
        _ if TWO.iter().any(|c| digits.starts_with(c)) => 2,
        _ => 3,
    }
}

/// How durations (`call_duration`, `conversation_duration`) appear on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DurationStyle {
    /// `125`, an integer, as the vendor document says (the default).
    #[default]
    Int,
    /// `"125"`, a digit string.
    String,
}

impl DurationStyle {
    pub const NAMES: [&'static str; 2] = ["int", "string"];

    /// This style's name as written in settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Int => "int",
            Self::String => "string",
        }
    }
}

impl FromStr for DurationStyle {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [Self::Int, Self::String].into_iter().find(|v| v.as_str() == s).ok_or(())
    }
}

impl NullStyle {
    pub const NAMES: [&'static str; 4] = ["null", "empty", "omit", "string"];

    /// This style's name as written in settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Empty => "empty",
            Self::Omit => "omit",
            Self::String => "string",
        }
    }
}

impl FromStr for NullStyle {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [Self::Null, Self::Empty, Self::Omit, Self::String]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or(())
    }
}

/// What [`NullStyle::String`] writes for a field that does not apply; receivers (and the
/// checker) read it as "not applicable" in fields that may be null.
pub const NULL_TEXT: &str = "null";

/// The field `--chaos extra_fields` adds to some bodies: not in the vendor document, so a
/// receiver must ignore it.
pub const EXTRA_FIELD: &str = "pbxsim_extra";

impl Event {
    /// Sets `call_recording_link` (voicemail and recording events); returns whether this type
    /// has one.
    pub fn set_recording_link(&mut self, link: Str) -> bool {
        let slot = match self {
            Self::Voicemail(e) => &mut e.call_recording_link,
            Self::RecordingInbound(e) => &mut e.call_recording_link,
            Self::RecordingOutbound(e) => &mut e.call_recording_link,
            _ => return false,
        };
        *slot = Some(link);
        true
    }
}

/// Every payload variant at once: nulls, phone numbers, durations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct WireStyle {
    pub nulls: NullStyle,
    pub numbers: NumberStyle,
    pub durations: DurationStyle,
}

impl WireStyle {
    /// Only the null style differs from pbxsim's own form (the fast writer applies).
    fn is_plain(&self) -> bool {
        self.numbers == NumberStyle::Digits && self.durations == DurationStyle::Int
    }
}

impl Field {
    /// Whether this field carries a phone number (or an extension): `caller_id`, `user_number`,
    /// `dest_number`.
    pub fn is_phone_number(self) -> bool {
        matches!(self.name, "caller_id" | "user_number" | "dest_number")
    }

    /// Whether this field is a duration in whole seconds.
    pub fn is_duration(self) -> bool {
        self.kind == FieldKind::Integer
    }
}

impl Event {
    /// Append this payload's JSON to `out` in `style`.
    pub fn write_json_styled(&self, style: &WireStyle, out: &mut Vec<u8>) {
        if style.is_plain() {
            return self.write_json(style.nulls, out);
        }
        let value = self.to_value_styled(style);
        serde_json::to_writer(&mut *out, &value).expect("value serializes");
    }

    /// This payload as a JSON value in `style`.
    pub fn to_value_styled(&self, style: &WireStyle) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("event serializes");
        if let Some(map) = value.as_object_mut() {
            for field in self.event_type().fields() {
                let Some(v) = map.get_mut(field.name) else { continue };
                if field.is_phone_number()
                    && let Some(text) = v.as_str().and_then(|t| style.numbers.restyle(t))
                {
                    *v = serde_json::Value::String(text);
                } else if field.is_duration()
                    && style.durations == DurationStyle::String
                    && let Some(n) = v.as_u64()
                {
                    *v = serde_json::Value::String(n.to_string());
                }
            }
        }
        apply_null_style(&mut value, style.nulls);
        value
    }
}

/// Rewrite the null fields of a payload object in `style`.
pub fn apply_null_style(value: &mut serde_json::Value, style: NullStyle) {
    let Some(map) = value.as_object_mut() else { return };
    match style {
        NullStyle::Null => {}
        NullStyle::Empty => {
            for v in map.values_mut() {
                if v.is_null() {
                    *v = serde_json::Value::String(String::new());
                }
            }
        }
        NullStyle::Omit => map.retain(|_, v| !v.is_null()),
        NullStyle::String => {
            for v in map.values_mut() {
                if v.is_null() {
                    *v = serde_json::Value::String(NULL_TEXT.to_string());
                }
            }
        }
    }
}

/// The JSON Schema covering all 12 payloads (`pbxsim schema events`).
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Event);
    serde_json::to_value(&schema).expect("schema serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Str {
        Str::from(s)
    }

    /// One realistic instance of every type, with some optional fields set and some not.
    pub(crate) fn samples() -> Vec<Event> {
        EventType::ALL.map(Event::sample).to_vec()
    }

    #[test]
    fn every_type_round_trips_through_serde() {
        let samples = samples();
        assert_eq!(samples.len(), 12);
        for (event, ty) in samples.iter().zip(EventType::ALL) {
            assert_eq!(event.event_type(), ty);
            for style in [NullStyle::Null, NullStyle::Omit] {
                let json = event.to_json(style);
                let back: Event = serde_json::from_str(&json).unwrap();
                assert_eq!(&back, event, "{json}");
            }
        }
    }

    /// The field table is generated from the same list as the struct; this holds serde to it
    /// (a `rename`, a `skip`, or a type mapped to another type's table would fail here).
    #[test]
    fn type_comes_first_and_keys_follow_the_field_table_in_order() {
        for ty in EventType::ALL {
            let event = Event::sample(ty);
            let mut expected = vec!["type"];
            expected.extend(ty.fields().iter().map(|f| f.name));
            let value = event.to_value(NullStyle::Null);
            let keys: Vec<&str> = value.as_object().unwrap().keys().map(|k| k.as_str()).collect();
            assert_eq!(keys, expected, "{ty}: serde's keys");
            // The fast writer too, read back with the keys in the order written.
            let fast: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&event.to_json(NullStyle::Null)).unwrap();
            assert_eq!(fast.keys().map(|k| k.as_str()).collect::<Vec<_>>(), expected, "{ty}");
            assert_eq!(fast["type"], ty.as_str());
            // And the schema's properties, which schemars takes from the same struct.
            let schema = json_schema();
            let variant = schema["oneOf"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["properties"]["type"]["const"] == ty.as_str())
                .unwrap_or_else(|| panic!("{ty} in the schema: {schema}"));
            let props: Vec<&str> =
                variant["properties"].as_object().unwrap().keys().map(|k| k.as_str()).collect();
            let mut want = expected.clone();
            let mut got = props.clone();
            want.sort_unstable();
            got.sort_unstable();
            assert_eq!(got, want, "{ty}: schema properties");
        }
    }

    #[test]
    fn every_field_has_a_meaning_and_every_type_says_when_it_fires() {
        for ty in EventType::ALL {
            assert!(
                ty.doc().starts_with(&format!(" `{ty}`: ")),
                "the doc comment of {ty}'s struct starts with `{ty}`: {:?}",
                ty.doc()
            );
            for f in ty.fields() {
                assert!(!f.meaning.is_empty(), "{ty}.{} has no doc comment", f.name);
                assert!(f.meaning.ends_with('.'), "{ty}.{}: {:?}", f.name, f.meaning);
                assert_eq!(f.meaning.trim(), f.meaning);
            }
        }
        let call_duration = EventType::QueueCall.field("call_duration").unwrap();
        assert_eq!(call_duration.kind, FieldKind::Integer);
        assert!(call_duration.meaning.starts_with("Whole seconds from `call_start_at`"));
    }

    #[test]
    fn field_kinds_match_json_types() {
        for event in samples() {
            let value = event.to_value(NullStyle::Null);
            for f in event.event_type().fields() {
                let v = &value[f.name];
                let ok = match f.kind {
                    FieldKind::String | FieldKind::Status => v.is_string(),
                    FieldKind::OptionalString => v.is_string() || v.is_null(),
                    FieldKind::Integer => v.is_u64(),
                };
                assert!(ok, "{}.{} = {v}", event.event_type(), f.name);
            }
        }
    }

    #[test]
    fn fast_writer_matches_serde_json() {
        let mut samples = samples();
        if let Event::UserInbound(e) = &mut samples[0] {
            e.caller_name = Some(t("Zoë \"the\" O'Brien\\\n\u{1}\u{7f}—"));
        }
        for event in samples {
            let fast = event.to_json(NullStyle::Null);
            assert_eq!(fast, serde_json::to_string(&event).unwrap());
        }
    }

    proptest::proptest! {
        #[test]
        fn escaping_matches_serde_json(text in ".*", n in proptest::prelude::any::<u64>()) {
            let mut out = Vec::new();
            write_json_str(&text, &mut out);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&text).unwrap());
            let mut out = Vec::new();
            n.write_value(&mut out);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }

    #[test]
    fn null_styles() {
        let e = &samples()[0];
        let null = e.to_value(NullStyle::Null);
        assert!(null["ring_group_name"].is_null());
        let empty = e.to_value(NullStyle::Empty);
        assert_eq!(empty["ring_group_name"], "");
        let omit = e.to_value(NullStyle::Omit);
        assert!(omit.get("ring_group_name").is_none());
        assert_eq!(omit["queue_name"], "Support");
    }

    #[test]
    fn number_styles() {
        assert_eq!(NumberStyle::E164.restyle("61290000001").as_deref(), Some("+61290000001"));
        assert_eq!(NumberStyle::Local.restyle("61290000001").as_deref(), Some("0290000001"));
        assert_eq!(NumberStyle::Local.restyle("12125550100").as_deref(), Some("2125550100"));
        assert_eq!(NumberStyle::Local.restyle("35312345678").as_deref(), Some("012345678"));
        assert_eq!(NumberStyle::Digits.restyle("61290000001"), None);
        assert_eq!(NumberStyle::E164.restyle("1010"), None, "extensions stay");
        assert_eq!(NumberStyle::E164.restyle("+61290000001"), None);
    }

    #[test]
    fn styled_payloads() {
        let style = WireStyle {
            nulls: NullStyle::Omit,
            numbers: NumberStyle::E164,
            durations: DurationStyle::String,
        };
        let completed = &samples()[2];
        let v = completed.to_value_styled(&style);
        assert_eq!(v["caller_id"], "+61400000001");
        assert_eq!(v["dest_number"], "+61300000000");
        assert_eq!(v["user_number"], "1010");
        assert_eq!(v["call_duration"], "28");
        assert_eq!(v["conversation_duration"], "14");
        assert!(v.get("queue_name").is_none());
        let mut out = Vec::new();
        completed.write_json_styled(&style, &mut out);
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&out).unwrap(), v);
        // The plain style is byte-identical to the fast writer.
        let mut plain = Vec::new();
        completed.write_json_styled(&WireStyle::default(), &mut plain);
        assert_eq!(plain, completed.to_json(NullStyle::Null).into_bytes());
        let local = WireStyle { numbers: NumberStyle::Local, ..WireStyle::default() };
        assert_eq!(samples()[11].to_value_styled(&local)["user_number"], "0400000001");
        for name in NullStyle::NAMES {
            assert_eq!(name.parse::<NullStyle>().unwrap().as_str(), name);
        }
    }

    #[test]
    fn wire_names_parse_and_suggest() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
            let via_serde: EventType =
                serde_json::from_value(serde_json::json!(t.as_str())).unwrap();
            assert_eq!(via_serde, t);
        }
        let err = "user_inbound_answerd".parse::<EventType>().unwrap_err();
        assert_eq!(err.suggestion, Some("user_inbound_answered"));
    }

    #[test]
    fn type_set() {
        let set: EventTypeSet = [EventType::QueueCall, EventType::Voicemail].into_iter().collect();
        assert!(set.contains(EventType::QueueCall));
        assert!(!set.contains(EventType::UserInbound));
        assert_eq!(set.len(), 2);
        assert_eq!(EventTypeSet::ALL.len(), 12);
    }
}
