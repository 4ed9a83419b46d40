//! Better Auth's `session_data` cookie as a credential, with the real authgate: it
//! passes the same checks as a bearer token and must have Better Auth's shape; an
//! unsafe request it authenticates needs an allowed origin (CSRF); Better Auth's
//! session cookies never reach the upstream while every other cookie does, byte for
//! byte, also in `Cookie` headers that are not ASCII. For those, the upstream records
//! the raw request bytes, since the JSON echo would show non-UTF-8 bytes only lossily.

#![allow(clippy::unwrap_used)]

use authgate_tests::gated::{pinned_bearer, pinned_claims, pinned_config, Gated, ROUTES};
use authgate_tests::process::{authgate_check, Authgate, Service};
use authgate_tests::raw::{self, RawResponse};
use authgate_tests::tokens::{hs256, now};
use authgate_tests::{ASSERTION_SECRET, BETTER_AUTH_SECRET};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The payload of Better Auth's `session_data` cookie (strategy `jwt`) for `user`.
fn session_claims(user: &str) -> Value {
    let t = now();
    json!({
        "session": {"id": "s1", "userId": user, "token": "SESSIONTOKEN", "expiresAt": "2099-01-01T00:00:00.000Z"},
        "user": {"id": user, "email": format!("{user}@example.com"), "name": user, "emailVerified": true},
        "updatedAt": t * 1000, "version": "1", "iat": t, "exp": t + 300,
    })
}

/// Better Auth's `session_data` cookie value for `user`, signed with the shared secret.
fn session_data(user: &str) -> String {
    hs256(&session_claims(user), BETTER_AUTH_SECRET)
}

/// A `Cookie` value that carries `token` as Better Auth's `session_data` cookie.
fn session_cookie(token: &str) -> String {
    format!("better-auth.session_data={token}")
}

/// The shared secret, the session cookie enabled, and [`ROUTES`].
fn cookie_config() -> String {
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

/// authgate with [`cookie_config`] in front of a [`Recorder`].
async fn start_recorded() -> (Recorder, Service, tempfile::TempDir) {
    let recorder = Recorder::start().await;
    let (proxy, dir) = Authgate::new(&cookie_config(), recorder.addr).start();
    (recorder, proxy, dir)
}

/// GET `path` with header lines given as raw bytes.
fn get_raw_headers(proxy: &Service, path: &str, headers: &[&[u8]]) -> RawResponse {
    let mut req =
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n").into_bytes();
    for h in headers {
        req.extend_from_slice(h);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    raw::send(proxy.addr, &req).expect("a response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_keeps_the_secrets_pins_and_better_auths_shape() {
    let f = Gated::start(&pinned_config("[auth.session_cookie]\nenabled = true\n")).await;
    let ok = hs256(&session_claims("alice"), BETTER_AUTH_SECRET);
    let resp = f.get("/api/alice/x", &[("Cookie", &session_cookie(&ok))]);
    assert_eq!(
        resp.status, 200,
        "Better Auth's own cookie passes: {resp:?}"
    );
    // A token refused as a bearer token for its issuer is refused as a cookie too.
    let mut foreign = session_claims("alice");
    foreign["iss"] = json!("https://evil.example");
    let foreign = hs256(&foreign, BETTER_AUTH_SECRET);
    let resp = f.get("/api/alice/x", &[("Cookie", &session_cookie(&foreign))]);
    assert_eq!(resp.status, 401, "{resp:?}");
    let mut wrong_aud = session_claims("alice");
    wrong_aud["aud"] = json!("someone-else");
    let wrong_aud = hs256(&wrong_aud, BETTER_AUTH_SECRET);
    let resp = f.get("/api/alice/x", &[("Cookie", &session_cookie(&wrong_aud))]);
    assert_eq!(resp.status, 401, "{resp:?}");
    // An ordinary access token (top-level `sub`) is not a session cookie.
    let access = hs256(&pinned_claims("alice"), BETTER_AUTH_SECRET);
    let resp = f.get("/api/alice/x", &[("Cookie", &session_cookie(&access))]);
    assert_eq!(resp.status, 401, "{resp:?}");
    // Two users in one cookie are refused.
    let mut split = session_claims("alice");
    split["user"]["id"] = json!("bob");
    let split = hs256(&split, BETTER_AUTH_SECRET);
    let resp = f.get("/api/alice/x", &[("Cookie", &session_cookie(&split))]);
    assert_eq!(resp.status, 401, "{resp:?}");
    assert_eq!(f.echo.hits(), 1);
    // `check` says that the pins do not protect the HS256 cookie.
    let (code, _out, err) = authgate_check(
        &pinned_config("[auth.session_cookie]\nenabled = true\n"),
        &[
            ("BETTER_AUTH_SECRET", BETTER_AUTH_SECRET),
            ("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning") && err.contains("session cookie"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_authenticated_unsafe_requests_need_an_allowed_origin() {
    let f = Gated::start(&pinned_config(
        "[auth.session_cookie]\nenabled = true\nallowed_origins = [\"https://app.example\"]\n",
    ))
    .await;
    let token = hs256(&session_claims("alice"), BETTER_AUTH_SECRET);
    let cookie = session_cookie(&token);
    let post = |headers: &[(&str, &str)]| {
        let mut request =
            String::from("POST /api/alice/tasks HTTP/1.1\r\nHost: gate.local\r\nContent-Length: 0\r\nConnection: close\r\n");
        request.push_str(&format!("Cookie: {cookie}\r\n"));
        for (n, v) in headers {
            request.push_str(&format!("{n}: {v}\r\n"));
        }
        request.push_str("\r\n");
        f.send(request.as_bytes())
    };
    let evil = post(&[("Origin", "https://evil.example")]);
    assert_eq!(evil.status, 403, "{evil:?}");
    assert_eq!(evil.json()["error"], "forbidden");
    assert_eq!(post(&[]).status, 403, "no Origin, no Sec-Fetch-Site");
    assert_eq!(post(&[("Sec-Fetch-Site", "cross-site")]).status, 403);
    assert_eq!(post(&[("Origin", "https://app.example")]).status, 200);
    assert_eq!(
        post(&[("Origin", "http://gate.local")]).status,
        200,
        "same origin"
    );
    assert_eq!(post(&[("Sec-Fetch-Site", "same-origin")]).status, 200);
    // Safe methods and bearer tokens are not affected.
    let resp = f.get(
        "/api/alice/tasks",
        &[("Cookie", &cookie), ("Origin", "https://evil.example")],
    );
    assert_eq!(resp.status, 200);
    let resp = f.send(format!(
            "POST /api/alice/tasks HTTP/1.1\r\nHost: gate.local\r\nOrigin: https://evil.example\r\nAuthorization: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            pinned_bearer("alice")
        )
        .as_bytes(),
    );
    assert_eq!(
        resp.status, 200,
        "a bearer token is not sent by the browser on its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_ascii_cookie_never_carries_the_session_token_upstream() {
    let (up, proxy, _dir) = start_recorded().await;
    let resp = get_raw_headers(
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
    let (up, proxy, _dir) = start_recorded().await;
    let resp = get_raw_headers(
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
    let (up, proxy, _dir) = start_recorded().await;
    let mut header = b"Cookie: theme=\xe9; better-auth.session_data=".to_vec();
    header.extend_from_slice(session_data("alice").as_bytes());
    let resp = get_raw_headers(&proxy, "/api/alice/tasks", &[&header]);
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
    let (up, proxy, _dir) = start_recorded().await;
    let resp = get_raw_headers(
        &proxy,
        "/api/alice/tasks",
        &[b"Cookie: better-auth.session_data=eyJ\xff.x.y"],
    );
    assert_eq!(resp.status, 401, "{resp:?}");
    assert_eq!(resp.json()["error"], "invalid_token", "{resp:?}");
    assert!(up.heads.lock().unwrap().is_empty());
}
