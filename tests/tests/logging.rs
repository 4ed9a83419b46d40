//! What the real authgate writes to its log: one access-log line per request, with the
//! decision and its reason, and no token, assertion or secret in any line, at debug
//! level too.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo::{self, header_values};
use authgate_tests::gated::{pinned_claims, pinned_config, Gated, CONFIG};
use authgate_tests::process::Authgate;
use authgate_tests::raw;
use authgate_tests::tokens::{alice_token, bearer, claims, hs256};
use authgate_tests::{ASSERTION_SECRET, BETTER_AUTH_SECRET};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_has_one_line_per_request_and_never_the_token() {
    let mut f = Gated::start(CONFIG).await;
    let token = alice_token();
    let bad = hs256(&claims("alice"), "wrong-secret-wrong-secret-wrong-secret");
    f.get("/api/alice/tasks", &[("Authorization", &bearer(&token))]);
    f.get("/api/alice/tasks", &[("Authorization", &bearer(&bad))]);
    f.get("/api/alice/tasks", &[]);
    // Stop the process so its log is flushed.
    assert!(f.proxy.terminate(Duration::from_secs(10)).is_some());
    let log = f.proxy.stderr();
    let access: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("authgate::access"))
        .collect();
    // Three requests; the readiness probe went to the admin port, which is not
    // access-logged.
    assert_eq!(access.len(), 3, "{log}");
    assert!(access
        .iter()
        .any(|l| l.contains("decision=allow") && l.contains("subject=alice")));
    assert!(access.iter().any(|l| l.contains("reason=bad_signature")));
    assert!(access.iter().any(|l| l.contains("reason=missing_token")));
    for secret in [
        token.as_str(),
        bad.as_str(),
        BETTER_AUTH_SECRET,
        ASSERTION_SECRET,
    ] {
        assert!(
            !log.contains(secret),
            "a token or secret leaked into the log"
        );
    }
    let sig = token.rsplit('.').next().unwrap();
    assert!(!log.contains(sig));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_logging_never_prints_tokens_or_assertions() {
    let echo = echo::start().await;
    let (proxy, _dir) = Authgate::new(&pinned_config(""), echo.addr)
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
