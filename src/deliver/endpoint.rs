//! Endpoints: the URL, token and extra headers each event is posted to, checked and prepared
//! once so that sending an event needs no per-event formatting.

use std::fmt;

use hyper::Uri;
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};

use super::DeliverError;
use crate::scenario::Scenario;

/// The header carrying the shared secret.
pub const TOKEN_HEADER: &str = "X-Pbx-Token";
/// What a secret header value is replaced by in journals and envelopes.
pub const REDACTED: &str = "***";

/// `url` with any credentials (`user:password@`) replaced by `***@`, for messages and
/// envelopes: pbxsim refuses such URLs, but must not print the password while saying so.
pub fn mask_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let authority_end =
        url[scheme_end..].find(['/', '?', '#']).map_or(url.len(), |i| scheme_end + i);
    match url[scheme_end..authority_end].rfind('@') {
        Some(at) => format!("{}{REDACTED}{}", &url[..scheme_end], &url[scheme_end + at..]),
        None => url.to_string(),
    }
}

/// Where events go: a URL, the `X-Pbx-Token` value (no header when `None`), and extra headers.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Endpoint {
    pub url: String,
    pub token: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl fmt::Debug for Endpoint {
    // The token and secret-looking headers never reach debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| REDACTED))
            .field("headers", &self.redacted_extras())
            .finish()
    }
}

impl Endpoint {
    /// An endpoint with no extra headers.
    pub fn new(url: impl Into<String>, token: Option<String>) -> Self {
        Self { url: url.into(), token, headers: Vec::new() }
    }

    /// Every header sent (except `Host` and `Content-Length`), with secret values replaced by
    /// `***`: the token, and extra headers whose names look secret (see [`is_secret_header`]).
    pub fn redacted_headers(&self) -> Vec<(String, String)> {
        let mut out = vec![("Content-Type".to_string(), "application/json".to_string())];
        if self.token.is_some() {
            out.push((TOKEN_HEADER.to_string(), REDACTED.to_string()));
        }
        out.extend(self.redacted_extras());
        out
    }

    /// The extra headers, with secret values replaced by `***`.
    fn redacted_extras(&self) -> Vec<(String, String)> {
        let token = self.token.as_deref().filter(|t| !t.is_empty());
        self.headers
            .iter()
            .map(|(name, value)| {
                let secret = is_secret_header(name) || token.is_some_and(|t| value.contains(t));
                (name.clone(), if secret { REDACTED.to_string() } else { value.clone() })
            })
            .collect()
    }
}

/// Header names whose values are treated as secrets: the token header, `Authorization`,
/// `Proxy-Authorization`, `Cookie`, and any name containing `token`, `secret`, `password`,
/// `api-key` or `apikey`.
pub fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "authorization" | "proxy-authorization" | "cookie")
        || ["token", "secret", "password", "api-key", "apikey", "api_key"]
            .iter()
            .any(|w| name.contains(w))
}

/// The endpoints of a run: the global one, and one per webhook object (index = `WebhookId`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoints {
    pub global: Endpoint,
    pub webhooks: Vec<Endpoint>,
}

impl Endpoints {
    /// Everything goes to one endpoint (webhook objects included).
    pub fn single(endpoint: Endpoint) -> Self {
        Self { global: endpoint, webhooks: Vec::new() }
    }

    /// The endpoints a scenario describes, with the command line's overrides.
    ///
    /// - global: `target` or the scenario's `[webhook] url`; `token` or the scenario's token
    ///   (an empty token sends no header); the scenario's extra headers;
    /// - each webhook object: its own url, token and headers; an object without a url posts to
    ///   the global URL (after `--target`), still with its own token and headers. `--token`
    ///   does not change webhook objects' tokens.
    ///
    /// Fails when there is no URL at all or a URL or header is malformed.
    pub fn from_scenario(
        s: &Scenario,
        target: Option<&str>,
        token: Option<&str>,
    ) -> Result<Self, DeliverError> {
        let url = target.map(str::to_string).or_else(|| s.webhook.url.clone());
        let url = url.ok_or(DeliverError::NoTarget)?;
        let token = match token {
            Some(t) => Some(t.to_string()),
            None => Some(s.webhook.token.clone()),
        }
        .filter(|t| !t.is_empty());
        let global = Endpoint { url: url.clone(), token, headers: s.webhook.headers.clone() };
        let webhooks = s
            .pbx
            .webhooks
            .iter()
            .map(|w| Endpoint {
                url: w.url.clone().unwrap_or_else(|| url.clone()),
                token: Some(w.token.clone()).filter(|t| !t.is_empty()),
                headers: w.headers.clone(),
            })
            .collect();
        let endpoints = Self { global, webhooks };
        for e in endpoints.iter() {
            Prepared::new(e)?;
        }
        Ok(endpoints)
    }

    /// The global endpoint, then the webhook objects' in order (index `1 + WebhookId`).
    pub fn iter(&self) -> impl Iterator<Item = &Endpoint> {
        std::iter::once(&self.global).chain(&self.webhooks)
    }
}

/// An endpoint checked and turned into what the HTTP path needs.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub url: String,
    pub https: bool,
    /// Host to connect to (an IPv6 address without brackets) and port.
    pub host: String,
    pub port: u16,
    /// Origin-form request target (path and query) for the plain-HTTP path.
    pub path: Uri,
    /// The parsed URL for the HTTPS path.
    pub tls_url: Option<reqwest::Url>,
    /// Every header of a request: `Host` (plain HTTP only), `Content-Type`, the token, extras.
    pub headers: HeaderMap,
    /// `"url"` as a JSON string, and the redacted headers as a JSON object, for the journal.
    pub journal_target: String,
    pub journal_headers: String,
}

impl Prepared {
    pub fn new(e: &Endpoint) -> Result<Self, DeliverError> {
        let bad = |reason: &str| DeliverError::BadUrl {
            url: mask_credentials(&e.url),
            reason: reason.into(),
        };
        let url = url::Url::parse(&e.url).map_err(|err| bad(&err.to_string()))?;
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(bad(&format!("the scheme must be http or https, not `{other}`"))),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials in the URL are not supported; send a header instead"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(bad("the URL has no host")),
        };
        let port = url.port_or_known_default().ok_or_else(|| bad("the URL has no port"))?;
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        let path: Uri = path
            .parse()
            .map_err(|err: hyper::http::uri::InvalidUri| bad(&format!("bad path: {err}")))?;

        let mut headers = HeaderMap::new();
        if !https {
            let authority = match (url.host_str(), url.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                (None, _) => return Err(bad("the URL has no host")),
            };
            let value = HeaderValue::from_str(&authority).map_err(|_| bad("bad host"))?;
            headers.insert(HOST, value);
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(token) = &e.token {
            let mut value = HeaderValue::from_str(token).map_err(|_| DeliverError::BadHeader {
                url: e.url.clone(),
                name: TOKEN_HEADER.into(),
                reason: "the token holds characters that cannot appear in an HTTP header".into(),
            })?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static("x-pbx-token"), value);
        }
        for (name, value) in &e.headers {
            let bad_header = |reason: &str| DeliverError::BadHeader {
                url: e.url.clone(),
                name: name.clone(),
                reason: reason.into(),
            };
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad_header("not a valid header name"))?;
            if header_name == HOST || header_name == CONTENT_TYPE {
                return Err(bad_header("pbxsim sets this header itself"));
            }
            let mut header_value = HeaderValue::from_str(value)
                .map_err(|_| bad_header("the value holds characters not allowed in a header"))?;
            if is_secret_header(name)
                || e.token.as_deref().is_some_and(|t| !t.is_empty() && value.contains(t))
            {
                header_value.set_sensitive(true);
            }
            headers.append(header_name, header_value);
        }

        let journal_headers: serde_json::Map<String, serde_json::Value> = e
            .redacted_headers()
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        Ok(Self {
            url: e.url.clone(),
            https,
            host,
            port,
            path,
            tls_url: https.then_some(url),
            headers,
            journal_target: serde_json::Value::String(e.url.clone()).to_string(),
            journal_headers: serde_json::Value::Object(journal_headers).to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::WebhookObject;

    fn scenario() -> Scenario {
        let mut s = Scenario::default();
        s.webhook.url = Some("http://crm.example.com/hooks?x=1".into());
        s.webhook.token = "global-secret".into();
        s.webhook.headers = vec![("X-Env".into(), "test".into())];
        s.pbx.webhooks = vec![
            WebhookObject {
                name: "lookup".into(),
                url: Some("https://lookup.example.com/in".into()),
                token: "obj-secret".into(),
                headers: vec![("X-Component".into(), "lookup".into())],
            },
            WebhookObject {
                name: "local".into(),
                url: None,
                token: String::new(),
                headers: vec![("Authorization".into(), "Bearer abc".into())],
            },
        ];
        s
    }

    #[test]
    fn scenario_endpoints_and_overrides() {
        let s = scenario();
        let e = Endpoints::from_scenario(&s, None, None).unwrap();
        assert_eq!(e.global.url, "http://crm.example.com/hooks?x=1");
        assert_eq!(e.global.token.as_deref(), Some("global-secret"));
        assert_eq!(e.webhooks[0].url, "https://lookup.example.com/in");
        assert_eq!(e.webhooks[0].token.as_deref(), Some("obj-secret"));
        assert_eq!(e.webhooks[1].url, "http://crm.example.com/hooks?x=1");
        assert_eq!(e.webhooks[1].token, None);

        let e = Endpoints::from_scenario(&s, Some("http://127.0.0.1:9/x"), Some("cli")).unwrap();
        assert_eq!(e.global.url, "http://127.0.0.1:9/x");
        assert_eq!(e.global.token.as_deref(), Some("cli"));
        assert_eq!(e.global.headers, vec![("X-Env".to_string(), "test".to_string())]);
        assert_eq!(e.webhooks[0].url, "https://lookup.example.com/in");
        assert_eq!(e.webhooks[0].token.as_deref(), Some("obj-secret"));
        assert_eq!(e.webhooks[1].url, "http://127.0.0.1:9/x");
        assert_eq!(e.webhooks[1].headers[0].0, "Authorization");
    }

    #[test]
    fn credentials_in_urls_are_masked_in_messages() {
        assert_eq!(mask_credentials("http://u:s3cret@host:8/p?a=b@c"), "http://***@host:8/p?a=b@c");
        assert_eq!(mask_credentials("https://host/p"), "https://host/p");
        assert_eq!(mask_credentials("not a url"), "not a url");
        let e = Endpoint::new("http://user:s3cret@127.0.0.1:9/x", None);
        let Err(err) = Prepared::new(&e) else { panic!("credentials are refused") };
        let err = err.to_string();
        assert!(!err.contains("s3cret") && err.contains("credentials"), "{err}");
    }

    #[test]
    fn missing_or_bad_urls_are_errors() {
        let mut s = scenario();
        s.webhook.url = None;
        assert!(matches!(Endpoints::from_scenario(&s, None, None), Err(DeliverError::NoTarget)));
        for bad in ["ftp://x/", "not a url", "http://user:pw@host/", "http://:80/"] {
            let err = Endpoints::from_scenario(&s, Some(bad), None).unwrap_err();
            assert!(err.to_string().contains(&mask_credentials(bad)), "{err}");
        }
    }

    #[test]
    fn prepared_headers() {
        let e = Endpoint {
            url: "http://127.0.0.1:8080/hook?a=b".into(),
            token: Some("s3cret".into()),
            headers: vec![("X-Extra".into(), "1".into())],
        };
        let p = Prepared::new(&e).unwrap();
        assert!(!p.https);
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 8080));
        assert_eq!(p.path, "/hook?a=b");
        assert_eq!(p.headers["host"], "127.0.0.1:8080");
        assert_eq!(p.headers["content-type"], "application/json");
        assert_eq!(p.headers["x-pbx-token"], "s3cret");
        assert_eq!(p.headers["x-extra"], "1");
        let v6 = Prepared::new(&Endpoint::new("http://[::1]/", None)).unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 80));
        assert_eq!(v6.headers["host"], "[::1]");
        assert!(v6.headers.get("x-pbx-token").is_none());
        let tls = Prepared::new(&Endpoint::new("https://example.com/h", None)).unwrap();
        assert!(tls.https && tls.headers.get("host").is_none() && tls.tls_url.is_some());
        let bad = Endpoint::new("http://h/", Some("line\nbreak".into()));
        let err = Prepared::new(&bad).unwrap_err().to_string();
        assert!(!err.contains("line\nbreak"), "{err}");
    }

    #[test]
    fn token_is_redacted_everywhere() {
        let e = Endpoint {
            url: "http://h/".into(),
            token: Some("s3cret".into()),
            headers: vec![
                ("Authorization".into(), "Bearer zzz".into()),
                ("X-Api-Key".into(), "kkk".into()),
                ("X-Echo".into(), "has s3cret inside".into()),
                ("X-Plain".into(), "visible".into()),
            ],
        };
        let p = Prepared::new(&e).unwrap();
        for text in [p.journal_headers.clone(), format!("{e:?}"), format!("{p:?}")] {
            for secret in ["s3cret", "zzz", "kkk"] {
                assert!(!text.contains(secret), "{secret} leaked in {text}");
            }
        }
        let headers: serde_json::Value = serde_json::from_str(&p.journal_headers).unwrap();
        assert_eq!(headers["X-Pbx-Token"], REDACTED);
        assert_eq!(headers["Content-Type"], "application/json");
        assert_eq!(headers["X-Plain"], "visible");
        assert_eq!(headers["Authorization"], REDACTED);
    }
}
