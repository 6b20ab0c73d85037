//! One kept-alive HTTP/1.1 connection that carries one POST at a time: the request is written
//! with one `writev` (the endpoint's head, built once, and the body), the answer's head is
//! parsed with `httparse` (hyper's parser), and its body is read to its end (`Content-Length`,
//! chunked, or until the receiver closes) and dropped. One task drives it: no connection task,
//! no channel between the two, no per-request header map. That is what a load generator's
//! requests cost at full speed (see docs/benchmarks.md).

use std::io::{self, IoSlice, Write};
use std::mem::MaybeUninit;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Answers' heads longer than this are refused (hyper's default limit is about as large).
const MAX_HEAD: usize = 64 * 1024;
/// Headers of an answer at most (hyper's default is 100).
const MAX_HEADERS: usize = 100;
/// How much is read at a time.
const READ_CHUNK: usize = 8 * 1024;

/// A receiver's answer, as far as delivery cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: u16,
    /// The `Retry-After` value, kept only for non-2xx answers.
    pub retry_after: Option<String>,
    /// Whether the connection can carry the next request.
    pub keep_alive: bool,
}

/// Why an exchange failed; the connection is then unusable.
#[derive(Debug)]
pub(crate) enum Error {
    /// A socket error while writing or reading.
    Io(io::Error),
    /// The receiver closed the connection before its answer was complete.
    Closed { answered: bool },
    /// The answer is not HTTP/1.x as we can read it.
    Invalid(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Closed { answered: false } => {
                f.write_str("the receiver closed the connection without answering")
            }
            Error::Closed { answered: true } => {
                f.write_str("the receiver closed the connection in the middle of its answer")
            }
            Error::Invalid(why) => write!(f, "invalid HTTP answer: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// A connection and its buffers, reused from one request to the next.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    /// The request head's last line (`content-length: N`) and the blank line.
    tail: Vec<u8>,
    /// What was read and not yet consumed (`read[pos..]`).
    read: Vec<u8>,
    pos: usize,
    /// Whether any byte of the current exchange's answer has come.
    answered: bool,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Self {
        let read = Vec::with_capacity(READ_CHUNK);
        Self { stream, tail: Vec::with_capacity(32), read, pos: 0, answered: false }
    }

    /// Whether the connection looks usable for another request: the receiver has not closed
    /// it nor sent anything unasked. Costs no system call while the socket has nothing to read.
    pub fn is_idle(&mut self) -> bool {
        if self.pos < self.read.len() {
            return false;
        }
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// After a failed exchange: whether it failed as a connection the receiver had already
    /// closed fails (reset, or closed with no byte of an answer), so that the request can be
    /// written again on a new connection.
    pub fn went_stale(&self, e: &Error) -> bool {
        use io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
        !self.answered
            && match e {
                Error::Closed { .. } => true,
                Error::Io(e) => {
                    matches!(e.kind(), BrokenPipe | ConnectionAborted | ConnectionReset)
                }
                Error::Invalid(_) => false,
            }
    }

    /// POST `body` after `head` (the request line and headers, up to `content-length: `), and
    /// read the answer to its end.
    pub async fn exchange(&mut self, head: &[u8], body: &[u8]) -> Result<Response, Error> {
        self.tail.clear();
        let _ = write!(self.tail, "{}\r\n\r\n", body.len());
        write_parts(&mut self.stream, [head, &self.tail, body]).await?;
        self.read.clear();
        self.pos = 0;
        self.answered = false;
        let (response, framing) = self.read_head().await?;
        let keep = self.skip_body(framing).await.map_err(|e| match e {
            Error::Closed { .. } => Error::Closed { answered: true },
            e => e,
        })?;
        Ok(Response { keep_alive: response.keep_alive && keep, ..response })
    }

    /// Read more; the receiver closing the connection is an error.
    async fn fill(&mut self) -> Result<(), Error> {
        if self.pos > 0 && self.pos == self.read.len() {
            self.read.clear();
            self.pos = 0;
        }
        if self.read.capacity() - self.read.len() < READ_CHUNK / 2 {
            self.read.reserve(READ_CHUNK);
        }
        match self.stream.read_buf(&mut self.read).await? {
            0 => Err(Error::Closed { answered: self.answered }),
            _ => {
                self.answered = true;
                Ok(())
            }
        }
    }

    /// Read up to the end of the final answer's head (skipping `1xx` interim answers).
    async fn read_head(&mut self) -> Result<(Response, Framing), Error> {
        loop {
            // Left uninitialised: filling 100 empty headers before every answer would cost more
            // than parsing the few an answer has.
            let mut headers = [const { MaybeUninit::uninit() }; MAX_HEADERS];
            let mut parsed = httparse::Response::new(&mut []);
            let status = httparse::ParserConfig::default()
                .parse_response_with_uninit_headers(
                    &mut parsed,
                    &self.read[self.pos..],
                    &mut headers,
                )
                .map_err(|e| Error::Invalid(e.to_string()))?;
            let httparse::Status::Complete(len) = status else {
                if self.read.len() - self.pos > MAX_HEAD {
                    return Err(Error::Invalid(format!("a head longer than {MAX_HEAD} bytes")));
                }
                self.fill().await?;
                continue;
            };
            let code = parsed.code.unwrap_or_default();
            let answer = Head::of(&parsed, code)?;
            self.pos += len;
            match code {
                101 => return Err(Error::Invalid("101 Switching Protocols, unasked".into())),
                100..=199 => continue,
                _ => {}
            }
            let framing = answer.framing;
            let retry_after = (!(200..300).contains(&code)).then_some(answer.retry_after).flatten();
            return Ok((
                Response { status: code, retry_after, keep_alive: answer.keep_alive },
                framing,
            ));
        }
    }

    /// Read the body to its end and drop it; returns whether the connection can be reused.
    async fn skip_body(&mut self, framing: Framing) -> Result<bool, Error> {
        match framing {
            Framing::Length(length) => {
                self.skip(length).await?;
                Ok(self.pos == self.read.len())
            }
            Framing::Chunked => {
                self.skip_chunks().await?;
                Ok(self.pos == self.read.len())
            }
            Framing::UntilClose => loop {
                self.pos = self.read.len();
                match self.fill().await {
                    Ok(()) => {}
                    Err(Error::Closed { .. }) => return Ok(false),
                    Err(e) => return Err(e),
                }
            },
        }
    }

    async fn skip_chunks(&mut self) -> Result<(), Error> {
        loop {
            let size = match httparse::parse_chunk_size(&self.read[self.pos..]) {
                Ok(httparse::Status::Complete((len, size))) => {
                    self.pos += len;
                    size
                }
                Ok(httparse::Status::Partial) => {
                    self.fill().await?;
                    continue;
                }
                Err(_) => return Err(Error::Invalid("a bad chunk size".into())),
            };
            if size == 0 {
                return self.skip_trailers().await;
            }
            // The chunk's data and its CRLF.
            self.skip(size + 2).await?;
        }
    }

    /// Consume `n` bytes of the answer, reading as needed.
    async fn skip(&mut self, mut n: u64) -> Result<(), Error> {
        loop {
            let take = ((self.read.len() - self.pos) as u64).min(n);
            self.pos += take as usize;
            n -= take;
            if n == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    /// After the last chunk: trailer lines, if any, up to a blank line.
    async fn skip_trailers(&mut self) -> Result<(), Error> {
        loop {
            let rest = &self.read[self.pos..];
            if rest.starts_with(b"\r\n") {
                self.pos += 2;
                return Ok(());
            }
            if let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
                self.pos += end + 4;
                return Ok(());
            }
            if rest.len() > MAX_HEAD {
                return Err(Error::Invalid(format!("trailers longer than {MAX_HEAD} bytes")));
            }
            self.fill().await?;
        }
    }
}

/// Write all of `parts`, in one `writev` when the socket takes it at once.
async fn write_parts(stream: &mut TcpStream, parts: [&[u8]; 3]) -> Result<(), Error> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let slices = parts.map(IoSlice::new);
    let mut written = stream.write_vectored(&slices).await?;
    if written == total {
        return Ok(());
    }
    for part in parts {
        if written >= part.len() {
            written -= part.len();
            continue;
        }
        stream.write_all(&part[written..]).await?;
        written = 0;
    }
    Ok(())
}

/// How an answer's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// What delivery reads from an answer's headers.
struct Head {
    framing: Framing,
    keep_alive: bool,
    retry_after: Option<String>,
}

impl Head {
    /// The head of an answer with status `code`.
    fn of(parsed: &httparse::Response<'_, '_>, code: u16) -> Result<Self, Error> {
        let http10 = parsed.version == Some(0);
        let mut keep_alive = !http10;
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut retry_after = None;
        for h in parsed.headers.iter() {
            let name = h.name;
            if name.eq_ignore_ascii_case("content-length") {
                let value = std::str::from_utf8(h.value).ok().map(str::trim);
                let n = value.and_then(|v| v.parse::<u64>().ok());
                let n = n.ok_or_else(|| Error::Invalid("a bad Content-Length".into()))?;
                if length.is_some_and(|l| l != n) {
                    return Err(Error::Invalid("two different Content-Length values".into()));
                }
                length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                // Chunked is the last coding when it is there at all.
                let last = h.value.rsplit(|b| *b == b',').next().unwrap_or_default();
                chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                for token in h.value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                    if token.eq_ignore_ascii_case(b"close") {
                        keep_alive = false;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") && http10 {
                        keep_alive = true;
                    }
                }
            } else if name.eq_ignore_ascii_case("retry-after") {
                retry_after = std::str::from_utf8(h.value).ok().map(|v| v.trim().to_string());
            }
        }
        let framing = match (chunked, length) {
            // No body, whatever the headers say (RFC 9112, 6.3).
            _ if matches!(code, 100..=199 | 204 | 304) => Framing::Length(0),
            (true, _) => Framing::Chunked,
            (false, Some(n)) => Framing::Length(n),
            (false, None) => Framing::UntilClose,
        };
        if framing == Framing::UntilClose {
            keep_alive = false;
        }
        Ok(Self { framing, keep_alive, retry_after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    const HEAD: &[u8] = b"POST /hook HTTP/1.1\r\nhost: x\r\ncontent-length: ";

    /// A server on loopback that reads one request (head and `body_len` bytes of body), then
    /// writes `answer` in pieces of `piece` bytes and, when `close`, closes. Returns the request.
    async fn serve(
        answers: Vec<&'static [u8]>,
        piece: usize,
        close: bool,
    ) -> (TcpStream, tokio::task::JoinHandle<Vec<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut requests = Vec::new();
            for answer in answers {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // The test requests are small: one head, a 2-byte body.
                while !request.ends_with(b"{}") {
                    let n = socket.read(&mut buf).await.unwrap();
                    assert!(n > 0, "the client closed early");
                    request.extend_from_slice(&buf[..n]);
                }
                requests.push(request);
                for part in answer.chunks(piece) {
                    socket.write_all(part).await.unwrap();
                    socket.flush().await.unwrap();
                    tokio::task::yield_now().await;
                }
            }
            if close {
                drop(socket);
            } else {
                // Keep the connection open until the client is done.
                let mut buf = [0u8; 64];
                let _ = socket.read(&mut buf).await;
            }
            requests
        });
        (TcpStream::connect(addr).await.unwrap(), server)
    }

    async fn one(answer: &'static [u8], piece: usize) -> (Result<Response, Error>, Conn) {
        let (stream, _server) = serve(vec![answer], piece, false).await;
        let mut conn = Conn::new(stream);
        (conn.exchange(HEAD, b"{}").await, conn)
    }

    fn ok(status: u16, keep_alive: bool) -> Response {
        Response { status, retry_after: None, keep_alive }
    }

    #[tokio::test]
    async fn the_request_is_the_head_its_length_and_the_body() {
        let (stream, server) =
            serve(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"], 64, true).await;
        let mut conn = Conn::new(stream);
        assert_eq!(conn.exchange(HEAD, b"{}").await.unwrap(), ok(200, true));
        let requests = server.await.unwrap();
        assert_eq!(
            requests,
            vec![b"POST /hook HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}".to_vec()]
        );
    }

    #[tokio::test]
    async fn bodies_are_read_to_their_end_however_they_are_framed_and_cut() {
        let cases: [(&[u8], Response); 7] = [
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", ok(200, true)),
            (
                b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n\r\n",
                ok(202, true),
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n",
                ok(200, true),
            ),
            (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", ok(204, true)),
            (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", ok(200, false)),
            (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", ok(200, false)),
            (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", ok(200, true)),
        ];
        for (answer, want) in cases {
            for piece in [1, 7, 4096] {
                let (got, mut conn) = one(answer, piece).await;
                let text = String::from_utf8_lossy(answer);
                assert_eq!(got.unwrap(), want, "{text} in pieces of {piece}");
                // Nothing of the answer is left over: the connection is ready for the next.
                assert_eq!(conn.pos, conn.read.len(), "{text}");
                if want.keep_alive {
                    assert!(conn.is_idle(), "{text}");
                }
            }
        }
    }

    #[tokio::test]
    async fn large_bodies_are_read_through_without_keeping_them() {
        let big = "x".repeat(3 * READ_CHUNK + 5);
        let plain = format!("HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n{big}", big.len());
        let chunked = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
            big.len()
        );
        for (answer, status) in [(plain, 404), (chunked, 200)] {
            let answer: &'static [u8] = Box::leak(answer.into_bytes().into_boxed_slice());
            for piece in [1000, 65536] {
                let (got, mut conn) = one(answer, piece).await;
                assert_eq!(got.unwrap(), ok(status, true), "{status} in pieces of {piece}");
                assert!(conn.read.capacity() < 4 * READ_CHUNK, "{}", conn.read.capacity());
                assert!(conn.is_idle());
            }
        }
    }

    #[tokio::test]
    async fn an_answer_without_a_length_ends_when_the_receiver_closes() {
        let (stream, _server) = serve(vec![b"HTTP/1.1 200 OK\r\n\r\nall of it"], 3, true).await;
        let mut conn = Conn::new(stream);
        assert_eq!(conn.exchange(HEAD, b"{}").await.unwrap(), ok(200, false));
    }

    #[tokio::test]
    async fn retry_after_is_kept_for_failures_only() {
        let (got, _) =
            one(b"HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n", 64).await;
        assert_eq!(got.unwrap(), Response { retry_after: Some("7".into()), ..ok(503, true) });
        let (got, _) =
            one(b"HTTP/1.1 200 OK\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n", 64).await;
        assert_eq!(got.unwrap(), ok(200, true));
    }

    #[tokio::test]
    async fn broken_answers_are_errors_that_say_what_was_wrong() {
        let cases: [(&[u8], &str); 5] = [
            (b"", "closed the connection without answering"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "in the middle of its answer"),
            (b"SMTP ready\r\n\r\n", "invalid HTTP answer"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "a bad Content-Length"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "a bad chunk size"),
        ];
        for (answer, want) in cases {
            let (stream, _server) = serve(vec![answer], 64, true).await;
            let mut conn = Conn::new(stream);
            let got = conn.exchange(HEAD, b"{}").await.unwrap_err().to_string();
            assert!(got.contains(want), "{}: {got}", String::from_utf8_lossy(answer));
        }
    }

    #[tokio::test]
    async fn a_kept_alive_connection_carries_the_next_request_until_the_receiver_closes_it() {
        let answer: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let (stream, server) = serve(vec![answer, answer], 64, true).await;
        let mut conn = Conn::new(stream);
        for _ in 0..2 {
            assert!(conn.is_idle());
            assert_eq!(conn.exchange(HEAD, b"{}").await.unwrap(), ok(200, true));
        }
        assert_eq!(server.await.unwrap().len(), 2);
        // The receiver closed its end: the connection is not reused...
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!conn.is_idle());
        // ...and a request written on it all the same fails as stale: it can go again.
        let stale = conn.exchange(HEAD, b"{}").await.unwrap_err();
        assert!(conn.went_stale(&stale), "{stale}");
    }

    #[tokio::test]
    async fn a_receiver_that_closes_mid_answer_did_not_leave_the_connection_stale() {
        let (stream, _server) =
            serve(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nok"], 64, true).await;
        let mut conn = Conn::new(stream);
        let e = conn.exchange(HEAD, b"{}").await.unwrap_err();
        assert!(!conn.went_stale(&e), "{e}");
    }
}
