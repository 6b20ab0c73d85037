//! Secrets in what pbxsim holds, prints and saves: the [`Secret`] type for tokens and secret
//! header values, [`SecretUrl`] for URLs that may carry credentials or secret query values,
//! which names look secret, and URLs with their secrets masked (`http://***@host/hook?token=***`).
//!
//! A leaf module: every output that shows a URL (errors, summaries, journals, envelopes,
//! reports) goes through [`redact_url`], or [`redact_urls_in`] for free text such as an HTTP
//! client's error message that quotes the URL. Every value that is a secret is held as a
//! [`Secret`], so `{:?}` of anything holding one (a scenario, an endpoint, a receiver's
//! settings) shows [`MASK`] instead.

use std::fmt;

/// What a secret is replaced by.
pub const MASK: &str = "***";

/// A secret text: a token or a secret header value. `Debug` and `Display` show [`MASK`]
/// (`***`); [`Secret::expose`] is the one way to read it.
///
/// ```
/// use pbxsim::secret::Secret;
/// let token = Secret::from("s3cret");
/// assert_eq!(format!("{token:?} {token}"), "*** ***");
/// assert_eq!(token.expose(), "s3cret");
/// ```
///
/// It is read from a scenario file as a plain string (and described as one in its schema).
#[derive(Clone, PartialEq, Eq, Hash, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for sending it (and for nothing that is shown or saved).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty text.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self(text.to_string())
    }
}

/// A string, as far as a schema can tell.
impl schemars::JsonSchema for Secret {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        String::schema_name()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }
}

/// A URL that may carry secrets (`http://user:pw@host/`, `?token=…`): `Debug` and `Display`
/// show it through [`redact_url`]; [`SecretUrl::expose`] is the URL as written, for sending.
///
/// ```
/// use pbxsim::secret::SecretUrl;
/// let url = SecretUrl::from("http://h/hook?token=s3cret&a=1");
/// assert_eq!(url.to_string(), "http://h/hook?token=***&a=1");
/// assert_eq!(url.expose(), "http://h/hook?token=s3cret&a=1");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// The URL as written, secrets included: for sending to it (and for nothing shown).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its secrets masked, as messages show it ([`redact_url`]).
    pub fn masked(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.masked(), f)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl From<String> for SecretUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl From<&str> for SecretUrl {
    fn from(url: &str) -> Self {
        Self(url.to_string())
    }
}

impl PartialEq<str> for SecretUrl {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for SecretUrl {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A string, as far as a schema can tell.
impl schemars::JsonSchema for SecretUrl {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        String::schema_name()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }
}

/// Whether a header or query-parameter name looks like it carries a secret. Case-insensitive.
///
/// Secret when the name contains `token`, `secret`, `passw`, `signature`, `credential`,
/// `apikey`, `api_key` or `api-key`, or when one of its words (split at `-`, `_`, `.` and
/// camelCase) is `key` or ends in `key` (`accesskey`), is `sig`, `pwd`, `pass`, `jwt`, `hmac`,
/// `session`, `sessionid`, `cookie`, or is `auth` / starts with `auth` (`authorization`,
/// `authkey`) but not `author`.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    const PARTS: [&str; 8] =
        ["token", "secret", "passw", "signature", "credential", "apikey", "api_key", "api-key"];
    if PARTS.iter().any(|p| lower.contains(p)) {
        return true;
    }
    words(name).iter().any(|w| {
        w.ends_with("key")
            || matches!(
                w.as_str(),
                "sig" | "pwd" | "pass" | "jwt" | "hmac" | "session" | "sessionid" | "cookie"
            )
            || (w.starts_with("auth") && (!w.starts_with("author") || w.starts_with("authori")))
    })
}

/// The lower-case words of a name: split at non-alphanumerics and at camelCase humps.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            out.push(std::mem::take(&mut word));
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c.to_ascii_lowercase());
    }
    out.push(word);
    out.retain(|w| !w.is_empty());
    out
}

/// `url` with credentials (`user:password@` → `***@`) and the values of secret-looking query
/// (and fragment) parameters (`?token=abc` → `?token=***`) masked; everything else is kept as
/// written. Text that is not a URL comes back unchanged.
pub fn redact_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut at = 0;
    for range in secret_ranges(url) {
        out.push_str(&url[at..range.start]);
        out.push_str(MASK);
        at = range.end;
    }
    out.push_str(&url[at..]);
    out
}

/// The byte ranges of `url` that hold secrets: the credentials before `@`, and the value of
/// each secret-looking query or fragment parameter. Empty values are not secrets.
pub fn secret_ranges(url: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return out };
    let authority_end =
        url[scheme_end..].find(['/', '?', '#']).map_or(url.len(), |i| scheme_end + i);
    if let Some(at) = url[scheme_end..authority_end].rfind('@') {
        out.push(scheme_end..scheme_end + at);
    }
    let Some(first) = url[authority_end..].find(['?', '#']).map(|i| authority_end + i + 1) else {
        return out;
    };
    let mut start = first;
    let ends = url[first..].char_indices().map(|(i, c)| (first + i, c)).chain([(url.len(), '&')]);
    for (i, c) in ends {
        if !matches!(c, '&' | ';' | '#') {
            continue;
        }
        let pair = &url[start..i];
        if let Some(eq) = pair.find('=')
            && eq + 1 < pair.len()
            && is_secret_name(&percent_decode(&pair[..eq]))
        {
            out.push(start + eq + 1..i);
        }
        start = i + 1;
    }
    out
}

/// `%5F` → `_` and `+` → ` `, for looking at a parameter's name (invalid escapes stay).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` with every `http://` or `https://` URL in it passed through [`redact_url`]. A URL
/// ends at white space, a quote, `<`, `>`, `)` or the end of the text.
pub fn redact_urls_in(text: &str) -> String {
    // ASCII lower-casing keeps byte offsets.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(start) =
        ["http://", "https://"].iter().filter_map(|s| lower[at..].find(s)).min().map(|i| at + i)
    {
        out.push_str(&text[at..start]);
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | '`'))
            .map_or(text.len(), |i| start + i);
        out.push_str(&redact_url(&text[start..end]));
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// Whether `url` holds a value masked by [`redact_url`]: `***@` credentials or a secret query
/// parameter whose value is `***`. Such a URL cannot be sent as it is.
pub fn is_redacted_url(url: &str) -> bool {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return false };
    if url[scheme_end..].starts_with(&format!("{MASK}@")) {
        return true;
    }
    let Some(query) = url.find(['?', '#']).map(|i| &url[i + 1..]) else { return false };
    query.split(['&', ';', '#']).any(|pair| {
        pair.split_once('=')
            .is_some_and(|(name, value)| value == MASK && is_secret_name(&percent_decode(name)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_show_as_the_mask() {
        let s = Secret::from("s3cret".to_string());
        assert_eq!(format!("{s:?}"), MASK);
        assert_eq!(format!("{s}"), MASK);
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose(), "s3cret");
        assert!(!s.is_empty() && Secret::default().is_empty());
        assert_eq!(s, Secret::from("s3cret"));
        assert_ne!(s, Secret::from("other"));

        let url = SecretUrl::from("http://u:pw@h/p?api_key=k1&x=1");
        for shown in [format!("{url:?}"), url.to_string(), url.masked()] {
            assert!(!shown.contains("pw") && !shown.contains("k1"), "{shown}");
            assert!(shown.contains("***@h/p?api_key=***&x=1"), "{shown}");
        }
        assert_eq!(format!("{url:?}"), "\"http://***@h/p?api_key=***&x=1\"");
        assert_eq!(url.expose(), "http://u:pw@h/p?api_key=k1&x=1");
    }

    #[test]
    fn secret_names() {
        for name in [
            "token",
            "TOKEN",
            "access_token",
            "accessToken",
            "id_token",
            "key",
            "api_key",
            "apikey",
            "apiKey",
            "API-KEY",
            "x-api-key",
            "accesskey",
            "secret",
            "client_secret",
            "signature",
            "sig",
            "X-Hub-Signature-256",
            "password",
            "passwd",
            "pwd",
            "pass",
            "auth",
            "authorization",
            "auth_code",
            "authKey",
            "jwt",
            "session",
            "sessionId",
            "credentials",
            "hmac",
            "Cookie",
            "api%5Fkey",
        ] {
            assert!(is_secret_name(&percent_decode(name)), "{name} should be secret");
        }
        for name in
            ["a", "x", "tenant", "author", "authors", "page", "keyword", "sign", "signal", "id"]
        {
            assert!(!is_secret_name(name), "{name} should not be secret");
        }
    }

    #[test]
    fn urls_are_masked() {
        let cases = [
            ("http://h/hook?token=abc", "http://h/hook?token=***"),
            ("http://h/hook?TOKEN=abc&x=1", "http://h/hook?TOKEN=***&x=1"),
            ("http://h/p?a=1&api_key=k&sig=s;b=2", "http://h/p?a=1&api_key=***&sig=***;b=2"),
            (
                "https://h:8443/p?x=1#access_token=t&y=2",
                "https://h:8443/p?x=1#access_token=***&y=2",
            ),
            ("http://u:pw@h:8/p?a=b@c", "http://***@h:8/p?a=b@c"),
            ("http://u:pw@h/p?password=pw", "http://***@h/p?password=***"),
            ("http://h/p?token=", "http://h/p?token="),
            ("http://h/p?token", "http://h/p?token"),
            ("http://h/p?api%5Fkey=zz", "http://h/p?api%5Fkey=***"),
            ("http://h/?author=bob&page=2", "http://h/?author=bob&page=2"),
            ("https://host/p", "https://host/p"),
            ("not a url", "not a url"),
            ("http://h?token=x", "http://h?token=***"),
        ];
        for (url, masked) in cases {
            assert_eq!(redact_url(url), masked, "{url}");
            assert_eq!(redact_url(masked), masked, "idempotent for {url}");
        }
    }

    #[test]
    fn urls_in_text_are_masked() {
        let text = "error sending request for url (http://127.0.0.1:9/hook?token=s3cret&a=1): \
                    connect; also https://u:pw@x/y?key=k2 and \"http://q/?sig=zz\"";
        let masked = redact_urls_in(text);
        for secret in ["s3cret", "pw@", "k2", "zz"] {
            assert!(!masked.contains(secret), "{secret} in {masked}");
        }
        assert!(masked.contains("(http://127.0.0.1:9/hook?token=***&a=1): connect"), "{masked}");
        assert!(masked.contains("\"http://q/?sig=***\""), "{masked}");
        assert_eq!(redact_urls_in("no urls here"), "no urls here");
        assert_eq!(redact_urls_in("HTTP://h/?token=1"), "HTTP://h/?token=***");
    }

    #[test]
    fn redacted_urls_are_recognised() {
        assert!(is_redacted_url("http://h/hook?token=***"));
        assert!(is_redacted_url("http://***@h/hook"));
        assert!(!is_redacted_url("http://h/hook?token=abc"));
        assert!(!is_redacted_url("http://h/hook?x=***"));
        assert!(!is_redacted_url("http://h/hook"));
    }
}
