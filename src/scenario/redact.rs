//! Secret values masked in the scenario text that diagnostics quote: tokens, secret-looking
//! keys such as `X-Api-Key`, and credentials and secret query values in URLs become `*`s, with
//! `${VAR}` references and every byte offset kept, so spans still point at the right place.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
