//! `[[rate_limits]]` → the validated policies.

use http::HeaderName;

use super::context::Ctx;
use super::schema::{OnRedisError, RateLimitSection};
use crate::error::ConfigError;
use crate::rate_limit::{Fallback, LimitKey, PolicySettings};

/// Longest `per`: a day.
const MAX_PER_SECS: u64 = 86_400;
/// Largest `burst`.
const MAX_BURST: u64 = 1_000_000;

/// Validates every policy; names are unique.
pub(super) fn resolve(
    cx: &Ctx<'_>,
    sections: &[RateLimitSection],
) -> Result<Vec<PolicySettings>, ConfigError> {
    let mut policies: Vec<PolicySettings> = Vec::new();
    for (i, section) in sections.iter().enumerate() {
        let policy = resolve_policy(cx, i, section)?;
        if policies.iter().any(|p| p.name == policy.name) {
            return Err(cx.err(
                format!("rate_limits[{i}].name"),
                format!("`{}` is the name of an earlier policy", policy.name),
            ));
        }
        policies.push(policy);
    }
    Ok(policies)
}

fn resolve_policy(
    cx: &Ctx<'_>,
    i: usize,
    s: &RateLimitSection,
) -> Result<PolicySettings, ConfigError> {
    let key = |field: &str| format!("rate_limits[{i}].{field}");
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    if s.name.is_empty() || s.name.len() > 64 || !s.name.bytes().all(plain) {
        return Err(cx.err(
            key("name"),
            "must be 1 to 64 of A-Z, a-z, 0-9, `.`, `_`, `-`",
        ));
    }
    let per_secs = period(&s.per).ok_or_else(|| {
        cx.err(
            key("per"),
            format!(
                "`{}` is not a period such as \"30s\", \"1m\", \"1h\" or \"1d\" (1 s to 1 d)",
                s.per
            ),
        )
    })?;
    if s.rate == 0 || s.rate > per_secs.saturating_mul(1_000_000) {
        return Err(cx.err(
            key("rate"),
            "must be at least 1 and at most one per microsecond",
        ));
    }
    let burst = s.burst.unwrap_or(s.rate);
    if !(1..=MAX_BURST).contains(&burst) {
        return Err(cx.err(key("burst"), format!("must be between 1 and {MAX_BURST}")));
    }
    Ok(PolicySettings {
        name: s.name.clone(),
        key: limit_key(cx, &key("key"), &s.key)?,
        rate: s.rate,
        per_secs,
        burst,
        on_redis_error: match s.on_redis_error {
            OnRedisError::Local => Fallback::Local,
            OnRedisError::Allow => Fallback::Allow,
            OnRedisError::Deny => Fallback::Deny,
        },
    })
}

/// `sub`, `client_ip`, `claim:<name>` or `header:<Name>`.
fn limit_key(cx: &Ctx<'_>, key: &str, text: &str) -> Result<LimitKey, ConfigError> {
    let parsed = match text.split_once(':') {
        None if text == "sub" => Some(LimitKey::Subject),
        None if text == "client_ip" => Some(LimitKey::ClientIp),
        Some(("claim", name)) if !name.is_empty() && !name.contains('.') => {
            Some(LimitKey::Claim(name.to_string()))
        }
        Some(("header", name)) => HeaderName::from_bytes(name.as_bytes())
            .ok()
            .map(LimitKey::Header),
        _ => None,
    };
    parsed.ok_or_else(|| {
        cx.err(
            key,
            format!("`{text}` is not one of sub, client_ip, claim:<top-level claim>, header:<Header-Name>"),
        )
    })
}

/// `30s`, `1m`, `1h`, `1d` → seconds (1 s to 1 d).
fn period(text: &str) -> Option<u64> {
    let digits = text.len().checked_sub(1)?;
    let (number, unit) = text.split_at(digits);
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = number.parse::<u64>().ok()?.checked_mul(unit)?;
    (1..=MAX_PER_SECS).contains(&secs).then_some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_whole_units() {
        assert_eq!(period("30s"), Some(30));
        assert_eq!(period("1m"), Some(60));
        assert_eq!(period("2h"), Some(7200));
        assert_eq!(period("1d"), Some(86_400));
        for bad in ["", "s", "0s", "2d", "1.5m", "-1m", "1 m", "1M", "60", "+1s"] {
            assert_eq!(period(bad), None, "{bad}");
        }
    }
}
