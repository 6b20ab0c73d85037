//! A real HTTP receiver for delivery tests: listens on 127.0.0.1:0 in its own thread, records
//! every request (arrival time, path, headers, body) and answers as the test tells it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use pbxsim::event::{Event, Str, UserInbound, WebhookComponentEvent};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    /// The wall-clock moment it arrived.
    pub wall: std::time::SystemTime,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The status answered.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// How to answer request number `n` (0-based, in arrival order) with this body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub delay: Duration,
    pub retry_after: Option<&'static str>,
}

impl Reply {
    pub fn ok() -> Self {
        Reply { status: 200, delay: Duration::ZERO, retry_after: None }
    }
    pub fn status(status: u16) -> Self {
        Reply { status, ..Reply::ok() }
    }
}

type Behaviour = Arc<dyn Fn(u64, &HeaderMap, &Bytes) -> Reply + Send + Sync>;

struct Shared {
    log: Mutex<Vec<Received>>,
    count: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    behaviour: Behaviour,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    /// A receiver answering 200 to everything.
    pub fn ok() -> Self {
        Self::start(|_, _| Reply::ok())
    }

    pub fn start(behaviour: impl Fn(u64, &Bytes) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_with_headers(move |n, _, body| behaviour(n, body))
    }

    /// Like [`Receiver::start`], with the request's headers too.
    pub fn start_with_headers(
        behaviour: impl Fn(u64, &HeaderMap, &Bytes) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let shared = Arc::new(Shared {
            log: Mutex::new(Vec::new()),
            count: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            behaviour: Arc::new(behaviour),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (tx, rx) = std::sync::mpsc::channel();
        let state = shared.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().fallback(handle).with_state(state);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        Receiver { url: format!("http://{addr}"), shared, _stop: stop }
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn count(&self) -> u64 {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// The most requests that were being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}

/// Wait until `rx` has had `n` requests; two minutes at most (a guard against hanging, not a
/// timing assertion).
pub fn wait_for_requests(rx: &Receiver, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while rx.count() < n {
        assert!(Instant::now() < deadline, "the receiver got {} requests", rx.count());
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let wall = std::time::SystemTime::now();
    let n = shared.count.fetch_add(1, Ordering::SeqCst);
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let reply = (shared.behaviour)(n, &headers, &body);
    shared.log.lock().unwrap().push(Received {
        at,
        wall,
        path: uri.path_and_query().map_or("/".to_string(), |p| p.to_string()),
        headers,
        body,
        status: reply.status,
    });
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    let status = StatusCode::from_u16(reply.status).unwrap();
    match reply.retry_after {
        Some(v) => (status, [("retry-after", v)], "").into_response(),
        None => (status, "").into_response(),
    }
}

fn s(text: impl AsRef<str>) -> Str {
    Str::from(text.as_ref())
}

/// A `user_inbound` event of call `call`, carrying `seq` in `user_name` (`seq-N`).
pub fn inbound(call: u64, seq: u32) -> Event {
    Event::UserInbound(UserInbound {
        unique_call_id: s(format!("{}", 160_000_000_000u64 + call)),
        caller_id: s("61400000001"),
        caller_name: None,
        user_name: s(format!("seq-{seq}")),
        user_number: s("1010"),
        dest_number: s("61300000000"),
        call_start_at: s("2019-10-01T15:31:15.000Z"),
        queue_name: Some(s("Support")),
        ring_group_name: None,
    })
}

/// A `webhook_component_event` of call `call`.
pub fn component(call: u64) -> Event {
    Event::WebhookComponentEvent(WebhookComponentEvent {
        unique_call_id: s(format!("{}", 160_000_000_000u64 + call)),
        user_name: Some(s("Jane Citizen")),
        user_number: s("61400000001"),
        dest_number: s("61300000000"),
        call_start_at: s("2019-10-01T15:31:15.000Z"),
        component_name: s("CRM lookup"),
    })
}

/// (call, seq) of a body made by [`inbound`].
pub fn call_and_seq(body: &serde_json::Value) -> (u64, u32) {
    let call = body["unique_call_id"].as_str().unwrap().parse::<u64>().unwrap() - 160_000_000_000;
    let seq = body["user_name"].as_str().unwrap().trim_start_matches("seq-").parse().unwrap();
    (call, seq)
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A self-signed certificate for 127.0.0.1 and its key, made for these tests only (they protect
/// nothing): `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes
/// -days 36500 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost`.
const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUIGwM7M5lwKVZ7eedi1GRvu7SFDYwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyOTIyMjQxOFoYDzIxMjYxMTA1
MjIyNDE4WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASLwJHXGe1h+4+OQtWs/xlSQtpHmGgBeQh26KXKGGVDos/8kvXwx53c
euSjk6v4NLc4MOwI4HiQvQOL4LpoLAsBo28wbTAdBgNVHQ4EFgQU4aAMScZeT7xF
wQO6yy9nBxp7VtowHwYDVR0jBBgwFoAU4aAMScZeT7xFwQO6yy9nBxp7VtowDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI
zj0EAwIDSAAwRQIgduEQU38WGg+lY9y4SSfUh7bEmPb4pGwv1ef7wX1oSjMCIQC/
zFxmSyO6Qy3CdbirRMj3UqBbATNBVWTJTpz0wBNXiA==
-----END CERTIFICATE-----
";
const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnIDe+OtOpjOTZnY3
NR+82IorWMgeixU+OsBDy1uKkRKhRANCAASLwJHXGe1h+4+OQtWs/xlSQtpHmGgB
eQh26KXKGGVDos/8kvXwx53ceuSjk6v4NLc4MOwI4HiQvQOL4LpoLAsB
-----END PRIVATE KEY-----
";

/// An HTTPS receiver with a self-signed certificate (rustls, blocking, a thread per
/// connection) that answers 200 to every request and counts them.
pub struct TlsReceiver {
    pub url: String,
    count: Arc<AtomicU64>,
}

impl TlsReceiver {
    pub fn start() -> Self {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certs = vec![CertificateDer::from_pem_slice(TEST_CERT.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(TEST_KEY.as_bytes()).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicU64::new(0));
        let counter = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (config, counter) = (config.clone(), counter.clone());
                std::thread::spawn(move || serve_tls(stream, config, counter));
            }
        });
        TlsReceiver { url, count }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }
}

fn serve_tls(
    stream: std::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
    count: Arc<AtomicU64>,
) -> Option<()> {
    use std::io::{BufRead, Read, Write};
    let conn = rustls::ServerConnection::new(config).ok()?;
    let mut reader = std::io::BufReader::new(rustls::StreamOwned::new(conn, stream));
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let mut length = 0usize;
        loop {
            line.clear();
            reader.read_line(&mut line).ok()?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().ok()?;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        count.fetch_add(1, Ordering::SeqCst);
        let out = reader.get_mut();
        out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").ok()?;
        out.flush().ok()?;
    }
}
