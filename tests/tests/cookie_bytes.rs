//! The real authgate binary with `Cookie` headers that are not ASCII (issue 10,
//! defect 2): Better Auth's cookies never reach the upstream, and every other cookie
//! does, byte for byte. The upstream here records the raw request bytes, since the
//! JSON echo would show non-UTF-8 bytes only lossily.

#![allow(clippy::unwrap_used)]

use authgate_tests::gated::ROUTES;
use authgate_tests::process::{Authgate, Service};
use authgate_tests::raw::{self, RawResponse};
use authgate_tests::tokens::{hs256, now};
use authgate_tests::BETTER_AUTH_SECRET;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config() -> String {
    format!(
        "[server]\nthreads = 1\ngrace_period_secs = 1\n\n[[auth.sources]]\ntype = \"shared_secret\"\n\n[auth.session_cookie]\nenabled = true\n{ROUTES}"
    )
}

/// An upstream that keeps each request head exactly as it arrived.
struct Recorder {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Recorder {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let store = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    store.lock().unwrap().push(buf);
                    let reply =
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
                    let _ = sock.write_all(reply).await;
                });
            }
        });
        Self { addr, heads }
    }

    /// The raw values of every `Cookie` header of the one request received so far.
    fn cookies(&self) -> Vec<Vec<u8>> {
        let heads = self.heads.lock().unwrap();
        assert_eq!(heads.len(), 1, "exactly one request upstream");
        let head = &heads[0];
        head.split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter_map(|l| {
                let colon = l.iter().position(|&b| b == b':')?;
                l[..colon]
                    .eq_ignore_ascii_case(b"cookie")
                    .then(|| l[colon + 1..].trim_ascii().to_vec())
            })
            .collect()
    }

    fn saw(&self, needle: &[u8]) -> bool {
        let heads = self.heads.lock().unwrap();
        heads
            .iter()
            .any(|h| h.windows(needle.len()).any(|w| w == needle))
    }
}

async fn start() -> (Recorder, Service, tempfile::TempDir) {
    let recorder = Recorder::start().await;
    let (proxy, dir) = Authgate::new(&config(), recorder.addr).start();
    (recorder, proxy, dir)
}

/// GET `path` with header lines given as raw bytes.
fn send(proxy: &Service, path: &str, headers: &[&[u8]]) -> RawResponse {
    let mut req =
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n").into_bytes();
    for h in headers {
        req.extend_from_slice(h);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    raw::send(proxy.addr, &req).expect("a response")
}

/// Better Auth's `session_data` cookie (strategy `jwt`) for `user`.
fn session_data(user: &str) -> String {
    let t = now();
    hs256(
        &json!({
            "session": {"id": "s1", "userId": user, "token": "SESSIONTOKEN", "expiresAt": "2099-01-01T00:00:00.000Z"},
            "user": {"id": user, "email": format!("{user}@example.com"), "name": user, "emailVerified": true},
            "updatedAt": t * 1000, "version": "1", "iat": t, "exp": t + 300,
        }),
        BETTER_AUTH_SECRET,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_ascii_cookie_never_carries_the_session_token_upstream() {
    let (up, proxy, _dir) = start().await;
    let resp = send(
        &proxy,
        "/public/x",
        &[b"Cookie: better-auth.session_token=SECRET; x=\xe9"],
    );
    assert_eq!(resp.status, 200, "{resp:?}");
    assert!(!up.saw(b"SECRET"), "session token reached the upstream");
    assert_eq!(up.cookies(), [b"x=\xe9".to_vec()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cookie_headers_one_non_ascii_keep_every_other_cookie() {
    let (up, proxy, _dir) = start().await;
    let resp = send(
        &proxy,
        "/public/x",
        &[
            b"Cookie: a=1; better-auth.session_token=SECRET",
            b"Cookie: x=\xe9\xff; __Secure-better-auth.session_data=DATA; y=\"q r\"",
        ],
    );
    assert_eq!(resp.status, 200, "{resp:?}");
    assert!(
        !up.saw(b"SECRET") && !up.saw(b"DATA"),
        "a session cookie reached the upstream"
    );
    assert_eq!(up.cookies(), [b"a=1; x=\xe9\xff; y=\"q r\"".to_vec()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_data_beside_non_ascii_bytes_is_the_credential_and_is_stripped() {
    let (up, proxy, _dir) = start().await;
    let mut header = b"Cookie: theme=\xe9; better-auth.session_data=".to_vec();
    header.extend_from_slice(session_data("alice").as_bytes());
    let resp = send(&proxy, "/api/alice/tasks", &[&header]);
    assert_eq!(resp.status, 200, "{resp:?}");
    let heads = up.heads.lock().unwrap().clone();
    let head = String::from_utf8_lossy(&heads[0]).to_ascii_lowercase();
    assert!(head.contains("x-auth-user-id: alice\r\n"), "{head}");
    drop(heads);
    assert!(
        !up.saw(b"session_data"),
        "session cookie reached the upstream"
    );
    assert_eq!(up.cookies(), [b"theme=\xe9".to_vec()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_data_value_that_is_not_utf8_is_an_invalid_token() {
    let (up, proxy, _dir) = start().await;
    let resp = send(
        &proxy,
        "/api/alice/tasks",
        &[b"Cookie: better-auth.session_data=eyJ\xff.x.y"],
    );
    assert_eq!(resp.status, 401, "{resp:?}");
    assert_eq!(resp.json()["error"], "invalid_token", "{resp:?}");
    assert!(up.heads.lock().unwrap().is_empty());
}
