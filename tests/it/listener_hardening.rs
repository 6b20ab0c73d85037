//! The built-in receiver under slow and hostile clients, served in-process on 127.0.0.1:0 (the
//! same server as `pbxsim listen`): slow clients are dropped after the timeouts, the
//! connection cap holds, and good requests are served throughout.

use std::net::SocketAddr;
use std::time::Duration;

use pbxsim::receiver::{self, Output, ReceiverConfig, RunningReceiver};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "hardening-token";

async fn listener(cfg: ReceiverConfig) -> RunningReceiver {
    let cfg = ReceiverConfig { token: Some(TOKEN.into()), output: Output::sink(), ..cfg };
    receiver::start("127.0.0.1:0".parse().unwrap(), cfg).await.unwrap()
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap()
}

fn event(call: u64) -> serde_json::Value {
    json!({
        "type": "user_inbound", "unique_call_id": call.to_string(), "caller_id": "61400000001",
        "caller_name": null, "user_name": "Alice", "user_number": "1010",
        "dest_number": "61300000000", "call_start_at": "2019-10-01T15:31:15.000Z",
        "queue_name": null, "ring_group_name": null,
    })
}

async fn good(http: &reqwest::Client, url: &str, call: u64) -> u16 {
    let sent = http.post(url).header("X-Pbx-Token", TOKEN).json(&event(call)).send();
    // A generous guard so a broken server fails the test instead of hanging it.
    let response = tokio::time::timeout(Duration::from_secs(30), sent)
        .await
        .expect("a good request is answered while slow clients hang")
        .unwrap();
    response.status().as_u16()
}

/// Wait (with a generous guard) until the server closes `stream`; what it sent before.
async fn closed_by_server(mut stream: TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the server drops a slow client after its timeout");
    String::from_utf8_lossy(&got).into_owned()
}

/// Open a connection and send the start of a request head, never finishing it.
async fn slow_head(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /hook HTTP/1.1\r\nhost: x\r\nx-slow: a").await.unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_dropped_and_good_requests_are_served_meanwhile() {
    let rx = listener(ReceiverConfig {
        header_timeout: Duration::from_millis(800),
        ..ReceiverConfig::default()
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..200 {
        slow.push(slow_head(rx.addr).await);
    }
    // Trickle a byte on some of them: it does not extend the deadline.
    for s in slow.iter_mut().take(50) {
        let _ = s.write_all(b"b").await;
    }
    let http = client();
    for call in 0..5 {
        assert_eq!(good(&http, &rx.url(), call).await, 200);
    }
    for s in slow {
        let got = closed_by_server(s).await;
        assert!(!got.contains("200"), "{got}");
    }
    assert_eq!(good(&http, &rx.url(), 99).await, 200);
    let stats = rx.shutdown().await;
    assert_eq!(stats.check.events, 6, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_gets_408_and_the_connection_closes() {
    let rx = listener(ReceiverConfig {
        body_timeout: Duration::from_millis(500),
        ..ReceiverConfig::default()
    })
    .await;
    let mut s = TcpStream::connect(rx.addr).await.unwrap();
    let head = format!(
        "POST /hook HTTP/1.1\r\nhost: x\r\nx-pbx-token: {TOKEN}\r\ncontent-length: 1000\r\n\r\n{{\"type\""
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let http = client();
    assert_eq!(good(&http, &rx.url(), 1).await, 200);
    let got = closed_by_server(s).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.to_ascii_lowercase().contains("connection: close"), "{got}");
    let stats = rx.shutdown().await;
    assert_eq!(stats.code(408), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_requests_does_not_stop_good_ones() {
    let rx = listener(ReceiverConfig::default()).await;
    let url = rx.url();
    let http = client();
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..400u32 {
        let (http, url) = (http.clone(), url.clone());
        flood.spawn(async move {
            let request = match i % 4 {
                0 => http.post(&url).header("X-Pbx-Token", "wrong").body("{}"),
                1 => http.post(&url).header("X-Pbx-Token", TOKEN).body("{not json"),
                2 => http.get(&url),
                _ => http.post(&url).header("X-Pbx-Token", TOKEN).body(vec![b'['; 2 << 20]),
            };
            request.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
        });
    }
    let mut served = 0;
    for call in 0..20 {
        if good(&http, &url, call).await == 200 {
            served += 1;
        }
    }
    let mut codes = std::collections::BTreeMap::new();
    while let Some(code) = flood.join_next().await {
        *codes.entry(code.unwrap()).or_insert(0) += 1;
    }
    assert_eq!(served, 20);
    // Refused, every one of them, with 4xx (or the connection closed on an oversized body).
    assert!(codes.keys().all(|c| (400..500).contains(c) || *c == 0), "{codes:?}");
    assert_eq!(codes.get(&401), Some(&100), "{codes:?}");
    assert_eq!(codes.get(&405), Some(&100), "{codes:?}");
    let stats = rx.shutdown().await;
    assert_eq!(stats.check.events, 20, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_holds_and_frees_up_as_slow_clients_time_out() {
    let rx = listener(ReceiverConfig {
        max_connections: 4,
        header_timeout: Duration::from_millis(500),
        ..ReceiverConfig::default()
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..4 {
        slow.push(slow_head(rx.addr).await);
    }
    // The four slots are taken: this one waits in the backlog until they time out, and is
    // then served.
    let http = client();
    assert_eq!(good(&http, &rx.url(), 1).await, 200);
    for s in slow {
        closed_by_server(s).await;
    }
    rx.shutdown().await;
}
