//! Finding and verifying the bearer token, with the real authgate in front of an echo
//! upstream: no token or another scheme is a 401 with a plain challenge, two
//! `Authorization` headers are a 400, and the query string is never a token source; a
//! bad signature, `alg: none`, an algorithm the key does not pin, embedded keys, key
//! URLs, an unknown `crit` and an oversized token are each a 401 `invalid_token` that
//! never echoes the token and never reaches the upstream.

#![allow(clippy::unwrap_used)]

use authgate_tests::gated::{assert_invalid_token, Gated, CONFIG};
use authgate_tests::tokens::{self, alice_token, bearer, claims, forge, hs256};
use authgate_tests::BETTER_AUTH_SECRET;
use jsonwebtoken::Algorithm;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_token_is_401_with_plain_challenge() {
    let f = Gated::start(CONFIG).await;
    let resp = f.get("/api/alice/tasks", &[]);
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Bearer realm=\"authgate\"")
    );
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.json()["error"], "missing_token");
    // Unmatched paths also require a token (fail closed).
    assert_eq!(f.get("/anything/else", &[]).status, 401);
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_scheme_and_malformed_headers() {
    let f = Gated::start(CONFIG).await;
    let resp = f.get(
        "/api/alice/tasks",
        &[("Authorization", "Basic YWxpY2U6cHc=")],
    );
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Bearer realm=\"authgate\"")
    );
    let resp = f.get("/api/alice/tasks", &[("Authorization", "Bearer")]);
    assert_eq!(resp.status, 401);
    let token = alice_token();
    // The scheme is case-insensitive.
    let resp = f.get(
        "/api/alice/tasks",
        &[("Authorization", &format!("bEaReR {token}"))],
    );
    assert_eq!(resp.status, 200);
    // Two Authorization headers are never a pass.
    let resp = f.get(
        "/api/alice/tasks",
        &[
            ("Authorization", &bearer(&token)),
            ("Authorization", &bearer(&token)),
        ],
    );
    assert_eq!(resp.status, 400, "{resp:?}");
    assert!(resp
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_request"));
    // The query string is never a token source.
    let resp = f.get(&format!("/api/alice/tasks?access_token={token}"), &[]);
    assert_eq!(resp.status, 401);
    assert_eq!(f.echo.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signature_and_other_keys_are_401() {
    let f = Gated::start(CONFIG).await;
    let other = hs256(&claims("alice"), "another-secret-another-secret-another!");
    assert_invalid_token(
        &f.get("/api/alice/tasks", &[("Authorization", &bearer(&other))]),
        "invalid signature",
        &other,
    );
    let token = alice_token();
    let (head, _) = token.rsplit_once('.').unwrap();
    let tampered = format!("{head}.{}", "A".repeat(43));
    assert_invalid_token(
        &f.get("/api/alice/tasks", &[("Authorization", &bearer(&tampered))]),
        "invalid signature",
        &tampered,
    );
    // Payload swapped, signature kept.
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged_payload = forge(&json!({"alg":"HS256"}), &claims("bob"), None);
    let bob_payload = forged_payload.split('.').nth(1).unwrap().to_string();
    parts[1] = &bob_payload;
    let swapped = parts.join(".");
    assert_invalid_token(
        &f.get("/api/bob/tasks", &[("Authorization", &bearer(&swapped))]),
        "invalid signature",
        &swapped,
    );
    for garbage in ["abc", "a.b", "a.b.c", "a.b.c.d", "....", "eyJ.eyJ.sig"] {
        let resp = f.get("/api/alice/tasks", &[("Authorization", &bearer(garbage))]);
        assert_eq!(resp.status, 401, "{garbage}");
    }
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alg_none_in_any_case_is_401() {
    let f = Gated::start(CONFIG).await;
    for alg in ["none", "None", "NONE", "nOnE"] {
        for sig in [None, Some(BETTER_AUTH_SECRET)] {
            let token = forge(&json!({"alg": alg, "typ": "JWT"}), &claims("alice"), sig);
            let resp = f.get("/api/alice/tasks", &[("Authorization", &bearer(&token))]);
            assert_invalid_token(&resp, "token algorithm not allowed", &token);
        }
    }
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn algorithm_is_pinned_by_the_key() {
    let f = Gated::start(CONFIG).await;
    // Same secret, other HMAC algorithms: refused, the key only verifies HS256.
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = tokens::sign(alg, &claims("alice"), BETTER_AUTH_SECRET);
        assert_invalid_token(
            &f.get("/api/alice/tasks", &[("Authorization", &bearer(&token))]),
            "token algorithm not allowed",
            &token,
        );
    }
    // Asymmetric algorithm names with an HMAC signature (alg confusion).
    for alg in ["RS256", "ES256", "EdDSA", "PS256"] {
        let token = forge(
            &json!({"alg": alg}),
            &claims("alice"),
            Some(BETTER_AUTH_SECRET),
        );
        assert_invalid_token(
            &f.get("/api/alice/tasks", &[("Authorization", &bearer(&token))]),
            "token algorithm not allowed",
            &token,
        );
    }
    // Embedded keys, key URLs and critical extensions.
    for header in [
        json!({"alg":"HS256","jku":"http://evil.example/jwks"}),
        json!({"alg":"HS256","x5u":"http://evil.example/cert"}),
        json!({"alg":"HS256","jwk":{"kty":"oct","k":"c2VjcmV0"}}),
        json!({"alg":"HS256","x5c":["MIIB"]}),
    ] {
        let token = forge(&header, &claims("alice"), Some(BETTER_AUTH_SECRET));
        assert_invalid_token(
            &f.get("/api/alice/tasks", &[("Authorization", &bearer(&token))]),
            "embedded keys and key URLs are not accepted",
            &token,
        );
    }
    let token = forge(
        &json!({"alg":"HS256","crit":["exp"]}),
        &claims("alice"),
        Some(BETTER_AUTH_SECRET),
    );
    assert_invalid_token(
        &f.get("/api/alice/tasks", &[("Authorization", &bearer(&token))]),
        "unsupported critical header",
        &token,
    );
    // The same forge with a plain header passes: the checks above are what refused.
    let token = forge(
        &json!({"alg":"HS256"}),
        &claims("alice"),
        Some(BETTER_AUTH_SECRET),
    );
    assert_eq!(
        f.get("/api/alice/tasks", &[("Authorization", &bearer(&token))])
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_token_is_refused_without_echo() {
    let f = Gated::start(CONFIG).await;
    let mut big = claims("alice");
    big["pad"] = json!("x".repeat(12_000));
    let token = hs256(&big, BETTER_AUTH_SECRET);
    let resp = f.get("/api/alice/tasks", &[("Authorization", &bearer(&token))]);
    assert_invalid_token(&resp, "token too large", &token);
    assert_eq!(f.echo.hits(), 0);
}
