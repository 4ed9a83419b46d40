//! `X-Auth-Assertion`: a short-lived HS256 JWT authgate signs for every authenticated
//! request, so the upstream can trust the identity headers only when they come from
//! the proxy. It is bound to the request's method (`htm`), canonical path (`htp`)
//! and query (`htq`, a SHA-256 of the raw query), lives 10 s by default, and carries
//! a fresh `jti` so an upstream can refuse a second use. It does not bind the body or
//! other headers. See `upstream-api/README.md` for how an upstream verifies it.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::auth::Identity;
use crate::secret::Secret;

/// Longest lifetime allowed for an assertion.
pub(crate) const MAX_TTL_SECS: u64 = 60;

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
    /// base64url(SHA-256(raw query as forwarded, without `?`)); the empty query's
    /// hash when there is none.
    htq: &'a str,
    /// Unique per assertion (a replay cache keys on it).
    jti: &'a str,
}

/// Signs assertions with `AUTHGATE_ASSERTION_SECRET`. Signing runs on every
/// authenticated request, so the HMAC key and the encoded header are prepared once
/// and each token is built in one buffer (the upstream verifies it as any HS256 JWT).
pub struct AssertionSigner {
    key: hmac::Key,
    issuer: String,
    ttl_secs: u64,
}

impl fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionSigner")
            .field("key", &"***")
            .field("issuer", &self.issuer)
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

/// The request an assertion is bound to, and the upstream it is for.
#[derive(Debug, Clone, Copy)]
pub struct BoundRequest<'a> {
    /// `aud`: the name of the upstream the request goes to.
    pub audience: &'a str,
    /// HTTP method.
    pub method: &'a str,
    /// Canonical path, without the query.
    pub path: &'a str,
    /// The raw query as forwarded (without `?`; empty when there is none).
    pub query: &'a [u8],
}

/// `htq` of the empty query (most requests): base64url(SHA-256("")), no padding.
const EMPTY_QUERY_HASH: &str = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";

/// `htq` of a raw query: base64url(SHA-256(query)), no padding, in `buf`.
pub(crate) fn query_hash<'b>(query: &[u8], buf: &'b mut [u8; 43]) -> &'b str {
    if query.is_empty() {
        buf.copy_from_slice(EMPTY_QUERY_HASH.as_bytes());
    } else {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, query);
        // 32 bytes are 43 base64url characters without padding: it always fits.
        let _ = URL_SAFE_NO_PAD.encode_slice(digest.as_ref(), &mut buf[..]);
    }
    // Base64 is ASCII; were it not, an empty `htq` would match no request upstream.
    std::str::from_utf8(buf).unwrap_or("")
}

impl AssertionSigner {
    /// A signer; `ttl_secs` is clamped to 1..=60.
    pub fn new(secret: &Secret, issuer: String, ttl_secs: u64) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.expose()),
            issuer,
            ttl_secs: ttl_secs.clamp(1, MAX_TTL_SECS),
        }
    }

    /// Signs an assertion for `identity` on `request`.
    pub fn sign(
        &self,
        identity: &Identity,
        request: BoundRequest<'_>,
    ) -> Result<String, serde_json::Error> {
        let jti = uuid::Uuid::new_v4();
        let mut jti_text = uuid::Uuid::encode_buffer();
        let jti = jti.hyphenated().encode_lower(&mut jti_text);
        let mut htq_text = [0u8; 43];
        let htq = query_hash(request.query, &mut htq_text);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = serde_json::to_vec(&AssertionClaims {
            iss: &self.issuer,
            aud: request.audience,
            sub: &identity.subject,
            email: identity.email.as_deref(),
            iat: now,
            exp: now + self.ttl_secs,
            htm: request.method,
            htp: request.path,
            htq,
            jti,
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
    #[test]
    fn query_hash_of_the_empty_query_is_sha256_of_nothing() {
        // SHA-256("") = e3b0c442…b855, as computed, not only as the shortcut says.
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"");
        assert_eq!(
            super::EMPTY_QUERY_HASH,
            super::URL_SAFE_NO_PAD.encode(digest.as_ref())
        );
        assert_eq!(
            super::query_hash(b"", &mut [0; 43]),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        // SHA-256("a=1"), as upstream-api computes it.
        assert_eq!(
            super::query_hash(b"a=1", &mut [0; 43]),
            "wi_qXXQo5c9H72NUyXySI8ldbc3D4NIwD_eQVrH_PYU"
        );
    }

    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

    #[test]
    fn assertion_verifies_with_the_shared_secret_and_carries_the_binding() {
        let secret = Secret::new("0123456789abcdef0123456789abcdef");
        let signer = AssertionSigner::new(&secret, "authgate".into(), 600);
        assert!(format!("{signer:?}").contains("***"));
        let header = URL_SAFE_NO_PAD.decode(ENCODED_HEADER).unwrap();
        assert_eq!(header, br#"{"alg":"HS256","typ":"JWT"}"#);
        let id = Identity {
            subject: "alice".into(),
            email: Some("a@example.com".into()),
            claims: vec![],
            expires_at: 0,
            not_before: None,
            issued_at: None,
            token_id: None,
        };
        let bound = BoundRequest {
            audience: "upstream-api",
            method: "GET",
            path: "/api/alice/tasks",
            query: b"status=done&x=%2F",
        };
        let token = signer.sign(&id, bound).unwrap();
        let again = signer.sign(&id, bound).unwrap();
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
        // sha256("status=done&x=%2F"), base64url without padding.
        assert_eq!(c["htq"], query_hash(b"status=done&x=%2F", &mut [0; 43]));
        assert_eq!(c["htq"].as_str().unwrap().len(), 43);
        assert_ne!(c["htq"], query_hash(b"", &mut [0; 43]));
        let jti = c["jti"].as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(jti).unwrap().get_version_num(), 4);
        let again = jsonwebtoken::decode::<serde_json::Value>(
            &again,
            &DecodingKey::from_secret(secret.expose()),
            &v,
        )
        .unwrap();
        assert_ne!(again.claims["jti"], c["jti"], "a fresh jti per assertion");
        let ttl = c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap();
        assert_eq!(ttl, MAX_TTL_SECS, "ttl is clamped to 60 s");
    }
}
