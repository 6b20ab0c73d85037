//! The HTTP path. Plain `http://` goes through hyper's low-level HTTP/1 client: each worker owns
//! one keep-alive connection per endpoint and at most one request in flight, so there is no
//! pool, no lock and no per-request header formatting. `https://` goes through one shared
//! reqwest client (rustls with the ring provider), where convenience matters more than speed.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::RETRY_AFTER;
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::DeliverError;
use super::endpoint::Prepared;
use super::retry::parse_retry_after;
use super::summary::Outcome;
use crate::tls::init_tls;

/// A client for a few one-off requests (`trigger`), HTTP or HTTPS.
pub fn one_off_client(insecure: bool) -> Result<reqwest::Client, DeliverError> {
    tls_client(insecure, 1)
}

/// The shared HTTPS client. `insecure` accepts self-signed and otherwise invalid certificates.
pub(crate) fn tls_client(insecure: bool, pool: usize) -> Result<reqwest::Client, DeliverError> {
    init_tls();
    reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(insecure)
        .pool_max_idle_per_host(pool)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| DeliverError::Tls(chain(&e)))
}

/// A receiver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: u16,
    /// `Retry-After`, read only on non-2xx answers.
    pub retry_after: Option<Duration>,
}

/// A failed attempt without an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub outcome: Outcome,
    pub detail: String,
}

impl Failure {
    fn connect(e: &dyn StdError) -> Self {
        Self { outcome: Outcome::Connect, detail: chain(e) }
    }
    fn broken(e: &dyn StdError) -> Self {
        Self { outcome: Outcome::Broken, detail: chain(e) }
    }
}

/// An error and its sources, `outer: inner: root`, without repeats; URLs in it (reqwest quotes
/// the request's) have their secrets masked.
pub(crate) fn chain(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    crate::secret::redact_urls_in(&text)
}

type Sender = SendRequest<Full<Bytes>>;

/// A kept-alive connection idle for longer than this is not reused: servers close idle
/// connections on their own schedule (Node.js after 5 s, pbxsim's listener after 30 s), and a
/// request written just as the server closes its end is lost with the connection.
pub(crate) const IDLE_REUSE_LIMIT: Duration = Duration::from_secs(4);

/// One worker's connections: at most one per endpoint, with when each was last used.
pub(crate) struct Client {
    conns: Vec<Option<Sender>>,
    used: Vec<Instant>,
    tls: Option<reqwest::Client>,
}

impl Client {
    pub fn new(endpoints: usize, tls: Option<reqwest::Client>) -> Self {
        let now = Instant::now();
        Self { conns: (0..endpoints).map(|_| None).collect(), used: vec![now; endpoints], tls }
    }

    /// Forget endpoint `index`'s connection, e.g. after a timeout left a request on it: the next
    /// attempt opens a fresh one rather than wait behind the abandoned exchange.
    pub fn discard(&mut self, index: usize) {
        if let Some(conn) = self.conns.get_mut(index) {
            *conn = None;
        }
    }

    /// POST `body` to endpoint `index`; the answer's body is read to the end.
    pub async fn send(
        &mut self,
        index: usize,
        ep: &Prepared,
        body: Bytes,
    ) -> Result<Answer, Failure> {
        if ep.https {
            return self.send_tls(ep, body).await;
        }
        // A kept-alive connection the receiver closed meanwhile is replaced once, without
        // counting an attempt, when the request provably never left.
        let fresh = self.used[index].elapsed() < IDLE_REUSE_LIMIT;
        let mut reused = fresh && matches!(&self.conns[index], Some(s) if !s.is_closed());
        loop {
            if !reused {
                self.conns[index] = None;
                self.conns[index] = Some(connect(ep).await?);
            }
            let Some(sender) = self.conns[index].as_mut() else { unreachable!("just set") };
            if let Err(e) = sender.ready().await {
                if reused {
                    reused = false;
                    continue;
                }
                self.conns[index] = None;
                return Err(Failure::broken(&e));
            }
            let mut request = Request::new(Full::new(body.clone()));
            *request.method_mut() = Method::POST;
            *request.uri_mut() = ep.path.clone();
            *request.headers_mut() = ep.headers.clone();
            match sender.send_request(request).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = retry_after(status, response.headers());
                    let mut body = response.into_body();
                    while let Some(frame) = body.frame().await {
                        if let Err(e) = frame {
                            self.conns[index] = None;
                            return Err(Failure::broken(&e));
                        }
                    }
                    self.used[index] = Instant::now();
                    return Ok(Answer { status, retry_after });
                }
                Err(e) if reused && e.is_canceled() => reused = false,
                Err(e) => {
                    self.conns[index] = None;
                    return Err(Failure::broken(&e));
                }
            }
        }
    }

    async fn send_tls(&self, ep: &Prepared, body: Bytes) -> Result<Answer, Failure> {
        let (Some(client), Some(url)) = (&self.tls, &ep.tls_url) else {
            unreachable!("https endpoints get a TLS client")
        };
        let result = client.post(url.clone()).headers(ep.headers.clone()).body(body).send().await;
        match result {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = retry_after(status, response.headers());
                response.bytes().await.map_err(|e| Failure::broken(&e))?;
                Ok(Answer { status, retry_after })
            }
            Err(e) if e.is_connect() => Err(Failure::connect(&e)),
            Err(e) if e.is_timeout() => {
                Err(Failure { outcome: Outcome::Timeout, detail: chain(&e) })
            }
            Err(e) => Err(Failure::broken(&e)),
        }
    }
}

fn retry_after(status: u16, headers: &HeaderMap) -> Option<Duration> {
    if (200..300).contains(&status) {
        return None;
    }
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, chrono::Utc::now())
}

async fn connect(ep: &Prepared) -> Result<Sender, Failure> {
    let stream =
        TcpStream::connect((ep.host.as_str(), ep.port)).await.map_err(|e| Failure::connect(&e))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Failure::connect(&e))?;
    tokio::spawn(async move {
        // The connection ends when the worker drops its sender or the receiver closes it;
        // errors surface on the request side.
        let _ = connection.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_client_builds_without_panicking() {
        assert!(tls_client(false, 4).is_ok());
        assert!(tls_client(true, 4).is_ok());
        init_tls();
    }
}
