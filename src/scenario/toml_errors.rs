//! TOML errors reworded: the TOML reader's and serde's messages about a scenario file become
//! ours, with a hint (a "did you mean" for unknown keys and values) and without echoing the
//! value, which may be a secret.

use crate::diagnostic::Diagnostic;
use crate::suggest;

/// Turns a TOML syntax or type error into a diagnostic with a hint.
pub(super) fn toml_error(error: &toml::de::Error, file_name: &str, shown: &str) -> Diagnostic {
    let raw = error.message().trim().trim_end_matches('.');
    let (message, help) = explain_toml_message(raw);
    let span = error.span().unwrap_or(0..0);
    Diagnostic::at(file_name, shown, span, message).with_help(help)
}

/// Rewrites serde's and toml's messages into ours: unknown keys and values get a "did you mean",
/// type errors do not echo the value (it may be a secret).
pub(super) fn explain_toml_message(raw: &str) -> (String, String) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
