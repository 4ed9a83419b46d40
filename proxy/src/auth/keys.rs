//! Verifying keys, each pinned to exactly one algorithm and its own validation rules,
//! built once when loaded — never from what a token's header claims.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::TokenError;
use crate::secret::Secret;

/// Claim rules of one key source.
#[derive(Debug, Clone, Default)]
pub struct ClaimRules {
    /// Accepted issuers; empty means `iss` is not checked.
    pub issuer: Vec<String>,
    /// Accepted audiences; empty means `aud` is not checked.
    pub audience: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

impl ClaimRules {
    /// The `Validation` for `alg`: algorithm pinned, `exp` and `sub` required,
    /// `iss`/`aud` required and checked when configured, `nbf` honoured.
    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = self.leeway.as_secs();
        v.validate_exp = true;
        v.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        if !self.issuer.is_empty() {
            v.set_issuer(&self.issuer);
            required.push("iss");
        }
        if self.audience.is_empty() {
            v.validate_aud = false;
        } else {
            v.set_audience(&self.audience);
            required.push("aud");
        }
        v.set_required_spec_claims(&required);
        v
    }
}

/// One key that can verify tokens of exactly one algorithm.
pub struct VerifyingKey {
    /// `kid`; a key without one matches tokens by algorithm alone.
    pub kid: Option<String>,
    /// The only algorithm this key verifies.
    pub alg: Algorithm,
    /// Where the key came from, for logs (`shared_secret:BETTER_AUTH_SECRET`, a JWKS URL…).
    pub source: Arc<str>,
    key: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for VerifyingKey {
    // DecodingKey holds raw secret bytes for HMAC: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// An HS256 key from a shared secret (raw bytes, as Better Auth uses them).
    pub fn hs256(secret: &Secret, rules: &ClaimRules, source: Arc<str>) -> Self {
        Self::new(
            None,
            Algorithm::HS256,
            DecodingKey::from_secret(secret.expose()),
            rules,
            source,
        )
    }

    /// A key of `alg`; `rules` become its pinned validation.
    pub fn new(
        kid: Option<String>,
        alg: Algorithm,
        key: DecodingKey,
        rules: &ClaimRules,
        source: Arc<str>,
    ) -> Self {
        Self {
            kid,
            alg,
            source,
            validation: rules.validation(alg),
            key,
        }
    }

    /// Verifies signature and registered claims, returning the claims.
    pub(super) fn decode(
        &self,
        token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, TokenError> {
        jsonwebtoken::decode(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(TokenError::from)
    }
}

/// The keys a verifier may use.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Arc<VerifyingKey>>,
}

impl KeySet {
    /// A set of keys.
    pub fn new(keys: Vec<Arc<VerifyingKey>>) -> Self {
        Self { keys }
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Keys that may verify a token with this `kid` and `alg`: keys with the same
    /// `kid`, and keys without a `kid`, whose pinned algorithm equals `alg`.
    pub(super) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> Result<impl Iterator<Item = &'a Arc<VerifyingKey>> + 'a, TokenError> {
        let eligible = move |k: &&Arc<VerifyingKey>| match (&k.kid, kid) {
            (None, _) => true,
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
        };
        if !self.keys.iter().filter(eligible).any(|k| k.alg == alg) {
            let kid_known =
                kid.is_some_and(|kid| self.keys.iter().any(|k| k.kid.as_deref() == Some(kid)));
            return Err(if kid.is_some() && !kid_known {
                TokenError::UnknownKey
            } else {
                TokenError::AlgorithmNotAllowed
            });
        }
        Ok(self
            .keys
            .iter()
            .filter(eligible)
            .filter(move |k| k.alg == alg))
    }
}
