//! Counters for verification, the cache and the JWKS client, kept as atomics so the
//! hot path only increments. A metrics endpoint can read [`AuthMetrics::snapshot`].

use std::sync::atomic::{AtomicU64, Ordering};

use super::TokenError;

/// Live counters.
#[derive(Debug, Default)]
pub struct AuthMetrics {
    verified: AtomicU64,
    rejected: [AtomicU64; TokenError::ALL.len()],
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    jwks_fetch_ok: AtomicU64,
    jwks_fetch_err: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    /// Successful verifications (cache hits included).
    pub verified: u64,
    /// Failed verifications by reason label.
    pub rejected: Vec<(&'static str, u64)>,
    /// Cache hits.
    pub cache_hits: u64,
    /// Cache misses.
    pub cache_misses: u64,
    /// Successful JWKS fetches.
    pub jwks_fetch_ok: u64,
    /// Failed JWKS fetches.
    pub jwks_fetch_err: u64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl AuthMetrics {
    /// Counts a verification outcome.
    pub fn record(&self, outcome: Result<(), TokenError>) {
        match outcome {
            Ok(()) => bump(&self.verified),
            Err(e) => bump(&self.rejected[e.index()]),
        }
    }

    /// Counts a cache lookup.
    pub fn record_cache(&self, hit: bool) {
        bump(if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        });
    }

    /// Counts a JWKS fetch.
    pub fn record_fetch(&self, ok: bool) {
        bump(if ok {
            &self.jwks_fetch_ok
        } else {
            &self.jwks_fetch_err
        });
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            verified: get(&self.verified),
            rejected: TokenError::ALL
                .iter()
                .map(|e| (e.reason(), get(&self.rejected[e.index()])))
                .collect(),
            cache_hits: get(&self.cache_hits),
            cache_misses: get(&self.cache_misses),
            jwks_fetch_ok: get(&self.jwks_fetch_ok),
            jwks_fetch_err: get(&self.jwks_fetch_err),
        }
    }
}
