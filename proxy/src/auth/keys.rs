//! Verifying keys, each pinned to exactly one algorithm and to its source's claim
//! rules, built once when loaded — never from what a token's header claims.

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P521_SHA512_FIXED};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::header::decode_part;
use super::TokenError;
use crate::secret::Secret;

/// The signature algorithms authgate verifies. HS384/HS512 are deliberately absent:
/// the shared secret is HS256 only.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlg {
    /// HMAC SHA-256 (the shared secret).
    HS256,
    /// RSASSA-PKCS1-v1_5 SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 SHA-512.
    RS512,
    /// RSASSA-PSS SHA-256.
    PS256,
    /// RSASSA-PSS SHA-384.
    PS384,
    /// RSASSA-PSS SHA-512.
    PS512,
    /// ECDSA P-256 SHA-256.
    ES256,
    /// ECDSA P-384 SHA-384.
    ES384,
    /// ECDSA P-521 SHA-512 (jsonwebtoken lacks it; verified with aws-lc-rs directly).
    ES512,
    /// Ed25519 (Better Auth's default).
    EdDSA,
}

impl KeyAlg {
    /// Every asymmetric algorithm, the default allow-list of a JWKS source.
    pub const ASYMMETRIC: [KeyAlg; 10] = [
        Self::EdDSA,
        Self::ES256,
        Self::ES384,
        Self::ES512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
    ];

    /// Parses the exact JOSE name (case-sensitive, as RFC 7515 requires).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "HS256" => Self::HS256,
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "PS256" => Self::PS256,
            "PS384" => Self::PS384,
            "PS512" => Self::PS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "ES512" => Self::ES512,
            "EdDSA" => Self::EdDSA,
            _ => return None,
        })
    }

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
            Self::EdDSA => "EdDSA",
        }
    }

    fn jsonwebtoken(self) -> Option<Algorithm> {
        Some(match self {
            Self::HS256 => Algorithm::HS256,
            Self::RS256 => Algorithm::RS256,
            Self::RS384 => Algorithm::RS384,
            Self::RS512 => Algorithm::RS512,
            Self::PS256 => Algorithm::PS256,
            Self::PS384 => Algorithm::PS384,
            Self::PS512 => Algorithm::PS512,
            Self::ES256 => Algorithm::ES256,
            Self::ES384 => Algorithm::ES384,
            Self::EdDSA => Algorithm::EdDSA,
            Self::ES512 => return None,
        })
    }
}

/// Which claim rules apply: they differ between access tokens and Better Auth's
/// session cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimMode {
    /// `Authorization: Bearer` access token: the source's `iss`/`aud` rules.
    Access,
    /// Better Auth's `session_data` cookie (strategy `jwt`, HS256): Better Auth
    /// sets no `iss`/`aud`, so they are required by nothing; but when the token
    /// carries one, the source's pins apply (a token minted for another issuer or
    /// audience with the same secret is not accepted as a cookie either).
    SessionCookieHs256,
    /// Better Auth's JWKS-signed `session_data` cookie: the source's `iss`, and
    /// `aud` = `better-auth:session-cache`.
    SessionCookieJwks,
}

/// `aud` of Better Auth's JWKS-signed session cookie.
pub const SESSION_CACHE_AUDIENCE: &str = "better-auth:session-cache";

/// Claim rules of one key source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimRules {
    /// Accepted issuers; empty means `iss` is not checked.
    pub issuer: Vec<String>,
    /// Accepted audiences; empty means `aud` is not checked.
    pub audience: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

fn numeric(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| Some(f as u64))
            .ok_or(TokenError::MissingClaim),
    }
}

impl ClaimRules {
    /// Checks the registered claims at time `now`: `exp` required and not past,
    /// `nbf` not in the future, `iss` and `aud` when the rules (for `mode`) name them.
    pub fn validate(
        &self,
        claims: &Map<String, Value>,
        now: u64,
        mode: ClaimMode,
    ) -> Result<(), TokenError> {
        let exp = numeric(claims, "exp")?.ok_or(TokenError::MissingClaim)?;
        let nbf = numeric(claims, "nbf")?;
        check_time(exp, nbf, self.leeway.as_secs(), now)?;
        let (issuers, audiences): (&[String], &[String]) = match mode {
            ClaimMode::Access => (&self.issuer, &self.audience),
            ClaimMode::SessionCookieHs256 => (
                if claims.contains_key("iss") {
                    &self.issuer
                } else {
                    &[]
                },
                if claims.contains_key("aud") {
                    &self.audience
                } else {
                    &[]
                },
            ),
            ClaimMode::SessionCookieJwks => (&self.issuer, &[]),
        };
        if !issuers.is_empty() {
            match claims.get("iss") {
                None => return Err(TokenError::MissingClaim),
                Some(Value::String(iss)) if issuers.iter().any(|i| i == iss) => {}
                Some(_) => return Err(TokenError::BadIssuer),
            }
        }
        let audience_ok = |wanted: &dyn Fn(&str) -> bool| match claims.get("aud") {
            None => Err(TokenError::MissingClaim),
            Some(Value::String(a)) if wanted(a) => Ok(()),
            Some(Value::Array(list)) if list.iter().any(|a| a.as_str().is_some_and(wanted)) => {
                Ok(())
            }
            Some(_) => Err(TokenError::BadAudience),
        };
        if mode == ClaimMode::SessionCookieJwks {
            audience_ok(&|a| a == SESSION_CACHE_AUDIENCE)?;
        } else if !audiences.is_empty() {
            audience_ok(&|a| audiences.iter().any(|w| w == a))?;
        }
        Ok(())
    }
}

/// `exp`/`nbf` against `now` with `leeway`: also used on every cache hit.
pub fn check_time(exp: u64, nbf: Option<u64>, leeway: u64, now: u64) -> Result<(), TokenError> {
    if exp.saturating_add(leeway) < now {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

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
pub fn ed25519_material(x: &[u8]) -> Option<Material> {
    let key = ed25519_dalek::VerifyingKey::from_bytes(x.try_into().ok()?).ok()?;
    let canonical = key.to_edwards().compress().as_bytes() == x;
    (canonical && !key.is_weak()).then_some(Material::Ed25519(key))
}

/// A P-521 public key from JWK coordinates.
pub fn p521_material(x: &[u8], y: &[u8]) -> Option<Material> {
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

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn rules(iss: &[&str], aud: &[&str]) -> ClaimRules {
        ClaimRules {
            issuer: iss.iter().map(|s| s.to_string()).collect(),
            audience: aud.iter().map(|s| s.to_string()).collect(),
            leeway: Duration::from_secs(10),
        }
    }

    #[test]
    fn time_claims_with_leeway() {
        let r = rules(&[], &[]);
        let b = ClaimMode::Access;
        assert!(r.validate(&map(json!({"exp": 1000})), 1005, b).is_ok());
        assert_eq!(
            r.validate(&map(json!({"exp": 1000})), 1011, b),
            Err(TokenError::Expired)
        );
        assert_eq!(
            r.validate(&map(json!({})), 1, b),
            Err(TokenError::MissingClaim)
        );
        assert_eq!(
            r.validate(&map(json!({"exp": "x"})), 1, b),
            Err(TokenError::MissingClaim)
        );
        assert_eq!(
            r.validate(&map(json!({"exp": -5})), 1, b),
            Err(TokenError::MissingClaim)
        );
        assert!(r
            .validate(&map(json!({"exp": 5000, "nbf": 1009})), 1000, b)
            .is_ok());
        assert_eq!(
            r.validate(&map(json!({"exp": 5000, "nbf": 1011})), 1000, b),
            Err(TokenError::NotYetValid)
        );
        assert!(r.validate(&map(json!({"exp": 1000.5})), 1000, b).is_ok());
    }

    #[test]
    fn issuer_and_audience() {
        let r = rules(&["https://a"], &["https://b"]);
        let ok = json!({"exp": 9, "iss": "https://a", "aud": "https://b"});
        assert!(r.validate(&map(ok), 1, ClaimMode::Access).is_ok());
        let list = json!({"exp": 9, "iss": "https://a", "aud": ["x", "https://b"]});
        assert!(r.validate(&map(list), 1, ClaimMode::Access).is_ok());
        let bad_iss = json!({"exp": 9, "iss": "https://z", "aud": "https://b"});
        assert_eq!(
            r.validate(&map(bad_iss), 1, ClaimMode::Access),
            Err(TokenError::BadIssuer)
        );
        let iss_list = json!({"exp": 9, "iss": ["https://a"], "aud": "https://b"});
        assert_eq!(
            r.validate(&map(iss_list), 1, ClaimMode::Access),
            Err(TokenError::BadIssuer)
        );
        let bad_aud = json!({"exp": 9, "iss": "https://a", "aud": ["x"]});
        assert_eq!(
            r.validate(&map(bad_aud), 1, ClaimMode::Access),
            Err(TokenError::BadAudience)
        );
        let no_aud = json!({"exp": 9, "iss": "https://a"});
        assert_eq!(
            r.validate(&map(no_aud), 1, ClaimMode::Access),
            Err(TokenError::MissingClaim)
        );
    }

    #[test]
    fn session_cookie_rules() {
        let r = rules(&["https://a"], &["https://b"]);
        // HS256 cookie: no iss/aud in Better Auth's payload, none checked.
        assert!(r
            .validate(&map(json!({"exp": 9})), 1, ClaimMode::SessionCookieHs256)
            .is_ok());
        let jwks_cookie = json!({"exp": 9, "iss": "https://a", "aud": SESSION_CACHE_AUDIENCE});
        assert!(r
            .validate(&map(jwks_cookie.clone()), 1, ClaimMode::SessionCookieJwks)
            .is_ok());
        // A session-cache token is not an access token for this audience.
        assert_eq!(
            r.validate(&map(jwks_cookie), 1, ClaimMode::Access),
            Err(TokenError::BadAudience)
        );
        let access = json!({"exp": 9, "iss": "https://a", "aud": "https://b"});
        assert_eq!(
            r.validate(&map(access), 1, ClaimMode::SessionCookieJwks),
            Err(TokenError::BadAudience)
        );
    }

    #[test]
    fn alg_names_are_exact() {
        for a in KeyAlg::ASYMMETRIC.iter().chain([KeyAlg::HS256].iter()) {
            assert_eq!(KeyAlg::parse(a.as_str()), Some(*a));
        }
        for bad in ["none", "HS384", "HS512", "eddsa", "Ed25519", "RS256 ", ""] {
            assert_eq!(KeyAlg::parse(bad), None, "{bad}");
        }
    }
}
