//! Loading a scenario: TOML → [`ScenarioFile`] → checked, resolved [`Scenario`].
//!
//! Every mistake becomes a [`Diagnostic`] pointing at the value in the file, with a hint. Syntax
//! and type errors stop at the first one (that is where the TOML reader stops); semantic errors
//! are all collected and reported in file order.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::Path;

use chrono::{DateTime, Utc};
use hyper::header::{HeaderName, HeaderValue};

use super::env::{self, EnvErrorKind};
use super::file::*;
use super::traffic::{TrafficError, TrafficSpec};
use super::{Answer, Behaviour, CallKind, Scenario, ScriptedCall};
use crate::diagnostic::Diagnostic;
use crate::duration::{self, DurationError, Millis};
use crate::event::{EventType, EventTypeSet, Str};
use crate::pbx::*;
use crate::scenario::threshold::Threshold;
use crate::secret::{Secret, SecretUrl};
use crate::suggest;

/// Reads environment variables for `${VAR}` expansion.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads and checks the scenario file at `path`.
pub fn load(path: &Path) -> Result<Scenario, Box<Diagnostic>> {
    let name = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| {
        let help = "check the path, e.g. `scenarios/quickstart.toml`";
        Box::new(Diagnostic::plain(
            format!("cannot read scenario file `{name}`: {e}"),
            Some(help.to_string()),
        ))
    })?;
    parse(&source, &name)
}

/// Checks the scenario text `source`; `file_name` names it in diagnostics and gives the default
/// scenario name. `${VAR}` references read the process environment.
pub fn parse(source: &str, file_name: &str) -> Result<Scenario, Box<Diagnostic>> {
    parse_with_env(source, file_name, &|name| std::env::var(name).ok())
}

pub(crate) fn parse_with_env(
    source: &str,
    file_name: &str,
    env: Env,
) -> Result<Scenario, Box<Diagnostic>> {
    // Diagnostics show the file with secret values masked; offsets are unchanged.
    let shown = redact_secrets(source);
    let file: ScenarioFile =
        toml::from_str(source).map_err(|e| Box::new(toml_error(&e, file_name, &shown)))?;
    let mut resolver = Resolver { file_name, source: &shown, env, errors: Vec::new() };
    let scenario = resolver.scenario(&file);
    let mut errors = resolver.errors;
    if errors.is_empty() {
        return Ok(scenario);
    }
    errors.sort_by_key(|d| d.span().map(|s| s.start));
    let first = errors.remove(0);
    Err(Box::new(first.with_related(errors)))
}

/// Turns a TOML syntax or type error into a diagnostic with a hint.
fn toml_error(error: &toml::de::Error, file_name: &str, shown: &str) -> Diagnostic {
    let raw = error.message().trim().trim_end_matches('.');
    let (message, help) = explain_toml_message(raw);
    let span = error.span().unwrap_or(0..0);
    Diagnostic::at(file_name, shown, span, message).with_help(help)
}

/// Rewrites serde's and toml's messages into ours: unknown keys and values get a "did you mean",
/// type errors do not echo the value (it may be a secret).
fn explain_toml_message(raw: &str) -> (String, String) {
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        return explain_unknown(rest, "key");
    }
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        return explain_unknown(rest, "value");
    }
    if let Some(rest) = raw.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        return (format!("missing key `{key}`"), format!("add `{key} = …` to this table"));
    }
    if let Some(rest) = raw.strip_prefix("invalid type: ") {
        let found = rest.split([' ', ',']).next().unwrap_or("value");
        let expected = rest.rsplit_once(", expected ").map_or("another type", |(_, e)| e);
        let help = match (found, expected) {
            ("integer" | "float", e) if e.contains("string") => {
                "put the value in quotes: numbers and extensions are strings, like \"1010\""
                    .to_string()
            }
            (_, e) if e.contains("sequence") => "write a list in brackets, like [\"1010\"]".into(),
            (_, e) if e.contains("struct") || e.contains("map") => {
                "write a table, like { key = \"value\" }, or a [section]".into()
            }
            _ => format!("this key takes {expected}"),
        };
        return (format!("wrong type: expected {expected}, found {}", article(found)), help);
    }
    if raw.starts_with("invalid value: integer") && raw.contains("expected u64") {
        return ("expected a whole number of zero or more".into(), "for example `seed = 7`".into());
    }
    if raw.contains("duplicate key") {
        return (raw.to_string(), "each key may appear only once in a table".into());
    }
    let help = "check the TOML syntax near the mark (quotes, brackets, `key = value`)";
    (format!("TOML syntax error: {raw}"), help.into())
}

fn article(kind: &str) -> String {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

/// `rest` is what follows "unknown field `" or "unknown variant `".
fn explain_unknown(rest: &str, what: &str) -> (String, String) {
    let (name, tail) = rest.split_once('`').unwrap_or((rest, ""));
    let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    let message = format!("unknown {what} `{name}`");
    let allowed = if expected.is_empty() {
        format!("no {what}s are allowed here")
    } else {
        format!("allowed {what}s here: {}", expected.join(", "))
    };
    let help = match suggest::closest(name, expected.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? ({allowed})"),
        None => allowed,
    };
    (message, help)
}

/// Replaces the characters of secret values (`token = "…"`, headers like `X-Api-Key`) with `*`,
/// keeping `${VAR}` references and every byte offset.
pub(crate) fn redact_secrets(source: &str) -> String {
    const SECRET_KEYS: [&str; 6] = ["token", "secret", "password", "authorization", "key", "auth"];
    let mut out: Vec<u8> = source.as_bytes().to_vec();
    let bytes = source.as_bytes();
    for (eq, _) in source.match_indices('=') {
        if inside_string(source, eq) {
            // `?token=…` inside a URL: the URL pass below masks it.
            continue;
        }
        let key = key_before(&source[..eq]).to_ascii_lowercase();
        if !SECRET_KEYS.iter().any(|k| key.contains(k)) {
            continue;
        }
        let after = &source[eq + 1..];
        let value_start = eq + 1 + (after.len() - after.trim_start_matches([' ', '\t']).len());
        let value_end = value_end(source, value_start);
        // Inside the quotes of a string, or the whole of a bare value.
        let (start, end) = match bytes.get(value_start) {
            Some(b'"' | b'\'') => {
                let closed =
                    value_end > value_start + 1 && bytes[value_end - 1] == bytes[value_start];
                (value_start + 1, if closed { value_end - 1 } else { value_end })
            }
            _ => (value_start, value_start + source[value_start..value_end].trim_end().len()),
        };
        let mut i = start;
        while i < end {
            if bytes[i..end].starts_with(b"${") {
                i += bytes[i..end].iter().position(|&b| b == b'}').map_or(end - i, |c| c + 1);
                continue;
            }
            out[i] = b'*';
            i += 1;
        }
    }
    // Secret query values and credentials in URLs (`"http://h/hook?token=…"`).
    let lower = source.to_ascii_lowercase();
    for scheme in ["http://", "https://"] {
        for (start, _) in lower.match_indices(scheme) {
            let end = source[start..]
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`'))
                .map_or(source.len(), |i| start + i);
            for range in crate::secret::secret_ranges(&source[start..end]) {
                let mut i = start + range.start;
                while i < start + range.end {
                    if bytes[i..].starts_with(b"${") {
                        i += bytes[i..start + range.end]
                            .iter()
                            .position(|&b| b == b'}')
                            .map_or(start + range.end - i, |c| c + 1);
                        continue;
                    }
                    out[i] = b'*';
                    i += 1;
                }
            }
        }
    }
    // Only ASCII bytes and whole multi-byte characters were replaced by `*` bytes.
    String::from_utf8(out).unwrap_or_else(|_| source.to_string())
}

/// Whether byte `at` of `source` is inside a quoted string of its line.
fn inside_string(source: &str, at: usize) -> bool {
    let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in source[line_start..at].chars() {
        match quote {
            Some(q) => {
                if c == q && !escaped {
                    quote = None;
                }
                escaped = q == '"' && c == '\\' && !escaped;
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return false,
            None => {}
        }
    }
    quote.is_some()
}

/// The key just before an `=`: a bare key or a quoted one.
fn key_before(text: &str) -> &str {
    let text = text.trim_end_matches([' ', '\t']);
    if let Some(inner) = text.strip_suffix('"') {
        return inner.rsplit('"').next().unwrap_or("");
    }
    let key_len: usize = text
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .map(char::len_utf8)
        .sum();
    &text[text.len() - key_len..]
}

/// Where the value starting at `start` ends: after its closing quote, or at a delimiter.
fn value_end(source: &str, start: usize) -> usize {
    let rest = &source[start..];
    let line_end = rest.find('\n').map_or(source.len(), |i| start + i);
    match rest.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let mut escaped = false;
            for (i, c) in rest.char_indices().skip(1) {
                if start + i >= line_end {
                    break;
                }
                if c == q && !escaped {
                    return start + i + 1;
                }
                escaped = q == '"' && c == '\\' && !escaped;
            }
            line_end
        }
        _ => {
            rest.find([',', '}', ']', '#', '\n']).map_or(source.len(), |i| start + i).min(line_end)
        }
    }
}

/// What a call resolves to: its kind, caller ID, caller name and who answers.
type ResolvedCall = (CallKind, String, Option<String>, Answer);

/// Names of the PBX's objects, by index, for resolving references. With duplicates the first
/// one wins (the duplicate itself is reported).
#[derive(Default)]
struct Names {
    extensions: Vec<String>,
    user_names: Vec<String>,
    queues: Vec<String>,
    ring_groups: Vec<String>,
    voicemail: Vec<String>,
    webhooks: Vec<String>,
}

/// The kinds of call-flow steps, as written.
const STEP_KINDS: [&str; 7] =
    ["webhook", "record", "queue", "ring_group", "user", "voicemail", "hangup"];

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

    fn pbx(&mut self, file: &ScenarioFile) -> Pbx {
        let mut names = Names::default();
        let mut pbx = Pbx {
            recording: self.recording(file.recording.as_ref()),
            unanswered_completion: file.unanswered_completion.unwrap_or_default(),
            ..Pbx::default()
        };

        let mut seen_names = HashMap::new();
        let mut seen_extensions = HashMap::new();
        for u in &file.users {
            let u = u.get();
            let name = self.name(&u.name, "user name");
            self.unique(&mut seen_names, &name, u.name.span(), "user name");
            let extension = self.digits(&u.extension, "extension");
            self.unique(&mut seen_extensions, &extension, u.extension.span(), "extension");
            let outbound_cli =
                u.outbound_cli.as_ref().map(|c| Str::from(self.digits(c, "phone number")));
            names.extensions.push(extension.clone());
            names.user_names.push(name.clone());
            pbx.users.push(User {
                name: name.into(),
                extension: extension.into(),
                record_inbound: u.record_inbound,
                record_outbound: u.record_outbound,
                // Without its own table, a user's recordings go where the PBX's do.
                recording: match &u.recording {
                    Some(r) => self.recording(Some(r)),
                    None => pbx.recording.clone(),
                },
                outbound_cli,
            });
        }

        let mut seen = HashMap::new();
        for v in &file.voicemail {
            let v = v.get();
            let name = self.name(&v.name, "voicemail box name");
            self.unique(&mut seen, &name, v.name.span(), "voicemail box");
            names.voicemail.push(name.clone());
            pbx.voicemail.push(VoicemailBox {
                name: name.into(),
                emails: self.emails(&v.emails),
                subject: self.text_or(&v.subject, "New voicemail"),
                message: self.text_or(&v.message, "You have a new voicemail."),
            });
        }

        let mut seen = HashMap::new();
        for w in &file.webhooks {
            let w = w.get();
            let name = self.name(&w.name, "webhook object name");
            self.unique(&mut seen, &name, w.name.span(), "webhook object");
            names.webhooks.push(name.clone());
            pbx.webhooks.push(WebhookObject {
                name: name.into(),
                url: self.url(&w.url),
                token: self.token(&w.token),
                headers: self.headers(&w.headers),
            });
        }

        // Queues and ring groups may refer to each other in their failover steps: collect all
        // their names before resolving any step.
        let mut seen = HashMap::new();
        for q in &file.queues {
            let name = self.name(&q.get().name, "queue name");
            self.unique(&mut seen, &name, q.get().name.span(), "queue");
            names.queues.push(name);
        }
        let mut seen = HashMap::new();
        for g in &file.ring_groups {
            let name = self.name(&g.get().name, "ring group name");
            self.unique(&mut seen, &name, g.get().name.span(), "ring group");
            names.ring_groups.push(name);
        }

        for (q, name) in file.queues.iter().zip(&names.queues) {
            let q = q.get();
            pbx.queues.push(Queue {
                name: Str::from(name.as_str()),
                members: self.members(&q.members, "queue", name, &names),
                strategy: q.strategy.unwrap_or_default(),
                ring_timeout: self.positive_duration(
                    q.ring_timeout.as_ref(),
                    20_000,
                    "ring_timeout",
                ),
                retry: self.opt_duration(&q.retry, 5_000),
                max_wait: self.positive_duration(q.max_wait.as_ref(), 300_000, "max_wait"),
                wrapup: self.opt_duration(&q.wrapup, 0),
                wrapup_blocks: q.wrapup_blocks.unwrap_or_default(),
                failover: q.failover.as_ref().and_then(|s| self.step(s, &names)).map(Box::new),
            });
        }
        for (g, name) in file.ring_groups.iter().zip(&names.ring_groups) {
            let g = g.get();
            pbx.ring_groups.push(RingGroup {
                name: Str::from(name.as_str()),
                members: self.members(&g.members, "ring group", name, &names),
                mode: g.mode.unwrap_or_default(),
                ring_time: self.positive_duration(g.ring_time.as_ref(), 20_000, "ring_time"),
                no_answer: g.no_answer.as_ref().and_then(|s| self.step(s, &names)).map(Box::new),
            });
        }

        let mut seen = HashMap::new();
        for n in &file.numbers {
            let n = n.get();
            let number = self.digits(&n.number, "phone number");
            self.unique(&mut seen, &number, n.number.span(), "number");
            if n.flow.get().is_empty() {
                self.error(
                    n.flow.span(),
                    format!("the call flow of {number} has no steps"),
                    "list at least one step, like flow = [\"queue:Support\", \"voicemail:Support VM\"]",
                );
            }
            let flow = n.flow.get().iter().filter_map(|s| self.step(s, &names)).collect();
            pbx.numbers.push(Number { number: number.into(), flow });
        }
        pbx
    }

    fn user(&mut self, value: &Sp<String>, names: &Names) -> Option<UserId> {
        let extension = self.text(value)?;
        self.user_by_extension(extension.trim(), value.span(), names)
    }

    fn user_by_extension(
        &mut self,
        extension: &str,
        span: Range<usize>,
        names: &Names,
    ) -> Option<UserId> {
        if let Some(id) = names.extensions.iter().position(|e| e == extension) {
            return Some(id);
        }
        let help = if let Some(id) = names.user_names.iter().position(|n| n == extension) {
            format!("users are named by extension: `{extension}` is {}", names.extensions[id])
        } else if names.extensions.is_empty() {
            "there are no [[users]]; add one with this extension".to_string()
        } else {
            match suggest::closest(extension, names.extensions.iter().map(String::as_str)) {
                Some(s) => {
                    format!("did you mean {s}? (extensions: {})", names.extensions.join(", "))
                }
                None => format!("extensions: {}", names.extensions.join(", ")),
            }
        };
        self.error(span, format!("no user with extension {extension}"), help);
        None
    }

    fn members(
        &mut self,
        members: &Sp<Vec<Sp<String>>>,
        what: &str,
        name: &str,
        names: &Names,
    ) -> Vec<UserId> {
        if members.get().is_empty() {
            self.error(
                members.span(),
                format!("{what} `{name}` has no members"),
                "list member extensions, like members = [\"1010\", \"1011\"]",
            );
        }
        let mut out: Vec<UserId> = Vec::new();
        let mut seen = HashMap::new();
        for m in members.get() {
            if let Some(id) = self.user(m, names) {
                if self.unique(&mut seen, &names.extensions[id], m.span(), "member") {
                    out.push(id);
                }
            }
        }
        out
    }

    /// Looks `name` up among `candidates`, reporting an unknown one with a suggestion.
    fn lookup(
        &mut self,
        span: Range<usize>,
        name: &str,
        candidates: &[String],
        what: &str,
        section: &str,
    ) -> Option<usize> {
        if let Some(i) = candidates.iter().position(|c| c == name) {
            return Some(i);
        }
        let help = if candidates.is_empty() {
            format!("there are no [[{section}]]; add one named `{name}`")
        } else {
            let list = candidates.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
            match suggest::closest(name, candidates.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`? (defined: {list})"),
                None => format!("defined: {list}"),
            }
        };
        self.error(span, format!("no {what} named `{name}`"), help);
        None
    }

    fn step(&mut self, value: &Sp<StepFile>, names: &Names) -> Option<Step> {
        let span = value.span();
        match value.get() {
            StepFile::Text(raw) => {
                let text = self.text(&Sp::new(raw.clone(), span.clone()))?;
                let (kind, name) = match text.split_once(':') {
                    Some((k, n)) => (k.trim(), Some(n.trim())),
                    None => (text.trim(), None),
                };
                self.text_step(span, kind, name, names)
            }
            StepFile::Table(t) => self.table_step(span, t, names),
        }
    }

    fn text_step(
        &mut self,
        span: Range<usize>,
        kind: &str,
        name: Option<&str>,
        names: &Names,
    ) -> Option<Step> {
        let takes_name = !matches!(kind, "record" | "hangup");
        if !STEP_KINDS.contains(&kind) {
            let help = match suggest::closest(kind, STEP_KINDS) {
                Some(s) => format!("did you mean `{s}`? (step kinds: {})", STEP_KINDS.join(", ")),
                None => format!(
                    "write a step as \"kind:name\" or \"record\" / \"hangup\"; kinds: {}",
                    STEP_KINDS.join(", ")
                ),
            };
            self.error(span, format!("unknown step kind `{kind}`"), help);
            return None;
        }
        match name {
            Some(n) if !takes_name => {
                self.error(
                    span,
                    format!("the `{kind}` step takes no name (found `{n}`)"),
                    format!("write just \"{kind}\""),
                );
                return None;
            }
            None | Some("") if takes_name => {
                let example = if kind == "user" { "1010" } else { "NAME" };
                self.error(
                    span,
                    format!("the `{kind}` step needs a name"),
                    format!("write it as \"{kind}:{example}\""),
                );
                return None;
            }
            _ => {}
        }
        let name = name.unwrap_or("");
        Some(match kind {
            "record" => Step::Record,
            "hangup" => Step::Hangup,
            "webhook" => Step::Webhook(self.lookup(
                span,
                name,
                &names.webhooks,
                "webhook object",
                "webhooks",
            )?),
            "voicemail" => Step::Voicemail(self.lookup(
                span,
                name,
                &names.voicemail,
                "voicemail box",
                "voicemail",
            )?),
            "queue" => Step::Queue {
                queue: self.lookup(span, name, &names.queues, "queue", "queues")?,
                on_timeout: None,
            },
            "ring_group" => Step::RingGroup {
                group: self.lookup(span, name, &names.ring_groups, "ring group", "ring_groups")?,
                on_no_answer: None,
            },
            _ => Step::User { user: self.user_by_extension(name, span, names)?, ring: None },
        })
    }

    fn table_step(&mut self, span: Range<usize>, t: &StepTable, names: &Names) -> Option<Step> {
        let kinds: Vec<(&str, &Sp<String>)> = [
            ("webhook", &t.webhook),
            ("queue", &t.queue),
            ("ring_group", &t.ring_group),
            ("user", &t.user),
            ("voicemail", &t.voicemail),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect();
        let [(kind, value)] = kinds[..] else {
            let message = if kinds.is_empty() {
                "this step table names no step".to_string()
            } else {
                let found: Vec<&str> = kinds.iter().map(|(k, _)| *k).collect();
                format!("this step table names several steps: {}", found.join(", "))
            };
            self.error(
                span,
                message,
                "give exactly one of queue, ring_group, user, webhook or voicemail, like { queue = \"Support\", on_timeout = \"voicemail:Support VM\" }",
            );
            return None;
        };
        let misplaced = [
            ("on_timeout", t.on_timeout.as_ref().map(|s| s.span()), "queue"),
            ("on_no_answer", t.on_no_answer.as_ref().map(|s| s.span()), "ring_group"),
            ("ring", t.ring.as_ref().map(|s| s.span()), "user"),
        ];
        let mut ok = true;
        for (option, option_span, owner) in misplaced {
            if let Some(option_span) = option_span {
                if owner != kind {
                    self.error(
                        option_span,
                        format!("`{option}` does not apply to a {kind} step"),
                        format!("`{option}` belongs to {owner} steps; remove it"),
                    );
                    ok = false;
                }
            }
        }
        let name = self.text(value)?;
        let step = self.text_step(value.span(), kind, Some(name.trim()), names)?;
        if !ok {
            return None;
        }
        Some(match step {
            Step::Queue { queue, .. } => Step::Queue {
                queue,
                on_timeout: t.on_timeout.as_ref().and_then(|s| self.step(s, names)).map(Box::new),
            },
            Step::RingGroup { group, .. } => Step::RingGroup {
                group,
                on_no_answer: t
                    .on_no_answer
                    .as_ref()
                    .and_then(|s| self.step(s, names))
                    .map(Box::new),
            },
            Step::User { user, .. } => {
                let ring = t.ring.as_ref().map(|r| self.positive_duration(Some(r), 20_000, "ring"));
                Step::User { user, ring }
            }
            other => other,
        })
    }

    fn calls(&mut self, calls: &[Sp<CallFile>], pbx: &Pbx) -> Vec<ScriptedCall> {
        let mut out = Vec::new();
        for c in calls {
            if let Some(call) = self.call(c.get(), pbx) {
                out.push(call);
            }
        }
        out.sort_by_key(|c| c.at);
        out
    }

    fn call(&mut self, c: &CallFile, pbx: &Pbx) -> Option<ScriptedCall> {
        let at = self.duration(&c.at);
        let defaults = Behaviour::default();
        let answer_after = self.opt_duration(&c.answer_after, defaults.answer_after);
        let talk = self.opt_duration(&c.talk, defaults.talk);
        let abandon_after = c.abandon_after.as_ref().and_then(|d| self.duration(d));
        let voicemail = self.opt_duration(&c.voicemail, defaults.voicemail);
        let from = self.text(&c.from);
        let to = self.text(&c.to);
        let answered_by = self.opt_text(&c.answered_by);
        let caller_name = self.opt_text(&c.caller_name);
        let caller_id = self.opt_text(&c.caller_id);
        let (at, from, to, answered_by) = (at?, from?, to?, answered_by?);
        let (from, to) = (from.trim().to_string(), to.trim().to_string());
        let answered_by = answered_by.map(|a| a.trim().to_string());

        let (kind, caller_id, caller_name, answer) = match c.direction.unwrap_or_default() {
            Direction::Inbound => {
                self.inbound_call(c, pbx, from, &to, answered_by.as_deref(), caller_name.flatten())?
            }
            Direction::Outbound => {
                self.outbound_call(c, pbx, &from, to, answered_by.as_deref(), caller_id.flatten())?
            }
        };
        Some(ScriptedCall {
            at,
            kind,
            caller_id: Str::from(caller_id),
            caller_name: caller_name.map(Str::from),
            behaviour: Behaviour {
                answer,
                answer_after,
                talk,
                abandon_after,
                voicemail,
                no_answer_probability: 0.0,
            },
        })
    }

    /// An inbound call's number, caller and answer.
    fn inbound_call(
        &mut self,
        c: &CallFile,
        pbx: &Pbx,
        from: String,
        to: &str,
        answered_by: Option<&str>,
        caller_name: Option<String>,
    ) -> Option<ResolvedCall> {
        if let Some(id) = &c.caller_id {
            self.error(
                id.span(),
                "caller_id is for outbound calls",
                "an inbound caller's number is `from`",
            );
        }
        if from.is_empty() {
            self.error(
                c.from.span(),
                "empty caller number",
                "write the caller's number, like \"61400000001\"",
            );
        }
        let Some(number) = pbx.number_by_digits(to) else {
            let numbers: Vec<&str> = pbx.numbers.iter().map(|n| &*n.number).collect();
            let help = if numbers.is_empty() {
                "inbound calls arrive on one of the [[numbers]]; there are none: add one"
                    .to_string()
            } else {
                let list = numbers.join(", ");
                match suggest::closest(to, numbers.iter().copied()) {
                    Some(s) => format!("did you mean {s}? (numbers: {list})"),
                    None => format!(
                        "inbound calls go to one of the [[numbers]]: {list}; for a call from a user, set direction = \"outbound\""
                    ),
                }
            };
            self.error(c.to.span(), format!("no number {to} in [[numbers]]"), help);
            return None;
        };
        let answer = self.inbound_answer(c, answered_by, pbx, number)?;
        Some((CallKind::Inbound { number }, from, caller_name, answer))
    }

    /// An outbound call's user, destination, presented caller ID and answer.
    fn outbound_call(
        &mut self,
        c: &CallFile,
        pbx: &Pbx,
        from: &str,
        to: String,
        answered_by: Option<&str>,
        caller_id: Option<String>,
    ) -> Option<ResolvedCall> {
        if let Some(name) = &c.caller_name {
            self.error(
                name.span(),
                "caller_name is for inbound calls",
                "an outbound call presents `caller_id` (a number); remove caller_name",
            );
        }
        if let Some(v) = &c.voicemail {
            self.error(
                v.span(),
                "voicemail is for inbound calls",
                "remove it from this outbound call",
            );
        }
        let Some(user) = pbx.user_by_extension(from) else {
            let help = if pbx.users.is_empty() {
                "outbound calls are made by a user; there are no [[users]]".to_string()
            } else {
                let list: Vec<&str> = pbx.users.iter().map(|u| &*u.extension).collect();
                match suggest::closest(from, list.iter().copied()) {
                    Some(s) => format!(
                        "did you mean {s}? An outbound call's `from` is the calling user's extension"
                    ),
                    None => format!(
                        "an outbound call's `from` is the calling user's extension: {}",
                        list.join(", ")
                    ),
                }
            };
            self.error(c.from.span(), format!("no user with extension {from}"), help);
            return None;
        };
        if to.is_empty() {
            self.error(
                c.to.span(),
                "empty dialled number",
                "write the number dialled, like \"61400000001\"",
            );
        }
        let answer = match answered_by {
            None | Some("any") => Answer::Any,
            Some("none") => Answer::Nobody,
            Some(other) => {
                let span = c.answered_by.as_ref().map_or(c.to.span(), |a| a.span());
                self.error(
                    span,
                    format!("an outbound call cannot be answered by `{other}`"),
                    "the far end answers an outbound call: use \"any\" (answered) or \"none\"",
                );
                return None;
            }
        };
        let u = &pbx.users[user];
        let caller_id = caller_id.unwrap_or_else(|| match &u.outbound_cli {
            Some(cli) => cli.to_string(),
            None => pbx
                .numbers
                .first()
                .map_or_else(|| u.extension.to_string(), |n| n.number.to_string()),
        });
        Some((CallKind::Outbound { user, dest: Str::from(to) }, caller_id, None, answer))
    }

    /// `answered_by` of an inbound call: `any`, `none`, or a user the call flow rings.
    fn inbound_answer(
        &mut self,
        c: &CallFile,
        answered_by: Option<&str>,
        pbx: &Pbx,
        number: NumberId,
    ) -> Option<Answer> {
        let (text, span) = match (answered_by, &c.answered_by) {
            (None | Some("any"), _) => return Some(Answer::Any),
            (Some("none"), _) => return Some(Answer::Nobody),
            (Some(text), Some(value)) => (text, value.span()),
            (Some(_), None) => return Some(Answer::Any),
        };
        let Some(user) = pbx.user_by_extension(text) else {
            let extensions: Vec<&str> = pbx.users.iter().map(|u| &*u.extension).collect();
            let help = match suggest::closest(text, extensions.iter().copied()) {
                Some(s) => format!("did you mean {s}? (or \"any\" / \"none\")"),
                None => "use \"any\", \"none\" or a user's extension".to_string(),
            };
            self.error(span, format!("no user with extension {text}"), help);
            return None;
        };
        let rung = users_rung(pbx, &pbx.numbers[number].flow);
        if !rung.contains(&user) {
            let list: Vec<&str> = rung.iter().map(|&u| &*pbx.users[u].extension).collect();
            let help = if list.is_empty() {
                "this call flow rings nobody; use \"none\"".to_string()
            } else {
                format!("the flow rings {}; use one of them, \"any\" or \"none\"", list.join(", "))
            };
            self.error(
                span,
                format!(
                    "user {text} is never rung by the call flow of {}",
                    pbx.numbers[number].number
                ),
                help,
            );
            return None;
        }
        Some(Answer::User(user))
    }
}

/// Every user a call flow can ring, including its failover and no-answer steps.
fn users_rung(pbx: &Pbx, flow: &[Step]) -> BTreeSet<UserId> {
    fn visit(pbx: &Pbx, step: &Step, out: &mut BTreeSet<UserId>, depth: usize) {
        if depth > 16 {
            return;
        }
        match step {
            Step::User { user, .. } => {
                out.insert(*user);
            }
            Step::Queue { queue, on_timeout } => {
                let q = &pbx.queues[*queue];
                out.extend(q.members.iter().copied());
                for s in on_timeout.iter().chain(q.failover.iter()) {
                    visit(pbx, s, out, depth + 1);
                }
            }
            Step::RingGroup { group, on_no_answer } => {
                let g = &pbx.ring_groups[*group];
                out.extend(g.members.iter().copied());
                for s in on_no_answer.iter().chain(g.no_answer.iter()) {
                    visit(pbx, s, out, depth + 1);
                }
            }
            Step::Webhook(_) | Step::Record | Step::Voicemail(_) | Step::Hangup => {}
        }
    }
    let mut out = BTreeSet::new();
    for step in flow {
        visit(pbx, step, &mut out, 0);
    }
    out
}

/// One step of a dotted key path: `name`, `"quoted name"` or `[index]`.
#[derive(Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// `traffic.stages[1].rate` → `traffic`, `stages`, 1, `rate`; `numbers."6129"` → `numbers`,
/// `6129`.
fn path_segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        rest = rest.strip_prefix('.').unwrap_or(rest);
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            out.push(Segment::Key(r[..end].to_string()));
            rest = r.get(end + 1..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            match r[..end].parse() {
                Ok(i) => out.push(Segment::Index(i)),
                Err(_) => break,
            }
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            out.push(Segment::Key(rest[..end].to_string()));
            rest = &rest[end..];
        }
    }
    out
}

/// Where in `source` the error `message` about the key `path` belongs: the value at `path`, or
/// its deepest part that exists; the key itself for an unknown key; inside a table, the unknown
/// key or value serde names in `message`. `None` if the source cannot be read.
fn locate(source: &str, path: &str, message: &str) -> Option<Range<usize>> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(source).ok()?;
    let mut table: Option<&DeTable> = Some(root.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue>]> = None;
    let mut found: Option<(Range<usize>, Range<usize>)> = None;
    for segment in path_segments(path) {
        let next = match segment {
            Segment::Key(key) => table
                .and_then(|t| t.iter().find(|(name, _)| name.get_ref() == &key))
                .map(|(name, value)| (name.span(), value)),
            Segment::Index(i) => array.and_then(|a| a.get(i)).map(|value| (value.span(), value)),
        };
        let Some((key_span, value)) = next else { break };
        found = Some((key_span, value.span()));
        table = match value.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
        array = match value.get_ref() {
            DeValue::Array(a) => Some(a),
            _ => None,
        };
    }
    let (key_span, value_span) = found?;
    if message.starts_with("unknown key") {
        return Some(key_span);
    }
    // serde's "unknown field `x`" / "unknown variant `x`" inside the table at `path`.
    let named = |prefix: &str| message.strip_prefix(prefix)?.split('`').next();
    if let (Some(name), Some(t)) = (named("unknown field `"), table)
        && let Some((key, _)) = t.iter().find(|(k, _)| k.get_ref() == name)
    {
        return Some(key.span());
    }
    if let (Some(name), Some(t)) = (named("unknown variant `"), table)
        && let Some((_, value)) =
            t.iter().find(|(_, v)| matches!(v.get_ref(), DeValue::String(s) if s == name))
    {
        return Some(value.span());
    }
    Some(value_span)
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

/// The span of `needle` inside the value at `span` of `source`, or the whole span.
fn sub_span(source: &str, span: Range<usize>, needle: &str) -> Range<usize> {
    source
        .get(span.clone())
        .and_then(|text| text.find(needle))
        .map_or(span.clone(), |i| span.start + i..span.start + i + needle.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::NullStyle;

    fn env(name: &str) -> Option<String> {
        match name {
            "PBX_TOKEN" => Some("tok-from-env".into()),
            "HOOK_HOST" => Some("hooks.example.com".into()),
            _ => None,
        }
    }

    fn ok(source: &str) -> Scenario {
        parse_with_env(source, "scenarios/test.toml", &env)
            .unwrap_or_else(|d| panic!("{}", d.render(false)))
    }

    fn err(source: &str) -> Diagnostic {
        match parse_with_env(source, "scenarios/test.toml", &env) {
            Ok(_) => panic!("accepted:\n{source}"),
            Err(d) => *d,
        }
    }

    const PBX: &str = r#"
[[users]]
name = "Alice"
extension = "1010"

[[users]]
name = "Bob"
extension = "1011"

[[queues]]
name = "Support"
members = ["1010", "1011"]

[[ring_groups]]
name = "Sales"
members = ["1011"]

[[voicemail]]
name = "VM"

[[webhooks]]
name = "CRM"
"#;

    /// The PBX above plus one number with `flow`.
    fn with_flow(flow: &str) -> String {
        format!("{PBX}\n[[numbers]]\nnumber = \"61300000000\"\nflow = {flow}\n")
    }

    fn flow(flow: &str) -> Vec<Step> {
        ok(&with_flow(flow)).pbx.numbers[0].flow.clone()
    }

    #[test]
    fn defaults() {
        let s = ok("");
        assert_eq!(s.name, "test");
        assert_eq!(s.seed, 1);
        assert_eq!(s.start_time, None);
        assert_eq!(s.utc_offset, None);
        assert_eq!(s.nulls, NullStyle::Null);
        assert_eq!(s.speed, None);
        assert_eq!(s.webhook.events, EventTypeSet::ALL);
        assert_eq!(s.webhook.url, None);
        assert!(s.calls.is_empty() && s.traffic.is_none() && s.expect.is_empty());
    }

    #[test]
    fn top_level_settings() {
        let s = ok(r#"
name = "demo"
seed = 7
start_time = 2026-03-02T09:00:00Z
utc_offset = "+10:00"
nulls = "omit"
speed = 10

[webhook]
url = "https://${HOOK_HOST}/hook"
token = "${PBX_TOKEN}"
events = ["queue_call", "voicemail"]
headers = { "X-Tenant" = "acme" }
"#);
        assert_eq!(s.name, "demo");
        assert_eq!(s.seed, 7);
        assert_eq!(s.start_time, Some("2026-03-02T09:00:00Z".parse().unwrap()));
        assert_eq!(s.utc_offset.map(|o| o.local_minus_utc()), Some(36_000));
        assert_eq!(s.nulls, NullStyle::Omit);
        assert_eq!(s.speed, Some(10.0));
        assert_eq!(
            s.webhook.url.as_ref().map(SecretUrl::expose),
            Some("https://hooks.example.com/hook")
        );
        assert_eq!(s.webhook.token.expose(), "tok-from-env");
        let events: Vec<EventType> = s.webhook.events.iter().collect();
        assert_eq!(events, [EventType::QueueCall, EventType::Voicemail]);
        assert_eq!(s.webhook.headers, [("X-Tenant".to_string(), "acme".into())]);
    }

    #[test]
    fn webhook_routes_and_object_tokens() {
        let s = ok(r#"
[webhook]
url = "http://127.0.0.1:3000/hook"
events = ["queue_call", "voicemail"]
routes = { queue_call = "http://127.0.0.1:3000/queue", webhook_component_event = "http://127.0.0.1:3000/c" }

[[webhooks]]
name = "A"

[[webhooks]]
name = "B"
token = ""

[[webhooks]]
name = "C"
url = "http://crm.example.com/"
token = "own"
"#);
        assert_eq!(
            s.webhook.routes,
            [
                (EventType::QueueCall, "http://127.0.0.1:3000/queue".into()),
                (EventType::WebhookComponentEvent, "http://127.0.0.1:3000/c".into()),
            ]
        );
        let tokens: Vec<Option<&str>> =
            s.pbx.webhooks.iter().map(|w| w.token.as_ref().map(Secret::expose)).collect();
        assert_eq!(tokens, [None, Some(""), Some("own")]);

        let d = err("[webhook]\nroutes = { queue_cal = \"http://127.0.0.1:3000/q\" }\n");
        assert!(d.message().contains("unknown event type `queue_cal`"), "{}", d.message());
        let d = err("[webhook]\nroutes = { queue_call = \"127.0.0.1:3000/q\" }\n");
        assert!(d.message().contains("malformed URL"), "{}", d.message());
        let d =
            err("[webhook]\nevents = [\"voicemail\"]\nroutes = { queue_call = \"http://h/q\" }\n");
        assert!(d.message().contains("is not in `events`"), "{}", d.message());
    }

    #[test]
    fn open_choices_read_from_the_file() {
        use crate::pbx::{UnansweredCompletion, WrapupBlocks};
        let s = ok(&with_flow(r#"["queue:Support"]"#));
        assert_eq!(s.pbx.unanswered_completion, UnansweredCompletion::None);
        assert_eq!(s.pbx.queues[0].wrapup_blocks, WrapupBlocks::Queue);
        let text = format!(
            "unanswered_completion = \"completed\"\n{}",
            with_flow(r#"["queue:Support"]"#)
                .replace("[[queues]]\n", "[[queues]]\nwrapup_blocks = \"all\"\n")
        );
        let s = ok(&text);
        assert_eq!(s.pbx.unanswered_completion, UnansweredCompletion::Completed);
        assert_eq!(s.pbx.queues[0].wrapup_blocks, WrapupBlocks::All);
        let d = err("unanswered_completion = \"complete\"");
        let shown = d.render(false);
        assert!(shown.contains("did you mean `completed`?"), "{shown}");
        assert!(shown.contains("test.toml:1:25"), "{shown}");
    }

    #[test]
    fn users_without_a_recording_table_use_the_pbxs() {
        let s = ok(r#"
[recording]
emails = ["recordings@example.com"]
subject = "PBX recording"
mode = "storage"

[[users]]
name = "Alice"
extension = "1010"
record_inbound = true
record_outbound = true

[[users]]
name = "Bob"
extension = "1011"
record_outbound = true
recording = { emails = ["bob@example.com"] }
"#);
        let alice = &s.pbx.users[0].recording;
        assert_eq!(alice.emails, [Str::from("recordings@example.com")]);
        assert_eq!(&*alice.subject, "PBX recording");
        assert_eq!(alice.mode, crate::pbx::RecordingMode::Storage);
        // A user's own table replaces the PBX's whole (defaults included).
        let bob = &s.pbx.users[1].recording;
        assert_eq!(bob.emails, [Str::from("bob@example.com")]);
        assert_eq!(&*bob.subject, "Call recording");
        assert_eq!(bob.mode, crate::pbx::RecordingMode::Email);
    }

    #[test]
    fn start_time_may_be_a_string() {
        let s = ok(r#"start_time = "2026-03-02T19:00:00+10:00""#);
        assert_eq!(s.start_time, Some("2026-03-02T09:00:00Z".parse().unwrap()));
        let d = err("start_time = 2026-03-02T09:00:00");
        assert!(d.message().contains("cannot read start_time"), "{}", d.message());
    }

    #[test]
    fn pbx_objects_and_defaults() {
        let s = ok(&with_flow(r#"["queue:Support"]"#));
        let q = &s.pbx.queues[0];
        assert_eq!(q.members, [0, 1]);
        assert_eq!(q.strategy, Strategy::Ringall);
        assert_eq!((q.ring_timeout, q.retry, q.max_wait, q.wrapup), (20_000, 5_000, 300_000, 0));
        assert_eq!(q.failover, None);
        let g = &s.pbx.ring_groups[0];
        assert_eq!((g.mode, g.ring_time), (RingMode::Simultaneous, 20_000));
        assert_eq!(&*s.pbx.voicemail[0].subject, "New voicemail");
        assert_eq!(s.pbx.webhooks[0].url, None);
        assert_eq!(&*s.pbx.recording.subject, "Call recording");
    }

    #[test]
    fn step_strings() {
        assert_eq!(
            flow(
                r#"["webhook:CRM", "record", "queue: Support", "ring_group:Sales", "user:1011", "voicemail:VM", "hangup"]"#
            ),
            [
                Step::Webhook(0),
                Step::Record,
                Step::Queue { queue: 0, on_timeout: None },
                Step::RingGroup { group: 0, on_no_answer: None },
                Step::User { user: 1, ring: None },
                Step::Voicemail(0),
                Step::Hangup,
            ]
        );
    }

    #[test]
    fn step_tables() {
        assert_eq!(
            flow(
                r#"[{ queue = "Support", on_timeout = { ring_group = "Sales", on_no_answer = "voicemail:VM" } }, { user = "1010", ring = "25s" }]"#
            ),
            [
                Step::Queue {
                    queue: 0,
                    on_timeout: Some(Box::new(Step::RingGroup {
                        group: 0,
                        on_no_answer: Some(Box::new(Step::Voicemail(0))),
                    })),
                },
                Step::User { user: 0, ring: Some(25_000) },
            ]
        );
    }

    #[test]
    fn bad_steps() {
        let cases = [
            (r#"["record:VM"]"#, "the `record` step takes no name"),
            (r#"["queue"]"#, "the `queue` step needs a name"),
            (r#"["queue:"]"#, "the `queue` step needs a name"),
            (r#"["ringgroup:Sales"]"#, "unknown step kind `ringgroup`"),
            (r#"["user:Alice"]"#, "no user with extension Alice"),
            (r#"[{ user = "1010", on_timeout = "hangup" }]"#, "`on_timeout` does not apply"),
            (r#"[{ }]"#, "names no step"),
            (r#"[{ user = "1010", ring = "0s" }]"#, "ring must be more than 0s"),
            (r#"[]"#, "has no steps"),
            (r#"[7]"#, "wrong type"),
        ];
        for (flow, message) in cases {
            let d = err(&with_flow(flow));
            assert!(d.message().contains(message), "{flow}: {}", d.message());
        }
        let d = err(&with_flow(r#"["ringgroup:Sales"]"#));
        assert!(d.help_text().unwrap_or_default().contains("did you mean `ring_group`?"));
        let d = err(&with_flow(r#"["user:Alice"]"#));
        assert!(d.help_text().unwrap_or_default().contains("`Alice` is 1010"));
    }

    #[test]
    fn calls_are_resolved_and_sorted_stably() {
        let source = with_flow(r#"["queue:Support"]"#)
            + r#"
[[calls]]
at = "1m"
from = "61400000001"
to = "61300000000"
answered_by = "1011"
answer_after = "8s"
talk = "2m"
abandon_after = "45s"
voicemail = "0s"

[[calls]]
at = "0s"
direction = "outbound"
from = "1010"
to = "61400000002"
answered_by = "none"

[[calls]]
at = "1m"
from = "61400000003"
caller_name = "Jane"
to = "61300000000"
"#;
        let s = ok(&source);
        let callers: Vec<&str> = s.calls.iter().map(|c| &*c.caller_id).collect();
        // Outbound without outbound_cli presents the first number.
        assert_eq!(callers, ["61300000000", "61400000001", "61400000003"]);
        let out = &s.calls[0];
        assert_eq!(out.kind, CallKind::Outbound { user: 0, dest: "61400000002".into() });
        assert_eq!(out.behaviour.answer, Answer::Nobody);
        let first = &s.calls[1];
        assert_eq!(first.at, 60_000);
        assert_eq!(first.kind, CallKind::Inbound { number: 0 });
        assert_eq!(
            first.behaviour,
            Behaviour {
                answer: Answer::User(1),
                answer_after: 8_000,
                talk: 120_000,
                abandon_after: Some(45_000),
                voicemail: 0,
                no_answer_probability: 0.0,
            }
        );
        assert_eq!(s.calls[2].behaviour, Behaviour::default());
        assert_eq!(s.calls[2].caller_name.as_deref(), Some("Jane"));
    }

    #[test]
    fn all_semantic_errors_are_reported_in_file_order() {
        let d = err(r#"
[[users]]
name = "A"
extension = "1010"

[[queues]]
name = "Q"
members = ["1011"]
wrapup = "-1s"

[[numbers]]
number = "6130"
flow = ["voicemail:X"]
"#);
        let messages: Vec<&str> = std::iter::once(d.message())
            .chain(d.related_diagnostics().iter().map(|r| r.message()))
            .collect();
        assert_eq!(
            messages,
            [
                "no user with extension 1011",
                "negative duration `-1s`",
                "no voicemail box named `X`"
            ]
        );
        assert_eq!(d.line_column(), Some((8, 12)));
    }

    #[test]
    fn traffic_errors_point_at_the_key() {
        // (the [traffic] table, the marked text, a piece of the message, a piece of the help)
        let cases = [
            ("rate = \"fast\"", "\"fast\"", "`traffic.rate`: cannot read rate `fast`", "30/s"),
            ("rat = \"1/s\"", "rat", "`traffic.rat`: unknown key", "did you mean `rate`?"),
            (
                "stages = [{ rate = \"1/s\", for = \"1m\" }, { rate = \"x\", for = \"1m\" }]",
                "\"x\"",
                "`traffic.stages[1].rate`: cannot read rate",
                "write it like",
            ),
            (
                "stages = [{ rate = \"1/s\", fore = \"1m\" }]",
                "fore",
                "`traffic.stages[0]`: unknown key `fore`",
                "did you mean `for`?",
            ),
            (
                "rate = \"1/s\"\ntalk = { dist = \"exponental\", mean = \"1m\" }",
                "\"exponental\"",
                "unknown value `exponental`",
                "did you mean `exponential`?",
            ),
            (
                "rate = \"1/s\"\nnumbers = { \"61300000001\" = 1 }",
                "1",
                "no number `61300000001` in this PBX",
                "did you mean `61300000000`?",
            ),
            ("rate = 5", "5", "wrong type: expected a string", "quotes"),
            ("outbound = 0.5", "[traffic]", "`traffic.rate`: missing", "set a rate"),
        ];
        for (table, marked, message, help) in cases {
            let source = format!("{}\n[traffic]\n{table}\n", with_flow(r#"["queue:Support"]"#));
            let d = err(&source);
            let span = d.span().unwrap_or_default();
            assert_eq!(&source[span], marked, "{table}: {}", d.message());
            assert!(d.message().contains(message), "{table}: {}", d.message());
            let h = d.help_text().unwrap_or_default();
            assert!(h.contains(help), "{table}: {h}");
        }
        let source = format!("{}\n[traffic]\nrate = \"2/m\"\n", with_flow(r#"["queue:Support"]"#));
        assert_eq!(ok(&source).traffic.and_then(|t| t.rate), Some("2/m".to_string()));
    }

    #[test]
    fn expect_thresholds_are_parsed_and_errors_point_into_the_string() {
        let s = ok("[expect]\nthresholds = [\"p99 < 250ms\", 'error_rate<0.1%']\n");
        let shown: Vec<String> = s.expect.iter().map(|t| t.to_string()).collect();
        assert_eq!(shown, ["p99 < 250ms", "error_rate < 0.1%"]);

        let source = "[expect]\nthresholds = [\"p98 < 1s\", \"p99 < 250\"]\n";
        let d = err(source);
        assert_eq!(d.message(), "bad threshold: unknown metric `p98`");
        assert_eq!(&source[d.span().unwrap_or_default()], "p98");
        assert!(d.help_text().unwrap_or_default().contains("did you mean `p99`?"));
        let second = &d.related_diagnostics()[0];
        assert_eq!(second.message(), "bad threshold: missing unit after `250`");
        assert_eq!(&source[second.span().unwrap_or_default()], "250");
        assert_eq!(second.line_column(), Some((2, 34)));

        let d = err("[expect]\ntreshold = []\n");
        assert_eq!(d.message(), "unknown key `treshold`");
        assert!(d.help_text().unwrap_or_default().contains("did you mean `thresholds`?"));
    }

    #[test]
    fn key_paths_split_into_segments() {
        use Segment::{Index, Key};
        assert_eq!(
            path_segments("traffic.stages[1].rate"),
            [Key("traffic".into()), Key("stages".into()), Index(1), Key("rate".into())]
        );
        assert_eq!(
            path_segments("traffic.numbers.\"61.3\""),
            [Key("traffic".into()), Key("numbers".into()), Key("61.3".into())]
        );
    }

    #[test]
    fn undefined_variables_point_at_the_reference() {
        let source = "[webhook]\ntoken = \"Bearer ${NOPE}\"\n";
        let d = err(source);
        assert_eq!(d.message(), "environment variable `NOPE` is not set");
        assert_eq!(&source[d.span().unwrap()], "${NOPE}");
    }

    #[test]
    fn secrets_are_masked_in_diagnostics() {
        let source = "token = \"abc${PBX_TOKEN}d\"\n\"X-Api-Key\" = 'k1'\nname = \"x\"\npassword = 1234, x\n";
        assert_eq!(
            redact_secrets(source),
            "token = \"***${PBX_TOKEN}*\"\n\"X-Api-Key\" = '**'\nname = \"x\"\npassword = ****, x\n"
        );
        assert_eq!(redact_secrets("token = \"a\\\"b\" # c"), "token = \"****\" # c");
        assert_eq!(redact_secrets("token = \"é${X}ü\""), "token = \"**${X}**\"");
        assert_eq!(redact_secrets("token = \"unterminated"), "token = \"************");
        assert_eq!(
            redact_secrets(
                "url = \"http://h/q?token=s3cret&a=1\", x = \"http://u:pw@h/?sig=abc\"\n"
            ),
            "url = \"http://h/q?token=******&a=1\", x = \"http://****@h/?sig=***\"\n"
        );
        assert_eq!(
            redact_secrets("url = 'https://h/?api_key=${KEY}x'"),
            "url = 'https://h/?api_key=${KEY}*'"
        );
    }

    #[test]
    fn toml_messages_get_hints() {
        let (m, h) =
            explain_toml_message("unknown field `extention`, expected one of `name`, `extension`");
        assert_eq!(m, "unknown key `extention`");
        assert_eq!(h, "did you mean `extension`? (allowed keys here: name, extension)");
        let (m, h) = explain_toml_message("invalid type: integer `1010`, expected a string");
        assert_eq!(m, "wrong type: expected a string, found an integer");
        assert!(h.contains("quotes"));
        assert!(!m.contains("1010"), "values are not echoed");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_input(source in "(\\PC|\n|=|\"|token|\\$\\{|\\[\\[users\\]\\])*") {
            let shown = redact_secrets(&source);
            proptest::prop_assert_eq!(shown.len(), source.len());
            let _ = parse_with_env(&source, "fuzz.toml", &env);
        }

        #[test]
        fn never_panics_on_an_edited_scenario(
            at in 0usize..10_000,
            cut in 0usize..40,
            insert in "(\\PC|\n|\"|\\$\\{X\\}|-|:|\\[|\\]|\\{|\\}|,|=)*",
        ) {
            let base = include_str!("../../scenarios/quickstart.toml");
            let boundary = |i: &usize| base.is_char_boundary(*i);
            let at = (0..=at.min(base.len())).rev().find(boundary).unwrap_or(0);
            let end = (at + cut..=base.len()).find(boundary).unwrap_or(base.len());
            let source = format!("{}{insert}{}", &base[..at], &base[end..]);
            if let Err(d) = parse_with_env(&source, "fuzz.toml", &env) {
                let _ = d.render(false);
            }
        }
    }
}
