//! The process's metrics, served on the admin listener's `/metrics` in the
//! OpenMetrics text format (prometheus-client). One registry for the process: it
//! outlives config reloads, so counters never reset. Label values are bounded
//! words (decisions, reasons, kinds) or configured source names, never paths or
//! subjects.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::LazyLock;
use std::time::Duration;

use crate::auth::metrics::ResultLabel;
use crate::auth::AuthMetrics;

/// `{decision,reason}` of one request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    /// `allow`, `anonymous`, `reject` or `error`.
    pub decision: &'static str,
    /// The reject reason (`missing_token`, `expired`, `owner_mismatch` …) or the
    /// error kind; empty for allow and anonymous.
    pub reason: &'static str,
}

/// `{kind}` of an upstream failure.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KindLabel {
    /// `timeout` or `failed` (TLS handshakes); `sub` or `jti` (revocations).
    pub kind: &'static str,
}

/// `{kind,upstream}` of an upstream failure.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct UpstreamErrorLabels {
    /// `connect`, `timeout`, `tls` or `other`.
    pub kind: &'static str,
    /// The upstream's configured name.
    pub upstream: String,
}

/// `{reused,upstream}` of an upstream connection a request went out on.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReusedLabels {
    /// `true` for a kept-alive connection from the pool, `false` for a new one.
    pub reused: &'static str,
    /// The upstream's configured name.
    pub upstream: String,
}

/// One upstream's counters, made once per upstream (no label built per request).
#[derive(Debug, Clone)]
pub(crate) struct UpstreamCounters {
    connect: Counter,
    timeout: Counter,
    tls: Counter,
    other: Counter,
    reused: Counter,
    new: Counter,
}

impl UpstreamCounters {
    /// Counts a failure of `kind` (`connect`, `timeout`, `tls`, anything else is
    /// `other`).
    pub(crate) fn error(&self, kind: &str) {
        match kind {
            "connect" => &self.connect,
            "timeout" => &self.timeout,
            "tls" => &self.tls,
            _ => &self.other,
        }
        .inc();
    }

    /// Counts the connection a request went out on.
    pub(crate) fn connection(&self, reused: bool) {
        if reused { &self.reused } else { &self.new }.inc();
    }
}

/// The TLS listener's metrics.
#[derive(Debug, Default)]
struct TlsMetrics {
    reloads: Family<ResultLabel, Counter>,
    cert_expiry: Gauge,
    handshake_errors: Family<KindLabel, Counter>,
}

impl TlsMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "tls_reloads",
            "Reloads of the TLS certificate (SIGHUP or the files changed) by result (success, error)",
            self.reloads.clone(),
        );
        registry.register(
            "tls_cert_expiry_timestamp_seconds",
            "notAfter of the TLS certificate being served",
            self.cert_expiry.clone(),
        );
        registry.register(
            "tls_handshake_errors",
            "TLS handshakes that did not complete, by kind (timeout, failed)",
            self.handshake_errors.clone(),
        );
    }
}

/// `{op,result}` of one Redis call.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RedisLabels {
    /// What it was for: `rate_limit`, `revocation_load`, `revocation_version`,
    /// `revocation_subscribe`.
    pub op: &'static str,
    /// `ok`, `error` or `timeout`.
    pub result: &'static str,
}

/// `{op}` of the Redis latency histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OpLabel {
    /// As in [`RedisLabels`].
    pub op: &'static str,
}

/// `{policy,result}` of one rate-limit check.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PolicyLabels {
    /// The policy's name (from the config: bounded).
    pub policy: String,
    /// `allowed`, `limited` (429) or `refused` (503: Redis failed, `deny`).
    pub result: &'static str,
}

/// `{policy,action}` of a check Redis could not answer.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct FallbackLabels {
    /// The policy's name.
    pub policy: String,
    /// Its `on_redis_error`: `local`, `allow` or `deny`.
    pub action: &'static str,
}

/// The counters of one rate-limit policy, looked up once (no label built per
/// request).
#[derive(Debug, Clone)]
pub(crate) struct PolicyCounters {
    /// Requests the policy let through.
    pub allowed: Counter,
    /// Requests over the limit (429).
    pub limited: Counter,
    /// Requests refused because Redis failed (`deny`, 503).
    pub refused: Counter,
    /// Checks Redis could not answer, by the action taken.
    pub fallback_local: Counter,
    /// As above, `allow`.
    pub fallback_allow: Counter,
    /// As above, `deny`.
    pub fallback_deny: Counter,
}

/// Latency buckets of Redis calls in seconds: 50 µs to 1 s.
const REDIS_BUCKETS: [f64; 10] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.025, 0.1, 1.0,
];

fn redis_histogram() -> Histogram {
    Histogram::new(REDIS_BUCKETS)
}

/// Every metric authgate exports.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Histogram,
    upstream_errors: Family<UpstreamErrorLabels, Counter>,
    upstream_connections: Family<ReusedLabels, Counter>,
    config_reloads: Family<ResultLabel, Counter>,
    tls: TlsMetrics,
    redis_requests: Family<RedisLabels, Counter>,
    redis_duration: Family<OpLabel, Histogram, fn() -> Histogram>,
    rate_limit_checks: Family<PolicyLabels, Counter>,
    rate_limit_fallbacks: Family<FallbackLabels, Counter>,
    revocations: Family<KindLabel, Gauge>,
    /// Verification, cache and JWKS metrics, handed to the key sources.
    pub auth: AuthMetrics,
}

/// Latency buckets in seconds: 100 µs to 10 s (authgate adds well under a
/// millisecond; the rest is the upstream).
const DURATION_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0, 2.5, 10.0,
];

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("authgate");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests by decision (allow, anonymous, health, reject, error) and reason",
            requests.clone(),
        );
        let duration = Histogram::new(DURATION_BUCKETS);
        registry.register(
            "request_duration_seconds",
            "Time from the request head to the end of the response",
            duration.clone(),
        );
        let upstream_errors = Family::<UpstreamErrorLabels, Counter>::default();
        registry.register(
            "upstream_errors",
            "Failures to proxy to an upstream by kind (connect, timeout, tls, other) and upstream",
            upstream_errors.clone(),
        );
        let upstream_connections = Family::<ReusedLabels, Counter>::default();
        registry.register(
            "upstream_connections",
            "Upstream connections requests went out on, by whether a kept-alive one was reused, and upstream",
            upstream_connections.clone(),
        );
        let config_reloads = Family::<ResultLabel, Counter>::default();
        registry.register(
            "config_reloads",
            "Configuration reloads (SIGHUP) by result (success, error)",
            config_reloads.clone(),
        );
        let tls = TlsMetrics::default();
        tls.register(&mut registry);
        registry.register(
            "build",
            "authgate's version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let auth = AuthMetrics::default();
        auth.register(&mut registry);
        let shared = SharedStateMetrics::register(&mut registry);
        Self {
            registry,
            requests,
            duration,
            upstream_errors,
            upstream_connections,
            config_reloads,
            tls,
            redis_requests: shared.redis_requests,
            redis_duration: shared.redis_duration,
            rate_limit_checks: shared.rate_limit_checks,
            rate_limit_fallbacks: shared.rate_limit_fallbacks,
            revocations: shared.revocations,
            auth,
        }
    }

    /// Counts and times one Redis call.
    pub(crate) fn record_redis(&self, op: &'static str, result: &'static str, elapsed: Duration) {
        self.redis_requests
            .get_or_create(&RedisLabels { op, result })
            .inc();
        self.redis_duration
            .get_or_create(&OpLabel { op })
            .observe(elapsed.as_secs_f64());
    }

    /// The counters of the rate-limit policy `policy`.
    pub(crate) fn policy_counters(&self, policy: &str) -> PolicyCounters {
        let check = |result| {
            let labels = PolicyLabels {
                policy: policy.to_string(),
                result,
            };
            self.rate_limit_checks.get_or_create(&labels).clone()
        };
        let fallback = |action| {
            let labels = FallbackLabels {
                policy: policy.to_string(),
                action,
            };
            self.rate_limit_fallbacks.get_or_create(&labels).clone()
        };
        PolicyCounters {
            allowed: check("allowed"),
            limited: check("limited"),
            refused: check("refused"),
            fallback_local: fallback("local"),
            fallback_allow: fallback("allow"),
            fallback_deny: fallback("deny"),
        }
    }

    /// Sets how many revocations of `kind` (`sub`, `jti`) are in force.
    pub(crate) fn set_revocations(&self, kind: &'static str, count: usize) {
        self.revocations
            .get_or_create(&KindLabel { kind })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Counts a finished request.
    pub(crate) fn record_request(&self, labels: RequestLabels, elapsed: Duration) {
        self.requests.get_or_create(&labels).inc();
        self.duration.observe(elapsed.as_secs_f64());
    }

    /// The counters of the upstream named `upstream`.
    pub(crate) fn upstream_counters(&self, upstream: &str) -> UpstreamCounters {
        let error = |kind| {
            let labels = UpstreamErrorLabels {
                kind,
                upstream: upstream.to_string(),
            };
            self.upstream_errors.get_or_create(&labels).clone()
        };
        let connection = |reused| {
            let labels = ReusedLabels {
                reused,
                upstream: upstream.to_string(),
            };
            self.upstream_connections.get_or_create(&labels).clone()
        };
        UpstreamCounters {
            connect: error("connect"),
            timeout: error("timeout"),
            tls: error("tls"),
            other: error("other"),
            reused: connection("true"),
            new: connection("false"),
        }
    }

    /// Counts a reload attempt.
    pub(crate) fn record_reload(&self, ok: bool) {
        let result = result_word(ok);
        self.config_reloads
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// Counts a reload of the TLS certificate.
    pub(crate) fn record_tls_reload(&self, ok: bool) {
        let result = result_word(ok);
        self.tls
            .reloads
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// The served certificate's `notAfter`, seconds since the epoch.
    pub(crate) fn set_tls_cert_expiry(&self, not_after: i64) {
        self.tls.cert_expiry.set(not_after);
    }

    /// Counts a TLS handshake that did not complete (`timeout` or `failed`).
    pub(crate) fn record_tls_handshake_error(&self, kind: &'static str) {
        self.tls
            .handshake_errors
            .get_or_create(&KindLabel { kind })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// `success` or `error`, the `result` of a reload.
fn result_word(ok: bool) -> &'static str {
    if ok {
        "success"
    } else {
        "error"
    }
}

/// The metrics of Redis, rate limits and revocations, registered together.
struct SharedStateMetrics {
    redis_requests: Family<RedisLabels, Counter>,
    redis_duration: Family<OpLabel, Histogram, fn() -> Histogram>,
    rate_limit_checks: Family<PolicyLabels, Counter>,
    rate_limit_fallbacks: Family<FallbackLabels, Counter>,
    revocations: Family<KindLabel, Gauge>,
}

impl SharedStateMetrics {
    fn register(registry: &mut Registry) -> Self {
        let this = Self {
            redis_requests: Family::default(),
            redis_duration: Family::new_with_constructor(redis_histogram),
            rate_limit_checks: Family::default(),
            rate_limit_fallbacks: Family::default(),
            revocations: Family::default(),
        };
        registry.register(
            "redis_requests",
            "Redis calls by what they were for (op) and result (ok, error, timeout)",
            this.redis_requests.clone(),
        );
        registry.register(
            "redis_request_duration_seconds",
            "Time from sending a Redis call to its reply or timeout, by op",
            this.redis_duration.clone(),
        );
        registry.register(
            "rate_limit_checks",
            "Rate-limit checks by policy and result (allowed, limited, refused)",
            this.rate_limit_checks.clone(),
        );
        registry.register(
            "rate_limit_redis_fallbacks",
            "Rate-limit checks Redis could not answer, by policy and the on_redis_error action taken",
            this.rate_limit_fallbacks.clone(),
        );
        registry.register(
            "revocations",
            "Revocations in force in this replica, by kind (sub, jti)",
            this.revocations.clone(),
        );
        this
    }
}

/// The process's metrics.
pub(crate) fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// The `Content-Type` of [`Metrics::encode`].
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_metrics_are_all_exposed() {
        let m = metrics();
        m.record_request(
            RequestLabels {
                decision: "reject",
                reason: "expired",
            },
            Duration::from_micros(300),
        );
        let upstream = m.upstream_counters("web");
        upstream.error("connect");
        upstream.connection(true);
        m.record_reload(true);
        m.record_tls_reload(false);
        m.set_tls_cert_expiry(1_900_000_000);
        m.record_tls_handshake_error("timeout");
        m.auth.record_cache(false);
        m.auth.record_fetch("http://a/jwks", Ok(1), 5);
        m.record_redis("rate_limit", "timeout", Duration::from_millis(50));
        let counters = m.policy_counters("per-user");
        counters.limited.inc();
        counters.fallback_local.inc();
        m.set_revocations("sub", 3);
        let text = m.encode();
        for name in [
            "authgate_requests_total{decision=\"reject\",reason=\"expired\"}",
            "authgate_request_duration_seconds_bucket{le=\"0.0005\"}",
            "authgate_upstream_errors_total{kind=\"connect\",upstream=\"web\"} 1",
            "authgate_upstream_connections_total{reused=\"true\",upstream=\"web\"} 1",
            "authgate_token_cache_lookups_total{result=\"miss\"}",
            "authgate_jwks_fetches_total{source=\"http://a/jwks\",result=\"ok\"}",
            "authgate_jwks_keys{source=\"http://a/jwks\"}",
            "authgate_jwks_last_success_timestamp_seconds{source=\"http://a/jwks\"}",
            "authgate_config_reloads_total{result=\"success\"}",
            "authgate_tls_reloads_total{result=\"error\"}",
            "authgate_tls_cert_expiry_timestamp_seconds 1900000000",
            "authgate_tls_handshake_errors_total{kind=\"timeout\"}",
            "authgate_build_info{version=\"",
            "authgate_redis_requests_total{op=\"rate_limit\",result=\"timeout\"}",
            "authgate_redis_request_duration_seconds_bucket{le=\"0.00005\",op=\"rate_limit\"}",
            "authgate_rate_limit_checks_total{policy=\"per-user\",result=\"limited\"}",
            "authgate_rate_limit_redis_fallbacks_total{policy=\"per-user\",action=\"local\"}",
            "authgate_revocations{kind=\"sub\"}",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
    }
}
