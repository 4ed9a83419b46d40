use super::*;
use crate::auth::claims::ClaimRules;
use crate::auth::jwk::{parse_jwks, JwkContext};
use crate::auth::testkeys::{jwks, TestKey};
use crate::auth::{JwksLocation, RemoteJwksConfig, VerifyingKey};
use crate::secret::Secret;
use crate::trace::NoTrace;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use std::time::Duration;

const SECRET: &str = "unit-test-shared-secret-0123456789abcdef";

fn rules() -> Arc<ClaimRules> {
    Arc::new(ClaimRules {
        issuer: vec!["http://issuer".into()],
        audience: vec!["http://issuer".into()],
        leeway: Duration::from_secs(0),
    })
}

fn static_jwks(keys: &[&TestKey]) -> KeySource {
    let rules = rules();
    let source: Arc<str> = "test-jwks".into();
    let parsed = parse_jwks(
        jwks(keys).as_bytes(),
        &JwkContext {
            allowed: &KeyAlg::ASYMMETRIC,
            rules: &rules,
            source: &source,
            previous: None,
        },
    )
    .unwrap();
    assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
    KeySource::Static(Arc::new(KeySet::new(parsed.keys)))
}

fn shared_secret() -> KeySource {
    let key = VerifyingKey::hs256(
        &Secret::new(SECRET),
        Arc::new(ClaimRules::default()),
        "secret".into(),
    );
    KeySource::Static(Arc::new(KeySet::new(vec![Arc::new(key)])))
}

fn verifier(sources: Vec<KeySource>, cache_entries: usize) -> Verifier {
    Verifier::new(
        sources,
        VerifierOptions {
            max_token_bytes: 8192,
            kept_claims: crate::auth::KeptClaims {
                forwarded: vec!["name".into()],
                for_rules: Vec::new(),
            },
            cache_entries,
        },
        Arc::new(AuthMetrics::default()),
    )
}

fn claims(sub: &str) -> Value {
    let now = now();
    json!({"sub": sub, "email": "u@example.com", "name": "U", "iat": now, "exp": now + 900,
           "iss": "http://issuer", "aud": "http://issuer"})
}

#[test]
fn every_better_auth_algorithm_verifies_and_tampering_fails() {
    for alg in [
        KeyAlg::EdDSA,
        KeyAlg::ES256,
        KeyAlg::ES512,
        KeyAlg::RS256,
        KeyAlg::PS256,
    ] {
        let key = TestKey::generate(alg, "k1");
        let v = verifier(vec![static_jwks(&[&key])], 0);
        let token = key.sign(&claims("user-1"));
        let id = v
            .verify_now(&token, Purpose::Bearer, &mut NoTrace)
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(id.subject, "user-1");
        assert_eq!(id.email.as_deref(), Some("u@example.com"));
        assert_eq!(
            id.claims,
            vec![("name".to_string(), serde_json::json!("U"))]
        );
        let (head, sig) = token.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{head}.{flipped}{}", &sig[1..]);
        assert_eq!(
            v.verify_now(&tampered, Purpose::Bearer, &mut NoTrace),
            Err(TokenError::BadSignature),
            "{alg:?}"
        );
        let other = TestKey::generate(alg, "k1");
        assert_eq!(
            v.verify_now(
                &other.sign(&claims("user-1")),
                Purpose::Bearer,
                &mut NoTrace
            ),
            Err(TokenError::BadSignature)
        );
    }
}

#[test]
fn algorithm_confusion_is_refused() {
    let rsa = TestKey::generate(KeyAlg::RS256, "rsa");
    let ed = TestKey::generate(KeyAlg::EdDSA, "ed");
    let v = verifier(vec![static_jwks(&[&rsa, &ed])], 0);
    // HS256 "signed" with the RSA public key as the HMAC secret.
    let modulus = rsa.jwk["n"].as_str().unwrap();
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("rsa".into());
    let forged = jsonwebtoken::encode(
        &header,
        &claims("admin"),
        &EncodingKey::from_secret(modulus.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        v.verify_now(&forged, Purpose::Bearer, &mut NoTrace),
        Err(TokenError::AlgorithmNotAllowed)
    );
    // A key's kid with another asymmetric algorithm.
    let es = TestKey::generate(KeyAlg::ES256, "ed");
    assert_eq!(
        v.verify_now(&es.sign(&claims("x")), Purpose::Bearer, &mut NoTrace),
        Err(TokenError::AlgorithmNotAllowed)
    );
    // An unknown kid.
    let stranger = TestKey::generate(KeyAlg::EdDSA, "nobody");
    assert_eq!(
        v.verify_now(&stranger.sign(&claims("x")), Purpose::Bearer, &mut NoTrace),
        Err(TokenError::UnknownKey)
    );
    // With a shared secret too, the HS256 forgery meets the real secret and fails.
    let v = verifier(vec![static_jwks(&[&rsa]), shared_secret()], 0);
    assert_eq!(
        v.verify_now(&forged, Purpose::Bearer, &mut NoTrace),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn issuer_and_audience_follow_the_source() {
    let key = TestKey::generate(KeyAlg::EdDSA, "k");
    let v = verifier(vec![static_jwks(&[&key])], 0);
    let mut c = claims("u");
    c["iss"] = json!("http://evil");
    assert_eq!(
        v.verify_now(&key.sign(&c), Purpose::Bearer, &mut NoTrace),
        Err(TokenError::BadIssuer)
    );
    let mut c = claims("u");
    c["aud"] = json!("http://other");
    assert_eq!(
        v.verify_now(&key.sign(&c), Purpose::Bearer, &mut NoTrace),
        Err(TokenError::BadAudience)
    );
}

#[test]
fn session_cookies_are_typed_and_never_bearer_tokens() {
    let key = TestKey::generate(KeyAlg::EdDSA, "k");
    let v = verifier(vec![static_jwks(&[&key]), shared_secret()], 0);
    let now = now();
    let cookie_claims = json!({"sub":"u1","sid":"raw-session-token","iss":"http://issuer","aud":"better-auth:session-cache","exp":now+300,
        "user":{"id":"u1","email":"u1@example.com"}});
    let typed = key.sign_with_header(
        &json!({"alg":"EdDSA","kid":"k","typ":SESSION_CACHE_TYP}),
        &cookie_claims,
    );
    let id = v
        .verify_now(&typed, Purpose::SessionCookie, &mut NoTrace)
        .unwrap();
    assert_eq!(
        (id.subject.as_str(), id.email.as_deref()),
        ("u1", Some("u1@example.com"))
    );
    assert_eq!(
        v.verify_now(&typed, Purpose::Bearer, &mut NoTrace),
        Err(TokenError::WrongTokenType)
    );
    // Untyped JWKS token as a cookie: refused.
    assert_eq!(
        v.verify_now(
            &key.sign(&claims("u1")),
            Purpose::SessionCookie,
            &mut NoTrace
        ),
        Err(TokenError::WrongTokenType)
    );
    // Strategy `jwt`: HS256 with the raw secret, identity from user.id.
    let hs = json!({"session":{"userId":"u2","token":"raw"},"user":{"id":"u2","email":"u2@example.com"},"exp":now+300});
    let cookie = jsonwebtoken::encode(
        &Header::default(),
        &hs,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        v.verify_now(&cookie, Purpose::SessionCookie, &mut NoTrace)
            .unwrap()
            .subject,
        "u2"
    );
    // …and it is no access token (no `sub`).
    assert_eq!(
        v.verify_now(&cookie, Purpose::Bearer, &mut NoTrace),
        Err(TokenError::MissingClaim)
    );
    let wrong = jsonwebtoken::encode(
        &Header::default(),
        &hs,
        &EncodingKey::from_secret(b"another-secret-another-secret-another"),
    )
    .unwrap();
    assert_eq!(
        v.verify_now(&wrong, Purpose::SessionCookie, &mut NoTrace),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn cache_hits_skip_verification_but_not_the_clock() {
    let key = TestKey::generate(KeyAlg::EdDSA, "k");
    let v = verifier(vec![static_jwks(&[&key])], 100);
    let token = key.sign(&claims("u"));
    let first = v.verify_now(&token, Purpose::Bearer, &mut NoTrace).unwrap();
    let second = v.verify_now(&token, Purpose::Bearer, &mut NoTrace).unwrap();
    assert!(Arc::ptr_eq(&first, &second), "served from the cache");
    let m = v.metrics().snapshot();
    assert_eq!((m.cache_hits, m.cache_misses), (1, 1));
    // Failures are not cached: the same bad token is verified (and refused) each time.
    let bad = format!("{}x", &token[..token.len() - 1]);
    for _ in 0..3 {
        assert!(v.verify_now(&bad, Purpose::Bearer, &mut NoTrace).is_err());
    }
    assert_eq!(v.metrics().snapshot().cache_hits, 1);
}

#[test]
fn oversized_and_malformed_tokens() {
    let v = verifier(vec![shared_secret()], 0);
    assert_eq!(
        v.verify_now(&"a".repeat(9000), Purpose::Bearer, &mut NoTrace),
        Err(TokenError::TooLarge)
    );
    for bad in ["", "a", "a.b", "a.b.c.d", "e30.e30.", "e30.e30.e30"] {
        assert!(
            v.verify_now(bad, Purpose::Bearer, &mut NoTrace).is_err(),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn never_loaded_remote_keys_mean_unavailable_not_invalid() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let remote = RemoteJwks::new(
        RemoteJwksConfig {
            location: JwksLocation::Url(format!("http://{closed}/jwks")),
            allowed: KeyAlg::ASYMMETRIC.to_vec(),
            rules: rules(),
            refresh: Duration::from_secs(300),
            min_refetch_interval: Duration::from_secs(10),
            timeout: Duration::from_millis(500),
        },
        Arc::new(AuthMetrics::default()),
    )
    .unwrap();
    let v = verifier(
        vec![KeySource::Remote(Arc::new(remote)), shared_secret()],
        0,
    );
    assert!(!v.is_ready());
    let key = TestKey::generate(KeyAlg::EdDSA, "k");
    assert_eq!(
        v.verify(&key.sign(&claims("u")), Purpose::Bearer, &mut NoTrace)
            .await,
        Err(TokenError::KeysUnavailable)
    );
    // HS256 tokens still verify with the shared secret meanwhile.
    let hs = jsonwebtoken::encode(
        &Header::default(),
        &claims("u"),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert!(v.verify(&hs, Purpose::Bearer, &mut NoTrace).await.is_ok());
}

#[test]
fn alg_none_is_reported_as_such() {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let v = verifier(vec![shared_secret()], 0);
    for alg in ["none", "None", "NONE"] {
        let token = format!(
            "{}.{}.",
            b64(&json!({"alg": alg, "typ": "JWT"})),
            b64(&claims("u"))
        );
        assert_eq!(
            v.verify_now(&token, Purpose::Bearer, &mut NoTrace),
            Err(TokenError::AlgorithmNotAllowed),
            "{alg}"
        );
        let token = format!("{}.{}.c2ln", b64(&json!({"alg": alg})), b64(&claims("u")));
        assert_eq!(
            v.verify_now(&token, Purpose::Bearer, &mut NoTrace),
            Err(TokenError::AlgorithmNotAllowed),
            "{alg}"
        );
    }
}
