//! The HTTP path. Plain `http://` goes through [`super::http1`]: each worker owns one keep-alive
//! connection per endpoint and at most one request in flight, so there is no pool, no lock and
//! no per-request header formatting. `https://` goes through one shared
//! reqwest client (rustls with the ring provider), where convenience matters more than speed.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use hyper::HeaderMap;
use hyper::header::RETRY_AFTER;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::DeliverError;
use super::endpoint::Prepared;
use super::http1::Conn;
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

/// A kept-alive connection idle for longer than this is not reused: servers close idle
/// connections on their own schedule (Node.js after 5 s, pbxsim's listener after 30 s), and a
/// request written just as the server closes its end is lost with the connection.
pub(crate) const IDLE_REUSE_LIMIT: Duration = Duration::from_secs(4);

/// One worker's connections: at most one per endpoint, with when each was last used.
pub(crate) struct Client {
    conns: Vec<Option<Conn>>,
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

    /// POST `body` to endpoint `index` at `now`; the answer's body is read to the end.
    pub async fn send(
        &mut self,
        index: usize,
        ep: &Prepared,
        body: Bytes,
        now: Instant,
    ) -> Result<Answer, Failure> {
        if ep.https {
            return self.send_tls(ep, body).await;
        }
        // A kept-alive connection is reused while it is fresh and the receiver has not closed
        // it meanwhile; otherwise a new one is opened before the request is written.
        let fresh = now.saturating_duration_since(self.used[index]) < IDLE_REUSE_LIMIT;
        let mut reused = fresh && self.conns[index].as_mut().is_some_and(Conn::is_idle);
        loop {
            if !reused {
                self.conns[index] = None;
                self.conns[index] = Some(connect(ep).await?);
            }
            let Some(conn) = self.conns[index].as_mut() else { unreachable!("just set") };
            match conn.exchange(&ep.head, &body).await {
                Ok(answer) => {
                    if !answer.keep_alive {
                        self.conns[index] = None;
                    }
                    self.used[index] = now;
                    let retry_after = answer.retry_after.and_then(|v| retry_after(&v));
                    return Ok(Answer { status: answer.status, retry_after });
                }
                // The receiver closed the kept-alive connection just before the request went
                // out (it had not said it would): send it once more on a new connection,
                // without counting an attempt, as hyper did for a request it had not sent.
                Err(e) if reused && conn.went_stale(&e) => reused = false,
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
                let retry_after = retry_after_header(status, response.headers());
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

/// `Retry-After` of a non-2xx answer.
fn retry_after_header(status: u16, headers: &HeaderMap) -> Option<Duration> {
    if (200..300).contains(&status) {
        return None;
    }
    retry_after(headers.get(RETRY_AFTER)?.to_str().ok()?)
}

fn retry_after(value: &str) -> Option<Duration> {
    parse_retry_after(value, chrono::Utc::now())
}

async fn connect(ep: &Prepared) -> Result<Conn, Failure> {
    let stream =
        TcpStream::connect((ep.host.as_str(), ep.port)).await.map_err(|e| Failure::connect(&e))?;
    let _ = stream.set_nodelay(true);
    Ok(Conn::new(stream))
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
