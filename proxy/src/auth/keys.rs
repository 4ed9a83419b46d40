//! Verifying keys, each pinned to exactly one algorithm and to its source's claim
//! rules, built once when loaded — never from what a token's header claims.

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P521_SHA512_FIXED};
use jsonwebtoken::DecodingKey;
use std::fmt;
use std::sync::Arc;

use super::alg::KeyAlg;
use super::claims::ClaimRules;
use super::error::TokenError;
use super::jose::decode_part;
use crate::secret::Secret;

/// The public key (or shared secret) itself.
pub enum Material {
    /// Anything jsonwebtoken verifies.
    Jwt(DecodingKey),
    /// A P-521 public key as an uncompressed SEC1 point (ES512).
    P521(UnparsedPublicKey<Vec<u8>>),
    /// An Ed25519 public key, decoded once (EdDSA). Verified with ed25519-dalek's
    /// `verify_strict`: it rejects every signature aws-lc rejects, and also
    /// small-order keys and `R` (a signature over any message for the identity
    /// key, for one); about 10–20 % faster here (bench/RESULTS.md).
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// One key that verifies tokens of exactly one algorithm.
pub struct VerifyingKey {
    /// `kid`; a key without one matches tokens by algorithm alone.
    pub kid: Option<String>,
    /// The only algorithm this key verifies.
    pub alg: KeyAlg,
    /// Where the key came from, for logs (`shared_secret:BETTER_AUTH_SECRET`, a JWKS URL…).
    pub source: Arc<str>,
    /// The source's claim rules.
    pub rules: Arc<ClaimRules>,
    /// Identity of the key material, to keep the same key across JWKS refreshes.
    pub fingerprint: String,
    material: Material,
}

impl fmt::Debug for VerifyingKey {
    // The material holds raw secret bytes for HMAC: never print it.
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
    pub fn hs256(secret: &Secret, rules: Arc<ClaimRules>, source: Arc<str>) -> Self {
        Self {
            kid: None,
            alg: KeyAlg::HS256,
            source,
            rules,
            fingerprint: String::new(),
            material: Material::Jwt(DecodingKey::from_secret(secret.expose())),
        }
    }

    /// A public key of `alg`.
    pub fn new(
        kid: Option<String>,
        alg: KeyAlg,
        material: Material,
        rules: Arc<ClaimRules>,
        source: Arc<str>,
        fingerprint: String,
    ) -> Self {
        Self {
            kid,
            alg,
            source,
            rules,
            fingerprint,
            material,
        }
    }

    /// Verifies the signature of `signing_input` (`header.payload`).
    pub fn verify_signature(
        &self,
        signing_input: &str,
        signature_b64: &str,
    ) -> Result<(), TokenError> {
        let ok = match (&self.material, self.alg.jsonwebtoken()) {
            (Material::Jwt(key), Some(alg)) => {
                jsonwebtoken::crypto::verify(signature_b64, signing_input.as_bytes(), key, alg)
                    .map_err(|_| TokenError::BadSignature)?
            }
            (Material::P521(key), None) => {
                let sig = decode_part(signature_b64).map_err(|_| TokenError::BadSignature)?;
                key.verify(signing_input.as_bytes(), &sig).is_ok()
            }
            (Material::Ed25519(key), _) => {
                let sig = decode_part(signature_b64).map_err(|_| TokenError::BadSignature)?;
                let sig =
                    <[u8; 64]>::try_from(sig.as_slice()).map_err(|_| TokenError::BadSignature)?;
                key.verify_strict(
                    signing_input.as_bytes(),
                    &ed25519_dalek::Signature::from_bytes(&sig),
                )
                .is_ok()
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(TokenError::BadSignature)
        }
    }
}

/// An Ed25519 public key from the JWK's `x`. Refused: a point off the curve, a
/// non-canonical encoding (y ≥ p, which aws-lc refuses too and dalek would take),
/// and small-order keys, which no honest key has.
pub(crate) fn ed25519_material(x: &[u8]) -> Option<Material> {
    let key = ed25519_dalek::VerifyingKey::from_bytes(x.try_into().ok()?).ok()?;
    let canonical = key.to_edwards().compress().as_bytes() == x;
    (canonical && !key.is_weak()).then_some(Material::Ed25519(key))
}

/// A P-521 public key from JWK coordinates.
pub(crate) fn p521_material(x: &[u8], y: &[u8]) -> Option<Material> {
    if x.len() != 66 || y.len() != 66 {
        return None;
    }
    let mut point = Vec::with_capacity(133);
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    Some(Material::P521(UnparsedPublicKey::new(
        &ECDSA_P521_SHA512_FIXED,
        point,
    )))
}

/// The keys of one source at one moment.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Arc<VerifyingKey>>,
}

impl KeySet {
    /// A set of keys.
    pub fn new(keys: Vec<Arc<VerifyingKey>>) -> Self {
        Self { keys }
    }

    /// Number of keys.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// All keys.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<VerifyingKey>> {
        self.keys.iter()
    }

    /// Whether some key has this `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Keys that may verify a token with this `kid` and `alg`: same `kid` (or no
    /// `kid` on the key) and exactly the pinned algorithm.
    pub fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: KeyAlg,
    ) -> impl Iterator<Item = &'a Arc<VerifyingKey>> + 'a {
        self.keys.iter().filter(move |k| {
            k.alg == alg
                && match (&k.kid, kid) {
                    (None, _) => true,
                    (Some(a), Some(b)) => a == b,
                    (Some(_), None) => false,
                }
        })
    }
}
