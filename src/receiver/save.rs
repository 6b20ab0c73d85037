//! `listen --save`: every request appended to an NDJSON file as an envelope
//! `{"received_at", "path", "headers", "response_status", "body"}`, with secrets redacted.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use axum::http::HeaderMap;
use chrono::{DateTime, Local, SecondsFormat};
use serde_json::{Map, Value, json};

use crate::secret::{MASK, is_secret_name};

/// The NDJSON capture file.
#[derive(Debug)]
pub(crate) struct SaveFile {
    file: Mutex<BufWriter<File>>,
}

impl SaveFile {
    /// Open `path` for appending, creating it if needed.
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { file: Mutex::new(BufWriter::new(file)) })
    }

    /// Append one envelope and flush it to the file.
    pub(crate) fn append(&self, envelope: &Value) -> io::Result<()> {
        let mut line = serde_json::to_vec(envelope).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&line)?;
        file.flush()
    }
}

/// The envelope for one request. `body` is the parsed JSON, the raw text when it is not JSON,
/// or null when it was not read (rejected before, or too large).
pub(crate) fn envelope(
    received_at: &DateTime<Local>,
    path: &str,
    headers: &HeaderMap,
    response_status: u16,
    body: Value,
) -> Value {
    json!({
        "received_at": received_at.to_rfc3339_opts(SecondsFormat::Millis, false),
        "path": path,
        "headers": redacted_headers(headers),
        "response_status": response_status,
        "body": body,
    })
}

/// Header names and values, secrets (as [`is_secret_name`] tells: tokens, authorization,
/// cookies, API keys) replaced by `***`; repeated headers joined with `, `.
pub(crate) fn redacted_headers(headers: &HeaderMap) -> Map<String, Value> {
    let mut map = Map::new();
    for name in headers.keys() {
        let value = if is_secret_name(name.as_str()) {
            MASK.to_string()
        } else {
            headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        map.insert(name.as_str().to_string(), Value::String(value));
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let mut headers = HeaderMap::new();
        headers.insert("x-pbx-token", "s3cret".parse().unwrap());
        headers.insert("authorization", "Bearer s3cret".parse().unwrap());
        headers.insert("x-api-key", "s3cret-key".parse().unwrap());
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.append("x-extra", "a".parse().unwrap());
        headers.append("x-extra", "b".parse().unwrap());
        let env = envelope(&Local::now(), "/hook", &headers, 200, json!({"type": "voicemail"}));
        let text = env.to_string();
        assert!(!text.contains("s3cret"), "{text}");
        assert_eq!(env["headers"]["x-pbx-token"], "***");
        assert_eq!(env["headers"]["x-api-key"], "***");
        assert_eq!(env["headers"]["content-type"], "application/json");
        assert_eq!(env["headers"]["x-extra"], "a, b");
        assert_eq!(env["response_status"], 200);
        assert_eq!(env["path"], "/hook");
    }
}
