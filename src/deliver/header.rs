//! Extra headers from the command line (`-H 'Name: value'`, as curl, xh and oha take them):
//! checked without ever repeating a value in an error (values are often secrets), and laid over
//! a file's headers.

use hyper::header::{HeaderName, HeaderValue};

use crate::secret::Secret;

/// Why a `-H` value was refused. The messages never hold the header's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Not `Name: value`.
    #[error("a header is `Name: value`, like 'X-Env: staging' (this one has no colon)")]
    NoColon,
    #[error("the part before the colon is not a valid header name")]
    BadName,
    #[error("{0}: pbxsim sets this header itself")]
    Reserved(String),
    /// The token header: the token is set on its own, not as an extra header.
    #[error("{0}: the token is set on its own, not as a header")]
    Token(String),
    #[error("{0}: the value holds characters not allowed in a header")]
    BadValue(String),
}

/// One `-H` value: `Name: value` (spaces after the colon are dropped). `Name:` with nothing
/// after the colon removes the file's header of that name (as in curl); its value is then
/// empty. `Content-Type`, `Host`, `Content-Length` and `X-Pbx-Token` are refused. The value is
/// held as a [`Secret`]: headers often carry API keys.
pub fn parse_header(text: &str) -> Result<(String, Secret), HeaderError> {
    let (name, value) = text.split_once(':').ok_or(HeaderError::NoColon)?;
    let name = name.trim();
    let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| HeaderError::BadName)?;
    match header.as_str() {
        "content-type" | "host" | "content-length" => {
            return Err(HeaderError::Reserved(name.to_string()));
        }
        "x-pbx-token" => return Err(HeaderError::Token(name.to_string())),
        _ => {}
    }
    let value = value.trim();
    HeaderValue::from_str(value).map_err(|_| HeaderError::BadValue(name.to_string()))?;
    Ok((name.to_string(), value.into()))
}

/// `base` with `extra` laid over it: a header named in `extra` replaces every header of that
/// name in `base` (names compare case-insensitively), an empty value only removes it, and
/// several `extra` headers of one name are all sent.
pub fn with_headers(
    base: &[(String, Secret)],
    extra: &[(String, Secret)],
) -> Vec<(String, Secret)> {
    let named = |name: &str| extra.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    base.iter()
        .filter(|(name, _)| !named(name))
        .chain(extra.iter().filter(|(_, value)| !value.is_empty()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str, value: &str) -> (String, Secret) {
        (name.to_string(), value.into())
    }

    #[test]
    fn name_colon_value() {
        assert_eq!(parse_header("X-Env: staging"), Ok(pair("X-Env", "staging")));
        assert_eq!(
            parse_header("Authorization:Bearer a:b"),
            Ok(pair("Authorization", "Bearer a:b"))
        );
        assert_eq!(parse_header("X-Env:"), Ok(pair("X-Env", "")));
    }

    #[test]
    fn refusals_never_repeat_the_value() {
        let secret = "s3cret-value";
        for (text, err) in [
            (format!("Authorization Bearer {secret}"), HeaderError::NoColon),
            (format!("Bad Name: {secret}"), HeaderError::BadName),
            (format!("content-type: {secret}"), HeaderError::Reserved("content-type".into())),
            (format!("X-Pbx-Token: {secret}"), HeaderError::Token("X-Pbx-Token".into())),
            (format!("X-Key: {secret}\u{7}"), HeaderError::BadValue("X-Key".into())),
        ] {
            let got = parse_header(&text).unwrap_err();
            assert_eq!(got, err, "{text}");
            assert!(!got.to_string().contains(secret), "{got}");
        }
    }

    #[test]
    fn command_line_headers_replace_or_remove_the_files() {
        let base = vec![pair("X-Env", "test"), pair("X-Team", "crm"), pair("x-env", "again")];
        let extra = vec![pair("x-ENV", "prod"), pair("X-Team", ""), pair("X-New", "1")];
        assert_eq!(with_headers(&base, &extra), vec![pair("x-ENV", "prod"), pair("X-New", "1")]);
        assert_eq!(with_headers(&base, &[]), base);
    }
}
