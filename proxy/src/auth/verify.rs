//! Verifying a compact JWT against the configured keys (RFC 8725 practices: the
//! algorithm comes from the key, never the token; no `none`; no key material or key
//! URLs taken from the token; no unknown `crit`; `exp` and `sub` required).

use super::{Identity, KeySet, TokenError};

/// Limits and claim forwarding shared by every key.
#[derive(Debug, Clone)]
pub struct VerifierOptions {
    /// Longest accepted token in bytes.
    pub max_token_bytes: usize,
    /// Claims (besides `sub` and `email`) to carry into the [`Identity`].
    pub forward_claims: Vec<String>,
}

/// Verifies bearer tokens.
#[derive(Debug)]
pub struct Verifier {
    keys: KeySet,
    options: VerifierOptions,
}

impl Verifier {
    /// A verifier over a fixed key set.
    pub fn new(keys: KeySet, options: VerifierOptions) -> Self {
        Self { keys, options }
    }

    /// Whether the verifier has keys to verify with (readiness).
    pub fn is_ready(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Verifies `token` and returns the caller's identity.
    pub fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        if token.len() > self.options.max_token_bytes {
            return Err(TokenError::TooLarge);
        }
        // An unknown or `none` alg fails to parse here: the enum has no such variant.
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::Json(_) if header_names_alg_none(token) => {
                TokenError::AlgorithmNotAllowed
            }
            _ => TokenError::Malformed,
        })?;
        if header.jku.is_some()
            || header.jwk.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
        {
            return Err(TokenError::EmbeddedKey);
        }
        if header.crit.is_some() {
            return Err(TokenError::CriticalHeader);
        }
        let mut last_error = TokenError::UnknownKey;
        for key in self.keys.candidates(header.kid.as_deref(), header.alg)? {
            match key.decode(token) {
                Ok(claims) => return Identity::from_claims(&claims, &self.options.forward_claims),
                // Several kid-less keys may share an algorithm: try the next one.
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }
}

/// Distinguishes `alg: none` (any case) from other undecodable headers, so the log
/// and the client say why. Only called after decoding already failed.
fn header_names_alg_none(token: &str) -> bool {
    use base64::Engine as _;
    let encoded = token.split('.').next().unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|v| {
            v.get("alg")?
                .as_str()
                .map(|a| a.eq_ignore_ascii_case("none"))
        })
        .unwrap_or(false)
}
