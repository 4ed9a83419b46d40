//! Rate limits: named policies (`[[rate_limits]]`) that routes apply by name
//! (`rate_limit = ["per-user"]`), enforced with GCRA ([`gcra`]) in Redis when it is
//! configured ([`shared`]: one atomic script call per request and policy, so the
//! limit holds across replicas) and in this process otherwise ([`local`]).
//!
//! - What is counted: [`partition`] (subject, client address, a claim or a header).
//! - What the client is told: [`fields`] (`RateLimit-Policy`, `RateLimit`).
//! - Redis failing or slower than its timeout: each policy's `on_redis_error`.
//! - Reload: a policy whose settings did not change is kept with its buckets
//!   ([`RateLimits::build`]); a changed one starts afresh, in Redis too (its keys
//!   carry a fingerprint of the settings).

mod fields;
mod gcra;
mod local;
mod partition;
mod policy;
mod shared;

use std::sync::Arc;

pub(crate) use fields::RateLimitFields;
pub(crate) use gcra::Verdict;
pub(crate) use partition::{partition, Caller, LimitKey};
pub(crate) use policy::{Fallback, Policy, PolicySettings};

use crate::redis::RedisClient;
use gcra::whole_seconds;

/// Why a request was not let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Over the limit of `policy`: 429 after `retry_after` seconds.
    Limited {
        /// The policy that refused.
        policy: String,
        /// Whole seconds until one request will pass.
        retry_after: u64,
        /// The fields for the answer.
        fields: RateLimitFields,
    },
    /// Redis could not answer and the policy says `deny`: 503.
    Unavailable {
        /// The fields for the answer.
        fields: RateLimitFields,
    },
}

/// What one policy's check came to.
enum Outcome {
    /// A verdict from Redis or from this process.
    Decided(Verdict),
    /// Redis failed, `allow`: no limit this time.
    Unlimited,
    /// Redis failed, `deny`.
    Unavailable,
}

/// The policies of one configuration.
#[derive(Debug, Default)]
pub(crate) struct RateLimits {
    policies: Vec<Arc<Policy>>,
    redis: Option<Arc<RedisClient>>,
}

impl RateLimits {
    /// The policies of `settings`, counted in `redis` when there is one (keys under
    /// `key_prefix`). A policy of `previous` with the same settings and prefix is
    /// kept, buckets and all.
    pub(crate) fn build(
        settings: &[PolicySettings],
        redis: Option<Arc<RedisClient>>,
        key_prefix: &str,
        previous: Option<&RateLimits>,
    ) -> Self {
        let kept = |s: &PolicySettings| {
            let old = previous?.policies.iter().find(|p| p.settings == *s)?;
            (old.redis_prefix == policy::redis_prefix(s, key_prefix)).then(|| old.clone())
        };
        let policies = settings
            .iter()
            .map(|s| kept(s).unwrap_or_else(|| Arc::new(Policy::new(s.clone(), key_prefix))))
            .collect();
        Self { policies, redis }
    }

    /// The policy named `name`.
    fn policy(&self, name: &str) -> Option<&Arc<Policy>> {
        self.policies.iter().find(|p| p.name() == name)
    }

    /// Applies the policies `names` (a route's `rate_limit`, in order) to `caller`:
    /// the fields for the response, or why it is refused. Stops at the first policy
    /// that refuses (the ones before it have counted the request).
    pub(crate) async fn check(
        &self,
        names: &[String],
        caller: &Caller<'_>,
    ) -> Result<Option<RateLimitFields>, Refusal> {
        if names.is_empty() {
            return Ok(None);
        }
        let mut fields = RateLimitFields::default();
        for policy in names.iter().filter_map(|n| self.policy(n)) {
            let outcome = self.outcome(policy, caller).await;
            let verdict = match &outcome {
                Outcome::Decided(v) => Some(v),
                Outcome::Unlimited | Outcome::Unavailable => None,
            };
            fields.add(policy.name(), &policy.field, verdict);
            match outcome {
                Outcome::Decided(v) if !v.allowed => {
                    policy.counters.limited.inc();
                    return Err(Refusal::Limited {
                        policy: policy.name().to_string(),
                        retry_after: whole_seconds(v.retry_after).max(1),
                        fields,
                    });
                }
                Outcome::Unavailable => {
                    policy.counters.refused.inc();
                    return Err(Refusal::Unavailable { fields });
                }
                Outcome::Decided(_) | Outcome::Unlimited => {
                    policy.counters.allowed.inc();
                }
            }
        }
        Ok(Some(fields))
    }

    /// One policy's verdict: Redis's when it answers, else the policy's fallback.
    async fn outcome(&self, policy: &Policy, caller: &Caller<'_>) -> Outcome {
        let key = partition(&policy.settings.key, caller);
        let Some(redis) = &self.redis else {
            return Outcome::Decided(policy.check_locally(&key));
        };
        match shared::check(redis, &policy.redis_key(&key), &policy.script_args).await {
            Ok(verdict) => Outcome::Decided(verdict),
            // Logged once per outage by the client; counted per request here.
            Err(_) => {
                policy.count_fallback();
                match policy.settings.on_redis_error {
                    Fallback::Local => Outcome::Decided(policy.check_locally(&key)),
                    Fallback::Allow => Outcome::Unlimited,
                    Fallback::Deny => Outcome::Unavailable,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Identity;
    use crate::redis::RedisUrl;
    use http::HeaderMap;
    use serde_json::json;
    use std::time::Duration;

    fn settings(name: &str, burst: u64, on_redis_error: Fallback) -> PolicySettings {
        PolicySettings {
            name: name.into(),
            key: LimitKey::Subject,
            rate: 1,
            per_secs: 60,
            burst,
            on_redis_error,
        }
    }

    async fn run(
        limits: &RateLimits,
        names: &[&str],
        sub: &str,
    ) -> Result<Option<RateLimitFields>, Refusal> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let identity = Identity::for_test(sub, json!({}));
        let headers = HeaderMap::new();
        let caller = Caller {
            identity: Some(&identity),
            client_ip: Some("10.0.0.1".parse().unwrap()),
            headers: &headers,
        };
        limits.check(&names, &caller).await
    }

    #[tokio::test]
    async fn without_redis_each_policy_counts_in_process() {
        let limits = RateLimits::build(
            &[settings("a", 2, Fallback::Local)],
            None,
            "authgate:",
            None,
        );
        let fields = run(&limits, &["a"], "alice").await.unwrap().unwrap();
        assert_eq!(fields.policy, "\"a\";q=1;w=60");
        assert_eq!(fields.limit, "\"a\";r=1;t=60");
        assert!(run(&limits, &["a"], "alice").await.is_ok());
        match run(&limits, &["a"], "alice").await {
            Err(Refusal::Limited {
                policy,
                retry_after,
                fields,
            }) => {
                assert_eq!(policy, "a");
                assert_eq!(retry_after, 60);
                assert_eq!(fields.limit, "\"a\";r=0;t=60");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            run(&limits, &["a"], "bob").await.is_ok(),
            "bob has his own bucket"
        );
        assert_eq!(
            run(&limits, &[], "alice").await,
            Ok(None),
            "no policy, no fields"
        );
    }

    #[tokio::test]
    async fn a_reload_keeps_unchanged_policies_with_their_buckets() {
        let first = RateLimits::build(
            &[
                settings("a", 1, Fallback::Local),
                settings("b", 1, Fallback::Local),
            ],
            None,
            "authgate:",
            None,
        );
        assert!(run(&first, &["a", "b"], "alice").await.is_ok());
        let changed = settings("b", 2, Fallback::Local);
        let second = RateLimits::build(
            &[settings("a", 1, Fallback::Local), changed],
            None,
            "authgate:",
            Some(&first),
        );
        assert!(
            matches!(
                run(&second, &["a"], "alice").await,
                Err(Refusal::Limited { .. })
            ),
            "a kept its bucket"
        );
        assert!(
            run(&second, &["b"], "alice").await.is_ok(),
            "b changed: a fresh bucket"
        );
    }

    #[tokio::test]
    async fn redis_failing_follows_on_redis_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = RedisUrl::parse(&format!("redis://127.0.0.1:{port}")).unwrap();
        let redis = Arc::new(RedisClient::new(&url, Duration::from_millis(20)).unwrap());
        let limits = RateLimits::build(
            &[
                settings("local", 1, Fallback::Local),
                settings("allow", 1, Fallback::Allow),
                settings("deny", 1, Fallback::Deny),
            ],
            Some(redis),
            "authgate:",
            None,
        );
        assert!(run(&limits, &["local"], "alice").await.is_ok());
        assert!(matches!(
            run(&limits, &["local"], "alice").await,
            Err(Refusal::Limited { .. })
        ));
        for _ in 0..3 {
            let fields = run(&limits, &["allow"], "alice").await.unwrap().unwrap();
            assert_eq!(fields.limit, "", "no verdict to report");
        }
        assert!(matches!(
            run(&limits, &["deny"], "alice").await,
            Err(Refusal::Unavailable { .. })
        ));
    }
}
