//! Counters and gauges of verification, the token cache and the JWKS client, as
//! prometheus-client metrics. Every label value is bounded: a fixed word, or the
//! name of a configured key source. The hot path only increments atomics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use super::error::TokenError;

/// `{result}`: `hit` / `miss`, or `ok` / `error`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ResultLabel {
    /// The outcome.
    pub result: &'static str,
}

/// `{source}`: a configured key source (its URL, password redacted).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SourceLabel {
    /// The source.
    pub source: String,
}

/// `{source,result}` of one JWKS fetch.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct FetchLabels {
    /// The source.
    pub source: String,
    /// `ok` or `error`.
    pub result: &'static str,
}

/// `{result}` of one verification: `ok` or a [`TokenError::reason`].
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct VerifyLabel {
    /// The outcome.
    pub result: &'static str,
}

/// The auth metrics. Clones share the same series.
#[derive(Debug, Clone, Default)]
pub struct AuthMetrics {
    verifications: Family<VerifyLabel, Counter>,
    cache_lookups: Family<ResultLabel, Counter>,
    jwks_fetches: Family<FetchLabels, Counter>,
    jwks_keys: Family<SourceLabel, Gauge>,
    jwks_last_success: Family<SourceLabel, Gauge<f64, AtomicU64>>,
    /// Fetch totals over all sources (ok, error), for [`Self::snapshot`].
    #[cfg(test)]
    fetch_totals: [Counter; 2],
}

/// A copy of some counters at one moment, for tests.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    /// Successful verifications (cache hits included).
    pub verified: u64,
    /// Cache hits.
    pub cache_hits: u64,
    /// Cache misses.
    pub cache_misses: u64,
    /// Successful JWKS fetches, all sources.
    pub jwks_fetch_ok: u64,
    /// Failed JWKS fetches, all sources.
    pub jwks_fetch_err: u64,
}

fn result_label(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "error"
    }
}

impl AuthMetrics {
    /// Registers every series in `registry` (names without the `authgate_` prefix).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "token_verifications",
            "Token verifications by result (ok, or the reject reason)",
            self.verifications.clone(),
        );
        registry.register(
            "token_cache_lookups",
            "Verified-token cache lookups by result (hit, miss)",
            self.cache_lookups.clone(),
        );
        registry.register(
            "jwks_fetches",
            "JWKS fetches by source and result (ok, error)",
            self.jwks_fetches.clone(),
        );
        registry.register(
            "jwks_keys",
            "Usable keys loaded from each JWKS source",
            self.jwks_keys.clone(),
        );
        registry.register(
            "jwks_last_success_timestamp_seconds",
            "Unix time of each JWKS source's last successful fetch",
            self.jwks_last_success.clone(),
        );
    }

    /// Counts a verification outcome.
    pub fn record(&self, outcome: Result<(), TokenError>) {
        let result = match outcome {
            Ok(()) => "ok",
            Err(e) => e.reason(),
        };
        self.verifications
            .get_or_create(&VerifyLabel { result })
            .inc();
    }

    /// Counts a cache lookup.
    pub fn record_cache(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache_lookups
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// Counts a JWKS fetch of `source`; on success also its key count and time.
    pub fn record_fetch(&self, source: &str, outcome: Result<usize, ()>, unix_time: u64) {
        let labels = FetchLabels {
            source: source.to_string(),
            result: result_label(outcome.is_ok()),
        };
        self.jwks_fetches.get_or_create(&labels).inc();
        #[cfg(test)]
        self.fetch_totals[usize::from(outcome.is_err())].inc();
        if let Ok(keys) = outcome {
            let source = SourceLabel {
                source: source.to_string(),
            };
            self.jwks_keys
                .get_or_create(&source)
                .set(i64::try_from(keys).unwrap_or(i64::MAX));
            self.jwks_last_success
                .get_or_create(&source)
                .set(unix_time as f64);
        }
    }

    /// Forgets the gauges of a source a reload removed: its keys are not loaded
    /// any more, and its last success would otherwise look like a stale source for
    /// ever. Its fetch counters stay (they count what happened).
    pub fn forget_source(&self, source: &str) {
        let label = SourceLabel {
            source: source.to_string(),
        };
        self.jwks_keys.remove(&label);
        self.jwks_last_success.remove(&label);
    }

    /// Reads some counters.
    #[cfg(test)]
    pub fn snapshot(&self) -> MetricsSnapshot {
        let count = |family: &Family<ResultLabel, Counter>, result| {
            family.get(&ResultLabel { result }).map_or(0, |c| c.get())
        };
        let verified = self
            .verifications
            .get(&VerifyLabel { result: "ok" })
            .map_or(0, |c| c.get());
        MetricsSnapshot {
            verified,
            cache_hits: count(&self.cache_lookups, "hit"),
            cache_misses: count(&self.cache_lookups, "miss"),
            jwks_fetch_ok: self.fetch_totals[0].get(),
            jwks_fetch_err: self.fetch_totals[1].get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_exposed_with_bounded_labels() {
        let m = AuthMetrics::default();
        m.record(Ok(()));
        m.record(Err(TokenError::Expired));
        m.record_cache(true);
        m.record_fetch("http://auth/jwks", Ok(2), 1_700_000_000);
        m.record_fetch("http://auth/jwks", Err(()), 0);
        let mut registry = Registry::with_prefix("authgate");
        m.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "authgate_token_verifications_total{result=\"ok\"} 1",
            "authgate_token_verifications_total{result=\"expired\"} 1",
            "authgate_token_cache_lookups_total{result=\"hit\"} 1",
            "authgate_jwks_fetches_total{source=\"http://auth/jwks\",result=\"ok\"} 1",
            "authgate_jwks_fetches_total{source=\"http://auth/jwks\",result=\"error\"} 1",
            "authgate_jwks_keys{source=\"http://auth/jwks\"} 2",
            "authgate_jwks_last_success_timestamp_seconds{source=\"http://auth/jwks\"} 1700000000",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        let s = m.snapshot();
        assert_eq!((s.verified, s.jwks_fetch_ok, s.jwks_fetch_err), (1, 1, 1));
        m.forget_source("http://auth/jwks");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(!text.contains("authgate_jwks_keys{"), "{text}");
        assert!(
            !text.contains("authgate_jwks_last_success_timestamp_seconds{"),
            "{text}"
        );
        assert!(text
            .contains("authgate_jwks_fetches_total{source=\"http://auth/jwks\",result=\"ok\"} 1"));
    }
}
