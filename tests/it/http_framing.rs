//! The real binary against receivers that answer in every way HTTP/1.1 allows: chunked bodies,
//! interim `100 Continue`, `Connection: close`, HTTP/1.0 bodies that end when the connection
//! does, and a receiver that closes after each answer without saying so. Each is a raw TCP
//! server on 127.0.0.1:0 that counts the requests it read whole; every event must arrive exactly
//! once and be counted as delivered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{self, pbxsim_async};

/// How the receiver answers each request, and whether it closes the connection afterwards.
#[derive(Clone, Copy, Debug)]
enum Style {
    Chunked,
    Continue,
    ConnectionClose,
    Http10,
    SilentClose,
}

impl Style {
    fn answer(self) -> (&'static [u8], bool) {
        match self {
            Style::Chunked => (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n4\r\n, go\r\n0\r\n\r\n",
                false,
            ),
            Style::Continue => (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", false),
            Style::ConnectionClose => {
                (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", true)
            }
            Style::Http10 => (b"HTTP/1.0 200 OK\r\n\r\nok", true),
            Style::SilentClose => (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
        }
    }
}

/// Serve `style` on 127.0.0.1:0; returns the URL and the count of requests read whole.
async fn receiver(style: Style) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            tokio::spawn(serve(socket, style, counted.clone()));
        }
    });
    (url, count)
}

async fn serve(mut socket: TcpStream, style: Style, count: Arc<AtomicU64>) {
    let (answer, close) = style.answer();
    let mut buf = Vec::new();
    loop {
        // A whole request: its head, then Content-Length bytes of body.
        let (head_len, body_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            if let Ok(httparse::Status::Complete(len)) = request.parse(&buf) {
                let length = request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok())
                    .expect("pbxsim sends Content-Length");
                break (len, length);
            }
            if !read_more(&mut socket, &mut buf).await {
                return;
            }
        };
        while buf.len() < head_len + body_len {
            if !read_more(&mut socket, &mut buf).await {
                return;
            }
        }
        buf.drain(..head_len + body_len);
        count.fetch_add(1, Ordering::SeqCst);
        if socket.write_all(answer).await.is_err() {
            return;
        }
        if close {
            return;
        }
    }
}

async fn read_more(socket: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    match socket.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_once_whatever_framing_the_receiver_answers_with() {
    for style in
        [Style::Chunked, Style::Continue, Style::ConnectionClose, Style::Http10, Style::SilentClose]
    {
        let (url, received) = receiver(style).await;
        let report = support::temp("http-framing", &format!("{style:?}.json"));
        let args = support::args(&[
            "load",
            "--target",
            &url,
            "--token",
            "t",
            "--asap",
            "--max-calls",
            "150",
            "--concurrency",
            "8",
            "--retries",
            "0",
            "-q",
            "--report",
            report.to_str().unwrap(),
        ]);
        let out = pbxsim_async(args, vec![]).await;
        assert_eq!(out.code, Some(0), "{style:?}: {}{}", out.stdout, out.stderr);
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let events = &r["events"];
        let delivered = events["delivered"].as_u64().unwrap();
        assert!(delivered > 300, "{style:?}: {events}");
        assert_eq!(events["failed"].as_u64(), Some(0), "{style:?}: {}", out.stdout);
        assert_eq!(received.load(Ordering::SeqCst), delivered, "{style:?}: {events}");
    }
}
