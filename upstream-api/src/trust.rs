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
//! `htp` = request path (no query), `htq` = base64url(SHA-256(raw query)), `jti` = a
//! fresh id per assertion, accepted once ([`crate::replay`]).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use warp::http::HeaderMap;

use crate::replay::{ReplayError, ReplayStore, DEFAULT_CAPACITY, MAX_ID_BYTES};

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
    /// The assertion's id (`jti`), fresh for every assertion.
    pub assertion_id: String,
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
    /// `sub` or `jti` is empty, or `jti` is longer than [`MAX_ID_BYTES`].
    #[error("assertion has an empty subject or a missing or over-long id")]
    EmptyClaim,
    /// `htm`/`htp`/`htq` name another request: the assertion is being replayed.
    #[error("assertion was issued for a different request")]
    WrongRequest,
    /// This `jti` was already accepted: the assertion is being replayed.
    #[error("assertion was already used")]
    Replayed,
    /// The replay record is full of live ids; refused rather than accepted unchecked
    /// (503, not 401: the caller did nothing wrong).
    #[error("too many live assertions to check for replay; retry later")]
    ReplayCacheFull {
        /// Seconds until the record has room again.
        retry_after_secs: u64,
    },
    /// The shared replay record (Redis) failed or was too slow; refused rather than
    /// accepted unchecked (503).
    #[error("the replay record does not answer; retry later")]
    ReplayStoreUnavailable,
}

impl From<ReplayError> for AssertionError {
    fn from(err: ReplayError) -> Self {
        match err {
            ReplayError::Replayed => Self::Replayed,
            ReplayError::Full { retry_after_secs } => Self::ReplayCacheFull { retry_after_secs },
            ReplayError::Unavailable => Self::ReplayStoreUnavailable,
        }
    }
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
    htq: String,
    jti: String,
}

/// The `htq` of a request: base64url, unpadded, of SHA-256 over the raw query string
/// exactly as it came (without the `?`; empty when there is none).
pub fn query_hash(raw_query: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, raw_query.as_bytes()))
}

/// The request an assertion must be bound to, as this service received it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTarget<'a> {
    /// Method, as sent (uppercase).
    pub method: &'a str,
    /// Raw path, without the query.
    pub path: &'a str,
    /// Raw query string without the `?`; empty when there is none.
    pub query: &'a str,
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

/// Checks assertions against one key, issuer and audience, and admits each `jti` once.
/// Built once at start-up.
pub struct AssertionVerifier {
    key: DecodingKey,
    validation: Validation,
    replay: ReplayStore,
}

impl fmt::Debug for AssertionVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionVerifier")
            .field("key", &"***")
            .field("iss", &self.validation.iss)
            .field("aud", &self.validation.aud)
            .field("replay", &self.replay)
            .finish()
    }
}

impl AssertionVerifier {
    /// A verifier pinned to HS256 under `secret`, expecting `iss = issuer` and
    /// `aud = service_name`, remembering up to [`DEFAULT_CAPACITY`] live ids in this
    /// process.
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
            replay: ReplayStore::memory(DEFAULT_CAPACITY),
        }
    }

    /// The same verifier remembering up to `capacity` live assertion ids in this process.
    pub fn with_replay_capacity(self, capacity: usize) -> Self {
        self.with_replay_store(ReplayStore::memory(capacity))
    }

    /// The same verifier recording assertion ids in `store`.
    pub fn with_replay_store(mut self, store: ReplayStore) -> Self {
        self.replay = store;
        self
    }

    /// Verifies `assertion` for `request`, and admits its `jti` (once). Call it once
    /// per request.
    pub async fn verify(
        &self,
        assertion: &str,
        request: RequestTarget<'_>,
    ) -> Result<Identity, AssertionError> {
        self.verify_at(assertion, request, unix_now_ms()).await
    }

    /// [`verify`](Self::verify) with an explicit clock (unix milliseconds), for the `iat`
    /// and replay checks.
    async fn verify_at(
        &self,
        assertion: &str,
        request: RequestTarget<'_>,
        now_ms: u64,
    ) -> Result<Identity, AssertionError> {
        let now = now_ms / 1000;
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
        if claims.sub.is_empty() || claims.jti.is_empty() || claims.jti.len() > MAX_ID_BYTES {
            return Err(AssertionError::EmptyClaim);
        }
        if claims.htm != request.method
            || claims.htp != request.path
            || claims.htq != query_hash(request.query)
        {
            return Err(AssertionError::WrongRequest);
        }
        // Last, so an assertion tried on the wrong request is not used up by it. Kept
        // while `exp` can still pass: up to exp + leeway.
        let forget_after = claims.exp.saturating_add(CLOCK_LEEWAY_SECS);
        self.replay.admit(&claims.jti, forget_after, now_ms).await?;
        Ok(Identity {
            user_id: claims.sub,
            email: claims.email,
            assertion_id: claims.jti,
        })
    }
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::{json, Value};

    const SECRET: &str = "unit-test-assertion-secret-0123456789";

    fn unix_now() -> u64 {
        unix_now_ms() / 1000
    }

    /// The async checks, run to completion: these tests use the in-process record.
    impl AssertionVerifier {
        fn check(
            &self,
            assertion: &str,
            request: RequestTarget<'_>,
        ) -> Result<Identity, AssertionError> {
            self.check_at(assertion, request, unix_now())
        }

        fn check_at(
            &self,
            assertion: &str,
            request: RequestTarget<'_>,
            now: u64,
        ) -> Result<Identity, AssertionError> {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(self.verify_at(assertion, request, now * 1000))
        }
    }

    fn verifier() -> AssertionVerifier {
        let secret = AssertionSecret::new(SECRET).expect("secret long enough");
        AssertionVerifier::new(&secret, "authgate", "upstream-api")
    }

    /// The request most tests make: `GET /api/alice/tasks`, no query.
    const LIST: RequestTarget<'static> = RequestTarget {
        method: "GET",
        path: "/api/alice/tasks",
        query: "",
    };

    fn target<'a>(method: &'a str, path: &'a str, query: &'a str) -> RequestTarget<'a> {
        RequestTarget {
            method,
            path,
            query,
        }
    }

    /// Claims for [`LIST`], with a fresh `jti`.
    fn claims(now: u64) -> Value {
        json!({
            "iss": "authgate",
            "aud": "upstream-api",
            "sub": "alice",
            "email": "alice@example.com",
            "iat": now,
            "exp": now + 10,
            "htm": "GET",
            "htp": "/api/alice/tasks",
            "htq": query_hash(""),
            "jti": uuid::Uuid::new_v4().to_string(),
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
        let claims = with(claims(now), "jti", json!("a-1"));
        let identity = verifier().check(&sign(&claims), LIST).expect("valid");
        assert_eq!(
            identity,
            Identity {
                user_id: "alice".into(),
                email: Some("alice@example.com".into()),
                assertion_id: "a-1".into(),
            }
        );
    }

    #[test]
    fn email_is_optional() {
        let now = unix_now();
        let token = sign(&without(claims(now), "email"));
        let identity = verifier().check(&token, LIST).expect("valid");
        assert_eq!(identity.email, None);
    }

    #[test]
    fn every_required_claim_is_required() {
        let now = unix_now();
        for name in [
            "iss", "aud", "sub", "iat", "exp", "htm", "htp", "htq", "jti",
        ] {
            let token = sign(&without(claims(now), name));
            let result = verifier().check(&token, LIST);
            assert!(result.is_err(), "token without {name} was accepted");
        }
    }

    #[test]
    fn rejects_wrong_issuer_and_audience() {
        let now = unix_now();
        let v = verifier();
        let token = sign(&with(claims(now), "iss", json!("someone-else")));
        assert_eq!(v.check(&token, LIST), Err(AssertionError::WrongIssuer));
        let token = sign(&with(claims(now), "aud", json!("other-service")));
        assert_eq!(v.check(&token, LIST), Err(AssertionError::WrongAudience));
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
        assert_eq!(v.check(&sign(&expired), LIST), Err(AssertionError::Expired));
        let within_leeway = with(
            with(claims(now), "iat", json!(now - 40)),
            "exp",
            json!(now - 2),
        );
        assert!(v.check(&sign(&within_leeway), LIST).is_ok());
    }

    #[test]
    fn rejects_lifetime_over_sixty_seconds() {
        let now = unix_now();
        let v = verifier();
        let long = with(claims(now), "exp", json!(now + 61));
        assert_eq!(
            v.check(&sign(&long), LIST),
            Err(AssertionError::LifetimeTooLong)
        );
        let exact = with(claims(now), "exp", json!(now + 60));
        assert!(v.check(&sign(&exact), LIST).is_ok());
        let backwards = with(claims(now), "exp", json!(now - 1));
        assert!(v.check(&sign(&backwards), LIST).is_err());
    }

    #[test]
    fn rejects_issued_in_the_future() {
        let now = unix_now();
        let token = sign(&claims(now + 30));
        assert_eq!(
            verifier().check_at(&token, LIST, now),
            Err(AssertionError::NotYetValid)
        );
    }

    #[test]
    fn rejects_other_method_or_path() {
        let now = unix_now();
        let v = verifier();
        let token = sign(&claims(now));
        assert_eq!(
            v.check(&token, target("DELETE", "/api/alice/tasks", "")),
            Err(AssertionError::WrongRequest)
        );
        assert_eq!(
            v.check(&token, target("get", "/api/alice/tasks", "")),
            Err(AssertionError::WrongRequest)
        );
        assert_eq!(
            v.check(&token, target("GET", "/api/alice/tasks/1", "")),
            Err(AssertionError::WrongRequest)
        );
    }

    #[test]
    fn query_hash_is_base64url_sha256_of_the_raw_query() {
        // SHA-256 of the empty string, and of "a=1", base64url without padding.
        assert_eq!(
            query_hash(""),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        assert_eq!(
            query_hash("a=1"),
            "wi_qXXQo5c9H72NUyXySI8ldbc3D4NIwD_eQVrH_PYU"
        );
    }

    #[test]
    fn binds_the_raw_query() {
        let now = unix_now();
        let v = verifier();
        let query = "status=pending&limit=5";
        let bound = with(claims(now), "htq", json!(query_hash(query)));
        let token = sign(&bound);
        for other in [
            "",
            "status=pending",
            "limit=5&status=pending",
            "status=pending&limit=5&",
        ] {
            assert_eq!(
                v.check(&token, target("GET", "/api/alice/tasks", other)),
                Err(AssertionError::WrongRequest),
                "query {other:?}"
            );
        }
        // Raw, not decoded: an encoded spelling of the same query is another query.
        assert_eq!(
            v.check(
                &token,
                target("GET", "/api/alice/tasks", "status=p%65nding&limit=5")
            ),
            Err(AssertionError::WrongRequest)
        );
        assert!(v
            .check(&token, target("GET", "/api/alice/tasks", query))
            .is_ok());
        // No query at all binds the empty string.
        let token = sign(&claims(now));
        assert_eq!(
            v.check(&token, target("GET", "/api/alice/tasks", "x")),
            Err(AssertionError::WrongRequest)
        );
        assert!(v.check(&token, LIST).is_ok());
    }

    #[test]
    fn an_assertion_is_accepted_once() {
        let now = unix_now();
        let v = verifier();
        let token = sign(&claims(now));
        assert!(v.check(&token, LIST).is_ok());
        assert_eq!(v.check(&token, LIST), Err(AssertionError::Replayed));
        // Another assertion with the same id is a replay too, whatever else it says.
        let same_id = sign(&with(
            with(claims(now), "jti", json!("dup")),
            "htm",
            json!("DELETE"),
        ));
        let first = sign(&with(claims(now), "jti", json!("dup")));
        assert!(v.check(&first, LIST).is_ok());
        assert_eq!(
            v.check(&same_id, target("DELETE", "/api/alice/tasks", "")),
            Err(AssertionError::Replayed)
        );
        // Fresh ids pass.
        assert!(v.check(&sign(&claims(now)), LIST).is_ok());
    }

    #[test]
    fn a_refused_assertion_is_not_used_up() {
        let now = unix_now();
        let v = verifier();
        let token = sign(&claims(now));
        assert_eq!(
            v.check(&token, target("POST", "/api/alice/tasks", "")),
            Err(AssertionError::WrongRequest)
        );
        assert!(
            v.check(&token, LIST).is_ok(),
            "still good for its own request"
        );
    }

    #[test]
    fn a_full_replay_record_fails_closed() {
        let now = unix_now();
        let secret = AssertionSecret::new(SECRET).expect("secret");
        let v = AssertionVerifier::new(&secret, "authgate", "upstream-api").with_replay_capacity(2);
        assert!(v.check(&sign(&claims(now)), LIST).is_ok());
        assert!(v.check(&sign(&claims(now)), LIST).is_ok());
        let refused = v.check(&sign(&claims(now)), LIST);
        assert!(
            matches!(
                refused,
                Err(AssertionError::ReplayCacheFull { retry_after_secs }) if (1..=16).contains(&retry_after_secs)
            ),
            "{refused:?}"
        );
        // Once the first ids have expired (exp + leeway), there is room again.
        let later = now + 10 + CLOCK_LEEWAY_SECS + 1;
        let fresh = with(
            with(claims(later), "iat", json!(later)),
            "exp",
            json!(later + 10),
        );
        assert!(v.check_at(&sign(&fresh), LIST, later).is_ok());
    }

    #[test]
    fn over_long_ids_are_refused() {
        let now = unix_now();
        let token = sign(&with(
            claims(now),
            "jti",
            json!("x".repeat(MAX_ID_BYTES + 1)),
        ));
        assert_eq!(
            verifier().check(&token, LIST),
            Err(AssertionError::EmptyClaim)
        );
        let token = sign(&with(claims(now), "jti", json!("x".repeat(MAX_ID_BYTES))));
        assert!(verifier().check(&token, LIST).is_ok());
    }

    #[test]
    fn rejects_empty_subject_or_request_id() {
        let now = unix_now();
        let v = verifier();
        for name in ["sub", "jti"] {
            let token = sign(&with(claims(now), name, json!("")));
            assert_eq!(
                v.check(&token, LIST),
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
        assert_eq!(v.check(&forged, LIST), Err(AssertionError::Invalid));
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &claims(now),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("sign");
        assert_eq!(v.check(&hs512, LIST), Err(AssertionError::Invalid));
        for garbage in ["", "abc", "a.b.c", "..."] {
            assert_eq!(v.check(garbage, LIST), Err(AssertionError::Invalid));
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
