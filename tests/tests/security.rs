//! Security round 2: the defects an independent review found by probing the release
//! binary, each driven here against the real authgate in front of an echo upstream.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo::{self, header_values};
use authgate_tests::gated::{Gated, ROUTES};
use authgate_tests::process::{authgate_check, Authgate};
use authgate_tests::raw::{self, RawResponse};
use authgate_tests::tokens::{claims, hs256, now};
use authgate_tests::{ASSERTION_SECRET, BETTER_AUTH_SECRET};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn config(extra: &str) -> String {
    format!(
        "[server]\nthreads = 1\ngrace_period_secs = 1\n\n[[auth.sources]]\ntype = \"shared_secret\"\nissuer = [\"https://auth.example\"]\naudience = [\"https://auth.example\"]\n{extra}\n{ROUTES}"
    )
}

type Fixture = Gated;

async fn start(config: &str) -> Fixture {
    Gated::start(config).await
}

fn send(f: &Fixture, request: &[u8]) -> RawResponse {
    f.send(request)
}

fn get(f: &Fixture, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    f.get(path, headers)
}

fn pinned_claims(sub: &str) -> serde_json::Value {
    let mut c = claims(sub);
    c["iss"] = json!("https://auth.example");
    c["aud"] = json!("https://auth.example");
    c
}

fn bearer(sub: &str) -> String {
    format!("Bearer {}", hs256(&pinned_claims(sub), BETTER_AUTH_SECRET))
}

/// Better Auth's strategy-`jwt` session cookie payload.
fn cookie_claims(user: &str) -> serde_json::Value {
    json!({
        "session": {"id": "s1", "userId": user, "token": "raw-session-token"},
        "user": {"id": user, "email": format!("{user}@example.com")},
        "iat": now(), "exp": now() + 300,
    })
}

fn session_cookie(token: &str) -> String {
    format!("better-auth.session_data={token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_keeps_the_secrets_pins_and_better_auths_shape() {
    let f = start(&config("[auth.session_cookie]\nenabled = true\n")).await;
    let ok = hs256(&cookie_claims("alice"), BETTER_AUTH_SECRET);
    let resp = get(&f, "/api/alice/x", &[("Cookie", &session_cookie(&ok))]);
    assert_eq!(
        resp.status, 200,
        "Better Auth's own cookie passes: {resp:?}"
    );
    // A token refused as a bearer token for its issuer is refused as a cookie too.
    let mut foreign = cookie_claims("alice");
    foreign["iss"] = json!("https://evil.example");
    let foreign = hs256(&foreign, BETTER_AUTH_SECRET);
    let resp = get(&f, "/api/alice/x", &[("Cookie", &session_cookie(&foreign))]);
    assert_eq!(resp.status, 401, "{resp:?}");
    let mut wrong_aud = cookie_claims("alice");
    wrong_aud["aud"] = json!("someone-else");
    let wrong_aud = hs256(&wrong_aud, BETTER_AUTH_SECRET);
    let resp = get(
        &f,
        "/api/alice/x",
        &[("Cookie", &session_cookie(&wrong_aud))],
    );
    assert_eq!(resp.status, 401, "{resp:?}");
    // An ordinary access token (top-level `sub`) is not a session cookie.
    let access = hs256(&pinned_claims("alice"), BETTER_AUTH_SECRET);
    let resp = get(&f, "/api/alice/x", &[("Cookie", &session_cookie(&access))]);
    assert_eq!(resp.status, 401, "{resp:?}");
    // Two users in one cookie are refused.
    let mut split = cookie_claims("alice");
    split["user"]["id"] = json!("bob");
    let split = hs256(&split, BETTER_AUTH_SECRET);
    let resp = get(&f, "/api/alice/x", &[("Cookie", &session_cookie(&split))]);
    assert_eq!(resp.status, 401, "{resp:?}");
    assert_eq!(f.echo.hits(), 1);
    // `check` says that the pins do not protect the HS256 cookie.
    let (code, _out, err) = authgate_check(
        &config("[auth.session_cookie]\nenabled = true\n"),
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
    let f = start(&config(
        "[auth.session_cookie]\nenabled = true\nallowed_origins = [\"https://app.example\"]\n",
    ))
    .await;
    let token = hs256(&cookie_claims("alice"), BETTER_AUTH_SECRET);
    let cookie = session_cookie(&token);
    let post = |headers: &[(&str, &str)]| {
        let mut request =
            String::from("POST /api/alice/tasks HTTP/1.1\r\nHost: gate.local\r\nContent-Length: 0\r\nConnection: close\r\n");
        request.push_str(&format!("Cookie: {cookie}\r\n"));
        for (n, v) in headers {
            request.push_str(&format!("{n}: {v}\r\n"));
        }
        request.push_str("\r\n");
        send(&f, request.as_bytes())
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
    let resp = get(
        &f,
        "/api/alice/tasks",
        &[("Cookie", &cookie), ("Origin", "https://evil.example")],
    );
    assert_eq!(resp.status, 200);
    let resp = send(
        &f,
        format!(
            "POST /api/alice/tasks HTTP/1.1\r\nHost: gate.local\r\nOrigin: https://evil.example\r\nAuthorization: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            bearer("alice")
        )
        .as_bytes(),
    );
    assert_eq!(
        resp.status, 200,
        "a bearer token is not sent by the browser on its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_secret_for_tokens_and_assertions_is_refused_at_start() {
    let (code, _out, err) = authgate_check(
        &config(""),
        &[
            ("BETTER_AUTH_SECRET", BETTER_AUTH_SECRET),
            ("AUTHGATE_ASSERTION_SECRET", BETTER_AUTH_SECRET),
        ],
    );
    assert_eq!(code, 64, "{err}");
    assert!(
        err.contains("identity.assertion_secret_env") && err.contains("must differ"),
        "{err}"
    );
    assert!(!err.contains(BETTER_AUTH_SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subjects_and_emails_with_edge_whitespace_are_refused() {
    let f = start(&config("")).await;
    for (sub, email) in [
        (" alice", "a@x"),
        ("alice ", "a@x"),
        ("alice", " a@x"),
        ("alice", "a@x\u{a0}"),
    ] {
        let mut c = pinned_claims(sub);
        c["email"] = json!(email);
        let token = hs256(&c, BETTER_AUTH_SECRET);
        let resp = get(
            &f,
            "/api/alice/x",
            &[("Authorization", &format!("Bearer {token}"))],
        );
        assert_eq!(resp.status, 401, "{sub:?} {email:?}: {resp:?}");
    }
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn override_and_foreign_identity_headers_never_reach_the_upstream() {
    let f = start(&config("")).await;
    let spoofed = [
        ("X-Original-URL", "/admin"),
        ("X-Rewrite-URL", "/admin"),
        ("X-HTTP-Method-Override", "DELETE"),
        ("X-HTTP-Method", "DELETE"),
        ("X-Method-Override", "DELETE"),
        ("X-Forwarded-Prefix", "/admin"),
        ("Remote-User", "admin"),
        ("X-Remote-User", "admin"),
        ("X-User", "admin"),
        ("X-WEBAUTH-USER", "admin"),
        ("x_webauth_user", "admin"),
        ("X-Forwarded-User", "admin"),
        ("X-Authenticated-Userid", "admin"),
        ("X-Consumer-Username", "admin"),
        ("X-Goog-Authenticated-User-Email", "admin@x"),
    ];
    let alice = bearer("alice");
    for path in ["/public/page", "/api/alice/tasks"] {
        let mut headers: Vec<(&str, &str)> = spoofed.to_vec();
        headers.push(("Authorization", &alice));
        let resp = get(&f, path, &headers);
        assert_eq!(resp.status, 200, "{path}: {resp:?}");
        let seen = resp.json();
        for (name, _) in spoofed {
            assert!(
                header_values(&seen, name).is_empty(),
                "{path}: {name} reached the upstream"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_and_raw_characters_a_target_cannot_hold_are_400() {
    let f = start(&config("")).await;
    let alice = bearer("alice");
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
        let resp = send(&f, request.as_bytes());
        assert_eq!(resp.status, 400, "{target}: {resp:?}");
    }
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_nits_are_refused_or_made_safe() {
    let f = start(&format!(
        "{}\n[[routes]]\npath = \"/reports/**\"\nmethods = [\"GET\"]\nauth = \"required\"\n\n[[routes]]\npath = \"/reports/**\"\nauth = \"public\"\n",
        config("[auth]\ncors_preflight = true\n").replace(ROUTES, "")
    ))
    .await;
    // Upgrade without `Connection: upgrade` is not an upgrade.
    let resp = send(
        &f,
        b"GET /reports/x HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(resp.status, 401, "GET rule: {resp:?}");
    // HEAD falls under the GET rule, not the public one after it.
    let resp = send(
        &f,
        b"HEAD /reports/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(resp.status, 401, "{resp:?}");
    let resp = send(
        &f,
        b"POST /reports/x HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(resp.status, 200);
    assert!(
        header_values(&resp.json(), "upgrade").is_empty(),
        "{resp:?}"
    );
    // TRACE is refused with Allow.
    let resp = send(
        &f,
        b"TRACE /reports/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(resp.status, 405);
    assert!(resp.header("allow").is_some());
    // HTTP/1.0 without Host is refused rather than sent upstream as 1.1 without Host.
    let resp = send(&f, b"POST /reports/x HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(resp.status, 400, "{resp:?}");
    let resp = send(
        &f,
        b"POST /reports/x HTTP/1.0\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(resp.status, 200, "{resp:?}");
    // A preflight never carries a body: one that does is an ordinary request.
    let preflight = b"OPTIONS /secret HTTP/1.1\r\nHost: t\r\nOrigin: https://a.example\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n";
    assert_eq!(send(&f, preflight).status, 200);
    let smuggled = b"OPTIONS /secret HTTP/1.1\r\nHost: t\r\nOrigin: https://a.example\r\nAccess-Control-Request-Method: POST\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    assert_eq!(send(&f, smuggled).status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_all_answered_in_order() {
    let f = start(&config("")).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_logging_never_prints_tokens_or_assertions() {
    let echo = echo::start().await;
    let (proxy, _dir) = Authgate::new(&config(""), echo.addr)
        .env("RUST_LOG", "debug")
        .start();
    let token = hs256(&pinned_claims("alice"), BETTER_AUTH_SECRET);
    let resp = raw::send(
        proxy.addr,
        &raw::get(
            "/api/alice/x",
            &[("Authorization", &format!("Bearer {token}"))],
        ),
    )
    .unwrap();
    assert_eq!(resp.status, 200);
    let assertion = header_values(&resp.json(), "x-auth-assertion");
    assert_eq!(assertion.len(), 1);
    // Let the non-blocking writer catch up.
    std::thread::sleep(Duration::from_millis(300));
    let log = proxy.stderr();
    assert!(log.contains("DEBUG"), "debug logging is on: {log}");
    let signature = token.rsplit('.').next().unwrap();
    assert!(!log.contains(signature), "the bearer token leaked:\n{log}");
    let assertion_sig = assertion[0].rsplit('.').next().unwrap();
    assert!(!log.contains(assertion_sig), "the assertion leaked:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_config_puts_every_other_users_prefix_behind_the_owner_rule() {
    let root = authgate_tests::process::workspace_root();
    let sample = std::fs::read_to_string(root.join("config.toml")).unwrap();
    let f = start(&sample).await;
    let alice = format!("Bearer {}", hs256(&claims("alice"), BETTER_AUTH_SECRET));
    for path in [
        "/api/bob",
        "/api/bob/",
        "/api/bob/tasks",
        "/api/bob/tasks.json",
        "/api/bob/anything",
        "/API/bob/Tasks",
    ] {
        let resp = get(&f, path, &[("Authorization", &alice)]);
        assert_eq!(resp.status, 403, "{path}: {resp:?}");
    }
    assert_eq!(f.echo.hits(), 0);
    assert_eq!(
        get(&f, "/api/alice/anything", &[("Authorization", &alice)]).status,
        200
    );
    // The deployment sample has the same rule.
    let deploy = std::fs::read_to_string(root.join("deploy/authgate.toml")).unwrap();
    assert!(
        deploy.contains("path = \"/api/{user_id}/**\"") && deploy.contains("owner = \"user_id\""),
        "deploy/authgate.toml owner rule:\n{deploy}"
    );
}
