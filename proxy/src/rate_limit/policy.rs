//! One named policy (`[[rate_limits]]`): its settings, and what it needs at run
//! time — the GCRA parameters, its `RateLimit-Policy` item, its Redis key prefix, its
//! buckets in this process and its counters.

use aws_lc_rs::digest;

use super::fields::policy_item;
use super::gcra::{Gcra, Verdict};
use super::local::{LocalLimiter, MAX_KEYS};
use super::partition::{LimitKey, Partition};
use crate::metrics::{metrics, PolicyCounters};

/// What a policy does when Redis fails or is slower than its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// This replica enforces the policy on its own.
    Local,
    /// The request passes unlimited.
    Allow,
    /// The request is refused (503).
    Deny,
}

/// `[[rate_limits]]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PolicySettings {
    /// A plain token (`[A-Za-z0-9._-]`), unique.
    pub name: String,
    /// What is counted.
    pub key: LimitKey,
    /// Requests per `per_secs`.
    pub rate: u64,
    /// The period, whole seconds.
    pub per_secs: u64,
    /// Requests at once.
    pub burst: u64,
    /// When Redis fails.
    pub on_redis_error: Fallback,
}

/// A policy at run time.
#[derive(Debug)]
pub(crate) struct Policy {
    /// As configured.
    pub settings: PolicySettings,
    /// Its `RateLimit-Policy` item.
    pub field: String,
    /// `<prefix>rl:<name>:<fingerprint>:`: a changed policy starts new buckets in
    /// Redis as it does in this process.
    pub redis_prefix: String,
    /// Interval and tolerance in microseconds, as the script's arguments.
    pub script_args: [String; 2],
    local: LocalLimiter,
    /// Its counters.
    pub counters: PolicyCounters,
}

impl Policy {
    /// A policy with empty buckets; `key_prefix` is `redis.key_prefix`.
    pub(crate) fn new(settings: PolicySettings, key_prefix: &str) -> Self {
        let gcra = Gcra::new(settings.rate, settings.per_secs, settings.burst);
        Self {
            field: policy_item(&settings.name, settings.rate, settings.per_secs),
            redis_prefix: redis_prefix(&settings, key_prefix),
            script_args: [gcra.interval.to_string(), gcra.tolerance.to_string()],
            local: LocalLimiter::new(gcra, MAX_KEYS),
            counters: metrics().policy_counters(&settings.name),
            settings,
        }
    }

    /// The policy's name.
    pub(crate) fn name(&self) -> &str {
        &self.settings.name
    }

    /// The bucket of `partition` in this process.
    pub(crate) fn check_locally(&self, partition: &Partition) -> Verdict {
        self.local.check(partition)
    }

    /// The Redis key of `partition`'s bucket.
    pub(crate) fn redis_key(&self, partition: &Partition) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.redis_prefix.len() + 32);
        key.extend_from_slice(self.redis_prefix.as_bytes());
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for byte in partition {
            key.push(HEX[usize::from(byte >> 4)]);
            key.push(HEX[usize::from(byte & 15)]);
        }
        key
    }

    /// Counts a check Redis could not answer.
    pub(crate) fn count_fallback(&self) {
        match self.settings.on_redis_error {
            Fallback::Local => self.counters.fallback_local.inc(),
            Fallback::Allow => self.counters.fallback_allow.inc(),
            Fallback::Deny => self.counters.fallback_deny.inc(),
        };
    }
}

/// `<key_prefix>rl:<name>:<fingerprint>:`.
pub(crate) fn redis_prefix(settings: &PolicySettings, key_prefix: &str) -> String {
    format!(
        "{key_prefix}rl:{}:{}:",
        settings.name,
        fingerprint(settings)
    )
}

/// Eight hex digits of SHA-256 over what decides the buckets: key, rate, period
/// and burst (not the name, already in the key; not `on_redis_error`).
fn fingerprint(s: &PolicySettings) -> String {
    let text = format!("{}\n{}\n{}\n{}", s.key.text(), s.rate, s.per_secs, s.burst);
    let digest = digest::digest(&digest::SHA256, text.as_bytes());
    digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn settings(name: &str, rate: u64) -> PolicySettings {
        PolicySettings {
            name: name.into(),
            key: LimitKey::Subject,
            rate,
            per_secs: 60,
            burst: 5,
            on_redis_error: Fallback::Local,
        }
    }

    #[test]
    fn keys_change_with_what_decides_the_buckets() {
        let a = Policy::new(settings("per-user", 100), "authgate:");
        assert!(
            a.redis_prefix.starts_with("authgate:rl:per-user:"),
            "{}",
            a.redis_prefix
        );
        let key = a.redis_key(&[0xab; 16]);
        assert_eq!(key.len(), a.redis_prefix.len() + 32);
        assert!(key.ends_with(b"abababab"));
        let b = Policy::new(settings("per-user", 101), "authgate:");
        assert_ne!(
            a.redis_prefix, b.redis_prefix,
            "a new rate starts new buckets"
        );
        let mut deny = settings("per-user", 100);
        deny.on_redis_error = Fallback::Deny;
        assert_eq!(a.redis_prefix, Policy::new(deny, "authgate:").redis_prefix);
        assert_eq!(a.field, "\"per-user\";q=100;w=60");
    }
}
