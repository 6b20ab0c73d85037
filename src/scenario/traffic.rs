//! Generated traffic, as configured: the `[traffic]` table of a scenario, resolved against a PBX
//! into a [`TrafficModel`]. The engine turns a model into an endless, seeded stream of scripted
//! calls (`engine::arrivals`).
//!
//! ```toml
//! [traffic]
//! arrivals = "poisson"       # poisson (default) | uniform
//! rate = "120/h"             # N/s, N/m or N/h; N may be a decimal
//! outbound = 0.2             # share of calls that are outbound
//! numbers = { "61290000001" = 3, "61290000002" = 1 }   # inbound weights by number
//! talk = { dist = "exponential", mean = "3m" }
//! answer_after = { dist = "uniform", min = "2s", max = "12s" }
//! patience = { dist = "exponential", mean = "90s" }   # absent: callers never hang up
//! voicemail = { dist = "fixed", value = "20s" }
//! no_answer = 0.05           # chance that a rung agent does not answer
//! ```
//!
//! **Rate and stages.** With `rate` alone the rate is constant and the stream never ends. With
//! `stages`, each stage ramps the rate linearly from where the previous stage ended to its own
//! `rate` over its `for` (as k6's ramping-arrival-rate does); the first stage starts from `rate`,
//! or from 0 when `rate` is absent. The stream ends when the last stage ends, so the stages are
//! the length of the run; to hold a rate, add a stage with the same rate. A step change is a
//! stage of a very short `for`.
//!
//! **Arrivals.** `poisson` arrivals are a (non-homogeneous) Poisson process with the rate at
//! each instant, drawn by inverting the integrated rate, so ramps are exact. `uniform` arrivals
//! are evenly spaced at the rate of each instant: the k-th call starts when the integrated rate
//! reaches k + ½, so a constant 120/h puts one call in the middle of every 30 s.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rand::distr::Distribution as _;
use rand::distr::Uniform;
use rand_distr::{Exp, LogNormal};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde_json::Value;

use crate::duration::{self, Millis};
use crate::pbx::Pbx;
use crate::scenario::file::{DurationText, Keyword, drop_null, entries, toml_table};

/// The longest duration a distribution yields (one day): heavy tails stay finite.
pub const MAX_SAMPLE: Millis = 86_400_000;

// ---- rates ----------------------------------------------------------------------------------

/// A call rate, such as `120/h`, `30/s` or `2.5/m`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Rate {
    per_second: f64,
}

/// Why a rate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("cannot read rate `{0}`; write it like `30/s`, `2.5/m` or `120/h`")]
    Invalid(String),
    #[error("negative rate `{0}`; rates must be zero or more, like `0/s` or `120/h`")]
    Negative(String),
}

impl Rate {
    /// A rate of `n` calls per second; `None` unless `n` is finite and not negative.
    pub fn per_second(n: f64) -> Option<Rate> {
        (n.is_finite() && n >= 0.0).then_some(Rate { per_second: n })
    }

    /// Calls per second.
    pub fn as_per_second(self) -> f64 {
        self.per_second
    }
}

impl FromStr for Rate {
    type Err = RateError;

    /// `N/s`, `N/m` or `N/h` (also `N/sec`, `N/min`, `N/hour`); `N` may be a decimal.
    fn from_str(input: &str) -> Result<Rate, RateError> {
        let invalid = || RateError::Invalid(input.to_string());
        let (count, unit) = input.trim().split_once('/').ok_or_else(invalid)?;
        let (count, unit) = (count.trim(), unit.trim());
        if count.starts_with('-') {
            return Err(RateError::Negative(input.to_string()));
        }
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(invalid());
        }
        let n: f64 = count.parse().map_err(|_| invalid())?;
        let seconds = match unit {
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" | "hour" => 3_600.0,
            _ => return Err(invalid()),
        };
        Rate::per_second(n / seconds).ok_or_else(invalid)
    }
}

impl fmt::Display for Rate {
    /// The shortest of `N/s`, `N/m` and `N/h` with a whole `N`, else calls per second.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.per_second;
        for (unit, seconds) in [("s", 1.0), ("m", 60.0), ("h", 3_600.0)] {
            let n = r * seconds;
            if n >= 1.0 && (n - n.round()).abs() < 1e-9 {
                return write!(f, "{}/{unit}", n.round());
            }
        }
        write!(f, "{r}/s")
    }
}

// ---- the [traffic] table as written ---------------------------------------------------------

/// How calls arrive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Independent arrivals at random (exponential gaps at a constant rate).
    #[default]
    Poisson,
    /// Evenly spaced arrivals.
    Uniform,
}

/// Generated traffic: how many calls arrive, which way they go and how they behave. Every key is
/// optional except `rate` or `stages`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = toml_table)]
pub struct TrafficSpec {
    /// `poisson` (default) or `uniform`.
    #[schemars(with = "Option<Keyword<Arrivals>>")]
    pub arrivals: Option<Arrivals>,
    /// Calls started per second, minute or hour: `30/s`, `2.5/m`, `120/h`. With `stages`, the
    /// rate the first stage ramps from (default 0).
    #[schemars(with = "Option<RateText>")]
    pub rate: Option<String>,
    /// Ramps: each stage changes the rate linearly from the previous stage's rate to its own over
    /// its `for`. Traffic ends with the last stage.
    pub stages: Option<Vec<StageSpec>>,
    /// The share of calls that are outbound, 0 to 1. Default 0.2.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub outbound: Option<f64>,
    /// Inbound weights by number, e.g. `{ "61290000001" = 3, "61290000002" = 1 }`. Numbers not
    /// listed get no calls. Default: every number equally.
    #[schemars(transform = entries("A number's weight, 0 or more: its share of inbound calls."))]
    pub numbers: Option<BTreeMap<String, f64>>,
    /// The share of inbound callers without a caller name (CNAM), 0 to 1. Default 0.2.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub unnamed: Option<f64>,
    /// Conversation length. Default exponential with mean 3m.
    pub talk: Option<DistributionSpec>,
    /// How long a phone rings before it is answered (agents, and the far end of outbound calls).
    /// Default uniform 2s to 10s.
    pub answer_after: Option<DistributionSpec>,
    /// How long an inbound caller waits, from the call's start, before hanging up unanswered.
    /// Default: callers never hang up.
    pub patience: Option<DistributionSpec>,
    /// Length of voicemail messages. Default uniform 10s to 40s.
    pub voicemail: Option<DistributionSpec>,
    /// The chance that a rung agent (or the far end of an outbound call) does not answer, 0 to 1.
    /// Default 0.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub no_answer: Option<f64>,
}

/// One stage of a ramp.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = toml_table)]
pub struct StageSpec {
    /// The rate at the end of the stage, like `100/s`.
    #[schemars(with = "RateText")]
    pub rate: String,
    /// How long the stage lasts, like `5m`.
    #[serde(rename = "for")]
    #[schemars(with = "DurationText")]
    pub duration: String,
}

/// A distribution of durations, written as an inline table with a `dist` key.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
#[schemars(transform = distribution_schema)]
pub enum DistributionSpec {
    /// Always `value`: `{ dist = "fixed", value = "20s" }`.
    Fixed {
        /// fixed: the duration every sample takes, like `20s`.
        #[schemars(with = "DurationText")]
        value: String,
    },
    /// Any value from `min` to `max`, equally likely: `{ dist = "uniform", min = "2s", max = "12s" }`.
    Uniform {
        /// uniform: the shortest duration, like `2s`.
        #[schemars(with = "DurationText")]
        min: String,
        /// uniform: the longest duration, like `12s`.
        #[schemars(with = "DurationText")]
        max: String,
    },
    /// Exponential with this mean: `{ dist = "exponential", mean = "3m" }`.
    Exponential {
        /// exponential, lognormal: the mean duration, like `3m`.
        #[schemars(with = "DurationText")]
        mean: String,
    },
    /// Lognormal with `sigma` the standard deviation of the logarithm, and either its `median`
    /// or its `mean`: `{ dist = "lognormal", median = "2m", sigma = 0.8 }`.
    Lognormal {
        /// lognormal: the median duration, like `2m` (give `median` or `mean`).
        #[schemars(with = "Option<DurationText>")]
        median: Option<String>,
        /// exponential, lognormal: the mean duration, like `3m`.
        #[schemars(with = "Option<DurationText>")]
        mean: Option<String>,
        /// lognormal: the standard deviation of the logarithm, 0 to 10 (typical: 0.5 to 1).
        #[schemars(range(min = 0.0, max = 10.0))]
        sigma: f64,
    },
}

/// A call rate, `N/s`, `N/m` or `N/h`.
pub struct RateText;

impl JsonSchema for RateText {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": r"^\s*([0-9]+\.?[0-9]*|\.[0-9]+)\s*/\s*(s|sec|m|min|h|hour)\s*$",
            "examples": ["30/s", "2.5/m", "120/h"],
        })
    }
}

/// The schema of a distribution: serde's tagged `oneOf` (one alternative per `dist`) as one
/// table whose `dist` is an `enum`, so a misspelt `dist` or a key of another distribution is
/// named as such by an editor, not reported as an unmatched `oneOf`.
fn distribution_schema(schema: &mut Schema) {
    let Some(Value::Array(variants)) = schema.remove("oneOf") else { return };
    let (mut names, mut docs, mut rules) = (Vec::new(), Vec::new(), Vec::new());
    let mut properties = serde_json::Map::new();
    for variant in &variants {
        let Some(name) = variant.pointer("/properties/dist/const") else { continue };
        names.push(name.clone());
        docs.push(variant.get("description").cloned().unwrap_or(Value::Null));
        let mut keys = vec![Value::from("dist")];
        if let Some(Value::Object(own)) = variant.get("properties") {
            for (key, value) in own.iter().filter(|(key, _)| *key != "dist") {
                keys.push(key.as_str().into());
                properties.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        let required: Vec<Value> = match variant.get("required") {
            Some(Value::Array(required)) => {
                required.iter().filter(|r| *r != "dist").cloned().collect()
            }
            _ => Vec::new(),
        };
        let mut then = serde_json::json!({ "propertyNames": { "enum": keys } });
        if !required.is_empty() {
            then["required"] = required.into();
        }
        rules.push(serde_json::json!({
            "if": { "properties": { "dist": { "const": name } }, "required": ["dist"] },
            "then": then,
        }));
    }
    properties.values_mut().for_each(drop_null);
    let dist = serde_json::json!({
        "description": "Which distribution: `fixed`, `uniform`, `exponential` or `lognormal`.",
        "type": "string",
        "enum": names,
        "x-taplo": { "docs": { "enumValues": docs } },
    });
    let mut all = serde_json::Map::new();
    all.insert("dist".into(), dist);
    all.extend(properties);
    schema.insert("type".into(), "object".into());
    schema.insert("properties".into(), all.into());
    schema.insert("required".into(), serde_json::json!(["dist"]));
    schema.insert("additionalProperties".into(), false.into());
    schema.insert("allOf".into(), rules.into());
}

/// A `[traffic]` key that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct TrafficError {
    /// Where, from the top of the file: `traffic.talk.mean`, `traffic.stages[1].rate`.
    pub key: String,
    pub message: String,
}

impl TrafficError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into() }
    }
}

// ---- the resolved model ---------------------------------------------------------------------

/// A distribution of durations, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    Fixed(Millis),
    /// From `min` to `max` inclusive, in whole milliseconds.
    Uniform {
        min: Millis,
        max: Millis,
    },
    /// Mean in milliseconds.
    Exponential {
        mean: f64,
    },
    /// The logarithm of the milliseconds is normal with mean `mu` and deviation `sigma`.
    LogNormal {
        mu: f64,
        sigma: f64,
    },
}

impl Distribution {
    /// One sample, in whole milliseconds, at most [`MAX_SAMPLE`].
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Millis {
        let ms = match *self {
            Distribution::Fixed(value) => return value.min(MAX_SAMPLE),
            Distribution::Uniform { min, max } => {
                return match Uniform::new_inclusive(min, max) {
                    Ok(uniform) => uniform.sample(rng).min(MAX_SAMPLE),
                    Err(_) => min.min(MAX_SAMPLE),
                };
            }
            Distribution::Exponential { mean } => match Exp::new(1.0 / mean) {
                Ok(exp) if mean > 0.0 => exp.sample(rng),
                _ => 0.0,
            },
            Distribution::LogNormal { mu, sigma } => match LogNormal::new(mu, sigma) {
                Ok(lognormal) => lognormal.sample(rng),
                Err(_) => mu.exp(),
            },
        };
        if ms.is_nan() { 0 } else { ms.round().min(MAX_SAMPLE as f64) as Millis }
    }

    /// The mean, in milliseconds (before the cap at [`MAX_SAMPLE`]).
    pub fn mean(&self) -> f64 {
        match *self {
            Distribution::Fixed(value) => value as f64,
            Distribution::Uniform { min, max } => (min as f64 + max as f64) / 2.0,
            Distribution::Exponential { mean } => mean,
            Distribution::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
        }
    }
}

/// How the arrival rate varies over the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// This many calls per second, for ever.
    Constant(f64),
    /// Linear ramps from `start` (calls per second) through each stage's rate; then no more calls.
    Stages { start: f64, stages: Vec<Stage> },
}

/// One ramp: the rate reaches `rate` calls per second after `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub rate: f64,
    pub duration: Millis,
}

/// The `[traffic]` table, checked and resolved against a PBX.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficModel {
    pub arrivals: Arrivals,
    pub schedule: Schedule,
    /// The share of calls that are outbound.
    pub outbound: f64,
    /// Inbound weight of each number, by [`NumberId`](crate::pbx::NumberId) (same length as the PBX's numbers).
    pub number_weights: Vec<f64>,
    /// The share of inbound callers without a caller name.
    pub unnamed: f64,
    pub talk: Distribution,
    pub answer_after: Distribution,
    /// `None`: callers never hang up.
    pub patience: Option<Distribution>,
    pub voicemail: Distribution,
    pub no_answer: f64,
}

impl TrafficSpec {
    /// The keys of the `[traffic]` table.
    pub const KEYS: [&'static str; 11] = [
        "arrivals",
        "rate",
        "stages",
        "outbound",
        "numbers",
        "unnamed",
        "talk",
        "answer_after",
        "patience",
        "voicemail",
        "no_answer",
    ];

    /// Reads a `[traffic]` table (as the scenario loader keeps it). Each key is read on its own
    /// first, so that an error names the key it is about (`traffic.stages[1]`), and a misspelt
    /// key gets a suggestion.
    pub fn from_toml(table: toml::Table) -> Result<TrafficSpec, TrafficError> {
        for (key, value) in &table {
            let path = format!("traffic.{key}");
            match key.as_str() {
                "arrivals" => probe::<Arrivals>(&path, value)?,
                "rate" => probe::<String>(&path, value)?,
                "stages" => match value.as_array() {
                    Some(stages) => {
                        for (i, stage) in stages.iter().enumerate() {
                            probe::<StageSpec>(&format!("{path}[{i}]"), stage)?;
                        }
                    }
                    None => probe::<Vec<StageSpec>>(&path, value)?,
                },
                "outbound" | "unnamed" | "no_answer" => probe::<f64>(&path, value)?,
                "numbers" => probe::<BTreeMap<String, f64>>(&path, value)?,
                "talk" | "answer_after" | "patience" | "voicemail" => match value {
                    toml::Value::Table(_) => probe::<DistributionSpec>(&path, value)?,
                    other => {
                        let text = other.as_str().unwrap_or("15s");
                        return Err(TrafficError::new(
                            path,
                            format!(
                                "write a distribution, like `{{ dist = \"fixed\", value = \"{text}\" }}` \
                                 or `{{ dist = \"exponential\", mean = \"{text}\" }}`"
                            ),
                        ));
                    }
                },
                _ => {
                    let hint = crate::suggest::did_you_mean(key, Self::KEYS);
                    let hint = if hint.is_empty() {
                        format!("the keys are {}", Self::KEYS.join(", "))
                    } else {
                        hint
                    };
                    return Err(TrafficError::new(path, format!("unknown key; {hint}")));
                }
            }
        }
        TrafficSpec::deserialize(toml::Value::Table(table))
            .map_err(|e| TrafficError::new("traffic", e.message().trim_end().to_string()))
    }

    /// Checks every key and resolves numbers and distributions against `pbx`.
    pub fn resolve(&self, pbx: &Pbx) -> Result<TrafficModel, TrafficError> {
        let rate = self.rate.as_deref().map(|text| parse_rate("traffic.rate", text)).transpose()?;
        let schedule = match (&self.stages, rate) {
            (Some(stages), rate) if !stages.is_empty() => {
                let stages = stages
                    .iter()
                    .enumerate()
                    .map(|(i, stage)| {
                        let key = format!("traffic.stages[{i}]");
                        Ok(Stage {
                            rate: parse_rate(&format!("{key}.rate"), &stage.rate)?,
                            duration: parse_duration(&format!("{key}.for"), &stage.duration)?,
                        })
                    })
                    .collect::<Result<Vec<_>, TrafficError>>()?;
                Schedule::Stages { start: rate.unwrap_or(0.0), stages }
            }
            (Some(_), _) => {
                return Err(TrafficError::new(
                    "traffic.stages",
                    "no stages; give at least one like `{ rate = \"10/s\", for = \"1m\" }`, or \
                     remove `stages` and set `rate`",
                ));
            }
            (None, Some(rate)) => Schedule::Constant(rate),
            (None, None) => {
                return Err(TrafficError::new(
                    "traffic.rate",
                    "missing; set a rate like `rate = \"120/h\"` or ramp it with `stages`",
                ));
            }
        };

        let outbound = share("traffic.outbound", self.outbound, 0.2)?;
        let unnamed = share("traffic.unnamed", self.unnamed, 0.2)?;
        let no_answer = share("traffic.no_answer", self.no_answer, 0.0)?;
        if outbound > 0.0 && pbx.users.is_empty() {
            return Err(TrafficError::new(
                "traffic.outbound",
                "the PBX has no users to make outbound calls; set `outbound = 0`",
            ));
        }

        let number_weights = match &self.numbers {
            None => vec![1.0; pbx.numbers.len()],
            Some(weights) => {
                let mut resolved = vec![0.0; pbx.numbers.len()];
                for (number, &weight) in weights {
                    let key = format!("traffic.numbers.\"{number}\"");
                    let Some(id) = pbx.number_by_digits(number) else {
                        let hint = crate::suggest::did_you_mean(
                            number,
                            pbx.numbers.iter().map(|n| &*n.number),
                        );
                        let hint =
                            if hint.is_empty() { String::new() } else { format!("; {hint}") };
                        return Err(TrafficError::new(
                            key,
                            format!("no number `{number}` in this PBX{hint}"),
                        ));
                    };
                    if !(weight.is_finite() && weight >= 0.0) {
                        return Err(TrafficError::new(
                            key,
                            format!("weight {weight} must be a number, zero or more"),
                        ));
                    }
                    resolved[id] = weight;
                }
                resolved
            }
        };
        if outbound < 1.0 && !number_weights.iter().any(|&w| w > 0.0) {
            let (key, why) = if pbx.numbers.is_empty() {
                ("traffic.outbound", "the PBX has no numbers for inbound calls")
            } else {
                ("traffic.numbers", "every number has weight 0")
            };
            return Err(TrafficError::new(
                key,
                format!("{why}; give a number a weight above 0, or set `outbound = 1`"),
            ));
        }

        let dist = |key: &str, spec: &Option<DistributionSpec>, default: Distribution| match spec {
            Some(spec) => spec.resolve(&format!("traffic.{key}")),
            None => Ok(default),
        };
        Ok(TrafficModel {
            arrivals: self.arrivals.unwrap_or_default(),
            schedule,
            outbound,
            number_weights,
            unnamed,
            talk: dist("talk", &self.talk, Distribution::Exponential { mean: 180_000.0 })?,
            answer_after: dist(
                "answer_after",
                &self.answer_after,
                Distribution::Uniform { min: 2_000, max: 10_000 },
            )?,
            patience: match &self.patience {
                Some(spec) => Some(spec.resolve("traffic.patience")?),
                None => None,
            },
            voicemail: dist(
                "voicemail",
                &self.voicemail,
                Distribution::Uniform { min: 10_000, max: 40_000 },
            )?,
            no_answer,
        })
    }
}

impl DistributionSpec {
    /// Checks the parameters; `key` names the table in errors (`traffic.talk`).
    pub fn resolve(&self, key: &str) -> Result<Distribution, TrafficError> {
        let field = |name: &str, text: &str| parse_duration(&format!("{key}.{name}"), text);
        Ok(match self {
            DistributionSpec::Fixed { value } => Distribution::Fixed(field("value", value)?),
            DistributionSpec::Uniform { min, max } => {
                let (lo, hi) = (field("min", min)?, field("max", max)?);
                if lo > hi {
                    return Err(TrafficError::new(
                        format!("{key}.min"),
                        format!("min `{min}` is more than max `{max}`; swap them"),
                    ));
                }
                Distribution::Uniform { min: lo, max: hi }
            }
            DistributionSpec::Exponential { mean } => {
                Distribution::Exponential { mean: field("mean", mean)? as f64 }
            }
            DistributionSpec::Lognormal { median, mean, sigma } => {
                let sigma = *sigma;
                if !(sigma.is_finite() && (0.0..=10.0).contains(&sigma)) {
                    return Err(TrafficError::new(
                        format!("{key}.sigma"),
                        format!("sigma {sigma} must be from 0 to 10 (typical: 0.5 to 1)"),
                    ));
                }
                let median = match (median, mean) {
                    (Some(median), None) => field("median", median)? as f64,
                    (None, Some(mean)) => field("mean", mean)? as f64 / (sigma * sigma / 2.0).exp(),
                    _ => {
                        return Err(TrafficError::new(
                            key,
                            "a lognormal needs either `median` or `mean` (one of them), and \
                             `sigma`",
                        ));
                    }
                };
                if median < 1.0 {
                    return Err(TrafficError::new(
                        key,
                        "a lognormal's median must be at least 1ms; use `{ dist = \"fixed\", \
                         value = \"0s\" }` for zero",
                    ));
                }
                Distribution::LogNormal { mu: median.ln(), sigma }
            }
        })
    }
}

/// Reads `value` as a `T`, only to report an error about it under `key`.
fn probe<'de, T: Deserialize<'de>>(key: &str, value: &toml::Value) -> Result<(), TrafficError> {
    T::deserialize(value.clone())
        .map(drop)
        .map_err(|e| TrafficError::new(key, e.message().trim_end().to_string()))
}

fn parse_rate(key: &str, text: &str) -> Result<f64, TrafficError> {
    text.parse::<Rate>().map(Rate::as_per_second).map_err(|e| TrafficError::new(key, e.to_string()))
}

fn parse_duration(key: &str, text: &str) -> Result<Millis, TrafficError> {
    duration::parse(text).map_err(|e| TrafficError::new(key, e.to_string()))
}

fn share(key: &str, value: Option<f64>, default: f64) -> Result<f64, TrafficError> {
    match value {
        None => Ok(default),
        Some(v) if (0.0..=1.0).contains(&v) => Ok(v),
        Some(v) => Err(TrafficError::new(
            key,
            format!("{v} is not a share; write a number from 0 to 1, like 0.2 for 20%"),
        )),
    }
}

impl TrafficModel {
    /// The arrival rate at virtual time `t`, in calls per second (0 after the last stage).
    pub fn rate_at(&self, t: Millis) -> f64 {
        match &self.schedule {
            Schedule::Constant(rate) => *rate,
            Schedule::Stages { start, stages } => {
                let (mut from, mut begin) = (*start, 0);
                for stage in stages {
                    let end = begin + stage.duration;
                    if t < end {
                        let f = (t - begin) as f64 / stage.duration as f64;
                        return from + (stage.rate - from) * f;
                    }
                    (from, begin) = (stage.rate, end);
                }
                0.0
            }
        }
    }

    /// When traffic ends: the end of the last stage, or `None` for a constant rate.
    pub fn duration(&self) -> Option<Millis> {
        match &self.schedule {
            Schedule::Constant(_) => None,
            Schedule::Stages { stages, .. } => Some(stages.iter().map(|s| s.duration).sum()),
        }
    }
}
