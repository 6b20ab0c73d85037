//! A minimal webhook receiver for benchmarks: answers `200` with an empty body to every request,
//! over HTTP/1.1 keep-alive, as cheaply as hyper allows.
//!
//! `cargo run --release --example bench_receiver [PORT]` prints `listening on 127.0.0.1:PORT`
//! (PORT 0, the default, picks a free port) and serves until killed.

use std::convert::Infallible;
use std::io::Write;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

async fn answer(request: Request<Incoming>) -> Result<Response<Empty<Bytes>>, Infallible> {
    // Read the body so the connection can carry the next request.
    let _ = request.into_body().collect().await;
    Ok(Response::new(Empty::new()))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}
