//! Fault-injection settings (`--chaos`, the scenario's `[chaos]` table): duplicates,
//! reordering, delays, forged tokens, batches and payload variants.
//!
//! [`Chaos`] holds the settings, parsed from `duplicate=0.05,delay=0.1:2s,batch=5,…`
//! ([`parse_list`]) or one key at a time ([`parse_setting`], for the scenario file). What the
//! settings do to a stream of events (seeded decisions, the POSTs to make, the payload variants)
//! is delivery's: `deliver::chaos`.

use std::fmt;
use std::ops::Range;

use crate::duration::{self, Human, Millis};
use crate::event::{DurationStyle, NullStyle, NumberStyle, WireStyle};

/// The setting keys, as written.
pub const KEYS: [&str; 11] = [
    "duplicate",
    "reorder",
    "delay",
    "wrong_token",
    "no_token",
    "batch",
    "numbers",
    "nulls",
    "durations",
    "recording_link",
    "extra_fields",
];

/// What `call_recording_link` carries in voicemail and recording events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordingLink {
    /// `null`, as the vendor document says ("pending future development").
    #[default]
    Null,
    /// A plausible https URL, the same for a call in every run with the same seed.
    Url,
}

impl RecordingLink {
    pub const NAMES: [&'static str; 2] = ["null", "url"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Url => "url",
        }
    }
}

impl std::str::FromStr for RecordingLink {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [Self::Null, Self::Url].into_iter().find(|v| v.as_str() == s).ok_or(())
    }
}

/// The largest `batch`.
pub const MAX_BATCH: usize = 1000;

/// Fault-injection settings. The default injects nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chaos {
    /// Probability that a POST is sent a second time, with the same body, after it was
    /// delivered.
    pub duplicate: f64,
    /// Probability that an event is swapped with its call's next event.
    pub reorder: f64,
    /// Probability that a POST is held back by `delay_by` before it is sent.
    pub delay: f64,
    pub delay_by: Millis,
    /// Probability that a forged copy with a wrong `X-Pbx-Token` is sent just before a POST.
    pub wrong_token: f64,
    /// Probability that a forged copy without `X-Pbx-Token` is sent just before a POST.
    pub no_token: f64,
    /// Up to this many consecutive events of a call in one POST, as a JSON array; 0 or 1: off.
    pub batch: usize,
    /// Payload variants; `None` keeps the run's own form.
    pub numbers: Option<NumberStyle>,
    pub nulls: Option<NullStyle>,
    pub durations: Option<DurationStyle>,
    /// `call_recording_link` in voicemail and recording events; `None` keeps it null.
    pub recording_link: Option<RecordingLink>,
    /// Probability that an event's body carries an extra field the vendor document does not
    /// list ([`EXTRA_FIELD`](crate::event::EXTRA_FIELD)), which receivers must ignore.
    pub extra_fields: f64,
    /// The run's seed.
    pub seed: u64,
}

/// One `key=value` setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Setting {
    Duplicate(f64),
    Reorder(f64),
    Delay(f64, Millis),
    WrongToken(f64),
    NoToken(f64),
    Batch(usize),
    Numbers(NumberStyle),
    Nulls(NullStyle),
    Durations(DurationStyle),
    RecordingLink(RecordingLink),
    ExtraFields(f64),
}

/// A setting that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ChaosError {
    pub message: String,
    pub help: String,
    /// Whether the key (rather than the value) is at fault.
    pub in_key: bool,
    /// Where, within the text given to [`parse_list`] (for [`parse_setting`]: `0..0`).
    pub span: Range<usize>,
}

impl ChaosError {
    fn value(message: String, help: impl Into<String>) -> Self {
        Self { message, help: help.into(), in_key: false, span: 0..0 }
    }

    /// `message; help`, for one-line errors (the command line).
    pub fn one_line(&self) -> String {
        format!("{}; {}", self.message, self.help)
    }
}

/// Reads one setting: `key` is one of [`KEYS`], `value` its text (`0.05`, `5%`, `0.1:2s`, `5`,
/// `e164`, …).
pub fn parse_setting(key: &str, value: &str) -> Result<Setting, ChaosError> {
    let value = value.trim();
    let key = key.trim();
    let setting = match key {
        "duplicate" => Setting::Duplicate(probability(key, value)?),
        "reorder" => Setting::Reorder(probability(key, value)?),
        "wrong_token" => Setting::WrongToken(probability(key, value)?),
        "no_token" => Setting::NoToken(probability(key, value)?),
        "delay" => {
            let Some((p, by)) = value.split_once(':') else {
                return Err(ChaosError::value(
                    format!("`delay={value}` needs a probability and a duration"),
                    "write it like `delay=0.1:2s`: hold 10% of the posts for 2 seconds",
                ));
            };
            let p = probability(key, p)?;
            let by = match duration::parse(by) {
                Ok(0) | Err(_) => {
                    return Err(ChaosError::value(
                        format!("cannot read the delay `{}`", by.trim()),
                        "write a duration above zero, like `delay=0.1:2s` or `delay=0.5:250ms`",
                    ));
                }
                Ok(ms) => ms,
            };
            Setting::Delay(p, by)
        }
        "batch" => match value.parse::<usize>() {
            Ok(n @ 1..=MAX_BATCH) => Setting::Batch(n),
            _ => {
                return Err(ChaosError::value(
                    format!("cannot read `batch={value}`"),
                    format!(
                        "give the most events per POST, a whole number from 1 (no batches) to \
                         {MAX_BATCH}, like `batch=5`"
                    ),
                ));
            }
        },
        "numbers" => Setting::Numbers(variant(key, value, &NumberStyle::NAMES)?),
        "nulls" => Setting::Nulls(variant(key, value, &NullStyle::NAMES)?),
        "durations" => Setting::Durations(variant(key, value, &DurationStyle::NAMES)?),
        "recording_link" => Setting::RecordingLink(variant(key, value, &RecordingLink::NAMES)?),
        "extra_fields" => Setting::ExtraFields(probability(key, value)?),
        other => {
            let hint = match crate::suggest::closest(other, KEYS) {
                Some(s) => format!("did you mean `{s}`? (faults: {})", KEYS.join(", ")),
                None => format!("the faults are {}", KEYS.join(", ")),
            };
            return Err(ChaosError {
                message: format!("unknown fault `{other}`"),
                help: hint,
                in_key: true,
                span: 0..0,
            });
        }
    };
    Ok(setting)
}

/// A probability: `0.05`, or a percentage `5%`, from 0 to 1.
fn probability(key: &str, text: &str) -> Result<f64, ChaosError> {
    let text = text.trim();
    let value = match text.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.parse::<f64>(),
    };
    match value {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        Ok(_) => Err(ChaosError::value(
            format!("`{key}={text}` is not a probability from 0 to 1"),
            format!("write a fraction like `{key}=0.05`, or a percentage like `{key}=5%`"),
        )),
        Err(_) => Err(ChaosError::value(
            format!("cannot read `{key}={text}`"),
            format!("write a probability from 0 to 1, like `{key}=0.05` or `{key}=5%`"),
        )),
    }
}

fn variant<T: std::str::FromStr>(key: &str, text: &str, names: &[&str]) -> Result<T, ChaosError> {
    text.parse::<T>().map_err(|_| {
        let allowed = names.join(", ");
        let help = match crate::suggest::closest(text, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? ({key} may be {allowed})"),
            None => format!("{key} may be {allowed}"),
        };
        ChaosError::value(format!("unknown {key} style `{text}`"), help)
    })
}

/// Reads a comma-separated list, `duplicate=0.05,delay=0.1:2s,batch=5`. Errors carry the span
/// of the offending item within `text`.
pub fn parse_list(text: &str) -> Result<Vec<Setting>, ChaosError> {
    let mut out = Vec::new();
    let mut start = 0;
    for item in text.split(',') {
        let span = start..start + item.len();
        start += item.len() + 1;
        if item.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once('=') else {
            return Err(ChaosError {
                message: format!("`{}` has no value", item.trim()),
                help: "write faults as key=value, like `duplicate=0.05,batch=5`".into(),
                in_key: true,
                span,
            });
        };
        let setting = parse_setting(key, value).map_err(|mut e| {
            e.span = if e.in_key {
                span.start..span.start + key.len()
            } else {
                span.start + key.len() + 1..span.end
            };
            e
        })?;
        out.push(setting);
    }
    Ok(out)
}

impl Chaos {
    /// Settings from a list, applied in order onto the defaults.
    pub fn from_settings(settings: &[Setting]) -> Self {
        let mut chaos = Chaos::default();
        chaos.apply_all(settings);
        chaos
    }

    /// Applies `settings` in order (a later one overrides an earlier one of the same key).
    pub fn apply_all(&mut self, settings: &[Setting]) {
        for s in settings {
            self.apply(*s);
        }
    }

    pub fn apply(&mut self, setting: Setting) {
        match setting {
            Setting::Duplicate(p) => self.duplicate = p,
            Setting::Reorder(p) => self.reorder = p,
            Setting::Delay(p, by) => (self.delay, self.delay_by) = (p, by),
            Setting::WrongToken(p) => self.wrong_token = p,
            Setting::NoToken(p) => self.no_token = p,
            Setting::Batch(n) => self.batch = n,
            Setting::Numbers(s) => self.numbers = Some(s),
            Setting::Nulls(s) => self.nulls = Some(s),
            Setting::Durations(s) => self.durations = Some(s),
            Setting::RecordingLink(s) => self.recording_link = Some(s),
            Setting::ExtraFields(p) => self.extra_fields = p,
        }
    }

    /// Whether any fault or variant is set.
    pub fn is_active(&self) -> bool {
        self.duplicate > 0.0
            || self.reorder > 0.0
            || self.delay > 0.0
            || self.has_token_faults()
            || self.batch > 1
            || self.numbers.is_some()
            || self.nulls.is_some()
            || self.durations.is_some()
            || self.recording_link == Some(RecordingLink::Url)
            || self.extra_fields > 0.0
    }

    /// Whether forged requests (wrong or no token) are sent.
    pub fn has_token_faults(&self) -> bool {
        self.wrong_token > 0.0 || self.no_token > 0.0
    }

    /// The wire style of every event: the variants set here, else `nulls` (the run's own).
    pub fn style(&self, nulls: NullStyle) -> WireStyle {
        WireStyle {
            nulls: self.nulls.unwrap_or(nulls),
            numbers: self.numbers.unwrap_or_default(),
            durations: self.durations.unwrap_or_default(),
        }
    }
}

impl fmt::Display for Chaos {
    /// The settings in force, as they are written: `duplicate=0.05,batch=5,numbers=e164`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (key, p) in [("duplicate", self.duplicate), ("reorder", self.reorder)] {
            if p > 0.0 {
                parts.push(format!("{key}={p}"));
            }
        }
        if self.delay > 0.0 {
            parts.push(format!("delay={}:{}", self.delay, Human(self.delay_by)));
        }
        for (key, p) in [("wrong_token", self.wrong_token), ("no_token", self.no_token)] {
            if p > 0.0 {
                parts.push(format!("{key}={p}"));
            }
        }
        if self.batch > 1 {
            parts.push(format!("batch={}", self.batch));
        }
        if let Some(s) = self.numbers {
            parts.push(format!("numbers={}", s.as_str()));
        }
        if let Some(s) = self.nulls {
            parts.push(format!("nulls={}", s.as_str()));
        }
        if let Some(s) = self.durations {
            parts.push(format!("durations={}", s.as_str()));
        }
        if let Some(s) = self.recording_link {
            parts.push(format!("recording_link={}", s.as_str()));
        }
        if self.extra_fields > 0.0 {
            parts.push(format!("extra_fields={}", self.extra_fields));
        }
        f.write_str(&parts.join(","))
    }
}
