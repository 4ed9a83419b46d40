//! An upstream that speaks HTTP/2 with prior knowledge only (h2c, as gRPC servers
//! do): an HTTP/1 request fails its handshake, so an answer from it proves the
//! request came over HTTP/2. It answers every request with the HTTP version it
//! saw, the path and the headers, as JSON.

use bytes::Bytes;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A running h2c upstream.
pub struct H2c {
    /// Where it listens.
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl H2c {
    /// Requests it has answered.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Starts it on a free loopback port (on the current tokio runtime).
pub async fn start() -> H2c {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind h2c");
    let addr = listener.local_addr().expect("h2c addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, counter.clone()));
        }
    });
    H2c { addr, hits }
}

async fn serve(socket: tokio::net::TcpStream, hits: Arc<AtomicUsize>) {
    // Not HTTP/2: the handshake fails and the connection is dropped.
    let Ok(mut conn) = h2::server::handshake(socket).await else {
        return;
    };
    while let Some(Ok((req, mut respond))) = conn.accept().await {
        hits.fetch_add(1, Ordering::SeqCst);
        let headers: Vec<[String; 2]> = req
            .headers()
            .iter()
            .map(|(k, v)| {
                [
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                ]
            })
            .collect();
        let body = json!({
            "server": "h2c",
            "version": format!("{:?}", req.version()),
            "path": req.uri().path(),
            "headers": headers,
        })
        .to_string();
        let head = http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(())
            .expect("response head");
        if let Ok(mut stream) = respond.send_response(head, false) {
            let _ = stream.send_data(Bytes::from(body), true);
        }
    }
}
