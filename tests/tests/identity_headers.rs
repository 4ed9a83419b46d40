//! What reaches the upstream about who is asking, with the real authgate in front of an
//! echo upstream: exactly one verified identity (`X-Auth-User-Id`, `X-Auth-Email`,
//! mapped claims), a fresh request id, the forwarding headers authgate sets, and an
//! `X-Auth-Assertion` bound to the request and signed with a secret of its own (one
//! secret for both is refused at start); identity, forwarding, routing and
//! method-override headers a client sends are stripped in every spelling, also when
//! `Connection` names them.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo::header_values;
use authgate_tests::gated::{pinned_bearer, pinned_config, Gated, CONFIG};
use authgate_tests::process::authgate_check;
use authgate_tests::tokens::{alice_token, bearer, claims, hs256};
use authgate_tests::{ASSERTION_SECRET, BETTER_AUTH_SECRET};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

/// `htq` of a raw query: base64url(SHA-256(query)).
fn authgate_query_hash(query: &str) -> String {
    use base64::Engine as _;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(query.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_token_forwards_exactly_one_trusted_identity() {
    let f = Gated::start(CONFIG).await;
    let mut c = claims("alice");
    c["name"] = json!("Alice A.");
    c["roles"] = json!(["admin", "ops"]);
    let token = hs256(&c, BETTER_AUTH_SECRET);
    let resp = f.get(
        "/api/alice/tasks/7/complete?status=all&x=%2F",
        &[
            ("Authorization", &bearer(&token)),
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Request-Id", "spoofed"),
            ("Cookie", "theme=dark"),
        ],
    );
    assert_eq!(resp.status, 200, "{resp:?}");
    let seen = resp.json();
    assert_eq!(seen["path"], "/api/alice/tasks/7/complete");
    assert_eq!(header_values(&seen, "x-auth-user-id"), ["alice"]);
    assert_eq!(header_values(&seen, "x-auth-email"), ["alice@example.com"]);
    assert_eq!(header_values(&seen, "x-auth-name"), ["Alice A."]);
    assert_eq!(header_values(&seen, "x-auth-roles"), [r#"["admin","ops"]"#]);
    assert!(
        header_values(&seen, "authorization").is_empty(),
        "Authorization stripped"
    );
    assert_eq!(header_values(&seen, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(header_values(&seen, "x-forwarded-proto"), ["http"]);
    assert_eq!(header_values(&seen, "cookie"), ["theme=dark"]);
    let request_id = header_values(&seen, "x-request-id");
    assert_eq!(request_id.len(), 1);
    assert_ne!(request_id[0], "spoofed");
    assert_eq!(resp.header("x-request-id"), Some(request_id[0].as_str()));

    // The assertion verifies with the assertion secret and is bound to this request.
    let assertion = header_values(&seen, "x-auth-assertion");
    assert_eq!(assertion.len(), 1);
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&["upstream-api"]);
    v.set_issuer(&["authgate"]);
    let data = jsonwebtoken::decode::<Value>(
        &assertion[0],
        &DecodingKey::from_secret(ASSERTION_SECRET.as_bytes()),
        &v,
    )
    .expect("assertion verifies");
    let a = data.claims;
    assert_eq!(a["sub"], "alice");
    assert_eq!(a["email"], "alice@example.com");
    assert_eq!(a["htm"], "GET");
    assert_eq!(a["htp"], "/api/alice/tasks/7/complete");
    // A fresh id per assertion (the upstream's replay cache keys on it), not the
    // request id, which a trusted ingress may set.
    let jti = a["jti"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(jti).unwrap().get_version_num(), 4);
    assert_ne!(jti, request_id[0].as_str());
    assert_eq!(
        a["htq"],
        authgate_query_hash(seen["query"].as_str().unwrap()),
        "the query as forwarded is bound"
    );
    let ttl = a["exp"].as_u64().unwrap() - a["iat"].as_u64().unwrap();
    assert!(ttl <= 60, "{ttl}");
    // Signed with the Better Auth secret it would not verify: the keys are distinct.
    assert!(jsonwebtoken::decode::<Value>(
        &assertion[0],
        &DecodingKey::from_secret(BETTER_AUTH_SECRET.as_bytes()),
        &v
    )
    .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_identity_headers_are_stripped_in_every_spelling() {
    let f = Gated::start(CONFIG).await;
    let spoofs: Vec<(&str, &str)> = vec![
        ("X-Auth-User-Id", "mallory"),
        ("x-auth-user-id", "mallory"),
        ("X_Auth_User_Id", "mallory"),
        ("x_auth-user_id", "mallory"),
        ("X-AUTH-EMAIL", "m@evil"),
        ("X_Auth_Email", "m@evil"),
        ("X-Auth-Assertion", "forged"),
        ("x_auth_assertion", "forged"),
        ("X-Auth-Name", "Mallory"),
        ("X-Auth-Roles", "admin"),
        ("X-Forwarded-User", "mallory"),
        ("X_Forwarded_Email", "m@evil"),
        ("X-Auth-Request-User", "mallory"),
        ("X_Auth_Request_Email", "m@evil"),
        ("X_Forwarded_For", "6.6.6.6"),
        ("Forwarded", "for=6.6.6.6"),
    ];
    // On a public route: everything stripped, nothing injected.
    let resp = f.get("/public/page", &spoofs);
    assert_eq!(resp.status, 200);
    let seen = resp.json();
    for (name, _) in &spoofs {
        let normal = name.to_ascii_lowercase();
        let names: Vec<String> = seen["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h[0].as_str().unwrap().to_string())
            .collect();
        let leaked = names
            .iter()
            .filter(|n| n.replace('_', "-") == normal.replace('_', "-"))
            .count();
        // authgate sets these itself, once.
        let allowed = usize::from(matches!(
            normal.replace('_', "-").as_str(),
            "x-forwarded-for" | "forwarded"
        ));
        assert_eq!(leaked, allowed, "{name} leaked: {names:?}");
    }
    assert_eq!(header_values(&seen, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(
        header_values(&seen, "forwarded"),
        ["for=127.0.0.1;proto=http"]
    );
    // With a token: exactly the verified values.
    let mut with_token = spoofs.clone();
    let token = alice_token();
    let auth = bearer(&token);
    with_token.push(("Authorization", &auth));
    // A Connection header naming an identity header must not make it hop-by-hop.
    with_token.push(("Connection", "close, X-Auth-User-Id, X-Auth-Assertion"));
    let resp = f.get("/api/alice/tasks", &with_token);
    assert_eq!(resp.status, 200);
    let seen = resp.json();
    assert_eq!(header_values(&seen, "x-auth-user-id"), ["alice"]);
    assert!(header_values(&seen, "x_auth_user_id").is_empty());
    assert_eq!(header_values(&seen, "x-auth-email"), ["alice@example.com"]);
    assert_eq!(header_values(&seen, "x-auth-assertion").len(), 1);
    assert_ne!(header_values(&seen, "x-auth-assertion")[0], "forged");
    assert!(header_values(&seen, "x-auth-name").is_empty());
    assert!(header_values(&seen, "x-auth-roles").is_empty());
    assert!(header_values(&seen, "x-forwarded-user").is_empty());
    assert!(header_values(&seen, "x-auth-request-user").is_empty());
    assert!(header_values(&seen, "connection")
        .iter()
        .all(|v| !v.to_ascii_lowercase().contains("x-auth")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn override_and_foreign_identity_headers_never_reach_the_upstream() {
    let f = Gated::start(&pinned_config("")).await;
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
    let alice = pinned_bearer("alice");
    for path in ["/public/page", "/api/alice/tasks"] {
        let mut headers: Vec<(&str, &str)> = spoofed.to_vec();
        headers.push(("Authorization", &alice));
        let resp = f.get(path, &headers);
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
async fn one_secret_for_tokens_and_assertions_is_refused_at_start() {
    let (code, _out, err) = authgate_check(
        &pinned_config(""),
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
