//! `${VAR}` expansion in scenario strings, so secrets and URLs need not be checked in.
//!
//! `${NAME}` is the variable's value (an error when it is not set), `${NAME:-default}` falls back
//! to `default` when it is unset or empty, and `$$` is a literal `$`. A `$` followed by anything
//! else is kept as it is.

use std::borrow::Cow;
use std::ops::Range;

/// Why a string could not be expanded; `range` is the offending `${…}` in the input, in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    pub kind: EnvErrorKind,
    pub range: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvErrorKind {
    /// `${NAME}` where `NAME` is not set.
    Undefined(String),
    /// `${` without a closing `}`.
    Unterminated,
    /// `${…}` whose name is not letters, digits and `_` (not starting with a digit).
    BadName(String),
}

/// Reads environment variables for `${VAR}` expansion.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Expands `input`, reading variables through `lookup`.
pub fn expand<'a>(
    input: &'a str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Cow<'a, str>, EnvError> {
    if !input.contains('$') {
        return Ok(Cow::Borrowed(input));
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    let mut offset = 0;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let start = offset + dollar;
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            offset = start + 2;
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let Some(close) = body_and_tail.find('}') else {
                return Err(EnvError {
                    kind: EnvErrorKind::Unterminated,
                    range: start..input.len(),
                });
            };
            let body = &body_and_tail[..close];
            let range = start..start + close + 3;
            let (name, default) = match body.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            if !is_name(name) {
                return Err(EnvError { kind: EnvErrorKind::BadName(name.to_string()), range });
            }
            match (lookup(name), default) {
                (Some(value), Some(default)) if value.is_empty() => out.push_str(default),
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(EnvError {
                        kind: EnvErrorKind::Undefined(name.to_string()),
                        range,
                    });
                }
            }
            offset = range.end;
            rest = &body_and_tail[close + 1..];
        } else {
            out.push('$');
            offset = start + 1;
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn ok(input: &str) -> String {
        expand(input, &env).unwrap().into_owned()
    }

    fn err(input: &str) -> EnvError {
        expand(input, &env).unwrap_err()
    }

    #[test]
    fn expands_variables_and_defaults() {
        assert_eq!(ok("plain"), "plain");
        assert_eq!(ok("${TOKEN}"), "s3cret");
        assert_eq!(ok("Bearer ${TOKEN}!"), "Bearer s3cret!");
        assert_eq!(ok("${MISSING:-dev-token}"), "dev-token");
        assert_eq!(ok("${TOKEN:-dev-token}"), "s3cret");
        assert_eq!(ok("${EMPTY}"), "");
        assert_eq!(ok("${EMPTY:-fallback}"), "fallback");
        assert_eq!(ok("${MISSING:-}"), "");
        assert_eq!(ok("a${TOKEN}b${TOKEN}c"), "as3cretbs3cretc");
    }

    #[test]
    fn keeps_dollars_that_are_not_references() {
        assert_eq!(ok("$$"), "$");
        assert_eq!(ok("$${TOKEN}"), "${TOKEN}");
        assert_eq!(ok("cost: $5"), "cost: $5");
        assert_eq!(ok("end$"), "end$");
    }

    #[test]
    fn reports_what_and_where() {
        let e = err("x ${NOPE} y");
        assert_eq!(e.kind, EnvErrorKind::Undefined("NOPE".into()));
        assert_eq!(e.range, 2..9);
        let e = err("ab${TOKEN");
        assert_eq!(e.kind, EnvErrorKind::Unterminated);
        assert_eq!(e.range, 2..9);
        let e = err("${1X}");
        assert_eq!(e.kind, EnvErrorKind::BadName("1X".into()));
        assert_eq!(e.range, 0..5);
        assert!(matches!(err("${}").kind, EnvErrorKind::BadName(_)));
        assert!(matches!(err("${A B}").kind, EnvErrorKind::BadName(_)));
    }

    #[test]
    fn later_references_report_their_own_range() {
        let e = err("${TOKEN}-${NOPE:-x}-${ALSO_NOPE}");
        assert_eq!(e.kind, EnvErrorKind::Undefined("ALSO_NOPE".into()));
        assert_eq!(e.range, 20..32);
    }
}
