//! The real authgate binary in front of an echo upstream: every decision at the edge.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo::{self, header_values, Echo};
use authgate_tests::process::{Authgate, Service};
use authgate_tests::raw::{self, RawResponse};
use authgate_tests::tokens::{self, claims, forge, hs256, now};
use authgate_tests::{ASSERTION_SECRET, BETTER_AUTH_SECRET};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
[server]
threads = 1
grace_period_secs = 1

[upstream]
read_timeout_ms = 1500

[auth]
leeway_secs = 5

[[auth.sources]]
type = "shared_secret"

[identity.claims]
name = "X-Auth-Name"
roles = "X-Auth-Roles"

[[routes]]
path = "/public/**"
auth = "public"

[[routes]]
path = "/feed/**"
auth = "optional"

[[routes]]
path = "/api/{user_id}/tasks/**"
auth = "required"
owner = "user_id"
"#;

struct Fixture {
    echo: Echo,
    proxy: Service,
    _dir: tempfile::TempDir,
}

async fn fixture_with(config: &str) -> Fixture {
    let echo = echo::start().await;
    let (proxy, dir) = Authgate::new(config, echo.addr).start();
    Fixture {
        echo,
        proxy,
        _dir: dir,
    }
}

async fn fixture() -> Fixture {
    fixture_with(CONFIG).await
}

fn get(f: &Fixture, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    raw::send(f.proxy.addr, &raw::get(path, headers)).expect("a response")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn alice() -> String {
    hs256(&claims("alice"), BETTER_AUTH_SECRET)
}

/// `htq` of a raw query: base64url(SHA-256(query)).
fn authgate_query_hash(query: &str) -> String {
    use base64::Engine as _;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(query.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// A 401 with an RFC 6750 challenge and a JSON body that does not echo the token.
fn assert_invalid_token(resp: &RawResponse, description: &str, token: &str) {
    assert_eq!(resp.status, 401, "{resp:?}");
    let challenge = resp.header("www-authenticate").expect("WWW-Authenticate");
    assert!(
        challenge.starts_with("Bearer realm=\"authgate\""),
        "{challenge}"
    );
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(
        challenge.contains(&format!("error_description=\"{description}\"")),
        "{challenge}"
    );
    let body = resp.json();
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(body["message"], description);
    assert!(!resp.body.contains(token) && !challenge.contains(token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_token_is_401_with_plain_challenge() {
    let f = fixture().await;
    let resp = get(&f, "/api/alice/tasks", &[]);
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Bearer realm=\"authgate\"")
    );
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.json()["error"], "missing_token");
    // Unmatched paths also require a token (fail closed).
    assert_eq!(get(&f, "/anything/else", &[]).status, 401);
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_scheme_and_malformed_headers() {
    let f = fixture().await;
    let resp = get(
        &f,
        "/api/alice/tasks",
        &[("Authorization", "Basic YWxpY2U6cHc=")],
    );
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Bearer realm=\"authgate\"")
    );
    let resp = get(&f, "/api/alice/tasks", &[("Authorization", "Bearer")]);
    assert_eq!(resp.status, 401);
    let token = alice();
    // The scheme is case-insensitive.
    let resp = get(
        &f,
        "/api/alice/tasks",
        &[("Authorization", &format!("bEaReR {token}"))],
    );
    assert_eq!(resp.status, 200);
    // Two Authorization headers are never a pass.
    let resp = get(
        &f,
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
    let resp = get(&f, &format!("/api/alice/tasks?access_token={token}"), &[]);
    assert_eq!(resp.status, 401);
    assert_eq!(f.echo.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signature_and_other_keys_are_401() {
    let f = fixture().await;
    let other = hs256(&claims("alice"), "another-secret-another-secret-another!");
    assert_invalid_token(
        &get(
            &f,
            "/api/alice/tasks",
            &[("Authorization", &bearer(&other))],
        ),
        "invalid signature",
        &other,
    );
    let token = alice();
    let (head, _) = token.rsplit_once('.').unwrap();
    let tampered = format!("{head}.{}", "A".repeat(43));
    assert_invalid_token(
        &get(
            &f,
            "/api/alice/tasks",
            &[("Authorization", &bearer(&tampered))],
        ),
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
        &get(
            &f,
            "/api/bob/tasks",
            &[("Authorization", &bearer(&swapped))],
        ),
        "invalid signature",
        &swapped,
    );
    for garbage in ["abc", "a.b", "a.b.c", "a.b.c.d", "....", "eyJ.eyJ.sig"] {
        let resp = get(
            &f,
            "/api/alice/tasks",
            &[("Authorization", &bearer(garbage))],
        );
        assert_eq!(resp.status, 401, "{garbage}");
    }
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alg_none_in_any_case_is_401() {
    let f = fixture().await;
    for alg in ["none", "None", "NONE", "nOnE"] {
        for sig in [None, Some(BETTER_AUTH_SECRET)] {
            let token = forge(&json!({"alg": alg, "typ": "JWT"}), &claims("alice"), sig);
            let resp = get(
                &f,
                "/api/alice/tasks",
                &[("Authorization", &bearer(&token))],
            );
            assert_invalid_token(&resp, "token algorithm not allowed", &token);
        }
    }
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn algorithm_is_pinned_by_the_key() {
    let f = fixture().await;
    // Same secret, other HMAC algorithms: refused, the key only verifies HS256.
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = tokens::sign(alg, &claims("alice"), BETTER_AUTH_SECRET);
        assert_invalid_token(
            &get(
                &f,
                "/api/alice/tasks",
                &[("Authorization", &bearer(&token))],
            ),
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
            &get(
                &f,
                "/api/alice/tasks",
                &[("Authorization", &bearer(&token))],
            ),
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
            &get(
                &f,
                "/api/alice/tasks",
                &[("Authorization", &bearer(&token))],
            ),
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
        &get(
            &f,
            "/api/alice/tasks",
            &[("Authorization", &bearer(&token))],
        ),
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
        get(
            &f,
            "/api/alice/tasks",
            &[("Authorization", &bearer(&token))]
        )
        .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_not_before_and_leeway() {
    let f = fixture().await;
    let t = now();
    let expired = hs256(&json!({"sub":"alice","exp": t - 60}), BETTER_AUTH_SECRET);
    assert_invalid_token(
        &get(
            &f,
            "/api/alice/tasks",
            &[("Authorization", &bearer(&expired))],
        ),
        "token expired",
        &expired,
    );
    // Within the 5 s leeway.
    let just = hs256(&json!({"sub":"alice","exp": t - 2}), BETTER_AUTH_SECRET);
    assert_eq!(
        get(&f, "/api/alice/tasks", &[("Authorization", &bearer(&just))]).status,
        200
    );
    let future = hs256(
        &json!({"sub":"alice","exp": t + 600, "nbf": t + 120}),
        BETTER_AUTH_SECRET,
    );
    assert_invalid_token(
        &get(
            &f,
            "/api/alice/tasks",
            &[("Authorization", &bearer(&future))],
        ),
        "token not yet valid",
        &future,
    );
    let no_exp = hs256(&json!({"sub":"alice"}), BETTER_AUTH_SECRET);
    assert_invalid_token(
        &get(
            &f,
            "/api/alice/tasks",
            &[("Authorization", &bearer(&no_exp))],
        ),
        "missing or invalid required claim",
        &no_exp,
    );
    let bad_exp = hs256(&json!({"sub":"alice","exp":"tomorrow"}), BETTER_AUTH_SECRET);
    assert_eq!(
        get(
            &f,
            "/api/alice/tasks",
            &[("Authorization", &bearer(&bad_exp))]
        )
        .status,
        401
    );
    let no_sub = hs256(&json!({"exp": t + 600}), BETTER_AUTH_SECRET);
    assert_invalid_token(
        &get(&f, "/x", &[("Authorization", &bearer(&no_sub))]),
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
    let f = fixture_with(&config).await;
    let t = now();
    let ok = hs256(
        &json!({"sub":"alice","exp":t+600,"iss":"https://auth.example","aud":"https://api.example"}),
        BETTER_AUTH_SECRET,
    );
    assert_eq!(
        get(&f, "/api/alice/tasks", &[("Authorization", &bearer(&ok))]).status,
        200
    );
    let aud_list = hs256(
        &json!({"sub":"alice","exp":t+600,"iss":"https://auth.example","aud":["x","https://api.example"]}),
        BETTER_AUTH_SECRET,
    );
    assert_eq!(
        get(
            &f,
            "/api/alice/tasks",
            &[("Authorization", &bearer(&aud_list))]
        )
        .status,
        200
    );
    let bad_iss = hs256(
        &json!({"sub":"alice","exp":t+600,"iss":"https://evil.example","aud":"https://api.example"}),
        BETTER_AUTH_SECRET,
    );
    assert_invalid_token(
        &get(
            &f,
            "/api/alice/tasks",
            &[("Authorization", &bearer(&bad_iss))],
        ),
        "invalid issuer",
        &bad_iss,
    );
    let bad_aud = hs256(
        &json!({"sub":"alice","exp":t+600,"iss":"https://auth.example","aud":"https://other.example"}),
        BETTER_AUTH_SECRET,
    );
    assert_invalid_token(
        &get(
            &f,
            "/api/alice/tasks",
            &[("Authorization", &bearer(&bad_aud))],
        ),
        "invalid audience",
        &bad_aud,
    );
    let none = hs256(&json!({"sub":"alice","exp":t+600}), BETTER_AUTH_SECRET);
    assert_invalid_token(
        &get(&f, "/api/alice/tasks", &[("Authorization", &bearer(&none))]),
        "missing or invalid required claim",
        &none,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_in_claims_never_reach_the_upstream() {
    let f = fixture().await;
    let t = now();
    for sub in [
        "alice\r\nX-Auth-User-Id: admin",
        "alice\n",
        "al\u{0}ice",
        "\t",
        "",
    ] {
        let token = hs256(&json!({"sub": sub, "exp": t + 600}), BETTER_AUTH_SECRET);
        let resp = get(&f, "/x", &[("Authorization", &bearer(&token))]);
        assert_eq!(resp.status, 401, "{sub:?}");
    }
    let bad_email = hs256(
        &json!({"sub":"alice","exp":t+600,"email":"a@b\r\nX-Evil: 1"}),
        BETTER_AUTH_SECRET,
    );
    assert_eq!(
        get(
            &f,
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
        get(
            &f,
            "/api/alice/tasks",
            &[("Authorization", &bearer(&bad_name))]
        )
        .status,
        401
    );
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_token_is_refused_without_echo() {
    let f = fixture().await;
    let mut big = claims("alice");
    big["pad"] = json!("x".repeat(12_000));
    let token = hs256(&big, BETTER_AUTH_SECRET);
    let resp = get(
        &f,
        "/api/alice/tasks",
        &[("Authorization", &bearer(&token))],
    );
    assert_invalid_token(&resp, "token too large", &token);
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_token_forwards_exactly_one_trusted_identity() {
    let f = fixture().await;
    let mut c = claims("alice");
    c["name"] = json!("Alice A.");
    c["roles"] = json!(["admin", "ops"]);
    let token = hs256(&c, BETTER_AUTH_SECRET);
    let resp = get(
        &f,
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
async fn the_query_string_is_forwarded_unchanged() {
    let f = fixture().await;
    let token = alice();
    let resp = get(
        &f,
        "/api/alice/tasks?status=pending&limit=5&q=a%2Fb%20c&x=..%2F",
        &[("Authorization", &bearer(&token))],
    );
    assert_eq!(resp.status, 200);
    let seen = resp.json();
    assert_eq!(seen["path"], "/api/alice/tasks");
    assert_eq!(seen["query"], "status=pending&limit=5&q=a%2Fb%20c&x=..%2F");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_identity_headers_are_stripped_in_every_spelling() {
    let f = fixture().await;
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
    let resp = get(&f, "/public/page", &spoofs);
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
    let token = alice();
    let auth = bearer(&token);
    with_token.push(("Authorization", &auth));
    // A Connection header naming an identity header must not make it hop-by-hop.
    with_token.push(("Connection", "close, X-Auth-User-Id, X-Auth-Assertion"));
    let resp = get(&f, "/api/alice/tasks", &with_token);
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
async fn owner_mismatch_is_403() {
    let f = fixture().await;
    let bob = hs256(&claims("bob"), BETTER_AUTH_SECRET);
    for path in [
        "/api/alice/tasks",
        "/api/alice/tasks/1",
        "/api/alice/tasks/1/complete",
    ] {
        let resp = get(&f, path, &[("Authorization", &bearer(&bob))]);
        assert_eq!(resp.status, 403, "{path}");
        assert!(resp
            .header("www-authenticate")
            .unwrap()
            .contains("error=\"insufficient_scope\""));
        assert_eq!(resp.json()["error"], "insufficient_scope");
    }
    assert_eq!(
        get(&f, "/api/bob/tasks", &[("Authorization", &bearer(&bob))]).status,
        200
    );
    assert_eq!(f.echo.hits(), 1);
    let log = f
        .proxy
        .stderr_containing("owner_mismatch", Duration::from_secs(5));
    assert!(
        log.contains("owner_mismatch"),
        "access log names the reason"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_tricks_never_reach_another_users_resource() {
    let f = fixture().await;
    let token = alice();
    let auth = bearer(&token);
    let h = [("Authorization", auth.as_str())];
    let cases: &[(&str, u16)] = &[
        ("/api/alice/../bob/tasks", 403),
        ("/api/alice/tasks/../../bob/tasks", 403),
        ("/api/./bob/tasks", 403),
        ("//api//bob//tasks", 403),
        ("/api/%62ob/tasks", 403),
        // For upstreams that route case-insensitively (Express, ASP.NET).
        ("/API/bob/TASKS", 403),
        ("/Api/bob/Tasks/1", 403),
        ("/api/alice%2F..%2Fbob/tasks", 400),
        ("/api/alice%2f..%2fbob/tasks", 400),
        ("/api/alice/%2e%2e/bob/tasks", 400),
        ("/api/alice/.%2E/bob/tasks", 400),
        ("/api/alice\\..\\bob/tasks", 400),
        ("/api/alice%5c..%5cbob/tasks", 400),
        ("/api/alice;/../bob/tasks", 400),
        ("/api/bob;alice/tasks", 400),
        ("/api/alice%00/tasks", 400),
        ("/api/alice/tasks/%0d%0aX-Auth-User-Id:%20bob", 400),
        ("/../api/bob/tasks", 400),
        ("http://evil.example/api/bob/tasks", 400),
        ("*", 400),
    ];
    for (path, status) in cases {
        let resp = get(&f, path, &h);
        assert_eq!(resp.status, *status, "{path}: {resp:?}");
    }
    assert_eq!(f.echo.hits(), 0, "nothing reached the upstream");
    // Alice's own paths in odd spellings reach the upstream, canonicalised.
    for (path, canonical) in [
        ("/api/alice/./tasks", "/api/alice/tasks"),
        ("/api//alice/tasks/", "/api/alice/tasks/"),
        ("/api/%61lice/tasks", "/api/alice/tasks"),
        ("/api/bob/../alice/tasks", "/api/alice/tasks"),
    ] {
        let resp = get(&f, path, &h);
        assert_eq!(resp.status, 200, "{path}");
        assert_eq!(resp.json()["path"], canonical, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_framing_is_400() {
    let f = fixture().await;
    let token = alice();
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
async fn public_and_optional_routes() {
    let f = fixture().await;
    assert_eq!(get(&f, "/public/x", &[]).status, 200);
    let resp = get(&f, "/feed/today", &[]);
    assert_eq!(resp.status, 200);
    assert!(header_values(&resp.json(), "x-auth-user-id").is_empty());
    let token = alice();
    let resp = get(&f, "/feed/today", &[("Authorization", &bearer(&token))]);
    assert_eq!(header_values(&resp.json(), "x-auth-user-id"), ["alice"]);
    let bad = hs256(
        &json!({"sub":"alice","exp": now() - 100}),
        BETTER_AUTH_SECRET,
    );
    assert_eq!(
        get(&f, "/feed/today", &[("Authorization", &bearer(&bad))]).status,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_endpoints_live_on_the_admin_listener() {
    let f = fixture().await;
    let admin = f.proxy.admin.expect("admin listener");
    for path in ["/healthz", "/readyz"] {
        let resp = raw::send(admin, &raw::get(path, &[])).unwrap();
        assert_eq!(resp.status, 200, "{path}");
        assert_eq!(resp.json()["status"], "ok");
    }
    let post = raw::send(
        admin,
        b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(f.echo.hits(), 0, "admin requests are never proxied");
    // On the proxy port /healthz is the upstream's path like any other.
    let token = alice();
    let resp = get(&f, "/healthz", &[("Authorization", &bearer(&token))]);
    assert_eq!(resp.status, 200);
    assert_eq!(f.echo.hits(), 1, "the upstream's /healthz is reachable");
    // The proxy port can answer them itself when configured to.
    let config = CONFIG.replace(
        "[server]\n",
        "[server]\nhealth_path = \"/healthz\"\nready_path = \"/readyz\"\n",
    );
    let (proxy, _dir) = Authgate::new(&config, f.echo.addr).start();
    for path in ["/healthz", "/readyz"] {
        let resp = raw::send(proxy.addr, &raw::get(path, &[])).unwrap();
        assert_eq!(resp.status, 200, "{path}");
    }
    assert_eq!(f.echo.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_is_502_and_timeout_is_504() {
    let closed = echo::closed_port();
    let (proxy, _dir) = Authgate::new(CONFIG, closed).start();
    let token = alice();
    let started = Instant::now();
    let resp = raw::send(
        proxy.addr,
        &raw::get("/api/alice/tasks", &[("Authorization", &bearer(&token))]),
    )
    .unwrap();
    assert_eq!(resp.status, 502, "{resp:?}");
    assert_eq!(resp.json()["error"], "bad_gateway");
    assert!(started.elapsed() < Duration::from_secs(5));

    let silent = echo::start_silent().await;
    let (proxy, _dir2) = Authgate::new(CONFIG, silent).start();
    let started = Instant::now();
    let resp = raw::send(
        proxy.addr,
        &raw::get("/api/alice/tasks", &[("Authorization", &bearer(&token))]),
    )
    .unwrap();
    assert_eq!(resp.status, 504, "{resp:?}");
    assert_eq!(resp.json()["error"], "gateway_timeout");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(8),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_has_one_line_per_request_and_never_the_token() {
    let mut f = fixture().await;
    let token = alice();
    let bad = hs256(&claims("alice"), "wrong-secret-wrong-secret-wrong-secret");
    get(
        &f,
        "/api/alice/tasks",
        &[("Authorization", &bearer(&token))],
    );
    get(&f, "/api/alice/tasks", &[("Authorization", &bearer(&bad))]);
    get(&f, "/api/alice/tasks", &[]);
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
async fn sigterm_shuts_down_within_the_grace_period() {
    let mut f = fixture().await;
    assert!(f.proxy.is_running());
    let started = Instant::now();
    let status = f
        .proxy
        .terminate(Duration::from_secs(10))
        .expect("exited after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}
