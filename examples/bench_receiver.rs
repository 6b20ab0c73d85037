//! A minimal webhook receiver for benchmarks: answers `200` with an empty body to every request,
//! over HTTP/1.1 keep-alive, as cheaply as hyper allows.
//!
//! `cargo run --release --example bench_receiver [PORT]` prints `listening on 127.0.0.1:PORT`
//! (PORT 0, the default, picks a free port) and serves until it gets SIGTERM or Ctrl-C; then it
//! prints `received N`, the number of requests it answered, and exits 0.

use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

async fn answer(
    request: Request<Incoming>,
    received: Arc<AtomicU64>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    // Read the body so the connection can carry the next request.
    let _ = request.into_body().collect().await;
    received.fetch_add(1, Ordering::Relaxed);
    Ok(Response::new(Empty::new()))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let received = Arc::new(AtomicU64::new(0));
    let stop = stopped()?;
    tokio::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let received = received.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, received.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    println!("received {}", received.load(Ordering::Relaxed));
    std::io::stdout().flush()
}

/// Resolves on SIGTERM or Ctrl-C.
fn stopped() -> std::io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}
