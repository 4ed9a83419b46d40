//! Micro-benchmarks of authgate's per-request auth work, without the network: token
//! verification (HS256, EdDSA miss and cache hit, RS256), path canonicalisation plus
//! route matching, and identity-header stripping and injection.
//!
//! `cargo bench -p authgate --bench auth` (CI only compiles it: `--all-targets`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use authgate::benching::{
    canonicalize, jwks, parse_jwks, Admitted, AssertionSigner, AuthMetrics, AuthMode, BoundRequest,
    ClaimRules, HeaderNames, Identity, IdentityHeaders, JwkContext, KeptClaims, KeyAlg, KeySet,
    KeySource, NoTrace, OutboundPolicy, Pattern, Purpose, Requirement, Route, RouteTable, Scheme,
    Secret, TestKey, Verifier, VerifierOptions, VerifyingKey,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use pingora::http::RequestHeader;
use serde_json::json;

const SECRET: &str = "bench-shared-secret-0123456789abcdef";

fn rules() -> Arc<ClaimRules> {
    Arc::new(ClaimRules {
        issuer: vec!["http://auth.example".into()],
        audience: vec!["http://auth.example".into()],
        leeway: Duration::from_secs(30),
    })
}

fn verifier(source: KeySource, cache_entries: usize) -> Verifier {
    Verifier::new(
        vec![source],
        VerifierOptions {
            max_token_bytes: 8192,
            kept_claims: KeptClaims {
                forwarded: vec!["name".into()],
                for_rules: Vec::new(),
            },
            cache_entries,
        },
        Arc::new(AuthMetrics::default()),
    )
}

fn jwks_source(key: &TestKey) -> KeySource {
    let rules = rules();
    let label: Arc<str> = "bench".into();
    let parsed = parse_jwks(
        jwks(&[key]).as_bytes(),
        &JwkContext {
            allowed: &KeyAlg::ASYMMETRIC,
            rules: &rules,
            source: &label,
            previous: None,
        },
    )
    .unwrap();
    KeySource::Static(Arc::new(KeySet::new(parsed.keys)))
}

/// Claims shaped like Better Auth's (the whole user record).
fn claims() -> serde_json::Value {
    let now = jsonwebtoken::get_current_timestamp();
    json!({
        "iat": now, "exp": now + 900, "sub": "user_01HZX3", "id": "user_01HZX3",
        "email": "alice@example.com", "emailVerified": false, "name": "Alice",
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z",
        "iss": "http://auth.example", "aud": "http://auth.example"
    })
}

fn verification(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");

    let hs = VerifyingKey::hs256(&Secret::new(SECRET), rules(), "bench".into());
    let hs_source = KeySource::Static(Arc::new(KeySet::new(vec![Arc::new(hs)])));
    let hs_token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let v = verifier(hs_source, 0);
    group.bench_function("hs256", |b| {
        b.iter(|| {
            v.verify_now(black_box(&hs_token), Purpose::Bearer, &mut NoTrace)
                .unwrap()
        })
    });

    for alg in [KeyAlg::EdDSA, KeyAlg::ES256, KeyAlg::RS256] {
        let key = TestKey::generate(alg, "k1");
        let token = key.sign(&claims());
        let uncached = verifier(jwks_source(&key), 0);
        group.bench_function(format!("{}/miss", alg.as_str()), |b| {
            b.iter(|| {
                uncached
                    .verify_now(black_box(&token), Purpose::Bearer, &mut NoTrace)
                    .unwrap()
            })
        });
        let cached = verifier(jwks_source(&key), 1024);
        cached
            .verify_now(&token, Purpose::Bearer, &mut NoTrace)
            .unwrap();
        group.bench_function(format!("{}/cache-hit", alg.as_str()), |b| {
            b.iter(|| {
                cached
                    .verify_now(black_box(&token), Purpose::Bearer, &mut NoTrace)
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn routing(c: &mut Criterion) {
    let route = |p: &str, auth, owner: Option<&str>| Route {
        pattern: Pattern::parse(p).unwrap(),
        methods: vec![],
        auth,
        requirements: owner
            .map(|param| Requirement::Owner {
                param: param.to_string(),
            })
            .into_iter()
            .collect(),
        rate_limit: Vec::new(),
        upstream: 0,
    };
    let table = RouteTable::new(vec![
        route("/openapi.json", AuthMode::Public, None),
        route("/healthz", AuthMode::Public, None),
        route("/public/**", AuthMode::Public, None),
        route(
            "/api/{user_id}/tasks/**",
            AuthMode::Required,
            Some("user_id"),
        ),
    ]);
    let who = Identity {
        subject: "user_01HZX3".into(),
        email: None,
        claims: Vec::new(),
        expires_at: u64::MAX,
        not_before: None,
        issued_at: None,
        token_id: None,
    };
    let mut group = c.benchmark_group("route");
    for (name, path) in [
        ("canonical", "/api/user_01HZX3/tasks/3f2a9c4e/complete"),
        ("dot-segments", "/api/x/../user_01HZX3/./tasks//3f2a%39c4e"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let canonical = canonicalize(black_box(path)).unwrap();
                let m = table.lookup("PATCH", &canonical);
                black_box(m.first_unmet(&who, &mut NoTrace))
            })
        });
    }
    group.finish();
}

fn headers(c: &mut Criterion) {
    let identity = IdentityHeaders::new(&HeaderNames {
        user_id: "X-Auth-User-Id",
        email: "X-Auth-Email",
        assertion: "X-Auth-Assertion",
        claims: &[("name".to_string(), "X-Auth-Name".to_string())],
        extra_strip: &[],
    })
    .unwrap();
    let request = || {
        let mut req = RequestHeader::build("GET", b"/api/user_01HZX3/tasks", None).unwrap();
        for (k, v) in [
            ("Host", "api.example"),
            ("User-Agent", "Mozilla/5.0"),
            ("Accept", "application/json"),
            ("Accept-Encoding", "gzip, br"),
            ("Accept-Language", "en"),
            ("Authorization", "Bearer x.y.z"),
            ("X-Auth-User-Id", "mallory"),
            ("x_auth_email", "m@evil"),
        ] {
            req.append_header(k, v).unwrap();
        }
        req
    };
    c.bench_function("headers/strip-identity", |b| {
        b.iter_batched(
            request,
            |mut req| {
                identity.strip_inbound(&mut req);
                req
            },
            BatchSize::SmallInput,
        )
    });
    let signer = AssertionSigner::new(&Secret::new(SECRET), "authgate".into(), 30);
    let who = Identity {
        subject: "user_01HZX3".into(),
        email: Some("alice@example.com".into()),
        claims: vec![("name".into(), "Alice".into())],
        expires_at: jsonwebtoken::get_current_timestamp() + 900,
        not_before: None,
        issued_at: None,
        token_id: None,
    };
    let bound = BoundRequest {
        audience: "upstream-api",
        method: "GET",
        path: "/api/user_01HZX3/tasks",
        query: b"status=open",
    };
    c.bench_function("assertion/sign", |b| {
        b.iter(|| signer.sign(black_box(&who), bound).unwrap())
    });
    let outbound = OutboundPolicy {
        identity: identity.clone(),
        assertion: Arc::new(signer),
        keep_authorization: false,
        strip_cookie_prefix: Some("better-auth".into()),
    };
    // Everything upstream_request_filter does to the headers of an authenticated request.
    c.bench_function("headers/upstream-rewrite", |b| {
        b.iter_batched(
            request,
            |mut req| {
                let admitted = Admitted {
                    path: "/api/user_01HZX3/tasks",
                    rewritten_target: None,
                    identity: Some(&who),
                    client_ip: Some("127.0.0.1"),
                    peer_trusted: false,
                    scheme: Scheme::Http,
                    upstream_h2: false,
                    request_id: "0d1f6a0e-6f7c-4c59-9a57-5b1f0e3c2a11",
                    audience: "upstream-api",
                };
                outbound.prepare(&mut req, &admitted).unwrap();
                req
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, verification, routing, headers);
criterion_main!(benches);
