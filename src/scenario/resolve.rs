//! Resolving a parsed scenario file ([`ScenarioFile`]) into the checked [`Scenario`]: `${VAR}`
//! expanded, durations, URLs, tokens and headers read, names turned into indices, and every
//! semantic mistake reported as a [`Diagnostic`] at its value. All mistakes are collected, not
//! just the first.
//!
//! This file holds the [`Resolver`] with its readers of single values and the scenario-level
//! settings (`[webhook]`, `[traffic]`, `[expect]`, `[chaos]`, start time); [`pbx`] resolves the
//! PBX's objects and call flows, [`calls`] the scripted calls.

mod calls;
mod pbx;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use chrono::{DateTime, Utc};
use hyper::header::{HeaderName, HeaderValue};

use super::Scenario;
use super::env::{self, Env, EnvErrorKind};
use super::file::*;
use super::spans::{locate, sub_span};
use super::toml_errors::explain_toml_message;
use super::traffic::{TrafficError, TrafficSpec};
use crate::diagnostic::Diagnostic;
use crate::duration::{self, DurationError, Millis};
use crate::event::{EventType, EventTypeSet, Str};
use crate::pbx::*;
use crate::scenario::threshold::Threshold;
use crate::secret::{Secret, SecretUrl};

/// Resolves `file` into a [`Scenario`], with every semantic error found (in no particular
/// order). `shown` is the source with secrets masked, which diagnostics quote.
pub(super) fn resolve(
    file: &ScenarioFile,
    file_name: &str,
    shown: &str,
    env: Env,
) -> (Scenario, Vec<Diagnostic>) {
    let mut resolver = Resolver { file_name, source: shown, env, errors: Vec::new() };
    let scenario = resolver.scenario(file);
    (scenario, resolver.errors)
}

struct Resolver<'a> {
    file_name: &'a str,
    /// The source with secrets masked.
    source: &'a str,
    env: Env<'a>,
    errors: Vec<Diagnostic>,
}

impl Resolver<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>, help: impl Into<String>) {
        let d = Diagnostic::at(self.file_name, self.source, span, message).with_help(help);
        self.errors.push(d);
    }

    /// A string with `${VAR}` expanded; `None` after reporting an error.
    fn text(&mut self, value: &Sp<impl Written>) -> Option<String> {
        match env::expand(value.get().written(), self.env) {
            Ok(text) => Some(text.into_owned()),
            Err(e) => {
                let reference = &value.get().written()[e.range.clone()];
                let span = sub_span(self.source, value.span(), reference);
                let (message, help) = match e.kind {
                    EnvErrorKind::Undefined(name) => (
                        format!("environment variable `{name}` is not set"),
                        format!(
                            "set it before running (`export {name}=…`), or give a default: `${{{name}:-value}}`"
                        ),
                    ),
                    EnvErrorKind::Unterminated => (
                        "unterminated `${` in string".to_string(),
                        "close the reference with `}`, like `${PBX_TOKEN}`; write `$$` for a literal `$`"
                            .to_string(),
                    ),
                    EnvErrorKind::BadName(name) => (
                        format!("`{name}` is not an environment variable name"),
                        "names are letters, digits and `_`, like `${PBX_TOKEN}`; write `$$` for a literal `$`"
                            .to_string(),
                    ),
                };
                self.error(span, message, help);
                None
            }
        }
    }

    fn opt_text(&mut self, value: &Option<Sp<String>>) -> Option<Option<String>> {
        match value {
            None => Some(None),
            Some(v) => self.text(v).map(Some),
        }
    }

    /// A string that must not be empty.
    fn name(&mut self, value: &Sp<String>, what: &str) -> String {
        let text = self.text(value).unwrap_or_else(|| value.get().clone());
        if text.trim().is_empty() {
            self.error(value.span(), format!("empty {what}"), format!("give the {what} a value"));
        }
        text
    }

    fn duration(&mut self, value: &Sp<DurationText>) -> Option<Millis> {
        let text = self.text(&Sp::new(value.get().0.clone(), value.span()))?;
        match duration::parse(&text) {
            Ok(ms) => Some(ms),
            Err(e) => {
                let (message, help) = match e {
                    DurationError::Empty => (
                        "empty duration".to_string(),
                        "write it like `15s`, `2m`, `1h30m` or `250ms`".to_string(),
                    ),
                    DurationError::Negative(t) => (
                        format!("negative duration `{}`", t.trim()),
                        "durations are zero or more, like `0s` or `15s`".to_string(),
                    ),
                    DurationError::Invalid(t) => (
                        format!("cannot read duration `{}`", t.trim()),
                        "write it like `15s`, `2m`, `1h30m` or `250ms` (units: ms, s, m, h, d)"
                            .to_string(),
                    ),
                };
                self.error(value.span(), message, help);
                None
            }
        }
    }

    fn opt_duration(&mut self, value: &Option<Sp<DurationText>>, default: Millis) -> Millis {
        value.as_ref().and_then(|v| self.duration(v)).unwrap_or(default)
    }

    /// A duration that must be more than zero.
    fn positive_duration(
        &mut self,
        value: Option<&Sp<DurationText>>,
        default: Millis,
        what: &str,
    ) -> Millis {
        let ms = value.and_then(|v| self.duration(v)).unwrap_or(default);
        if ms == 0 {
            if let Some(v) = value {
                self.error(v.span(), format!("{what} must be more than 0s"), "for example `20s`");
            }
            return default;
        }
        ms
    }

    fn url(&mut self, value: &Option<Sp<SecretUrl>>) -> Option<SecretUrl> {
        let value = value.as_ref()?;
        let text = self.text(value)?;
        let help = "write a full http or https URL, like `http://127.0.0.1:8080/hook`";
        match url::Url::parse(text.trim()) {
            Err(e) => self.error(value.span(), format!("malformed URL: {e}"), help),
            Ok(u) if !matches!(u.scheme(), "http" | "https") => {
                self.error(value.span(), format!("unsupported URL scheme `{}`", u.scheme()), help)
            }
            Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                self.error(value.span(), "URL has no host", help)
            }
            Ok(u) => return Some(u.to_string().into()),
        }
        None
    }

    /// A token: expanded, never echoed; `None` when the file gives none.
    fn token(&mut self, value: &Option<Sp<Secret>>) -> Option<Secret> {
        let value = value.as_ref()?;
        let Some(token) = self.text(value) else { return Some(Secret::default()) };
        if HeaderValue::from_str(&token).is_err() {
            self.error(
                value.span(),
                "the token cannot be sent as a header value",
                "use visible ASCII characters only (no line breaks or control characters)",
            );
        }
        Some(token.into())
    }

    fn headers(&mut self, headers: &Headers) -> Vec<(String, Secret)> {
        let mut out = Vec::new();
        for (name, value) in headers {
            let (Some(n), Some(v)) = (self.text(name), self.text(value)) else { continue };
            if HeaderName::from_bytes(n.as_bytes()).is_err() {
                self.error(
                    name.span(),
                    format!("`{n}` is not a valid header name"),
                    "header names are letters, digits and `-`, like `X-Tenant`",
                );
                continue;
            }
            let lower = n.to_ascii_lowercase();
            if lower == "x-pbx-token" {
                self.error(name.span(), "set the token with `token = …`, not as a header", "");
                continue;
            }
            if lower == "content-type" || lower == "content-length" {
                self.error(
                    name.span(),
                    format!("`{n}` is set by pbxsim"),
                    "events are always sent as `application/json`; remove this header",
                );
                continue;
            }
            if HeaderValue::from_str(&v).is_err() {
                self.error(
                    value.span(),
                    format!("invalid value for header `{n}`"),
                    "use visible ASCII characters only (no line breaks or control characters)",
                );
                continue;
            }
            out.push((n, v.into()));
        }
        out
    }

    fn emails(&mut self, emails: &[Sp<String>]) -> Vec<Str> {
        let mut out = Vec::new();
        for e in emails {
            let Some(text) = self.text(e) else { continue };
            let valid = text.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty() && !domain.is_empty() && !domain.contains('@')
            }) && !text.contains([' ', ',', ';']);
            if !valid {
                self.error(
                    e.span(),
                    format!("`{text}` is not an email address"),
                    "write one address per string, like \"support@example.com\"",
                );
                continue;
            }
            out.push(Str::from(text));
        }
        out
    }

    /// Digits only: a phone number or an extension.
    fn digits(&mut self, value: &Sp<String>, what: &str) -> String {
        let Some(text) = self.text(value) else { return String::new() };
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            let help = if text.starts_with('+') {
                format!("write the {what} as digits without `+`, like \"61300000000\"")
            } else {
                format!("a {what} is digits only, like \"1010\" or \"61300000000\"")
            };
            self.error(value.span(), format!("`{text}` is not a valid {what}"), help);
        }
        text
    }

    fn recording(&mut self, file: Option<&Sp<RecordingFile>>) -> RecordingSettings {
        let default = RecordingFile::default();
        let file = file.map_or(&default, |f| f.get());
        RecordingSettings {
            emails: self.emails(&file.emails),
            subject: self.text_or(&file.subject, "Call recording"),
            message: self.text_or(&file.message, "A call recording is attached."),
            mode: file.mode.unwrap_or_default(),
        }
    }

    fn text_or(&mut self, value: &Option<Sp<String>>, default: &str) -> Str {
        Str::from(self.opt_text(value).flatten().unwrap_or_else(|| default.to_string()))
    }

    /// Reports the second of two equal names; returns whether `name` is new.
    fn unique(
        &mut self,
        seen: &mut HashMap<String, Range<usize>>,
        name: &str,
        span: Range<usize>,
        what: &str,
    ) -> bool {
        if let Some(first) = seen.get(name) {
            let first = first.clone();
            let d = Diagnostic::at(
                self.file_name,
                self.source,
                span,
                format!("duplicate {what} `{name}`"),
            )
            .with_label("defined again here")
            .with_secondary(first, "first defined here")
            .with_help(format!("each {what} must be unique; rename or remove one of them"));
            self.errors.push(d);
            return false;
        }
        seen.insert(name.to_string(), span);
        true
    }

    fn scenario(&mut self, file: &ScenarioFile) -> Scenario {
        let name = match &file.name {
            Some(n) => self.name(n, "scenario name"),
            None => Path::new(self.file_name)
                .file_stem()
                .map_or_else(|| "scenario".to_string(), |s| s.to_string_lossy().into_owned()),
        };
        let start_time = file.start_time.as_ref().and_then(|t| self.start_time(t));
        let utc_offset = file.utc_offset.as_ref().and_then(|o| {
            let text = self.text(o)?;
            let offset = crate::time::parse_offset(text.trim());
            if offset.is_none() {
                self.error(
                    o.span(),
                    format!("cannot read time zone offset `{text}`"),
                    "write it like `+10:00`, `-05:30` or `Z`",
                );
            }
            offset
        });
        let speed = file.speed.as_ref().and_then(|s| {
            let v = *s.get();
            if v.is_finite() && v > 0.0 {
                Some(v)
            } else {
                self.error(
                    s.span(),
                    "speed must be more than 0",
                    "`speed = 10` plays ten virtual seconds per real second",
                );
                None
            }
        });
        let webhook = self.webhook(file.webhook.as_ref());
        let before = self.errors.len();
        let pbx = self.pbx(file);
        // Loops are looked for once the PBX resolved cleanly, so steps match the file's.
        if self.errors.len() == before {
            self.errors.extend(super::loops::find(file, &pbx, self.file_name, self.source));
        }
        let calls = self.calls(&file.calls, &pbx);
        let traffic = file.traffic.as_ref().and_then(|t| self.traffic(t, &pbx));
        let expect = file.expect.as_ref().map(|e| self.thresholds(&e.thresholds));
        Scenario {
            name,
            seed: file.seed.as_ref().map_or(1, |s| *s.get()),
            start_time,
            utc_offset,
            nulls: file.nulls.unwrap_or_default(),
            speed,
            pbx,
            webhook,
            calls,
            traffic,
            expect: expect.unwrap_or_default(),
            chaos: file.chaos.as_ref().map(|c| self.chaos(c)),
        }
    }

    /// Reads `[traffic]` and, when the PBX has no errors, resolves it against the PBX.
    fn traffic(&mut self, table: &Sp<toml::Table>, pbx: &Pbx) -> Option<TrafficSpec> {
        let pbx_ok = self.errors.is_empty();
        let checked = TrafficSpec::from_toml(table.get().clone()).and_then(|spec| {
            if pbx_ok {
                spec.resolve(pbx)?;
            }
            Ok(spec)
        });
        match checked {
            Ok(spec) => Some(spec),
            Err(e) => {
                self.traffic_error(&e, table.span());
                None
            }
        }
    }

    /// Reports a `[traffic]` error at the key it names (`traffic.stages[1].rate`).
    fn traffic_error(&mut self, e: &TrafficError, table_span: Range<usize>) {
        let raw = e.message.trim().trim_end_matches('.');
        let from_serde = ["unknown field", "unknown variant", "invalid type", "missing field"]
            .iter()
            .any(|p| raw.starts_with(p));
        let (message, help) = if from_serde {
            explain_toml_message(raw)
        } else {
            match raw.split_once("; ") {
                Some((message, help)) => (message.to_string(), help.to_string()),
                None => (raw.to_string(), "see `[traffic]` in docs/scenario-format.md".into()),
            }
        };
        let span = locate(self.source, &e.key, raw).unwrap_or(table_span);
        self.error(span, format!("`{}`: {message}", e.key), help);
    }

    /// Parses the `[expect]` thresholds; a bad one is reported at its bad part.
    fn thresholds(&mut self, entries: &[Sp<String>]) -> Vec<Threshold> {
        let mut out = Vec::new();
        for entry in entries {
            let Some(text) = self.text(entry) else { continue };
            match text.parse::<Threshold>() {
                Ok(t) => out.push(t),
                Err(e) => {
                    let span = entry.span();
                    // Point into the string when it is written as it reads (no escapes or
                    // variables); else at the whole string.
                    let inner = span.start + 1..span.end.saturating_sub(1);
                    let span = match self.source.get(inner.clone()) == Some(text.as_str()) {
                        true => inner.start + e.offset..inner.start + e.offset + e.len.max(1),
                        false => span,
                    };
                    let help = e.help.clone().unwrap_or_default();
                    self.error(span, format!("bad threshold: {}", e.message), help);
                }
            }
        }
        out
    }

    /// The `[chaos]` table; bad values are reported at the value.
    fn chaos(&mut self, file: &ChaosFile) -> crate::scenario::chaos::Chaos {
        let mut chaos = crate::scenario::chaos::Chaos::default();
        for (key, value) in file.entries() {
            let text = match &value.get().0 {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                other => {
                    self.error(
                        value.span(),
                        format!(
                            "wrong type: expected a number or a string, found {}",
                            other.type_str()
                        ),
                        format!("write it like `{key} = {}`", chaos_example(key)),
                    );
                    continue;
                }
            };
            match crate::scenario::chaos::parse_setting(key, &text) {
                Ok(setting) => chaos.apply(setting),
                Err(e) => {
                    // The messages quote `key=value` as on the command line; here it is TOML.
                    let toml = |text: String| {
                        let text = text.replace(&format!("{key}="), &format!("{key} = "));
                        // Strings need quotes in TOML.
                        ["5%", "0.1:2s", "0.5:250ms"].iter().fold(text, |t, v| {
                            t.replace(&format!("= {v}`"), &format!("= \"{v}\"`"))
                        })
                    };
                    self.error(value.span(), toml(e.message), toml(e.help));
                }
            }
        }
        chaos
    }

    fn start_time(&mut self, value: &Sp<DateTimeValue>) -> Option<DateTime<Utc>> {
        let text = match &value.get().0 {
            toml::Value::String(s) => {
                let as_string = Sp::new(s.clone(), value.span());
                self.text(&as_string)?
            }
            toml::Value::Datetime(d) => d.to_string(),
            _ => {
                self.error(
                    value.span(),
                    "start_time must be a date and time",
                    "write it like \"2026-03-02T09:00:00Z\"",
                );
                return None;
            }
        };
        match DateTime::parse_from_rfc3339(text.trim()) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                let help = if text.contains('T') || text.contains(' ') {
                    "write an RFC 3339 time with a zone, like \"2026-03-02T09:00:00Z\" or \"2026-03-02T09:00:00+10:00\""
                } else {
                    "give a date and a time with a zone, like \"2026-03-02T09:00:00Z\""
                };
                self.error(value.span(), format!("cannot read start_time `{}`", text.trim()), help);
                None
            }
        }
    }

    fn webhook(&mut self, file: Option<&WebhookFile>) -> GlobalWebhook {
        let Some(file) = file else { return GlobalWebhook::default() };
        let events = match &file.events {
            None => EventTypeSet::ALL,
            Some(list) => {
                let mut set = EventTypeSet::EMPTY;
                for e in list {
                    let Some(text) = self.text(e) else { continue };
                    if let Some(t) = self.event_type(e.span(), &text) {
                        set.insert(t);
                    }
                }
                set
            }
        };
        let mut routes = Vec::new();
        for (name, url) in &file.routes {
            let (Some(text), Some(url)) = (self.text(name), self.url(&Some(url.clone()))) else {
                continue;
            };
            let Some(t) = self.event_type(name.span(), &text) else { continue };
            let probe = GlobalWebhook { events, ..GlobalWebhook::default() };
            if !probe.can_route(t) {
                self.error(
                    name.span(),
                    format!("`{t}` has a route but is not in `events`, so it is never sent"),
                    format!("add \"{t}\" to `events`, or remove its route"),
                );
                continue;
            }
            routes.push((t, url));
        }
        GlobalWebhook {
            url: self.url(&file.url),
            token: self.token(&file.token).unwrap_or_default(),
            events,
            headers: self.headers(&file.headers),
            routes,
        }
    }

    /// An event type's wire name, or an error at `span` with a did-you-mean.
    fn event_type(&mut self, span: Range<usize>, text: &str) -> Option<EventType> {
        match text.trim().parse::<EventType>() {
            Ok(t) => Some(t),
            Err(err) => {
                let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                let help = match err.suggestion {
                    Some(s) => format!("did you mean `{s}`? (event types: {})", names.join(", ")),
                    None => format!("event types: {}", names.join(", ")),
                };
                self.error(span, format!("unknown event type `{}`", err.name), help);
                None
            }
        }
    }
}

/// An example value of a `[chaos]` key.
fn chaos_example(key: &str) -> &'static str {
    match key {
        "delay" => "\"0.1:2s\"",
        "batch" => "5",
        "numbers" => "\"e164\"",
        "nulls" => "\"omit\"",
        "durations" => "\"string\"",
        "recording_link" => "\"url\"",
        _ => "0.05",
    }
}
