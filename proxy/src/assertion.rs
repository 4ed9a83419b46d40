//! `X-Auth-Assertion`: a short-lived HS256 JWT authgate signs for every authenticated
//! request, so the upstream can trust the identity headers only when they come from
//! the proxy. It is bound to the request's method and canonical path, so a captured
//! assertion cannot be replayed on another route. See `upstream-api/README.md` for
//! how an upstream verifies it.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::auth::Identity;
use crate::secret::Secret;

/// Longest lifetime allowed for an assertion.
pub const MAX_TTL_SECS: u64 = 60;

/// The protected header, `{"alg":"HS256","typ":"JWT"}`, base64url-encoded once.
const ENCODED_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    iat: u64,
    exp: u64,
    /// The HTTP method the assertion is valid for.
    htm: &'a str,
    /// The canonical path (no query) the assertion is valid for.
    htp: &'a str,
    jti: &'a str,
}

/// Signs assertions with `AUTHGATE_ASSERTION_SECRET`. Signing runs on every
/// authenticated request, so the HMAC key and the encoded header are prepared once
/// and each token is built in one buffer (the upstream verifies it as any HS256 JWT).
pub struct AssertionSigner {
    key: hmac::Key,
    issuer: String,
    audience: String,
    ttl_secs: u64,
}

impl fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionSigner")
            .field("key", &"***")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

/// The request an assertion is bound to.
#[derive(Debug, Clone, Copy)]
pub struct BoundRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Canonical path, without the query.
    pub path: &'a str,
    /// The request id (`jti`).
    pub request_id: &'a str,
}

impl AssertionSigner {
    /// A signer; `ttl_secs` is clamped to 1..=60.
    pub fn new(secret: &Secret, issuer: String, audience: String, ttl_secs: u64) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.expose()),
            issuer,
            audience,
            ttl_secs: ttl_secs.clamp(1, MAX_TTL_SECS),
        }
    }

    /// Signs an assertion for `identity` on `request`.
    pub fn sign(
        &self,
        identity: &Identity,
        request: BoundRequest<'_>,
    ) -> Result<String, serde_json::Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = serde_json::to_vec(&AssertionClaims {
            iss: &self.issuer,
            aud: &self.audience,
            sub: &identity.subject,
            email: identity.email.as_deref(),
            iat: now,
            exp: now + self.ttl_secs,
            htm: request.method,
            htp: request.path,
            jti: request.request_id,
        })?;
        // header . payload . signature, each base64url: 4/3 of the bytes, plus slack.
        let mut token = String::with_capacity(ENCODED_HEADER.len() + claims.len() * 4 / 3 + 50);
        token.push_str(ENCODED_HEADER);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
        let tag = hmac::sign(&self.key, token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag.as_ref(), &mut token);
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

    #[test]
    fn assertion_verifies_with_the_shared_secret_and_carries_the_binding() {
        let secret = Secret::new("0123456789abcdef0123456789abcdef");
        let signer = AssertionSigner::new(&secret, "authgate".into(), "upstream-api".into(), 600);
        assert!(format!("{signer:?}").contains("***"));
        let header = URL_SAFE_NO_PAD.decode(ENCODED_HEADER).unwrap();
        assert_eq!(header, br#"{"alg":"HS256","typ":"JWT"}"#);
        let id = Identity {
            subject: "alice".into(),
            email: Some("a@example.com".into()),
            claims: vec![],
            expires_at: 0,
            not_before: None,
        };
        let token = signer
            .sign(
                &id,
                BoundRequest {
                    method: "GET",
                    path: "/api/alice/tasks",
                    request_id: "r1",
                },
            )
            .unwrap();
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&["upstream-api"]);
        v.set_issuer(&["authgate"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_secret(secret.expose()),
            &v,
        )
        .unwrap();
        let c = data.claims;
        assert_eq!(c["sub"], "alice");
        assert_eq!(c["email"], "a@example.com");
        assert_eq!(c["htm"], "GET");
        assert_eq!(c["htp"], "/api/alice/tasks");
        assert_eq!(c["jti"], "r1");
        let ttl = c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap();
        assert_eq!(ttl, MAX_TTL_SECS, "ttl is clamped to 60 s");
    }
}
