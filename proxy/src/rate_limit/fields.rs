//! The `RateLimit-Policy` and `RateLimit` response fields of
//! draft-ietf-httpapi-ratelimit-headers-11 (May 2026): Structured Field lists with
//! one item per policy, the policy's name as a String.
//!
//! - `RateLimit-Policy: "per-user";q=100;w=60`: `q` requests per window of `w`
//!   seconds (`rate` per `per`).
//! - `RateLimit: "per-user";r=19;t=3`: `r` requests can be sent now; within `t`
//!   seconds the bucket is full again (so a client that spreads `r` requests over
//!   `t` seconds is never refused). On a 429, `r=0` and `t` is the `Retry-After`.

use http::HeaderName;

use super::gcra::{whole_seconds, Verdict};

/// The two fields of one response, built policy by policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RateLimitFields {
    /// `RateLimit-Policy`.
    pub policy: String,
    /// `RateLimit`; empty when no policy could say (Redis down, `allow`).
    pub limit: String,
}

/// `"name";q=rate;w=per`, once per policy. `name` is a plain token (checked when the
/// config is read), so it needs no escaping inside the quotes.
pub(crate) fn policy_item(name: &str, rate: u64, per_secs: u64) -> String {
    format!("\"{name}\";q={rate};w={per_secs}")
}

impl RateLimitFields {
    /// Adds a policy: its item, and its current limit when there is a verdict.
    pub(crate) fn add(&mut self, name: &str, policy_item: &str, verdict: Option<&Verdict>) {
        append(&mut self.policy, policy_item);
        if let Some(v) = verdict {
            let t = if v.allowed { v.reset } else { v.retry_after };
            let item = format!("\"{name}\";r={};t={}", v.remaining, whole_seconds(t));
            append(&mut self.limit, &item);
        }
    }
}

impl RateLimitFields {
    /// The header lines: `RateLimit-Policy`, and `RateLimit` when any policy had a
    /// verdict.
    pub(crate) fn headers(&self) -> impl Iterator<Item = (HeaderName, String)> + '_ {
        let policy = (
            HeaderName::from_static("ratelimit-policy"),
            self.policy.clone(),
        );
        let limit = (!self.limit.is_empty())
            .then(|| (HeaderName::from_static("ratelimit"), self.limit.clone()));
        std::iter::once(policy).chain(limit)
    }
}

fn append(list: &mut String, item: &str) {
    if !list.is_empty() {
        list.push_str(", ");
    }
    list.push_str(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_follow_the_draft() {
        let per_user = policy_item("per-user", 100, 60);
        assert_eq!(per_user, "\"per-user\";q=100;w=60");
        let mut fields = RateLimitFields::default();
        let ok = Verdict {
            allowed: true,
            remaining: 19,
            retry_after: 0,
            reset: 2_400_001,
        };
        fields.add("per-user", &per_user, Some(&ok));
        fields.add("per-ip", &policy_item("per-ip", 10, 1), None);
        let refused = Verdict {
            allowed: false,
            remaining: 0,
            retry_after: 100_000,
            reset: 900_000,
        };
        fields.add("daily", &policy_item("daily", 1000, 86400), Some(&refused));
        assert_eq!(
            fields.policy,
            "\"per-user\";q=100;w=60, \"per-ip\";q=10;w=1, \"daily\";q=1000;w=86400"
        );
        assert_eq!(fields.limit, "\"per-user\";r=19;t=3, \"daily\";r=0;t=1");
    }
}
