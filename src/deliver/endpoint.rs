//! Endpoints: the URL, token and extra headers each event is posted to, checked and prepared
//! once so that sending an event needs no per-event formatting.

use std::fmt;

use hyper::Uri;
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};

use super::DeliverError;
use crate::engine::Target;
use crate::event::EventType;
use crate::scenario::Scenario;
use crate::secret::{MASK, Secret, SecretUrl, is_secret_name};

/// The header carrying the shared secret.
pub const TOKEN_HEADER: &str = "X-Pbx-Token";

/// Where an endpoint's token came from, for messages about it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum TokenSource {
    /// No token anywhere: no `X-Pbx-Token` header.
    #[default]
    None,
    /// Given to the run ([`Overrides::token`]; a CLI's `--token`).
    Flag,
    /// Given to the run from the environment (a CLI's `PBXSIM_TOKEN`).
    Env,
    /// The scenario's `[webhook] token`.
    File,
    /// A webhook object's own `token` (its name).
    Object(String),
    /// A webhook object's `token = ""`: it sends none (its name).
    ObjectNone(String),
}

impl TokenSource {
    /// "the token given to the run", "no token", … in the library's words, which name no flag
    /// ([`Wording`](super::Wording) is how a CLI names its own).
    pub fn describe(&self) -> String {
        match self {
            TokenSource::None => "no token".into(),
            TokenSource::Flag => "the token given to the run".into(),
            TokenSource::Env => "the token from the environment".into(),
            TokenSource::File => "the token from the scenario's [webhook] token".into(),
            TokenSource::Object(name) => format!("webhook object `{name}`'s own token"),
            TokenSource::ObjectNone(name) => {
                format!("no token (webhook object `{name}` sets `token = \"\"`)")
            }
        }
    }

    /// What to do when the receiver refuses this token, in the library's words.
    pub fn fix(&self) -> String {
        match self {
            TokenSource::None => {
                "give the run a token, or set `token` in the scenario's [webhook] table".into()
            }
            TokenSource::Flag => {
                "check that the token given to the run is the token the receiver expects".into()
            }
            TokenSource::Env => "check the token in the environment, or give the run one".into(),
            TokenSource::File => "give the run the receiver's token".into(),
            TokenSource::Object(name) => format!(
                "remove `token` from webhook object `{name}` to send the global token, or give \
                 it the token its receiver expects"
            ),
            TokenSource::ObjectNone(name) => {
                format!(
                    "remove `token = \"\"` from webhook object `{name}` to send the global token"
                )
            }
        }
    }
}

/// Where events go: a URL, the `X-Pbx-Token` value (no header when `None`), and extra headers;
/// for messages, what the endpoint is and where its token came from. `{:?}` shows no secret:
/// the URL is masked, the token and header values are [`Secret`]s.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Endpoint {
    pub url: SecretUrl,
    pub token: Option<Secret>,
    pub headers: Vec<(String, Secret)>,
    /// What this endpoint is, for messages: `global events`, `route for queue_call`,
    /// ``webhook object `CRM` ``. Empty: `target`.
    pub name: String,
    pub token_source: TokenSource,
}

impl Endpoint {
    /// An endpoint with no extra headers.
    pub fn new(url: impl Into<SecretUrl>, token: Option<String>) -> Self {
        Self { url: url.into(), token: token.map(Secret::from), ..Self::default() }
    }

    /// Every header sent (except `Host` and `Content-Length`), with secret values replaced by
    /// `***`: the token, and extra headers whose names look secret (see [`is_secret_name`]) or
    /// that hold the token.
    pub fn redacted_headers(&self) -> Vec<(String, String)> {
        let mut out = vec![("Content-Type".to_string(), "application/json".to_string())];
        if self.token.is_some() {
            out.push((TOKEN_HEADER.to_string(), MASK.to_string()));
        }
        out.extend(self.redacted_extras());
        out
    }

    /// The extra headers, with secret values replaced by `***`.
    fn redacted_extras(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(name, value)| {
                let shown = if self.is_secret_header(name, value) { MASK } else { value.expose() };
                (name.clone(), shown.to_string())
            })
            .collect()
    }

    /// Whether an extra header's value is secret: its name looks secret
    /// ([`is_secret_name`]), or it holds the token.
    fn is_secret_header(&self, name: &str, value: &Secret) -> bool {
        let token = self.token.as_ref().map(Secret::expose).filter(|t| !t.is_empty());
        is_secret_name(name) || token.is_some_and(|t| value.expose().contains(t))
    }

    /// What messages say about this endpoint.
    pub fn label(&self) -> Label {
        let name = if self.name.is_empty() { "target".to_string() } else { self.name.clone() };
        Label { url: self.url.masked(), name, token: self.token_source.clone() }
    }
}

/// An endpoint as messages name it: its URL (secrets masked), what it is, its token's source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Label {
    pub url: String,
    pub name: String,
    pub token: TokenSource,
}

/// What the command line changes about a scenario's endpoints.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--target`: replaces `[webhook] url`.
    pub target: Option<SecretUrl>,
    /// `--token` or `PBXSIM_TOKEN`: replaces `[webhook] token` (`""` sends none).
    pub token: Option<Secret>,
    /// Where `token` came from: [`TokenSource::Flag`] or [`TokenSource::Env`].
    pub token_source: TokenSource,
    /// `--route TYPE=URL`: replaces the file's route for the same type, adds the others.
    pub routes: Vec<(EventType, SecretUrl)>,
}

impl Overrides {
    /// Only a target (the token and routes come from the scenario).
    pub fn target(url: impl Into<SecretUrl>) -> Self {
        Self { target: Some(url.into()), ..Self::default() }
    }
}

/// The endpoints of a run: the global one, one per webhook object (index = `WebhookId`), and
/// one per routed event type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoints {
    pub global: Endpoint,
    pub webhooks: Vec<Endpoint>,
    /// `[webhook] routes` and `--route`: global events of these types go here.
    pub routes: Vec<(EventType, Endpoint)>,
}

impl Endpoints {
    /// Everything goes to one endpoint (webhook objects included).
    pub fn single(endpoint: Endpoint) -> Self {
        Self { global: endpoint, ..Self::default() }
    }

    /// The endpoints a scenario describes, with the command line's overrides; see
    /// [`Endpoints::resolve`]. Fails when there is no URL at all, a URL or header is
    /// malformed, or a `--route` names a type the scenario never sends.
    pub fn from_scenario(s: &Scenario, o: &Overrides) -> Result<Self, DeliverError> {
        if o.target.is_none() && s.webhook.url.is_none() {
            return Err(DeliverError::NoTarget);
        }
        for (t, _) in &o.routes {
            if !s.webhook.can_route(*t) {
                return Err(DeliverError::RouteNotSent(*t));
            }
        }
        let endpoints = Self::resolve(s, o, "");
        for e in endpoints.iter() {
            Prepared::new(e)?;
        }
        Ok(endpoints)
    }

    /// The endpoints, unchecked (for showing them, as dry-run envelopes do); `default_url`
    /// stands for the global URL when neither `--target` nor the file gives one.
    ///
    /// - the global token is the one actually used: `--token`/`PBXSIM_TOKEN`, else the file's
    ///   `[webhook] token` (an empty token sends no header);
    /// - global: `--target`, else `[webhook] url`; the global token; `[webhook] headers`;
    /// - each route (file routes, then `--route`, which wins for its type): its URL, with the
    ///   global token and headers;
    /// - each webhook object: its own url, else the global target (the
    ///   `webhook_component_event` route, else the global URL); its own token, else the
    ///   global token (`token = ""`: none); its own headers.
    pub fn resolve(s: &Scenario, o: &Overrides, default_url: &str) -> Self {
        let url = o
            .target
            .clone()
            .or_else(|| s.webhook.url.clone())
            .unwrap_or_else(|| default_url.into());
        let (token, token_source) = match &o.token {
            Some(t) if t.is_empty() => (None, TokenSource::None),
            Some(t) => (Some(t.clone()), o.token_source.clone()),
            None if s.webhook.token.is_empty() => (None, TokenSource::None),
            None => (Some(s.webhook.token.clone()), TokenSource::File),
        };
        let global = Endpoint {
            url: url.clone(),
            token: token.clone(),
            headers: s.webhook.headers.clone(),
            name: "global events".into(),
            token_source: token_source.clone(),
        };
        let mut route_urls: Vec<(EventType, SecretUrl)> = s.webhook.routes.clone();
        for (t, u) in &o.routes {
            match route_urls.iter_mut().find(|(rt, _)| rt == t) {
                Some(entry) => entry.1.clone_from(u),
                None => route_urls.push((*t, u.clone())),
            }
        }
        let routes: Vec<(EventType, Endpoint)> = route_urls
            .into_iter()
            .map(|(t, u)| {
                (t, Endpoint { url: u, name: format!("route for {t}"), ..global.clone() })
            })
            .collect();
        let object_url = routes
            .iter()
            .find(|(t, _)| *t == EventType::WebhookComponentEvent)
            .map_or(&url, |(_, e)| &e.url);
        let webhooks = s
            .pbx
            .webhooks
            .iter()
            .map(|w| {
                let (token, token_source) = match &w.token {
                    None => (token.clone(), token_source.clone()),
                    Some(t) if t.is_empty() => (None, TokenSource::ObjectNone(w.name.to_string())),
                    Some(t) => (Some(t.clone()), TokenSource::Object(w.name.to_string())),
                };
                Endpoint {
                    url: w.url.clone().unwrap_or_else(|| object_url.clone()),
                    token,
                    headers: w.headers.clone(),
                    name: format!("webhook object `{}`", w.name),
                    token_source,
                }
            })
            .collect();
        Self { global, webhooks, routes }
    }

    /// The global endpoint, the webhook objects' in order (index `1 + WebhookId`), then the
    /// routes' (index `1 + webhooks + i`).
    pub fn iter(&self) -> impl Iterator<Item = &Endpoint> {
        std::iter::once(&self.global).chain(&self.webhooks).chain(self.routes.iter().map(|r| &r.1))
    }

    /// The endpoint index of each event type's global events (0: the global endpoint).
    pub(crate) fn route_table(&self) -> [u32; 12] {
        let mut table = [0u32; 12];
        let first = 1 + self.webhooks.len();
        for (i, (t, _)) in self.routes.iter().enumerate() {
            table[t.index()] = (first + i) as u32;
        }
        table
    }

    /// The endpoint an event goes to (for showing it; delivery uses the same table).
    pub fn for_target(&self, target: Target, kind: EventType) -> &Endpoint {
        match target {
            Target::Webhook(w) => self.webhooks.get(w).unwrap_or(&self.global),
            Target::Global => match self.route_table()[kind.index()] {
                0 => &self.global,
                i => &self.routes[i as usize - 1 - self.webhooks.len()].1,
            },
        }
    }
}

/// An endpoint checked and turned into what the HTTP path needs.
#[derive(Clone)]
pub(crate) struct Prepared {
    /// What messages say about it (its URL with secrets masked).
    pub label: Label,
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
    /// The plain-HTTP path: the request line and every header, up to `content-length: `. It
    /// holds the token: never shown (not in `Debug`).
    pub head: Vec<u8>,
    /// `"url"` (secrets masked) as a JSON string, and the redacted headers as a JSON object,
    /// for the journal.
    pub journal_target: String,
    pub journal_headers: String,
}

impl fmt::Debug for Prepared {
    // The path and parsed URL hold the query string: show the masked URL only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("label", &self.label)
            .field("https", &self.https)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    pub fn new(e: &Endpoint) -> Result<Self, DeliverError> {
        let bad =
            |reason: &str| DeliverError::BadUrl { url: e.url.masked(), reason: reason.into() };
        let url = url::Url::parse(e.url.expose()).map_err(|err| bad(&err.to_string()))?;
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
            let value = HeaderValue::from_str(token.expose());
            let mut value = value.map_err(|_| DeliverError::BadHeader {
                url: e.url.masked(),
                name: TOKEN_HEADER.into(),
                reason: "the token holds characters that cannot appear in an HTTP header".into(),
            })?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static("x-pbx-token"), value);
        }
        for (name, value) in &e.headers {
            let bad_header = |reason: &str| DeliverError::BadHeader {
                url: e.url.masked(),
                name: name.clone(),
                reason: reason.into(),
            };
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad_header("not a valid header name"))?;
            if header_name == HOST || header_name == CONTENT_TYPE {
                return Err(bad_header("pbxsim sets this header itself"));
            }
            let mut header_value = HeaderValue::from_str(value.expose())
                .map_err(|_| bad_header("the value holds characters not allowed in a header"))?;
            if e.is_secret_header(name, value) {
                header_value.set_sensitive(true);
            }
            headers.append(header_name, header_value);
        }

        let journal_headers: serde_json::Map<String, serde_json::Value> = e
            .redacted_headers()
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        let head = request_head(&path, &headers);
        Ok(Self {
            label: e.label(),
            https,
            host,
            port,
            path,
            tls_url: https.then_some(url),
            headers,
            head,
            journal_target: serde_json::Value::String(e.url.masked()).to_string(),
            journal_headers: serde_json::Value::Object(journal_headers).to_string(),
        })
    }
}

impl Prepared {
    /// This endpoint with its headers changed by `edit` (chaos's forged tokens).
    pub(crate) fn with_headers(&self, edit: impl FnOnce(&mut HeaderMap)) -> Prepared {
        let mut changed = self.clone();
        edit(&mut changed.headers);
        changed.head = request_head(&changed.path, &changed.headers);
        changed
    }
}

/// A POST's request line and headers, as hyper writes them (lower-case names, in the map's
/// order), up to the value of `content-length`, which each request adds.
fn request_head(path: &Uri, headers: &HeaderMap) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(b"POST ");
    head.extend_from_slice(path.to_string().as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"content-length: ");
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::WebhookObject;
    use crate::secret::redact_url;

    fn scenario() -> Scenario {
        let mut s = Scenario::default();
        s.webhook.url = Some("http://crm.example.com/hooks?x=1".into());
        s.webhook.token = "global-secret".into();
        s.webhook.headers = vec![("X-Env".into(), "test".into())];
        s.webhook.events = crate::event::EventTypeSet::ALL;
        s.pbx.webhooks = vec![
            WebhookObject {
                name: "lookup".into(),
                url: Some("https://lookup.example.com/in".into()),
                token: Some("obj-secret".into()),
                headers: vec![("X-Component".into(), "lookup".into())],
            },
            WebhookObject {
                name: "local".into(),
                url: None,
                token: None,
                headers: vec![("Authorization".into(), "Bearer abc".into())],
            },
            WebhookObject {
                name: "open".into(),
                url: Some("http://open.example.com/".into()),
                token: Some(Secret::default()),
                headers: Vec::new(),
            },
        ];
        s
    }

    fn flags(target: &str, token: &str, source: TokenSource) -> Overrides {
        Overrides {
            target: Some(target.into()),
            token: Some(token.into()),
            token_source: source,
            routes: Vec::new(),
        }
    }

    #[test]
    fn scenario_endpoints_and_overrides() {
        let s = scenario();
        let e = Endpoints::from_scenario(&s, &Overrides::default()).unwrap();
        assert_eq!(e.global.url, "http://crm.example.com/hooks?x=1");
        assert_eq!(e.global.token.as_ref().map(Secret::expose), Some("global-secret"));
        assert_eq!(e.global.token_source, TokenSource::File);
        assert_eq!(e.webhooks[0].url, "https://lookup.example.com/in");
        assert_eq!(e.webhooks[0].token.as_ref().map(Secret::expose), Some("obj-secret"));
        assert_eq!(e.webhooks[0].token_source, TokenSource::Object("lookup".into()));
        // No url and no token of its own: the global target and the global token.
        assert_eq!(e.webhooks[1].url, "http://crm.example.com/hooks?x=1");
        assert_eq!(e.webhooks[1].token.as_ref().map(Secret::expose), Some("global-secret"));
        assert_eq!(e.webhooks[1].token_source, TokenSource::File);
        // `token = ""`: deliberately none.
        assert_eq!(e.webhooks[2].token, None);
        assert_eq!(e.webhooks[2].token_source, TokenSource::ObjectNone("open".into()));

        let o = flags("http://127.0.0.1:9/x", "cli", TokenSource::Flag);
        let e = Endpoints::from_scenario(&s, &o).unwrap();
        assert_eq!(e.global.url, "http://127.0.0.1:9/x");
        assert_eq!(e.global.token.as_ref().map(Secret::expose), Some("cli"));
        assert_eq!(e.global.token_source, TokenSource::Flag);
        assert_eq!(e.global.headers, vec![("X-Env".to_string(), "test".into())]);
        assert_eq!(e.webhooks[0].url, "https://lookup.example.com/in");
        assert_eq!(e.webhooks[0].token.as_ref().map(Secret::expose), Some("obj-secret"));
        assert_eq!(e.webhooks[1].url, "http://127.0.0.1:9/x");
        assert_eq!(
            e.webhooks[1].token.as_ref().map(Secret::expose),
            Some("cli"),
            "follows --token"
        );
        assert_eq!(e.webhooks[1].token_source, TokenSource::Flag);
        assert_eq!(e.webhooks[1].headers[0].0, "Authorization");

        let e = Endpoints::from_scenario(&s, &flags("http://h/", "env", TokenSource::Env)).unwrap();
        assert_eq!(e.webhooks[1].token_source, TokenSource::Env);
        // An empty --token sends none, objects following it included.
        let e = Endpoints::from_scenario(&s, &flags("http://h/", "", TokenSource::Flag)).unwrap();
        assert_eq!((e.global.token.as_ref(), &e.global.token_source), (None, &TokenSource::None));
        assert_eq!(e.webhooks[1].token, None);
    }

    #[test]
    fn routes_send_types_to_their_urls_with_the_global_token() {
        let mut s = scenario();
        s.webhook.routes = vec![
            (EventType::QueueCall, "http://q.example.com/queue".into()),
            (EventType::Voicemail, "http://v.example.com/vm".into()),
        ];
        let mut o = flags("http://127.0.0.1:9/x", "cli", TokenSource::Flag);
        o.routes = vec![
            (EventType::Voicemail, "http://127.0.0.1:9/vm".into()),
            (EventType::WebhookComponentEvent, "http://127.0.0.1:9/component".into()),
        ];
        let e = Endpoints::from_scenario(&s, &o).unwrap();
        let routes: Vec<(EventType, &str)> =
            e.routes.iter().map(|(t, e)| (*t, e.url.expose())).collect();
        assert_eq!(
            routes,
            [
                (EventType::QueueCall, "http://q.example.com/queue"),
                (EventType::Voicemail, "http://127.0.0.1:9/vm"),
                (EventType::WebhookComponentEvent, "http://127.0.0.1:9/component"),
            ]
        );
        for (_, r) in &e.routes {
            assert_eq!(r.token.as_ref().map(Secret::expose), Some("cli"));
            assert_eq!(r.token_source, TokenSource::Flag);
            assert_eq!(r.headers, e.global.headers);
        }
        // An object without a url follows the webhook_component_event route.
        assert_eq!(e.webhooks[1].url, "http://127.0.0.1:9/component");
        assert_eq!(e.webhooks[0].url, "https://lookup.example.com/in");
        let table = e.route_table();
        assert_eq!(table[EventType::QueueCall.index()], 4);
        assert_eq!(table[EventType::Voicemail.index()], 5);
        assert_eq!(table[EventType::UserInbound.index()], 0);
        assert_eq!(e.iter().count(), 7);
        assert_eq!(e.for_target(Target::Global, EventType::Voicemail).url, "http://127.0.0.1:9/vm");
        assert_eq!(e.for_target(Target::Global, EventType::UserInbound).url, e.global.url);
        assert_eq!(
            e.for_target(Target::Webhook(1), EventType::WebhookComponentEvent).url,
            e.webhooks[1].url
        );

        // A route for a type that is never sent is refused.
        s.webhook.events = [EventType::QueueCall].into_iter().collect();
        o.routes = vec![(EventType::Voicemail, "http://127.0.0.1:9/vm".into())];
        let err = Endpoints::from_scenario(&s, &o).unwrap_err();
        assert!(matches!(err, DeliverError::RouteNotSent(EventType::Voicemail)), "{err}");
        o.routes = vec![(EventType::WebhookComponentEvent, "http://127.0.0.1:9/c".into())];
        assert!(Endpoints::from_scenario(&s, &o).is_ok(), "objects send it whatever is ticked");
    }

    #[test]
    fn secrets_in_urls_are_masked_in_messages() {
        let e = Endpoint::new("http://user:s3cret@127.0.0.1:9/x", None);
        let Err(err) = Prepared::new(&e) else { panic!("credentials are refused") };
        let err = err.to_string();
        assert!(!err.contains("s3cret") && err.contains("credentials"), "{err}");
        let e = Endpoint::new("http://127.0.0.1:9/x?token=s3cret", Some("line\nbreak".into()));
        let err = Prepared::new(&e).unwrap_err().to_string();
        assert!(!err.contains("s3cret") && err.contains("token=***"), "{err}");
        let e = Endpoint {
            headers: vec![("Bad Name".into(), "v".into())],
            ..Endpoint::new("http://127.0.0.1:9/x?api_key=s3cret", None)
        };
        let err = Prepared::new(&e).unwrap_err().to_string();
        assert!(!err.contains("s3cret") && err.contains("api_key=***"), "{err}");
        let e = Endpoint::new("http://127.0.0.1:9/x?token=s3cret&a=1", Some("t0k".into()));
        let p = Prepared::new(&e).unwrap();
        assert_eq!(p.path, "/x?token=s3cret&a=1", "the real URL is sent");
        assert_eq!(p.journal_target, r#""http://127.0.0.1:9/x?token=***&a=1""#);
        assert_eq!(p.label.url, "http://127.0.0.1:9/x?token=***&a=1");
        for text in [format!("{e:?}"), format!("{p:?}")] {
            assert!(!text.contains("s3cret") && !text.contains("t0k"), "{text}");
        }
    }

    #[test]
    fn missing_or_bad_urls_are_errors() {
        let mut s = scenario();
        s.webhook.url = None;
        let none = Overrides::default();
        assert!(matches!(Endpoints::from_scenario(&s, &none), Err(DeliverError::NoTarget)));
        for bad in ["ftp://x/", "not a url", "http://user:pw@host/", "http://:80/"] {
            let err = Endpoints::from_scenario(&s, &Overrides::target(bad)).unwrap_err();
            assert!(err.to_string().contains(&redact_url(bad)), "{err}");
        }
    }

    #[test]
    fn prepared_headers() {
        let e = Endpoint {
            url: "http://127.0.0.1:8080/hook?a=b".into(),
            token: Some("s3cret".into()),
            headers: vec![("X-Extra".into(), "1".into())],
            ..Endpoint::default()
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

    /// A scenario file with a global token, a webhook object's token, a secret-looking header
    /// and secrets in URLs: `{:?}` of the scenario, its endpoints and the command line's
    /// overrides shows none of them.
    #[test]
    fn debug_output_of_a_scenario_and_its_endpoints_holds_no_secret() {
        const SECRETS: [&str; 7] = [
            "glob-tok-51a9",
            "obj-tok-7c2e",
            "api-key-0d3f",
            "url-qry-9b41",
            "route-pw-66e0",
            "flag-tok-2f8d",
            "flag-qry-c3a7",
        ];
        let text = r#"
[webhook]
url = "https://crm.example.com/hook?api_key=url-qry-9b41&tenant=acme"
token = "glob-tok-51a9"
headers = { "X-Api-Key" = "api-key-0d3f", "X-Tenant" = "acme" }
routes = { queue_call = "https://u:route-pw-66e0@q.example.com/queue" }

[[webhooks]]
name = "CRM"
url = "https://crm.example.com/lookup"
token = "obj-tok-7c2e"
headers = { "Authorization" = "Bearer api-key-0d3f" }

[[users]]
name = "Alice"
extension = "1010"

[[queues]]
name = "Support"
members = ["1010"]

[[numbers]]
number = "61300000000"
flow = ["webhook:CRM", "queue:Support"]

[[calls]]
at = "0s"
from = "61400000001"
to = "61300000000"
"#;
        let s = crate::scenario::parse(text, "secrets.toml").unwrap();
        assert_eq!(s.webhook.token.expose(), "glob-tok-51a9", "the secrets were read");
        assert_eq!(s.pbx.webhooks[0].token.as_ref().map(Secret::expose), Some("obj-tok-7c2e"));
        let shown = format!("{s:?}");
        for secret in SECRETS {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("token: ***"), "{shown}");
        assert!(shown.contains("token: Some(***)"), "{shown}");
        assert!(shown.contains(r#"("X-Api-Key", ***)"#), "{shown}");
        assert!(shown.contains("api_key=***&tenant=acme"), "{shown}");
        assert!(shown.contains("https://***@q.example.com/queue"), "{shown}");

        let overrides = Overrides {
            target: Some("http://127.0.0.1:9/hook?token=flag-qry-c3a7".into()),
            token: Some("flag-tok-2f8d".into()),
            token_source: TokenSource::Flag,
            routes: Vec::new(),
        };
        for o in [Overrides::default(), overrides] {
            let endpoints = Endpoints::resolve(&s, &o, "");
            assert_eq!(endpoints.iter().count(), 3);
            let shown = format!("{endpoints:?} {o:?}");
            for secret in SECRETS {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(shown.contains("token: Some(***)"), "{shown}");
        }
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
            ..Endpoint::default()
        };
        let p = Prepared::new(&e).unwrap();
        for text in [p.journal_headers.clone(), format!("{e:?}"), format!("{p:?}")] {
            for secret in ["s3cret", "zzz", "kkk"] {
                assert!(!text.contains(secret), "{secret} leaked in {text}");
            }
        }
        let headers: serde_json::Value = serde_json::from_str(&p.journal_headers).unwrap();
        assert_eq!(headers["X-Pbx-Token"], MASK);
        assert_eq!(headers["Content-Type"], "application/json");
        assert_eq!(headers["X-Plain"], "visible");
        assert_eq!(headers["Authorization"], MASK);
    }
}
