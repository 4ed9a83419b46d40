//! Verifying authgate's identity assertion.
//!
//! authgate verifies the end user's token at the edge and forwards a short-lived,
//! request-bound assertion in the `X-Auth-Assertion` header: a compact JWT signed with
//! HS256 under a secret shared only between authgate and this service. This module is the
//! only place that decides who the caller is; nothing else reads identity from a request.
//!
//! The contract (see `README.md`, "How an upstream verifies authgate's assertion"):
//! `iss` = the configured issuer, `aud` = this service's name, `sub` = user id (non-empty),
//! `email` optional, `iat` and `exp` with `exp - iat <= 60`, `htm` = HTTP method,
//! `htp` = request path (no query), `jti` = request id (non-empty).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use warp::http::HeaderMap;

/// Header that carries authgate's assertion (HTTP header names are case-insensitive).
pub const ASSERTION_HEADER: &str = "x-auth-assertion";

/// Longest lifetime (`exp - iat`, seconds) an assertion may declare.
pub const MAX_ASSERTION_LIFETIME_SECS: u64 = 60;

/// Clock skew tolerated on `exp` and `iat`, seconds.
pub const CLOCK_LEEWAY_SECS: u64 = 5;

/// Shortest secret accepted, in bytes: HS256 wants at least as many key bytes as hash bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// The HS256 key shared with authgate (`AUTHGATE_ASSERTION_SECRET`, raw UTF-8 bytes).
///
/// Its `Debug` prints `***` so it can never end up in a log line.
#[derive(Clone)]
pub struct AssertionSecret(Vec<u8>);

impl AssertionSecret {
    /// Accepts the secret if it is at least [`MIN_SECRET_BYTES`] long.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, SecretTooShort> {
        let bytes = secret.into();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(SecretTooShort { len: bytes.len() });
        }
        Ok(Self(bytes))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for AssertionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The secret given was shorter than [`MIN_SECRET_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error("AUTHGATE_ASSERTION_SECRET is {len} bytes; at least {MIN_SECRET_BYTES} are required")]
pub struct SecretTooShort {
    /// Length of the rejected secret, in bytes.
    pub len: usize,
}

/// The caller as vouched for by authgate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user id (`sub`).
    pub user_id: String,
    /// The user's email, when authgate knew it (`email`).
    pub email: Option<String>,
    /// authgate's request id (`jti`), for correlating logs.
    pub request_id: String,
}

/// Why an assertion was refused. Every variant means 401; the message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// No `X-Auth-Assertion` header.
    #[error("missing X-Auth-Assertion header")]
    Missing,
    /// More than one `X-Auth-Assertion` header: refuse to guess which one counts.
    #[error("more than one X-Auth-Assertion header")]
    Ambiguous,
    /// Not a well-formed, correctly signed HS256 JWT with the expected claims.
    #[error("invalid assertion")]
    Invalid,
    /// `iss` is not the configured issuer.
    #[error("assertion has the wrong issuer")]
    WrongIssuer,
    /// `aud` does not name this service.
    #[error("assertion is not addressed to this service")]
    WrongAudience,
    /// `exp` has passed (beyond the leeway).
    #[error("assertion expired")]
    Expired,
    /// `iat` is in the future (beyond the leeway).
    #[error("assertion issued in the future")]
    NotYetValid,
    /// `exp - iat` is negative or longer than [`MAX_ASSERTION_LIFETIME_SECS`].
    #[error("assertion lifetime exceeds {MAX_ASSERTION_LIFETIME_SECS} seconds")]
    LifetimeTooLong,
    /// `sub` or `jti` is empty.
    #[error("assertion has an empty subject or request id")]
    EmptyClaim,
    /// `htm`/`htp` name another request: the assertion is being replayed.
    #[error("assertion was issued for a different request")]
    WrongRequest,
}

/// Claims of an assertion. Every field without `Option` is required: a token lacking
/// one fails to deserialize and is refused.
#[derive(Debug, Deserialize)]
struct AssertionClaims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    iat: u64,
    exp: u64,
    htm: String,
    htp: String,
    jti: String,
}

/// The single `X-Auth-Assertion` value of a request.
pub fn assertion_from_headers(headers: &HeaderMap) -> Result<&str, AssertionError> {
    let mut values = headers.get_all(ASSERTION_HEADER).iter();
    let value = values.next().ok_or(AssertionError::Missing)?;
    if values.next().is_some() {
        return Err(AssertionError::Ambiguous);
    }
    let value = value.to_str().map_err(|_| AssertionError::Invalid)?.trim();
    if value.is_empty() {
        return Err(AssertionError::Missing);
    }
    Ok(value)
}

/// Checks assertions against one key, issuer and audience. Built once at start-up.
#[derive(Clone)]
pub struct AssertionVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for AssertionVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionVerifier")
            .field("key", &"***")
            .field("iss", &self.validation.iss)
            .field("aud", &self.validation.aud)
            .finish()
    }
}

impl AssertionVerifier {
    /// A verifier pinned to HS256 under `secret`, expecting `iss = issuer` and
    /// `aud = service_name`.
    pub fn new(secret: &AssertionSecret, issuer: &str, service_name: &str) -> Self {
        // Pinned here, never taken from the token header.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[service_name]);
        validation.leeway = CLOCK_LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        Self {
            key: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// Verifies `assertion` for a request with this `method` and raw `path` (no query).
    pub fn verify(
        &self,
        assertion: &str,
        method: &str,
        path: &str,
    ) -> Result<Identity, AssertionError> {
        self.verify_at(assertion, method, path, unix_now())
    }

    /// [`verify`](Self::verify) with an explicit clock, for the `iat` checks.
    fn verify_at(
        &self,
        assertion: &str,
        method: &str,
        path: &str,
        now: u64,
    ) -> Result<Identity, AssertionError> {
        let claims =
            jsonwebtoken::decode::<AssertionClaims>(assertion, &self.key, &self.validation)
                .map_err(|err| match err.kind() {
                    ErrorKind::ExpiredSignature => AssertionError::Expired,
                    ErrorKind::ImmatureSignature => AssertionError::NotYetValid,
                    ErrorKind::InvalidIssuer => AssertionError::WrongIssuer,
                    ErrorKind::InvalidAudience => AssertionError::WrongAudience,
                    _ => AssertionError::Invalid,
                })?
                .claims;

        if claims.iat > now.saturating_add(CLOCK_LEEWAY_SECS) {
            return Err(AssertionError::NotYetValid);
        }
        match claims.exp.checked_sub(claims.iat) {
            Some(lifetime) if lifetime <= MAX_ASSERTION_LIFETIME_SECS => {}
            _ => return Err(AssertionError::LifetimeTooLong),
        }
        if claims.sub.is_empty() || claims.jti.is_empty() {
            return Err(AssertionError::EmptyClaim);
        }
        if claims.htm != method || claims.htp != path {
            return Err(AssertionError::WrongRequest);
        }
        Ok(Identity {
            user_id: claims.sub,
            email: claims.email,
            request_id: claims.jti,
        })
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::{json, Value};

    const SECRET: &str = "unit-test-assertion-secret-0123456789";

    fn verifier() -> AssertionVerifier {
        let secret = AssertionSecret::new(SECRET).expect("secret long enough");
        AssertionVerifier::new(&secret, "authgate", "upstream-api")
    }

    fn claims(now: u64) -> Value {
        json!({
            "iss": "authgate",
            "aud": "upstream-api",
            "sub": "alice",
            "email": "alice@example.com",
            "iat": now,
            "exp": now + 30,
            "htm": "GET",
            "htp": "/api/alice/tasks",
            "jti": "req-1",
        })
    }

    fn sign(claims: &Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("sign")
    }

    fn without(mut claims: Value, name: &str) -> Value {
        claims.as_object_mut().expect("object").remove(name);
        claims
    }

    fn with(mut claims: Value, name: &str, value: Value) -> Value {
        claims[name] = value;
        claims
    }

    #[test]
    fn accepts_a_valid_assertion() {
        let now = unix_now();
        let identity = verifier()
            .verify(&sign(&claims(now)), "GET", "/api/alice/tasks")
            .expect("valid");
        assert_eq!(
            identity,
            Identity {
                user_id: "alice".into(),
                email: Some("alice@example.com".into()),
                request_id: "req-1".into(),
            }
        );
    }

    #[test]
    fn email_is_optional() {
        let now = unix_now();
        let token = sign(&without(claims(now), "email"));
        let identity = verifier()
            .verify(&token, "GET", "/api/alice/tasks")
            .expect("valid");
        assert_eq!(identity.email, None);
    }

    #[test]
    fn every_required_claim_is_required() {
        let now = unix_now();
        for name in ["iss", "aud", "sub", "iat", "exp", "htm", "htp", "jti"] {
            let token = sign(&without(claims(now), name));
            let result = verifier().verify(&token, "GET", "/api/alice/tasks");
            assert!(result.is_err(), "token without {name} was accepted");
        }
    }

    #[test]
    fn rejects_wrong_issuer_and_audience() {
        let now = unix_now();
        let v = verifier();
        let token = sign(&with(claims(now), "iss", json!("someone-else")));
        assert_eq!(
            v.verify(&token, "GET", "/api/alice/tasks"),
            Err(AssertionError::WrongIssuer)
        );
        let token = sign(&with(claims(now), "aud", json!("other-service")));
        assert_eq!(
            v.verify(&token, "GET", "/api/alice/tasks"),
            Err(AssertionError::WrongAudience)
        );
    }

    #[test]
    fn rejects_expired_beyond_leeway_but_tolerates_skew() {
        let now = unix_now();
        let v = verifier();
        let expired = with(
            with(claims(now), "iat", json!(now - 100)),
            "exp",
            json!(now - CLOCK_LEEWAY_SECS - 2),
        );
        assert_eq!(
            v.verify(&sign(&expired), "GET", "/api/alice/tasks"),
            Err(AssertionError::Expired)
        );
        let within_leeway = with(
            with(claims(now), "iat", json!(now - 40)),
            "exp",
            json!(now - 2),
        );
        assert!(v
            .verify(&sign(&within_leeway), "GET", "/api/alice/tasks")
            .is_ok());
    }

    #[test]
    fn rejects_lifetime_over_sixty_seconds() {
        let now = unix_now();
        let v = verifier();
        let long = with(claims(now), "exp", json!(now + 61));
        assert_eq!(
            v.verify(&sign(&long), "GET", "/api/alice/tasks"),
            Err(AssertionError::LifetimeTooLong)
        );
        let exact = with(claims(now), "exp", json!(now + 60));
        assert!(v.verify(&sign(&exact), "GET", "/api/alice/tasks").is_ok());
        let backwards = with(claims(now), "exp", json!(now - 1));
        assert!(v
            .verify(&sign(&backwards), "GET", "/api/alice/tasks")
            .is_err());
    }

    #[test]
    fn rejects_issued_in_the_future() {
        let now = unix_now();
        let token = sign(&claims(now + 30));
        assert_eq!(
            verifier().verify_at(&token, "GET", "/api/alice/tasks", now),
            Err(AssertionError::NotYetValid)
        );
    }

    #[test]
    fn rejects_other_method_or_path() {
        let now = unix_now();
        let v = verifier();
        let token = sign(&claims(now));
        assert_eq!(
            v.verify(&token, "DELETE", "/api/alice/tasks"),
            Err(AssertionError::WrongRequest)
        );
        assert_eq!(
            v.verify(&token, "get", "/api/alice/tasks"),
            Err(AssertionError::WrongRequest)
        );
        assert_eq!(
            v.verify(&token, "GET", "/api/alice/tasks/1"),
            Err(AssertionError::WrongRequest)
        );
    }

    #[test]
    fn rejects_empty_subject_or_request_id() {
        let now = unix_now();
        let v = verifier();
        for name in ["sub", "jti"] {
            let token = sign(&with(claims(now), name, json!("")));
            assert_eq!(
                v.verify(&token, "GET", "/api/alice/tasks"),
                Err(AssertionError::EmptyClaim),
                "empty {name}"
            );
        }
    }

    #[test]
    fn rejects_other_key_other_algorithm_and_garbage() {
        let now = unix_now();
        let v = verifier();
        let forged = encode(
            &Header::new(Algorithm::HS256),
            &claims(now),
            &EncodingKey::from_secret(b"another-secret-of-sufficient-length!!"),
        )
        .expect("sign");
        assert_eq!(
            v.verify(&forged, "GET", "/api/alice/tasks"),
            Err(AssertionError::Invalid)
        );
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &claims(now),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("sign");
        assert_eq!(
            v.verify(&hs512, "GET", "/api/alice/tasks"),
            Err(AssertionError::Invalid)
        );
        for garbage in ["", "abc", "a.b.c", "..."] {
            assert_eq!(
                v.verify(garbage, "GET", "/api/alice/tasks"),
                Err(AssertionError::Invalid)
            );
        }
    }

    #[test]
    fn exactly_one_assertion_header_is_taken() {
        use warp::http::HeaderValue;
        let mut headers = HeaderMap::new();
        assert_eq!(
            assertion_from_headers(&headers),
            Err(AssertionError::Missing)
        );
        headers.insert("X-Auth-Assertion", HeaderValue::from_static(" a.b.c "));
        assert_eq!(assertion_from_headers(&headers), Ok("a.b.c"));
        headers.append("x-auth-assertion", HeaderValue::from_static("d.e.f"));
        assert_eq!(
            assertion_from_headers(&headers),
            Err(AssertionError::Ambiguous)
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-auth-assertion", HeaderValue::from_static(""));
        assert_eq!(
            assertion_from_headers(&headers),
            Err(AssertionError::Missing)
        );
    }

    #[test]
    fn secret_must_be_long_enough_and_never_printed() {
        assert!(AssertionSecret::new("short").is_err());
        assert!(AssertionSecret::new(vec![b'x'; MIN_SECRET_BYTES - 1]).is_err());
        let secret = AssertionSecret::new(SECRET).expect("long enough");
        assert_eq!(format!("{secret:?}"), "***");
        let v = AssertionVerifier::new(&secret, "authgate", "upstream-api");
        assert!(!format!("{v:?}").contains(SECRET));
    }
}
