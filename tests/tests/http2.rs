//! HTTP/2 downstream: h2 by ALPN over TLS and h2c with prior knowledge, driven by
//! curl and by a Rust h2 client. The same attack battery as HTTP/1 (headers,
//! paths, the owner rule) holds on both; h2 limits and the body deadline too.

#![allow(clippy::unwrap_used)]

use authgate_tests::curl::{curl, CurlResponse};
use authgate_tests::echo::{self, header_values};
use authgate_tests::gated::{Gated, ROUTES};
use authgate_tests::pki::{TestCa, Usage};
use authgate_tests::process::Authgate;
use authgate_tests::tokens::{claims, hs256};
use authgate_tests::tools::have;
use authgate_tests::BETTER_AUTH_SECRET;
use bytes::Bytes;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// An h2c listener with `extra` [server] keys, the shared rules.
fn h2c_config(extra: &str) -> String {
    format!("[server]\nthreads = 1\nh2c = true\n{extra}\n[[auth.sources]]\ntype = \"shared_secret\"\n{ROUTES}")
}

/// How a test reaches authgate over HTTP/2.
enum Via {
    /// TLS, h2 by ALPN; the CA to trust.
    Tls(PathBuf),
    /// h2c with prior knowledge.
    H2c,
}

impl Via {
    /// curl `args` to `target` (sent as is) on `addr` over this HTTP/2.
    fn curl(&self, addr: SocketAddr, target: &str, args: &[&str]) -> CurlResponse {
        let port = addr.port();
        let (mut all, base) = match self {
            Via::Tls(ca) => (
                vec![
                    "--http2".to_string(),
                    "--cacert".into(),
                    ca.display().to_string(),
                ],
                format!("https://127.0.0.1:{port}/"),
            ),
            Via::H2c => (
                vec!["--http2-prior-knowledge".to_string()],
                format!("http://127.0.0.1:{port}/"),
            ),
        };
        all.extend([
            "--path-as-is".into(),
            "--request-target".into(),
            target.into(),
        ]);
        all.extend(args.iter().map(|a| a.to_string()));
        all.push(base);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let r = curl(&refs);
        if r.status != 0 {
            assert_eq!(r.version, "2", "{r:?}");
        }
        r
    }
}

fn bearer(sub: &str) -> String {
    format!(
        "Authorization: Bearer {}",
        hs256(&claims(sub), BETTER_AUTH_SECRET)
    )
}

/// authgate over TLS (h2 by ALPN) and authgate with h2c, both before an echo.
async fn both(dir: &std::path::Path) -> Vec<(Gated, Via)> {
    let ca = TestCa::new(&dir.join("ca"), "authgate");
    let server = ca.issue("server", Usage::Server);
    let tls = format!(
        "[server]\nthreads = 1\n[server.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n[[auth.sources]]\ntype = \"shared_secret\"\n{ROUTES}",
        server.cert.display(),
        server.key.display()
    );
    vec![
        (Gated::start(&tls).await, Via::Tls(ca.cert.clone())),
        (Gated::start(&h2c_config("")).await, Via::H2c),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_with_prior_knowledge_beside_http1_only_when_enabled() {
    if !have(
        "h2c_with_prior_knowledge_beside_http1_only_when_enabled",
        "curl",
    ) {
        return;
    }
    let on = Gated::start(&h2c_config("")).await;
    let r = Via::H2c.curl(on.addr(), "/public/x", &[]);
    assert_eq!((r.status, r.version.as_str()), (200, "2"), "{r:?}");
    assert_eq!(header_values(&r.json(), "x-forwarded-proto"), ["http"]);
    let url = format!("http://127.0.0.1:{}/public/x", on.addr().port());
    let h1 = curl(&["--http1.1", &url]);
    assert_eq!((h1.status, h1.version.as_str()), (200, "1.1"), "{h1:?}");
    let off = Gated::start(&format!(
        "[server]\nthreads = 1\n[[auth.sources]]\ntype = \"shared_secret\"\n{ROUTES}"
    ))
    .await;
    let refused = curl(&["--http2-prior-knowledge", &off.proxy.url("/public/x")]);
    assert_ne!(refused.status, 200, "{refused:?}");
    assert_eq!(off.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attack_battery_holds_over_h2_and_h2c() {
    if !have("the_attack_battery_holds_over_h2_and_h2c", "curl")
        || !have("the_attack_battery_holds_over_h2_and_h2c", "openssl")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let alice = bearer("alice");
    let spoofs = [
        "X-Auth-User-Id: mallory",
        "X_Auth_User_Id: mallory",
        "x_auth-user_id: mallory",
        "X-Auth-Email: m@evil",
        "X-Auth-Assertion: forged",
        "X-Forwarded-User: mallory",
        "Remote-User: mallory",
        "X-Original-URL: /api/bob/tasks",
        "X-HTTP-Method-Override: DELETE",
        "X-Forwarded-For: 6.6.6.6",
        "Cookie: better-auth.session_token=raw; theme=dark",
    ];
    for (g, via) in both(dir.path()).await {
        let missing = via.curl(g.addr(), "/api/alice/tasks", &[]);
        assert_eq!(missing.status, 401, "{missing:?}");
        assert_eq!(missing.json()["error"], "missing_token");
        let mut args = vec!["-H", alice.as_str()];
        for s in &spoofs {
            args.extend(["-H", s]);
        }
        let r = via.curl(g.addr(), "/api/alice/tasks", &args);
        assert_eq!(r.status, 200, "{r:?}");
        let seen = r.json();
        assert_eq!(header_values(&seen, "x-auth-user-id"), ["alice"]);
        assert_eq!(header_values(&seen, "x-auth-email"), ["alice@example.com"]);
        let assertion = header_values(&seen, "x-auth-assertion");
        assert!(assertion.len() == 1 && assertion[0] != "forged");
        for gone in [
            "x_auth_user_id",
            "x_auth-user_id",
            "x-forwarded-user",
            "remote-user",
        ] {
            assert!(header_values(&seen, gone).is_empty(), "{gone} leaked");
        }
        for gone in ["x-original-url", "x-http-method-override", "authorization"] {
            assert!(header_values(&seen, gone).is_empty(), "{gone} leaked");
        }
        assert_eq!(header_values(&seen, "x-forwarded-for"), ["127.0.0.1"]);
        assert_eq!(header_values(&seen, "cookie"), ["theme=dark"]);
        assert_eq!(seen["method"], "GET");
        let hits = g.echo.hits();
        battery_paths(&g, &via, &alice);
        assert_eq!(g.echo.hits(), hits, "no trick reached the upstream");
        let own = via.curl(g.addr(), "/api/bob/../alice/tasks", &["-H", &alice]);
        assert_eq!(
            (own.status, own.json()["path"].as_str()),
            (200, Some("/api/alice/tasks"))
        );
        let trace = via.curl(g.addr(), "/public/x", &["-X", "TRACE"]);
        assert_eq!(trace.status, 405);
    }
}

/// The path tricks of the HTTP/1 battery: another user's resource is 403, a
/// target authgate cannot canonicalise safely is refused (400, or the h2 library
/// resets the stream before authgate sees it).
fn battery_paths(g: &Gated, via: &Via, alice: &str) {
    let cases: &[(&str, u16)] = &[
        ("/api/bob/tasks", 403),
        ("/api/alice/../bob/tasks", 403),
        ("/api/./bob/tasks", 403),
        ("//api//bob//tasks", 403),
        ("/api/%62ob/tasks", 403),
        ("/API/bob/TASKS", 403),
        ("/api/alice%2F..%2Fbob/tasks", 400),
        ("/api/alice/%2e%2e/bob/tasks", 400),
        ("/api/alice\\..\\bob/tasks", 400),
        ("/api/alice%5c..%5cbob/tasks", 400),
        ("/api/alice;/../bob/tasks", 400),
        ("/api/bob;alice/tasks", 400),
        ("/api/alice%00/tasks", 400),
        ("/../api/bob/tasks", 400),
        ("http://evil.example/api/bob/tasks", 400),
        ("*", 400),
    ];
    for (path, status) in cases {
        let r = via.curl(g.addr(), path, &["-H", alice]);
        let refused = r.status == *status || (*status == 400 && r.status == 0);
        assert!(refused, "{path}: {r:?}");
    }
}

/// An h2c client connection to `addr`, and the number of concurrent streams
/// the server announces in its SETTINGS.
async fn h2c(
    addr: SocketAddr,
) -> (
    h2::client::SendRequest<Bytes>,
    tokio::sync::oneshot::Receiver<usize>,
) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let (tx, announced) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        let _ = std::future::poll_fn(|cx| {
            let polled = std::future::Future::poll(std::pin::Pin::new(&mut connection), cx);
            // usize::MAX until the server's SETTINGS arrive.
            let max = connection.max_concurrent_send_streams();
            if max != usize::MAX {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(max);
                }
            }
            polled
        })
        .await;
    });
    (client.ready().await.unwrap(), announced)
}

fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> http::Request<()> {
    let mut b = http::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1{path}"));
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_limits_are_announced_and_a_slow_body_is_cut_at_its_deadline() {
    let upstream = echo::start_silent_reader().await;
    let config = h2c_config("body_read_timeout_secs = 1");
    let (proxy, _dir) = Authgate::new(&config, upstream).start();
    let (mut client, announced) = h2c(proxy.addr).await;
    let (resp, _) = client
        .send_request(request("GET", "/public/x", &[]), true)
        .unwrap();
    assert_eq!(resp.await.unwrap().status(), 200);
    // The limit of h2_limits.rs, as the client learned it.
    assert_eq!(announced.await.unwrap(), 100);

    // A body that stops halfway: the stream is reset at the deadline.
    let post = request("POST", "/public/upload", &[("content-length", "10")]);
    let started = Instant::now();
    let (resp, mut body) = client.send_request(post, false).unwrap();
    body.send_data(Bytes::from_static(b"abc"), false).unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(5), resp).await;
    let elapsed = started.elapsed();
    let err = outcome.expect("answered before 5 s").expect_err("reset");
    assert_eq!(err.reason(), Some(h2::Reason::CANCEL), "{err:?}");
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    let cut = "authgate_requests_total{decision=\"reject\",reason=\"body_timeout\"}";
    assert_eq!(proxy.metric_reaching(cut, 1.0, Duration::from_secs(3)), 1.0);
    let log = proxy.stderr_containing("reason=body_timeout", Duration::from_secs(3));
    assert!(
        log.contains("method=POST path=/public/upload status=0"),
        "{log}"
    );
    // The connection goes on serving.
    let (again, _) = client
        .send_request(request("GET", "/public/x", &[]), true)
        .unwrap();
    assert_eq!(again.await.unwrap().status(), 200);

    // Host naming another host than :authority is malformed (RFC 9113 §8.3.1).
    let mismatch = request("GET", "/public/x", &[("host", "evil.example")]);
    let (r, _) = client.send_request(mismatch, true).unwrap();
    match r.await {
        Ok(resp) => assert_eq!(resp.status(), 400),
        Err(e) => assert!(e.is_reset(), "{e:?}"),
    }
}
