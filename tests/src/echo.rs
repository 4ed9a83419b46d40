//! A tiny upstream that answers every request with what it saw: method, raw path,
//! query (empty when none) and every header (as name/value pairs, duplicates kept).
//! A query `delay_ms=N` makes it wait N milliseconds first (a slow upstream).

use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use warp::Filter;

/// A running echo upstream.
pub struct Echo {
    /// Where it listens.
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Echo {
    /// Requests it has answered.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Starts the echo upstream on a free loopback port (on the current tokio runtime).
pub async fn start() -> Echo {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let route = warp::any()
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .then(
            move |method: warp::http::Method,
                  path: warp::path::FullPath,
                  query: String,
                  headers: warp::http::HeaderMap| {
                let counter = counter.clone();
                async move {
                    let delay = query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("delay_ms="))
                        .and_then(|v| v.parse::<u64>().ok());
                    if let Some(ms) = delay {
                        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    let pairs: Vec<[String; 2]> = headers
                        .iter()
                        .map(|(k, v)| {
                            [
                                k.as_str().to_string(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            ]
                        })
                        .collect();
                    warp::reply::json(&json!({
                        "method": method.as_str(),
                        "path": path.as_str(),
                        "query": query,
                        "headers": pairs,
                    }))
                }
            },
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind echo");
    let addr = listener.local_addr().expect("echo addr");
    tokio::spawn(warp::serve(route).incoming(listener).run());
    Echo { addr, hits }
}

/// An upstream that accepts connections and never answers (for timeouts).
pub async fn start_silent() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind silent");
    let addr = listener.local_addr().expect("silent addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    addr
}

/// An upstream that reads each request's whole body (by `Content-Length`) before it
/// answers 200, as an application that parses the body does.
pub async fn start_silent_reader() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind reader");
    let addr = listener.local_addr().expect("reader addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < end + 4 + len {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..end + 4 + len);
                    let reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
                    if sock.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A loopback address where nothing listens.
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// Values of header `name` in an echo reply.
pub fn header_values(reply: &serde_json::Value, name: &str) -> Vec<String> {
    reply["headers"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .filter(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
                .filter_map(|h| h[1].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
