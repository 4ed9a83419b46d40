//! Verifying a compact JWS against the configured key sources, following RFC 8725:
//! the algorithm comes from the key, never the token; no `none`; no key material or
//! key URLs taken from the token; no `crit`; explicit typing for session cookies;
//! `exp` (and `sub` for access tokens) required. Signatures are checked before the
//! payload is even parsed.

use serde_json::{Map, Value};
use std::sync::Arc;

use super::alg::KeyAlg;
use super::cache::{Lookup, TokenRef, VerifiedCache};
use super::claims::ClaimMode;
use super::error::TokenError;
use super::identity::{Identity, KeptClaims};
use super::jose::{decode_part, split, Compact, JoseHeader, SESSION_CACHE_TYP};
use super::jwks::RemoteJwks;
use super::keys::{KeySet, VerifyingKey};
use super::metrics::AuthMetrics;
use crate::trace::{Step, Tracer};

/// Where a credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `Authorization: Bearer`.
    Bearer,
    /// Better Auth's `session_data` cookie.
    SessionCookie,
}

/// Limits and claim forwarding shared by every key.
#[derive(Debug, Clone)]
pub struct VerifierOptions {
    /// Longest accepted token in bytes.
    pub max_token_bytes: usize,
    /// Claims (besides `sub` and `email`) to carry into the [`Identity`].
    pub kept_claims: KeptClaims,
    /// Verified-token cache size; 0 disables the cache.
    pub cache_entries: usize,
}

/// One key source.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Keys fixed at start-up (shared secret, JWKS file).
    Static(Arc<KeySet>),
    /// A JWKS fetched over HTTP.
    Remote(Arc<RemoteJwks>),
}

/// Verifies bearer tokens and session cookies.
#[derive(Debug)]
pub struct Verifier {
    sources: Vec<KeySource>,
    options: VerifierOptions,
    cache: Option<VerifiedCache>,
    metrics: Arc<AuthMetrics>,
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// What the key search found when no key verified.
struct Search {
    tried: bool,
    kid_known: bool,
    unloaded: bool,
    last_error: TokenError,
}

impl Verifier {
    /// A verifier over `sources`.
    pub fn new(
        sources: Vec<KeySource>,
        options: VerifierOptions,
        metrics: Arc<AuthMetrics>,
    ) -> Self {
        let cache = (options.cache_entries > 0).then(|| VerifiedCache::new(options.cache_entries));
        Self {
            sources,
            options,
            cache,
            metrics,
        }
    }

    /// Counters.
    #[cfg(test)]
    pub fn metrics(&self) -> &Arc<AuthMetrics> {
        &self.metrics
    }

    /// The remote sources (for the refresh task).
    pub fn remote_sources(&self) -> impl Iterator<Item = &Arc<RemoteJwks>> {
        self.sources.iter().filter_map(|s| match s {
            KeySource::Remote(r) => Some(r),
            KeySource::Static(_) => None,
        })
    }

    /// Ready when every remote source has loaded keys at least once.
    pub fn is_ready(&self) -> bool {
        self.remote_sources().all(|r| r.is_loaded())
    }

    /// Verifies a credential and returns the caller's identity. An unknown `kid` leads
    /// to one single-flight, rate-limited refetch of the remote key sets, then one retry.
    pub async fn verify<T: Tracer>(
        &self,
        token: &str,
        purpose: Purpose,
        trace: &mut T,
    ) -> Result<Arc<Identity>, TokenError> {
        let arrived = std::time::Instant::now();
        let mut result = self.verify_now(token, purpose, trace);
        if result == Err(TokenError::UnknownKey) && self.remote_sources().next().is_some() {
            let mut changed = false;
            for remote in self.remote_sources() {
                changed |= remote.refetch_for_unknown_kid(arrived).await;
            }
            if changed {
                result = self.verify_now(token, purpose, trace);
            }
        }
        self.metrics
            .record(result.as_ref().map(|_| ()).map_err(|e| *e));
        result
    }

    /// Verifies with the keys loaded now, without any fetch.
    pub fn verify_now<T: Tracer>(
        &self,
        token: &str,
        purpose: Purpose,
        trace: &mut T,
    ) -> Result<Arc<Identity>, TokenError> {
        if token.len() > self.options.max_token_bytes {
            return Err(TokenError::TooLarge);
        }
        let now = now();
        let cache_key = self
            .cache
            .as_ref()
            .map(|_| TokenRef::new(purpose as u8, token));
        if let (Some(cache), Some(key)) = (&self.cache, &cache_key) {
            match cache.get(key, now) {
                Lookup::Hit(identity) => {
                    self.metrics.record_cache(true);
                    return Ok(identity);
                }
                Lookup::Invalid(e) => {
                    self.metrics.record_cache(true);
                    return Err(e);
                }
                Lookup::Miss => self.metrics.record_cache(false),
            }
        }
        let (encoded_header, compact) = split(token)?;
        let header = JoseHeader::parse(encoded_header)?;
        let mode = claim_mode(&header, purpose)?;
        let (identity, key) = self.find_key_and_accept(&header, &compact, mode, now, trace)?;
        if let (Some(cache), Some(ck)) = (&self.cache, cache_key) {
            cache.insert(ck, &identity, &key);
        }
        Ok(identity)
    }

    /// Tries the candidate keys of every source (by `kid`, else by algorithm) until
    /// one verifies the signature; then checks the claims.
    fn find_key_and_accept<T: Tracer>(
        &self,
        header: &JoseHeader,
        compact: &Compact<'_>,
        mode: ClaimMode,
        now: u64,
        trace: &mut T,
    ) -> Result<(Arc<Identity>, Arc<VerifyingKey>), TokenError> {
        let mut search = Search {
            tried: false,
            kid_known: false,
            unloaded: false,
            last_error: TokenError::BadSignature,
        };
        for source in &self.sources {
            let remote_guard;
            let keys: &KeySet = match source {
                KeySource::Static(set) => set,
                KeySource::Remote(remote) => {
                    search.unloaded |= !remote.is_loaded();
                    remote_guard = remote.keys();
                    &remote_guard
                }
            };
            if let Some(kid) = header.kid.as_deref() {
                search.kid_known |= keys.has_kid(kid);
            }
            for key in keys.candidates(header.kid.as_deref(), header.alg) {
                search.tried = true;
                let verified = key.verify_signature(compact.signing_input, compact.signature);
                trace.step(|| Step::Key {
                    source: key.source.to_string(),
                    kid: key.kid.clone(),
                    alg: key.alg.as_str(),
                    result: verified.map_or_else(|e| e.reason(), |()| "verified"),
                });
                match verified {
                    Ok(()) => {
                        let identity = self.accept(key, compact.payload, mode, now, trace)?;
                        return Ok((identity, key.clone()));
                    }
                    // Several kid-less keys may share an algorithm: try the next one.
                    Err(e) => search.last_error = e,
                }
            }
        }
        let error = match search {
            Search {
                tried: true,
                last_error,
                ..
            } => return Err(last_error),
            Search { unloaded: true, .. } => TokenError::KeysUnavailable,
            Search {
                kid_known: false, ..
            } if header.kid.is_some() => TokenError::UnknownKey,
            _ => TokenError::AlgorithmNotAllowed,
        };
        trace.step(|| Step::NoKey {
            reason: error.reason(),
        });
        Err(error)
    }

    /// After the signature verified: claims checks and the identity.
    fn accept<T: Tracer>(
        &self,
        key: &VerifyingKey,
        payload: &str,
        mode: ClaimMode,
        now: u64,
        trace: &mut T,
    ) -> Result<Arc<Identity>, TokenError> {
        let bytes = decode_part(payload)?;
        let claims: Map<String, Value> =
            serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
        key.rules.validate(&claims, now, mode, trace)?;
        let kept = &self.options.kept_claims;
        let identity = match mode {
            ClaimMode::Access => Identity::from_claims(&claims, kept),
            ClaimMode::SessionCookieHs256 => Identity::from_hs256_session_cookie(&claims, kept),
            ClaimMode::SessionCookieJwks => Identity::from_jwks_session_cookie(&claims, kept),
        };
        trace.step(|| Step::Claim {
            claim: "sub",
            result: identity.as_ref().map_or_else(|e| e.reason(), |_| "ok"),
        });
        Ok(Arc::new(identity?))
    }
}

/// Which claim rules apply, from the header's `typ`/`alg` and where the token came from.
fn claim_mode(header: &JoseHeader, purpose: Purpose) -> Result<ClaimMode, TokenError> {
    let session_typ = header.typ.as_deref() == Some(SESSION_CACHE_TYP);
    match purpose {
        Purpose::Bearer if session_typ => Err(TokenError::WrongTokenType),
        Purpose::Bearer => Ok(ClaimMode::Access),
        // Strategy `jwt`: HS256 with the shared secret, no typ.
        Purpose::SessionCookie if header.alg == KeyAlg::HS256 && !session_typ => {
            Ok(ClaimMode::SessionCookieHs256)
        }
        // The JWT plugin's `sessionCookieCache`: signed by the JWKS, typed.
        Purpose::SessionCookie if header.alg != KeyAlg::HS256 && session_typ => {
            Ok(ClaimMode::SessionCookieJwks)
        }
        Purpose::SessionCookie => Err(TokenError::WrongTokenType),
    }
}

#[cfg(test)]
mod tests;
