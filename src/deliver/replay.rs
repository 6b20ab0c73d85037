//! `pbxsim replay`: send a failure journal, or NDJSON dry-run output, again.
//!
//! Each non-blank line is either a bare event payload (a JSON object with a `type`), or an
//! envelope with a `body` object (journal lines and `--dry-run` envelopes), optionally with a
//! `target` URL and `headers`. The whole file is checked before anything is sent ([`plan`]);
//! then lines are streamed in file order, and lines with the same `unique_call_id` are sent one
//! after another. Bodies go out byte for byte as they appear in the file.
//!
//! Targets: `--target` wins; else each line's own `target`, unless a secret in it was masked
//! when the journal was written (`?token=***`): such a file needs `--target`. Headers: a line's `headers` object
//! supplies extra headers, except `Content-Type`, `Host`, `Content-Length`, `X-Pbx-Token` and
//! redacted (`***`) values, which are dropped. The token is `--token` (or `PBXSIM_TOKEN`) for
//! every line: journals never hold it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::endpoint::{Endpoint, Prepared, TOKEN_HEADER, TokenSource};
use super::sched::{self, Item, Job};
use super::summary::{OTHER_KIND, Summary};
use super::{CancelToken, DeliverError, DeliverOptions};
use crate::event::EventType;
use crate::secret::{MASK, Secret, SecretUrl};

/// A replay file that could not be used; nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Line { path: PathBuf, line: u64, column: usize, message: String },
    /// A line that cannot be sent without a target given for the whole file.
    #[error("{}:{line}:1: {problem}", path.display())]
    Target { path: PathBuf, line: u64, problem: TargetProblem },
}

/// Why a line's own target cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetProblem {
    #[error("this line names no target URL")]
    Missing,
    /// Its secret (credentials, `token=`) was masked when the line was written.
    #[error(
        "this line's target `{0}` had a secret (credentials or a query parameter such as \
         `token=`) masked when it was written, so it cannot be sent as it is"
    )]
    Masked(String),
}

/// A line's target URL and extra headers.
type EndpointKey = (SecretUrl, Vec<(String, Secret)>);

/// A checked replay file, ready to send.
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    path: PathBuf,
    target: Option<SecretUrl>,
    token: Option<Secret>,
    endpoints: Vec<Endpoint>,
    index: HashMap<EndpointKey, u32>,
    /// Events (non-blank lines) in the file.
    pub events: u64,
    /// Some line carried a redacted token or secret header that cannot be restored.
    pub redacted_headers: bool,
    token_source: TokenSource,
}

impl ReplayPlan {
    /// Where the token came from (`--token` or `PBXSIM_TOKEN`), for the summary's 401/403
    /// advice. Default: `--token` when a token was given.
    pub fn set_token_source(&mut self, source: TokenSource) {
        if self.token.is_some() {
            self.token_source = source.clone();
            self.endpoints.iter_mut().for_each(|e| e.token_source = source.clone());
        }
    }

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
    headers: Vec<(String, Secret)>,
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
fn extra_headers(raw: &str) -> Result<(Vec<(String, Secret)>, bool), LineError> {
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
            redacted |= value == MASK;
            continue;
        }
        if matches!(lower.as_str(), "content-type" | "content-length" | "host") {
            continue;
        }
        if value == MASK {
            redacted = true;
            continue;
        }
        out.push((name, value.into()));
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
    plan_with_headers(path, target, token, &[])
}

/// [`plan`], with `headers` (`-H`) laid over every line's own (see
/// [`with_headers`](super::with_headers)): a redacted header the journal could not keep can be
/// given again this way.
pub fn plan_with_headers(
    path: &Path,
    target: Option<&str>,
    token: Option<&str>,
    headers: &[(String, Secret)],
) -> Result<ReplayPlan, ReplayError> {
    let io = |source| ReplayError::Io { path: path.to_path_buf(), source };
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let mut plan = ReplayPlan {
        path: path.to_path_buf(),
        target: target.map(SecretUrl::from),
        token: token.filter(|t| !t.is_empty()).map(Secret::from),
        endpoints: Vec::new(),
        index: HashMap::new(),
        events: 0,
        redacted_headers: false,
        token_source: match token.filter(|t| !t.is_empty()) {
            Some(_) => TokenSource::Flag,
            None => TokenSource::None,
        },
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
            (None, Some(t)) if crate::secret::is_redacted_url(t) => {
                let problem = TargetProblem::Masked(t.to_string());
                return Err(ReplayError::Target {
                    path: path.to_path_buf(),
                    line: line_no,
                    problem,
                });
            }
            (None, Some(t)) => SecretUrl::from(t.as_ref()),
            (None, None) => {
                let problem = TargetProblem::Missing;
                return Err(ReplayError::Target {
                    path: path.to_path_buf(),
                    line: line_no,
                    problem,
                });
            }
        };
        let key = (url, line.headers);
        if !plan.index.contains_key(&key) {
            let endpoint = Endpoint {
                url: key.0.clone(),
                token: plan.token.clone(),
                headers: super::with_headers(&key.1, headers),
                name: "replay target".into(),
                token_source: plan.token_source.clone(),
            };
            Prepared::new(&endpoint).map_err(|e| at((1, e.to_string())))?;
            plan.index.insert(key, plan.endpoints.len() as u32);
            plan.endpoints.push(endpoint);
        }
    }
    Ok(plan)
}

/// Reads a file in chunks and hands out its lines as [`Bytes`] that share the chunk, so a
/// replayed body is never copied or allocated on its own.
struct ChunkedLines {
    file: File,
    buf: BytesMut,
    eof: bool,
}

/// Small enough that a few events held back by a slow call pin little memory.
const CHUNK: usize = 64 * 1024;

impl ChunkedLines {
    fn next_line(&mut self) -> std::io::Result<Option<Bytes>> {
        let mut searched = 0;
        loop {
            if let Some(pos) = self.buf[searched..].iter().position(|b| *b == b'\n') {
                return Ok(Some(self.buf.split_to(searched + pos + 1).freeze()));
            }
            searched = self.buf.len();
            if self.eof {
                return Ok((!self.buf.is_empty()).then(|| self.buf.split().freeze()));
            }
            // Lines already handed out keep the old chunk alive; the rest moves to a new one.
            self.buf.reserve(CHUNK);
            let filled = self.buf.len();
            self.buf.resize(filled + CHUNK, 0);
            let read = loop {
                match self.file.read(&mut self.buf[filled..]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            let read = read.inspect_err(|_| self.buf.truncate(filled))?;
            self.buf.truncate(filled + read);
            self.eof = read == 0;
        }
    }
}

/// `type` and `unique_call_id` of a line as pbxsim writes them (`{"type":"…","unique_call_id":
/// "…",…`), without parsing the rest; `None` for any other shape. Only for lines that were fully
/// checked already.
fn fast_probe(text: &str) -> Option<(u8, &str)> {
    let rest = text.strip_prefix(r#"{"type":""#)?;
    let end = rest.find('"')?;
    let kind = &rest[..end];
    let rest = rest[end + 1..].strip_prefix(r#","unique_call_id":""#)?;
    let end = rest.find('"')?;
    let call = &rest[..end];
    // An object with a `body` is an envelope, whatever else it holds.
    if kind.contains('\\') || call.contains('\\') || text.contains(r#""body""#) {
        return None;
    }
    Some((kind_index(Some(kind)), call))
}

/// The checked file's lines, streamed again.
struct Lines<'p> {
    plan: &'p ReplayPlan,
    reader: ChunkedLines,
    line_no: u64,
    /// The endpoint of lines without a target or headers, when `--target` was given.
    plain: Option<u32>,
    last: Option<(EndpointKey, u32)>,
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

    fn endpoint(&mut self, target: Option<&str>, headers: Vec<(String, Secret)>) -> Option<u32> {
        let url = self.plan.target.as_ref().map(SecretUrl::expose).or(target)?;
        // Lines mostly share one target: remember the last lookup.
        match &self.last {
            Some(((u, h), i)) if u.expose() == url && *h == headers => Some(*i),
            _ => {
                let key = (SecretUrl::from(url), headers);
                let i = *self.plan.index.get(&key)?;
                self.last = Some((key, i));
                Some(i)
            }
        }
    }
}

impl Iterator for Lines<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            let bytes = match self.reader.next_line() {
                Ok(Some(bytes)) => bytes,
                Ok(None) => return None,
                Err(e) => return self.fail(1, e.to_string()),
            };
            self.line_no += 1;
            let Ok(text) = std::str::from_utf8(&bytes) else {
                return self.fail(1, "not valid UTF-8".into());
            };
            let text = text.trim();
            if let (Some(endpoint), Some((kind, call))) = (self.plain, fast_probe(text)) {
                let call = call_key(Some(call), self.line_no);
                let body = bytes.slice_ref(text.as_bytes());
                return Some(Item::Send(Job::new(call, endpoint, kind, body)));
            }
            let line = match parse_line(text) {
                Ok(Some(line)) => line,
                Ok(None) => continue,
                Err((column, message)) => return self.fail(column, message),
            };
            let call = call_key(line.call.as_deref(), self.line_no);
            let (kind, body) = (line.kind, bytes.slice_ref(line.body.as_bytes()));
            let Some(endpoint) = self.endpoint(line.target.as_deref(), line.headers) else {
                return self.fail(1, "a target not seen when checking the file".into());
            };
            return Some(Item::Send(Job::new(call, endpoint, kind, body)));
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
    let file = File::open(&plan.path).map_err(io)?;
    let reader = ChunkedLines { file, buf: BytesMut::new(), eof: false };
    let plain =
        plan.target.as_ref().and_then(|t| plan.index.get(&(t.clone(), Vec::new())).copied());
    let mut lines = Lines { plan, reader, line_no: 0, plain, last: None, error: None };
    let mut settings = opts.settings();
    settings.paced = false;
    let summary = sched::run(&mut lines, prepared, settings, cancel).await?;
    match lines.error {
        Some(e) => Err(e.into()),
        None => Ok(Summary { wording: opts.wording, ..summary }),
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
        assert_eq!(line.headers, vec![("X-C".to_string(), "1".into())]);
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
    fn the_fast_path_agrees_with_the_parser() {
        let lines = [
            r#"{"type":"voicemail","unique_call_id":"42","x":null}"#,
            r#"{"type":"queue_call","unique_call_id":"7","status":"answered"}"#,
            r#"{"type":"odd","unique_call_id":"1"}"#,
        ];
        for text in lines {
            let (kind, call) = fast_probe(text).unwrap();
            let line = parse_line(text).unwrap().unwrap();
            assert_eq!((kind, Some(call)), (line.kind, line.call.as_deref()));
        }
        for text in [
            r#"{ "type":"voicemail","unique_call_id":"42"}"#,
            r#"{"type":"voi\"cemail","unique_call_id":"42"}"#,
            r#"{"type":"voicemail","caller_id":"1","unique_call_id":"42"}"#,
            r#"{"target":"x","body":{}}"#,
            r#"{"type":"voicemail","unique_call_id":"42","body":{"type":"x"}}"#,
        ] {
            assert_eq!(fast_probe(text), None, "{text}");
        }
    }

    #[test]
    fn chunked_lines_split_across_chunks_and_keep_the_last_line() {
        let path = std::env::temp_dir().join(format!("pbxsim-chunks-{}", std::process::id()));
        let long = "x".repeat(CHUNK + 10);
        std::fs::write(&path, format!("a\n{long}\n\nlast")).unwrap();
        let mut r =
            ChunkedLines { file: File::open(&path).unwrap(), buf: BytesMut::new(), eof: false };
        let mut got = Vec::new();
        while let Some(line) = r.next_line().unwrap() {
            got.push(String::from_utf8(line.to_vec()).unwrap());
        }
        std::fs::remove_file(&path).unwrap();
        assert_eq!(got, vec!["a\n".to_string(), format!("{long}\n"), "\n".into(), "last".into()]);
    }

    #[test]
    fn call_keys_group_by_call_id_only() {
        assert_eq!(call_key(Some("1"), 1), call_key(Some("1"), 9));
        assert_ne!(call_key(Some("1"), 1), call_key(Some("2"), 1));
        assert_ne!(call_key(None, 1), call_key(None, 2));
    }
}
