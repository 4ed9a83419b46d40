//! Slow and malformed clients against the real binary: the head deadline (empty
//! lines before the request line included), the body deadline, the connection
//! caps of both listeners, and the refusals Pingora makes while reading a head,
//! each answered, logged and counted.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo;
use authgate_tests::gated::ROUTES;
use authgate_tests::process::{Authgate, Service};
use authgate_tests::raw::{self, RawResponse};
use authgate_tests::tokens::{claims, hs256};
use authgate_tests::BETTER_AUTH_SECRET;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn config(extra_server: &str) -> String {
    format!(
        "[server]\nthreads = 2\ngrace_period_secs = 1\n{extra_server}\n[[auth.sources]]\ntype = \"shared_secret\"\n{ROUTES}"
    )
}

fn bearer(sub: &str) -> String {
    format!("Bearer {}", hs256(&claims(sub), BETTER_AUTH_SECRET))
}

/// Reads until the peer closes (or `limit` passes); the bytes and whether it closed.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (out, true),
        }
    }
    (out, false)
}

/// Sends `first`, then one header line every `every` until the server closes the
/// connection; returns when it closed (from the first byte) and what it answered.
fn trickle_head(addr: SocketAddr, first: &[u8], every: Duration, limit: Duration) -> Trickled {
    let mut stream = TcpStream::connect(addr).unwrap();
    let started = Instant::now();
    stream.write_all(first).unwrap();
    trickle_on(stream, started, every, limit)
}

/// Goes on trickling header lines on `stream`, whose head began at `started`.
fn trickle_on(
    mut stream: TcpStream,
    started: Instant,
    every: Duration,
    limit: Duration,
) -> Trickled {
    let mut got = Vec::new();
    for i in 0.. {
        let (bytes, closed) = read_until_closed(&mut stream, every);
        got.extend_from_slice(&bytes);
        if closed || started.elapsed() > limit {
            return Trickled {
                closed_after: closed.then(|| started.elapsed()),
                answer: String::from_utf8_lossy(&got).into_owned(),
            };
        }
        if stream
            .write_all(format!("X-Trickle-{i}: 1\r\n").as_bytes())
            .is_err()
        {
            let (bytes, _) = read_until_closed(&mut stream, Duration::from_millis(200));
            got.extend_from_slice(&bytes);
            return Trickled {
                closed_after: Some(started.elapsed()),
                answer: String::from_utf8_lossy(&got).into_owned(),
            };
        }
    }
    unreachable!()
}

struct Trickled {
    closed_after: Option<Duration>,
    answer: String,
}

fn metric(proxy: &Service, line_start: &str) -> f64 {
    proxy.metric(line_start)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_lines_before_the_request_line_do_not_stop_the_head_deadline() {
    let echo = echo::start().await;
    let (proxy, _dir) = Authgate::new(&config("header_read_timeout_secs = 2\n"), echo.addr).start();
    for prefix in ["", "\r\n\r\n", "\n\n\n", "\r\n"] {
        let first = format!("{prefix}GET /public/x HTTP/1.1\r\nHost: x\r\n");
        let t = trickle_head(
            proxy.addr,
            first.as_bytes(),
            Duration::from_millis(700),
            Duration::from_secs(8),
        );
        let closed = t.closed_after.expect("the trickling connection was closed");
        println!("prefix {prefix:?}: closed after {} ms", closed.as_millis());
        assert!(
            closed < Duration::from_millis(3500),
            "{prefix:?}: {closed:?}"
        );
        assert!(
            t.answer.starts_with("HTTP/1.1 408 "),
            "{prefix:?}: {}",
            t.answer
        );
        assert!(t.answer.contains("X-Request-Id: "), "{}", t.answer);
        assert!(t.answer.contains("\"error\":\"request_timeout\""));
    }
    assert_eq!(echo.hits(), 0);
    // The same on the second request of a kept-alive connection.
    let mut stream = TcpStream::connect(proxy.addr).unwrap();
    stream
        .write_all(b"GET /public/a HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let (first, _) = read_until_closed(&mut stream, Duration::from_millis(500));
    assert!(first.starts_with(b"HTTP/1.1 200 "));
    stream
        .write_all(b"\r\n\r\nGET /public/b HTTP/1.1\r\n")
        .unwrap();
    let mut closed = None;
    for i in 0..20 {
        let (_, gone) = read_until_closed(&mut stream, Duration::from_millis(700));
        if gone
            || stream
                .write_all(format!("X-{i}: 1\r\n").as_bytes())
                .is_err()
        {
            closed = Some(started.elapsed());
            break;
        }
    }
    let closed = closed.expect("closed on the second request too");
    assert!(closed < Duration::from_millis(3800), "{closed:?}");
    assert!(
        metric(
            &proxy,
            "authgate_requests_total{decision=\"reject\",reason=\"head_timeout\"}"
        ) >= 5.0
    );
    let log = proxy.stderr_containing("reason=head_timeout", Duration::from_secs(2));
    assert!(
        log.contains("status=408 decision=reject reason=head_timeout"),
        "{log}"
    );
    assert!(
        !log.contains(" ERROR "),
        "a client's slowness is not an error: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_with_empty_lines_cannot_hold_every_connection() {
    let echo = echo::start().await;
    let (proxy, _dir) = Authgate::new(
        &config("header_read_timeout_secs = 2\nmax_connections = 3\n"),
        echo.addr,
    )
    .start();
    let addr = proxy.addr;
    // Three connections that hold a slot each (one refused because the harness's
    // readiness probe had not released its slot yet is replaced).
    let mut attackers = Vec::new();
    while attackers.len() < 3 {
        let mut s = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        s.write_all(b"\r\n\r\nGET /public/x HTTP/1.1\r\n").unwrap();
        let (answer, _) = read_until_closed(&mut s, Duration::from_millis(100));
        if answer.is_empty() {
            attackers.push(std::thread::spawn(move || {
                trickle_on(
                    s,
                    started,
                    Duration::from_millis(500),
                    Duration::from_secs(20),
                )
                .closed_after
            }));
        }
    }
    let refused = raw::send(addr, &raw::get("/public/x", &[])).unwrap();
    assert_eq!(refused.status, 503, "all three slots are held");
    assert_eq!(refused.json()["message"], "too many connections");
    assert!(refused.header("x-request-id").is_some());
    let started = Instant::now();
    let mut served = None;
    while started.elapsed() < Duration::from_secs(6) {
        if raw::send(addr, &raw::get("/public/x", &[])).map(|r| r.status) == Some(200) {
            served = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let served = served.expect("a new client is served once the deadline cuts the attackers");
    println!(
        "served again {} ms after the attack began",
        served.as_millis()
    );
    for a in attackers {
        let closed = a.join().unwrap().expect("every attacker was cut off");
        assert!(closed < Duration::from_millis(3500), "{closed:?}");
    }
    assert!(
        metric(
            &proxy,
            "authgate_requests_total{decision=\"reject\",reason=\"connection_limit\"}"
        ) >= 1.0
    );
}

/// A request with `Content-Length: 100000` whose body comes a byte every 200 ms.
fn slow_body(addr: SocketAddr, path: &str, auth: Option<&str>) -> (Duration, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    stream
        .write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    while started.elapsed() < Duration::from_secs(15) {
        let (bytes, closed) = read_until_closed(&mut stream, Duration::from_millis(200));
        got.extend_from_slice(&bytes);
        if closed || stream.write_all(b"x").is_err() {
            let (bytes, _) = read_until_closed(&mut stream, Duration::from_millis(200));
            got.extend_from_slice(&bytes);
            return (
                started.elapsed(),
                String::from_utf8_lossy(&got).into_owned(),
            );
        }
    }
    panic!(
        "a slow body was still open after 15 s: {}",
        String::from_utf8_lossy(&got)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_cut_off_at_the_body_deadline() {
    let upstream = echo::start_silent_reader().await;
    let (proxy, _dir) = Authgate::new(&config("body_read_timeout_secs = 2\n"), upstream).start();
    // A public route, a route with a valid token, and a refused request (401)
    // whose body authgate drains.
    for (path, auth, answer) in [
        ("/public/upload", None, "HTTP/1.1 408 "),
        ("/api/alice/tasks", Some(bearer("alice")), "HTTP/1.1 408 "),
        ("/api/alice/tasks", None, "HTTP/1.1 401 "),
    ] {
        let (closed, got) = slow_body(proxy.addr, path, auth.as_deref());
        println!(
            "{path} auth={}: closed after {} ms",
            auth.is_some(),
            closed.as_millis()
        );
        assert!(
            closed < Duration::from_millis(3500),
            "{path}: closed after {closed:?}"
        );
        assert!(got.starts_with(answer), "{path}: {got}");
        if answer.contains("408") {
            assert!(got.contains("\"error\":\"request_timeout\""), "{got}");
            assert!(
                got.contains("Connection: close") || got.contains("connection: close"),
                "{got}"
            );
        }
    }
    assert!(
        metric(
            &proxy,
            "authgate_requests_total{decision=\"reject\",reason=\"body_timeout\"}"
        ) >= 2.0
    );
    let log = proxy.stderr_containing("reason=body_timeout", Duration::from_secs(2));
    assert!(
        log.contains("status=408 decision=reject reason=body_timeout"),
        "{log}"
    );
    assert!(
        !log.contains(" ERROR "),
        "a client's slowness is not an error: {log}"
    );
    // A body sent at once is unaffected.
    let body = "{\"title\":\"x\"}";
    let req = format!(
        "POST /public/upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(raw::send(proxy.addr, req.as_bytes()).unwrap().status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leading_empty_line_does_not_skip_the_raw_target_checks() {
    let echo = echo::start().await;
    let (proxy, _dir) = Authgate::new(&config(""), echo.addr).start();
    let alice = bearer("alice");
    for prefix in ["", "\r\n", "\n", "\r\n\r\n"] {
        let req = format!(
            "{prefix}GET /api/alice/tasks#/../../bob HTTP/1.1\r\nHost: x\r\nAuthorization: {alice}\r\nConnection: close\r\n\r\n"
        );
        let resp = raw::send(proxy.addr, req.as_bytes()).unwrap();
        assert_eq!(resp.status, 400, "{prefix:?}: {resp:?}");
        assert_eq!(resp.json()["message"], "fragment (#) in request target");
    }
    assert_eq!(echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_has_a_head_deadline_and_a_cap() {
    let echo = echo::start().await;
    let (proxy, _dir) = Authgate::new(
        &format!(
            "{}\n[admin]\nmax_connections = 8\n",
            config("header_read_timeout_secs = 2\n")
        ),
        echo.addr,
    )
    .start();
    let admin = proxy.admin.unwrap();
    // Eight half-sent heads holding a slot each (one refused because the harness's
    // readiness probe had not released its slot yet is replaced).
    let mut held: Vec<TcpStream> = Vec::new();
    while held.len() < 8 {
        let mut s = TcpStream::connect(admin).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
        let (answer, _) = read_until_closed(&mut s, Duration::from_millis(100));
        if answer.is_empty() {
            held.push(s);
        }
    }
    let refused = raw::send(admin, &raw::get("/readyz", &[])).unwrap();
    assert_eq!(refused.status, 503, "beyond admin.max_connections");
    let started = Instant::now();
    for mut s in held {
        let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(4));
        assert!(closed, "a half-sent admin head was left open");
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408 "));
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(raw::blocking_status(admin, "/readyz"), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_pingora_refuses_are_answered_logged_and_counted() {
    let echo = echo::start().await;
    let (proxy, _dir) = Authgate::new(&config(""), echo.addr).start();
    let cases: [(&str, u16); 5] = [
        (
            "POST /public/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            400,
        ),
        (
            "POST /public/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            400,
        ),
        (
            "POST /public/x HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "GET /public/x HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
            400,
        ),
        (
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            405,
        ),
    ];
    for (req, status) in cases {
        let resp: RawResponse = raw::send(proxy.addr, req.as_bytes()).expect("an answer");
        assert_eq!(resp.status, status, "{req:?}: {resp:?}");
        assert!(resp.header("x-request-id").is_some(), "{req:?}: {resp:?}");
        assert_eq!(resp.header("server"), None, "{resp:?}");
        assert_eq!(resp.header("connection"), Some("close"));
        let body = resp.json();
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{body}"
        );
    }
    assert_eq!(echo.hits(), 0);
    let bad = metric(
        &proxy,
        "authgate_requests_total{decision=\"reject\",reason=\"bad_request\"}",
    );
    assert!(bad >= 4.0, "{bad}");
    let log = proxy.stderr_containing("reason=method_refused", Duration::from_secs(2));
    assert_eq!(
        log.matches("status=400 decision=reject reason=bad_request")
            .count(),
        4,
        "{log}"
    );
    assert!(!log.contains(" ERROR "), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_errors_say_the_connection_closes() {
    let silent = echo::start_silent().await;
    let (proxy, _d1) = Authgate::new(
        &format!("{}\n[upstream]\nread_timeout_ms = 300\n", config("")),
        silent,
    )
    .start();
    let resp = raw::send(proxy.addr, &keep_alive_get("/public/x")).unwrap();
    assert_eq!(resp.status, 504);
    assert_eq!(resp.header("connection"), Some("close"), "{resp:?}");
    let (proxy, _d2) = Authgate::new(&config(""), echo::closed_port()).start();
    let resp = raw::send(proxy.addr, &keep_alive_get("/public/x")).unwrap();
    assert_eq!(resp.status, 502);
    assert_eq!(resp.header("connection"), Some("close"), "{resp:?}");
}

fn keep_alive_get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}
