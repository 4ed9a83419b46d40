//! `authgate explain` answers what the running proxy answers: generated requests
//! and tokens (valid, expired, forged, another user's, failed requirements, bad
//! paths, cookies, CSRF) go both to the real proxy and to `explain`, and the two
//! must agree on every one. Its output never holds the token.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo;
use authgate_tests::process::{binary, Authgate};
use authgate_tests::raw;
use authgate_tests::tokens::{hs256, now, sign};
use authgate_tests::{ASSERTION_SECRET, BETTER_AUTH_SECRET};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use std::process::Command;

const CONFIG: &str = r#"
[server]
threads = 2
grace_period_secs = 1

[[auth.sources]]
type = "shared_secret"

[auth.session_cookie]
enabled = true

[[routes]]
path = "/public/**"
auth = "public"

[[routes]]
path = "/api/{user_id}/**"
owner = "user_id"

[[routes]]
path = "/admin/**"
require = { role = ["admin"], emailVerified = true }

[[routes]]
path = "/scoped/**"
require_scope = ["tasks:write"]

[[routes]]
path = "/feed/**"
auth = "optional"
require = { role = ["reader"] }
"#;

/// One request: method, target, extra header lines.
struct Case {
    method: &'static str,
    target: &'static str,
    token: Option<String>,
    headers: Vec<String>,
}

fn claims(sub: &str, extra: Value) -> Value {
    let mut c = json!({"sub": sub, "exp": now() + 600});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// Better Auth's `session_data` cookie (strategy `jwt`) for `user`.
fn session_cookie(user: &str) -> String {
    let c = json!({"session": {"userId": user, "token": "raw"}, "user": {"id": user}, "exp": now() + 600});
    format!(
        "Cookie: better-auth.session_data={}",
        hs256(&c, BETTER_AUTH_SECRET)
    )
}

/// The tokens every target is tried with.
fn tokens() -> Vec<Option<String>> {
    let alice = |extra| Some(hs256(&claims("alice", extra), BETTER_AUTH_SECRET));
    vec![
        None,
        alice(json!({})),
        alice(json!({"role": "admin", "emailVerified": true})),
        alice(json!({"role": "user,reader", "emailVerified": true, "scope": "tasks:read"})),
        alice(json!({"role": "admin", "emailVerified": "true", "scp": ["tasks:write"]})),
        Some(hs256(
            &claims("bob", json!({"role": ["reader"]})),
            BETTER_AUTH_SECRET,
        )),
        // Expired (beyond the 30 s leeway), forged, another algorithm, malformed.
        Some(hs256(
            &json!({"sub": "alice", "exp": now() - 120}),
            BETTER_AUTH_SECRET,
        )),
        Some(hs256(
            &claims("alice", json!({})),
            "another-secret-another-secret-0123",
        )),
        Some(sign(
            Algorithm::HS384,
            &claims("alice", json!({})),
            BETTER_AUTH_SECRET,
        )),
        Some("not.a.token".into()),
    ]
}

fn cases() -> Vec<Case> {
    let targets = [
        "/public/x",
        "/api/alice/tasks",
        "/api/bob/tasks?limit=5",
        "/API/bob/tasks",
        "/admin/users",
        "/scoped/x",
        "/feed/x",
        "/unlisted",
        "/api/alice/../bob/tasks",
        "/api/alice%2Fbob",
        "/api/alice/tasks;x=1",
        "/%00",
    ];
    let mut out = Vec::new();
    for target in targets {
        for method in ["GET", "POST"] {
            for token in tokens() {
                out.push(Case {
                    method,
                    target,
                    token,
                    headers: Vec::new(),
                });
            }
        }
    }
    // Cookies, safe and unsafe methods, with and without an allowed origin.
    for target in [
        "/api/alice/tasks",
        "/api/bob/tasks",
        "/admin/users",
        "/feed/x",
    ] {
        for (method, origin) in [
            ("GET", None),
            ("POST", None),
            ("POST", Some("Origin: http://localhost")),
            ("POST", Some("Origin: https://localhost")),
            ("DELETE", Some("Sec-Fetch-Site: same-origin")),
        ] {
            let mut headers = vec![session_cookie("alice")];
            headers.extend(origin.map(str::to_string));
            out.push(Case {
                method,
                target,
                token: None,
                headers,
            });
        }
    }
    // Headers that change nothing, and two that change the decision.
    for extra in [
        "X-Auth-User-Id: bob",
        "Authorization: Bearer x.y.z",
        "Content-Length: 1, 2",
    ] {
        out.push(Case {
            method: "GET",
            target: "/api/alice/tasks",
            token: tokens()[1].clone(),
            headers: vec![extra.to_string()],
        });
    }
    out
}

/// What the running proxy answers.
fn proxy_status(addr: std::net::SocketAddr, c: &Case) -> u16 {
    let mut head = format!("{} {} HTTP/1.1\r\nHost: localhost\r\n", c.method, c.target);
    if let Some(t) = &c.token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for h in &c.headers {
        head.push_str(&format!("{h}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    raw::send(addr, head.as_bytes()).map_or(0, |r| r.status)
}

/// What `explain --json` says: the status authgate answers, or the echo's 200 for
/// a request it forwards.
fn explain(config: &std::path::Path, c: &Case) -> (u16, String) {
    let mut cmd = Command::new(binary("authgate"));
    cmd.arg("explain")
        .arg("--config")
        .arg(config)
        .arg("--json")
        .arg(c.method)
        .arg(c.target)
        .env("BETTER_AUTH_SECRET", BETTER_AUTH_SECRET)
        .env("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET);
    if let Some(t) = &c.token {
        cmd.arg("--token").arg(t);
    }
    for h in &c.headers {
        cmd.arg("-H").arg(h);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let status = v["result"]["status"].as_u64().map_or(200, |s| s as u16);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_agrees_with_the_running_proxy_on_every_generated_request() {
    let echo = echo::start().await;
    let (proxy, dir) = Authgate::new(CONFIG, echo.addr).start();
    let config = dir.path().join("authgate.toml");
    let cases = cases();
    assert!(cases.len() >= 200, "{} cases", cases.len());
    let addr = proxy.addr;
    let results: Vec<(usize, u16, u16, String)> = std::thread::scope(|scope| {
        let chunks: Vec<_> = cases
            .chunks(cases.len().div_ceil(4))
            .enumerate()
            .map(|(n, chunk)| {
                let config = &config;
                let base = n * cases.len().div_ceil(4);
                scope.spawn(move || {
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            let (explained, text) = explain(config, c);
                            (base + i, proxy_status(addr, c), explained, text)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut by_status = std::collections::BTreeMap::new();
    for (i, proxied, explained, text) in &results {
        let c = &cases[*i];
        assert_eq!(
            proxied, explained,
            "{} {} token={} headers={:?}: the proxy answered {proxied}, explain said {explained}:\n{text}",
            c.method,
            c.target,
            c.token.is_some(),
            c.headers
        );
        if let Some(t) = &c.token {
            assert!(!text.contains(t.as_str()), "the token is printed: {text}");
            let signature = t.rsplit('.').next().unwrap();
            assert!(signature.len() < 8 || !text.contains(signature), "{text}");
        }
        *by_status.entry(*proxied).or_insert(0) += 1;
    }
    println!(
        "{} requests, explain agreed on all: {by_status:?}",
        results.len()
    );
    for status in [200, 400, 401, 403] {
        assert!(
            by_status.contains_key(&status),
            "no {status} among {by_status:?}"
        );
    }
}

#[test]
fn explain_prints_each_step_and_the_upstream_headers() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("authgate.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let token = hs256(
        &claims("alice", json!({"role": "admin", "emailVerified": true})),
        BETTER_AUTH_SECRET,
    );
    let out = Command::new(binary("authgate"))
        .args(["explain", "--config"])
        .arg(&config)
        .args(["GET", "/admin/../admin/users", "--token", &token])
        .env("BETTER_AUTH_SECRET", BETTER_AUTH_SECRET)
        .env("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    for line in [
        "target      canonical path /admin/users",
        "rule        routes[2] /admin/** (auth required)",
        "credential  bearer",
        "key         shared_secret:BETTER_AUTH_SECRET kid=- HS256: verified",
        "claim       exp: ok",
        "requirement emailVerified = true: met",
        "requirement role contains one of [\"admin\"]: met",
        "result      allow: forwarded to the upstream",
        "subject     alice",
        "x-auth-user-id: alice",
        "x-auth-assertion: ***",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains(&token));
}
