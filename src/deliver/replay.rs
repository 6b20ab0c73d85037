//! `pbxsim replay`: send a failure journal, or NDJSON dry-run output, again.
//!
//! Each non-blank line is either a bare event payload (a JSON object with a `type`), or an
//! envelope with a `body` object (journal lines and `--dry-run` envelopes), optionally with a
//! `target` URL and `headers`. The whole file is checked before anything is sent ([`plan`]);
//! then lines are streamed in file order, and lines with the same `unique_call_id` are sent one
//! after another. Bodies go out byte for byte as they appear in the file.
//!
//! Targets: `--target` wins; else each line's own `target`. Headers: a line's `headers` object
//! supplies extra headers, except `Content-Type`, `Host`, `Content-Length`, `X-Pbx-Token` and
//! redacted (`***`) values, which are dropped. The token is `--token` (or `PBXSIM_TOKEN`) for
//! every line: journals never hold it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::endpoint::{Endpoint, Prepared, REDACTED, TOKEN_HEADER};
use super::sched::{self, Item, Job};
use super::summary::{OTHER_KIND, Summary};
use super::{CancelToken, DeliverError, DeliverOptions};
use crate::event::EventType;

/// A replay file that could not be used; nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Line { path: PathBuf, line: u64, column: usize, message: String },
}

/// A checked replay file, ready to send.
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    path: PathBuf,
    target: Option<String>,
    token: Option<String>,
    endpoints: Vec<Endpoint>,
    index: HashMap<(String, Vec<(String, String)>), u32>,
    /// Events (non-blank lines) in the file.
    pub events: u64,
    /// Some line carried a redacted token or secret header that cannot be restored.
    pub redacted_headers: bool,
}

impl ReplayPlan {
    /// The distinct endpoints the file's lines go to.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }
}

/// One line, parsed.
struct Line<'a> {
    body: &'a str,
    kind: u8,
    call: Option<Cow<'a, str>>,
    target: Option<Cow<'a, str>>,
    headers: Vec<(String, String)>,
    redacted: bool,
}

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    body: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    unique_call_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    target: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    headers: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct BodyProbe<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    unique_call_id: Option<Cow<'a, str>>,
}

/// (column, message)
type LineError = (usize, String);

fn json_error(e: &serde_json::Error, what: &str) -> LineError {
    (e.column(), format!("{what}: {e}"))
}

fn kind_index(name: Option<&str>) -> u8 {
    name.and_then(|n| EventType::ALL.iter().position(|t| t.as_str() == n))
        .map_or(OTHER_KIND, |i| i as u8)
}

fn parse_line(text: &str) -> Result<Option<Line<'_>>, LineError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if !text.starts_with('{') {
        return Err((
            1,
            "expected a JSON object: an event payload or an envelope with a `body`".into(),
        ));
    }
    let probe: Probe = serde_json::from_str(text).map_err(|e| json_error(&e, "not valid JSON"))?;
    let Some(body) = probe.body else {
        if probe.kind.is_none() {
            return Err((
                1,
                "neither an event payload (no `type` field) nor an envelope with a `body`".into(),
            ));
        }
        return Ok(Some(Line {
            body: text,
            kind: kind_index(probe.kind.as_deref()),
            call: probe.unique_call_id,
            target: None,
            headers: Vec::new(),
            redacted: false,
        }));
    };
    let body = body.get();
    if !body.starts_with('{') {
        return Err((1, "`body` must be a JSON object (an event payload)".into()));
    }
    let inner: BodyProbe = serde_json::from_str(body).map_err(|e| json_error(&e, "bad `body`"))?;
    let (headers, redacted) = match probe.headers {
        Some(raw) => extra_headers(raw.get())?,
        None => (Vec::new(), false),
    };
    Ok(Some(Line {
        body,
        kind: kind_index(inner.kind.as_deref()),
        call: inner.unique_call_id,
        target: probe.target,
        headers,
        redacted,
    }))
}

/// The headers of an envelope worth sending again, and whether some were redacted.
fn extra_headers(raw: &str) -> Result<(Vec<(String, String)>, bool), LineError> {
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| json_error(&e, "bad `headers`"))?;
    let map = match value {
        serde_json::Value::Object(map) => map,
        // A list of header names (a dry-run envelope) carries no values to send.
        serde_json::Value::Array(_) | serde_json::Value::Null => return Ok((Vec::new(), false)),
        _ => return Err((1, "`headers` must be an object of header names to values".into())),
    };
    let mut out = Vec::new();
    let mut redacted = false;
    for (name, value) in map {
        let serde_json::Value::String(value) = value else {
            return Err((1, format!("header `{name}` must have a string value")));
        };
        let lower = name.to_ascii_lowercase();
        if lower == TOKEN_HEADER.to_ascii_lowercase() {
            redacted |= value == REDACTED;
            continue;
        }
        if matches!(lower.as_str(), "content-type" | "content-length" | "host") {
            continue;
        }
        if value == REDACTED {
            redacted = true;
            continue;
        }
        out.push((name, value));
    }
    Ok((out, redacted))
}

fn call_key(call: Option<&str>, line: u64) -> u64 {
    match call {
        Some(id) => {
            let mut h = std::hash::DefaultHasher::new();
            id.hash(&mut h);
            h.finish() & !(1 << 63)
        }
        // No call id: a line of its own.
        None => line | (1 << 63),
    }
}

/// Check the whole file: every line parses, and every line has a valid target. `target`
/// overrides the lines' own; `token` is sent with every line.
pub fn plan(
    path: &Path,
    target: Option<&str>,
    token: Option<&str>,
) -> Result<ReplayPlan, ReplayError> {
    let io = |source| ReplayError::Io { path: path.to_path_buf(), source };
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let mut plan = ReplayPlan {
        path: path.to_path_buf(),
        target: target.map(str::to_string),
        token: token.filter(|t| !t.is_empty()).map(str::to_string),
        endpoints: Vec::new(),
        index: HashMap::new(),
        events: 0,
        redacted_headers: false,
    };
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io)? == 0 {
            break;
        }
        line_no += 1;
        let at = |(column, message): LineError| ReplayError::Line {
            path: path.to_path_buf(),
            line: line_no,
            column,
            message,
        };
        let text = std::str::from_utf8(&buf)
            .map_err(|e| at((e.valid_up_to() + 1, "the line is not valid UTF-8".into())))?;
        let Some(line) = parse_line(text).map_err(at)? else { continue };
        plan.events += 1;
        plan.redacted_headers |= line.redacted;
        let url = match (&plan.target, &line.target) {
            (Some(t), _) => t.clone(),
            (None, Some(t)) => t.to_string(),
            (None, None) => {
                return Err(at((1, "this line names no target URL; pass --target URL".into())));
            }
        };
        let key = (url, line.headers);
        if !plan.index.contains_key(&key) {
            let endpoint =
                Endpoint { url: key.0.clone(), token: plan.token.clone(), headers: key.1.clone() };
            Prepared::new(&endpoint).map_err(|e| at((1, e.to_string())))?;
            plan.index.insert(key, plan.endpoints.len() as u32);
            plan.endpoints.push(endpoint);
        }
    }
    Ok(plan)
}

/// The checked file's lines, streamed again.
struct Lines<'p> {
    plan: &'p ReplayPlan,
    reader: BufReader<File>,
    buf: Vec<u8>,
    line_no: u64,
    error: Option<ReplayError>,
}

impl Lines<'_> {
    fn fail(&mut self, column: usize, message: String) -> Option<Item> {
        self.error = Some(ReplayError::Line {
            path: self.plan.path.clone(),
            line: self.line_no,
            column,
            message: format!("{message} (the file changed while replaying?)"),
        });
        None
    }
}

impl Iterator for Lines<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return self.fail(1, e.to_string()),
            }
            self.line_no += 1;
            let Ok(text) = std::str::from_utf8(&self.buf) else {
                return self.fail(1, "not valid UTF-8".into());
            };
            let line = match parse_line(text) {
                Ok(Some(line)) => line,
                Ok(None) => continue,
                Err((column, message)) => return self.fail(column, message),
            };
            let url = match (&self.plan.target, &line.target) {
                (Some(t), _) => t.as_str(),
                (None, Some(t)) => t.as_ref(),
                (None, None) => return self.fail(1, "no target URL".into()),
            };
            let key = (url.to_string(), line.headers);
            let Some(&endpoint) = self.plan.index.get(&key) else {
                return self.fail(1, "a target not seen when checking the file".into());
            };
            let job = Job {
                call: call_key(line.call.as_deref(), self.line_no),
                endpoint,
                kind: line.kind,
                body: Bytes::copy_from_slice(line.body.as_bytes()),
                offset: None,
            };
            return Some(Item::Send(job));
        }
    }
}

/// Send a checked file, as fast as `opts.concurrency` allows and in file order per call.
/// `opts.pacing`, `nulls` and `ticked` do not apply: bodies go out as they are.
pub async fn replay(
    plan: &ReplayPlan,
    opts: &DeliverOptions,
    cancel: CancelToken,
) -> Result<Summary, DeliverError> {
    let prepared = plan.endpoints.iter().map(Prepared::new).collect::<Result<Vec<_>, _>>()?;
    let io = |source| ReplayError::Io { path: plan.path.clone(), source };
    let reader = BufReader::with_capacity(1 << 16, File::open(&plan.path).map_err(io)?);
    let mut lines = Lines { plan, reader, buf: Vec::with_capacity(1024), line_no: 0, error: None };
    let mut settings = opts.settings();
    settings.paced = false;
    let summary = sched::run(&mut lines, prepared, settings, cancel).await?;
    match lines.error {
        Some(e) => Err(e.into()),
        None => Ok(summary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_payloads_and_envelopes() {
        let bare = r#"{"type":"voicemail","unique_call_id":"42","x":null}"#;
        let line = parse_line(bare).unwrap().unwrap();
        assert_eq!(line.body, bare);
        assert_eq!(line.kind, EventType::Voicemail.index() as u8);
        assert_eq!(line.call.as_deref(), Some("42"));
        assert!(line.target.is_none());

        let env = r#"{"target":"http://h/x","headers":{"Content-Type":"application/json","X-Pbx-Token":"***","X-C":"1"},"body":{"type":"queue_call","unique_call_id":"7", "a" : [1, 2]},"error":"HTTP 503"}"#;
        let line = parse_line(env).unwrap().unwrap();
        assert_eq!(line.body, r#"{"type":"queue_call","unique_call_id":"7", "a" : [1, 2]}"#);
        assert_eq!(line.kind, EventType::QueueCall.index() as u8);
        assert_eq!(line.target.as_deref(), Some("http://h/x"));
        assert_eq!(line.headers, vec![("X-C".to_string(), "1".to_string())]);
        assert!(line.redacted);

        let odd = r#"{"at":5,"headers":["X-Pbx-Token"],"body":{"type":"nope"}}"#;
        let line = parse_line(odd).unwrap().unwrap();
        assert_eq!(line.kind, OTHER_KIND);
        assert!(line.headers.is_empty() && line.call.is_none());

        assert!(parse_line("   ").unwrap().is_none());
    }

    #[test]
    fn bad_lines_say_why() {
        for (text, needle) in [
            ("[1,2]", "expected a JSON object"),
            (r#"{"type":"x""#, "not valid JSON"),
            (r#"{"unique_call_id":"1"}"#, "neither an event payload"),
            (r#"{"body":[1]}"#, "`body` must be a JSON object"),
            (r#"{"body":{},"headers":{"X":1}}"#, "string value"),
            (r#"{"type":5}"#, "not valid JSON"),
        ] {
            let (_, message) = parse_line(text).err().unwrap_or_else(|| panic!("{text}"));
            assert!(message.contains(needle), "{text}: {message}");
        }
    }

    #[test]
    fn call_keys_group_by_call_id_only() {
        assert_eq!(call_key(Some("1"), 1), call_key(Some("1"), 9));
        assert_ne!(call_key(Some("1"), 1), call_key(Some("2"), 1));
        assert_ne!(call_key(None, 1), call_key(None, 2));
    }
}
