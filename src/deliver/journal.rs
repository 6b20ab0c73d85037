//! The failure journal (`--failed FILE`): one NDJSON line per event that finally failed,
//! `{"target": URL, "headers": {…token redacted…}, "body": <the event>, "error": "…"}`, which
//! `pbxsim replay` can send again.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::DeliverError;
use super::endpoint::Prepared;
use super::summary::JournalInfo;

/// An open journal, shared by the tasks of a run. Failures are rare, so a mutex is fine.
pub(crate) struct Journal {
    path: PathBuf,
    inner: Mutex<Inner>,
}

struct Inner {
    out: BufWriter<File>,
    lines: u64,
    error: Option<String>,
    line: Vec<u8>,
}

impl Journal {
    /// Create (or truncate) the journal file before anything is sent.
    pub fn create(path: &Path) -> Result<Self, DeliverError> {
        let file = File::create(path)
            .map_err(|source| DeliverError::Journal { path: path.to_path_buf(), source })?;
        Ok(Self {
            path: path.to_path_buf(),
            inner: Mutex::new(Inner {
                out: BufWriter::new(file),
                lines: 0,
                error: None,
                line: Vec::with_capacity(1024),
            }),
        })
    }

    /// Append one failed event. `body` is the exact JSON that was (or would have been) posted.
    pub fn record(&self, endpoint: &Prepared, body: &[u8], error: &str) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let inner = &mut *guard;
        if inner.error.is_some() {
            return;
        }
        inner.line.clear();
        write_line(&mut inner.line, endpoint, body, error);
        match inner.out.write_all(&inner.line) {
            Ok(()) => inner.lines += 1,
            Err(e) => inner.error = Some(e.to_string()),
        }
    }

    /// Flush and report.
    pub fn finish(&self) -> JournalInfo {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.error.is_none()
            && let Err(e) = inner.out.flush()
        {
            inner.error = Some(e.to_string());
        }
        JournalInfo { path: self.path.clone(), lines: inner.lines, error: inner.error.clone() }
    }
}

/// One journal line, newline included.
pub(crate) fn write_line(out: &mut Vec<u8>, endpoint: &Prepared, body: &[u8], error: &str) {
    out.extend_from_slice(b"{\"target\":");
    out.extend_from_slice(endpoint.journal_target.as_bytes());
    out.extend_from_slice(b",\"headers\":");
    out.extend_from_slice(endpoint.journal_headers.as_bytes());
    out.extend_from_slice(b",\"body\":");
    out.extend_from_slice(body);
    out.extend_from_slice(b",\"error\":");
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, error);
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::Endpoint;

    #[test]
    fn lines_are_json_with_the_token_redacted() {
        let ep = Endpoint {
            url: "http://127.0.0.1:1/hook".into(),
            token: Some("topsecret".into()),
            headers: vec![("X-Component".into(), "crm".into())],
            ..Endpoint::default()
        };
        let prepared = Prepared::new(&ep).unwrap();
        let mut line = Vec::new();
        let body = br#"{"type":"voicemail","unique_call_id":"1"}"#;
        write_line(&mut line, &prepared, body, "HTTP 503 \"busy\"");
        let text = String::from_utf8(line).unwrap();
        assert!(text.ends_with("}\n"));
        assert!(!text.contains("topsecret"), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["target"], "http://127.0.0.1:1/hook");
        assert_eq!(v["headers"]["X-Pbx-Token"], "***");
        assert_eq!(v["headers"]["X-Component"], "crm");
        assert_eq!(v["body"]["type"], "voicemail");
        assert_eq!(v["error"], "HTTP 503 \"busy\"");
        assert!(text.contains(std::str::from_utf8(body).unwrap()), "body kept byte for byte");
    }
}
