//! The claims a verified token must carry, with the real authgate in front of an echo
//! upstream: `exp` (with leeway) and `sub` are required, `nbf` is honoured, `iss` and
//! `aud` are checked when configured, and a subject, email or mapped claim with control
//! characters or edge whitespace, which could forge a header line upstream, is refused.
//! Each refusal is a 401 before the upstream.

#![allow(clippy::unwrap_used)]

use authgate_tests::gated::{assert_invalid_token, pinned_claims, pinned_config, Gated, CONFIG};
use authgate_tests::tokens::{bearer, hs256, now};
use authgate_tests::BETTER_AUTH_SECRET;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_not_before_and_leeway() {
    let f = Gated::start(CONFIG).await;
    let t = now();
    let expired = hs256(&json!({"sub":"alice","exp": t - 60}), BETTER_AUTH_SECRET);
    assert_invalid_token(
        &f.get("/api/alice/tasks", &[("Authorization", &bearer(&expired))]),
        "token expired",
        &expired,
    );
    // Within the 5 s leeway.
    let just = hs256(&json!({"sub":"alice","exp": t - 2}), BETTER_AUTH_SECRET);
    assert_eq!(
        f.get("/api/alice/tasks", &[("Authorization", &bearer(&just))])
            .status,
        200
    );
    let future = hs256(
        &json!({"sub":"alice","exp": t + 600, "nbf": t + 120}),
        BETTER_AUTH_SECRET,
    );
    assert_invalid_token(
        &f.get("/api/alice/tasks", &[("Authorization", &bearer(&future))]),
        "token not yet valid",
        &future,
    );
    let no_exp = hs256(&json!({"sub":"alice"}), BETTER_AUTH_SECRET);
    assert_invalid_token(
        &f.get("/api/alice/tasks", &[("Authorization", &bearer(&no_exp))]),
        "missing or invalid required claim",
        &no_exp,
    );
    let bad_exp = hs256(&json!({"sub":"alice","exp":"tomorrow"}), BETTER_AUTH_SECRET);
    assert_eq!(
        f.get("/api/alice/tasks", &[("Authorization", &bearer(&bad_exp))])
            .status,
        401
    );
    let no_sub = hs256(&json!({"exp": t + 600}), BETTER_AUTH_SECRET);
    assert_invalid_token(
        &f.get("/x", &[("Authorization", &bearer(&no_sub))]),
        "missing or invalid required claim",
        &no_sub,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_and_audience_when_configured() {
    let config = CONFIG.replace(
        "type = \"shared_secret\"",
        "type = \"shared_secret\"\nissuer = [\"https://auth.example\"]\naudience = [\"https://api.example\"]",
    );
    let f = Gated::start(&config).await;
    let t = now();
    let ok = hs256(
        &json!({"sub":"alice","exp":t+600,"iss":"https://auth.example","aud":"https://api.example"}),
        BETTER_AUTH_SECRET,
    );
    assert_eq!(
        f.get("/api/alice/tasks", &[("Authorization", &bearer(&ok))])
            .status,
        200
    );
    let aud_list = hs256(
        &json!({"sub":"alice","exp":t+600,"iss":"https://auth.example","aud":["x","https://api.example"]}),
        BETTER_AUTH_SECRET,
    );
    assert_eq!(
        f.get("/api/alice/tasks", &[("Authorization", &bearer(&aud_list))])
            .status,
        200
    );
    let bad_iss = hs256(
        &json!({"sub":"alice","exp":t+600,"iss":"https://evil.example","aud":"https://api.example"}),
        BETTER_AUTH_SECRET,
    );
    assert_invalid_token(
        &f.get("/api/alice/tasks", &[("Authorization", &bearer(&bad_iss))]),
        "invalid issuer",
        &bad_iss,
    );
    let bad_aud = hs256(
        &json!({"sub":"alice","exp":t+600,"iss":"https://auth.example","aud":"https://other.example"}),
        BETTER_AUTH_SECRET,
    );
    assert_invalid_token(
        &f.get("/api/alice/tasks", &[("Authorization", &bearer(&bad_aud))]),
        "invalid audience",
        &bad_aud,
    );
    let none = hs256(&json!({"sub":"alice","exp":t+600}), BETTER_AUTH_SECRET);
    assert_invalid_token(
        &f.get("/api/alice/tasks", &[("Authorization", &bearer(&none))]),
        "missing or invalid required claim",
        &none,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_in_claims_never_reach_the_upstream() {
    let f = Gated::start(CONFIG).await;
    let t = now();
    for sub in [
        "alice\r\nX-Auth-User-Id: admin",
        "alice\n",
        "al\u{0}ice",
        "\t",
        "",
    ] {
        let token = hs256(&json!({"sub": sub, "exp": t + 600}), BETTER_AUTH_SECRET);
        let resp = f.get("/x", &[("Authorization", &bearer(&token))]);
        assert_eq!(resp.status, 401, "{sub:?}");
    }
    let bad_email = hs256(
        &json!({"sub":"alice","exp":t+600,"email":"a@b\r\nX-Evil: 1"}),
        BETTER_AUTH_SECRET,
    );
    assert_eq!(
        f.get(
            "/api/alice/tasks",
            &[("Authorization", &bearer(&bad_email))]
        )
        .status,
        401
    );
    let bad_name = hs256(
        &json!({"sub":"alice","exp":t+600,"name":"A\rB"}),
        BETTER_AUTH_SECRET,
    );
    assert_eq!(
        f.get("/api/alice/tasks", &[("Authorization", &bearer(&bad_name))])
            .status,
        401
    );
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subjects_and_emails_with_edge_whitespace_are_refused() {
    let f = Gated::start(&pinned_config("")).await;
    for (sub, email) in [
        (" alice", "a@x"),
        ("alice ", "a@x"),
        ("alice", " a@x"),
        ("alice", "a@x\u{a0}"),
    ] {
        let mut c = pinned_claims(sub);
        c["email"] = json!(email);
        let token = hs256(&c, BETTER_AUTH_SECRET);
        let resp = f.get(
            "/api/alice/x",
            &[("Authorization", &format!("Bearer {token}"))],
        );
        assert_eq!(resp.status, 401, "{sub:?} {email:?}: {resp:?}");
    }
    assert_eq!(f.echo.hits(), 0);
}
