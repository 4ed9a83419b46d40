//! Requests that are ambiguous or malformed on the wire, sent raw to the real authgate
//! in front of an echo upstream: conflicting framing (Content-Length with
//! Transfer-Encoding, repeated or listed lengths), targets with a fragment or with
//! characters a target cannot hold, `Upgrade` without `Connection: upgrade`, HEAD under
//! a GET rule, TRACE, HTTP/1.0 without Host and a preflight with a body are refused or
//! made safe; pipelined requests are all answered, in order.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo::header_values;
use authgate_tests::gated::{pinned_bearer, pinned_config, Gated, CONFIG, ROUTES};
use authgate_tests::raw;
use authgate_tests::tokens::alice_token;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_framing_is_400() {
    let f = Gated::start(CONFIG).await;
    let token = alice_token();
    let cl_te = format!(
        "POST /api/alice/tasks HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/bob/tasks HTTP/1.1\r\nHost: t\r\n\r\n"
    );
    let resp = raw::send(f.proxy.addr, cl_te.as_bytes()).expect("response");
    assert_eq!(resp.status, 400, "{resp:?}");
    assert_eq!(resp.json()["error"], "bad_request");
    let te_cl = format!(
        "POST /api/alice/tasks HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n"
    );
    assert_eq!(
        raw::send(f.proxy.addr, te_cl.as_bytes())
            .expect("response")
            .status,
        400
    );
    let two_cl = format!(
        "POST /api/alice/tasks HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"
    );
    let resp = raw::send(f.proxy.addr, two_cl.as_bytes());
    assert!(resp.as_ref().is_none_or(|r| r.status == 400), "{resp:?}");
    // Identical repeats and lists: upstreams disagree on them, so they never pass.
    for framing in [
        "Content-Length: 4\r\nContent-Length: 4",
        "Content-Length: 4, 4",
    ] {
        let req = format!("POST /public/x HTTP/1.1\r\nHost: t\r\n{framing}\r\n\r\nabcd");
        let resp = raw::send(f.proxy.addr, req.as_bytes()).expect("a response");
        assert_eq!(resp.status, 400, "{framing}");
        assert_eq!(resp.json()["error"], "bad_request");
    }
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_and_raw_characters_a_target_cannot_hold_are_400() {
    let f = Gated::start(&pinned_config("")).await;
    let alice = pinned_bearer("alice");
    for target in [
        "/api/bob#/alice",
        "/api/alice/x?y=1#frag",
        "/api/alice/a{b}",
        "/api/alice/a|b",
        "/api/alice/a\"b",
        "/api/alice/a<b>",
    ] {
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: t\r\nAuthorization: {alice}\r\nConnection: close\r\n\r\n"
        );
        let resp = f.send(request.as_bytes());
        assert_eq!(resp.status, 400, "{target}: {resp:?}");
    }
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_nits_are_refused_or_made_safe() {
    let f = Gated::start(&format!(
        "{}\n[[routes]]\npath = \"/reports/**\"\nmethods = [\"GET\"]\nauth = \"required\"\n\n[[routes]]\npath = \"/reports/**\"\nauth = \"public\"\n",
        pinned_config("[auth]\ncors_preflight = true\n").replace(ROUTES, "")
    ))
    .await;
    // Upgrade without `Connection: upgrade` is not an upgrade.
    let resp = f.send(
        b"GET /reports/x HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(resp.status, 401, "GET rule: {resp:?}");
    // HEAD falls under the GET rule, not the public one after it.
    let resp = f.send(b"HEAD /reports/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(resp.status, 401, "{resp:?}");
    let resp = f.send(b"POST /reports/x HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(resp.status, 200);
    assert!(
        header_values(&resp.json(), "upgrade").is_empty(),
        "{resp:?}"
    );
    // TRACE is refused with Allow.
    let resp = f.send(b"TRACE /reports/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(resp.status, 405);
    assert!(resp.header("allow").is_some());
    // HTTP/1.0 without Host is refused rather than sent upstream as 1.1 without Host.
    let resp = f.send(b"POST /reports/x HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(resp.status, 400, "{resp:?}");
    let resp = f.send(b"POST /reports/x HTTP/1.0\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(resp.status, 200, "{resp:?}");
    // A preflight never carries a body: one that does is an ordinary request.
    let preflight = b"OPTIONS /secret HTTP/1.1\r\nHost: t\r\nOrigin: https://a.example\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n";
    assert_eq!(f.send(preflight).status, 200);
    let smuggled = b"OPTIONS /secret HTTP/1.1\r\nHost: t\r\nOrigin: https://a.example\r\nAccess-Control-Request-Method: POST\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    assert_eq!(f.send(smuggled).status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_all_answered_in_order() {
    let f = Gated::start(&pinned_config("")).await;
    let mut stream = TcpStream::connect(f.proxy.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /public/1 HTTP/1.1\r\nHost: t\r\n\r\nGET /public/2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    let _ = stream.read_to_end(&mut all);
    let text = String::from_utf8_lossy(&all);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "{text}");
    let first = text.find("/public/1").expect("first answered");
    let second = text.find("/public/2").expect("second answered");
    assert!(first < second, "in order");
}
