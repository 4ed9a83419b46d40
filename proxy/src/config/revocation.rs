//! `[revocation]` → [`RevocationSettings`]: on whenever Redis is configured, unless
//! `enabled = false`.

use std::time::Duration;

use super::context::Ctx;
use super::schema::RevocationSection;
use crate::error::ConfigError;
use crate::redis::RedisSettings;
use crate::revocation::RevocationSettings;

/// Longest `max_token_lifetime_secs`: 30 days.
const MAX_LIFETIME_SECS: u64 = 2_592_000;

/// Validates `[revocation]`; `None` when revocation is off. `leeway_secs` is
/// `auth.leeway_secs` (a revocation outlives its tokens by that much too).
pub(super) fn resolve(
    cx: &Ctx<'_>,
    section: Option<&RevocationSection>,
    redis: Option<&RedisSettings>,
    leeway_secs: u64,
) -> Result<Option<RevocationSettings>, ConfigError> {
    let defaults = RevocationSection::default();
    let r = section.unwrap_or(&defaults);
    if !r.enabled {
        return Ok(None);
    }
    if redis.is_none() {
        return match section {
            Some(_) => Err(cx.err(
                "revocation",
                "needs Redis: add [redis] (or set AUTHGATE_REDIS_URL), or set enabled = false",
            )),
            None => Ok(None),
        };
    }
    if !(1..=MAX_LIFETIME_SECS).contains(&r.max_token_lifetime_secs) {
        return Err(cx.err(
            "revocation.max_token_lifetime_secs",
            format!("must be between 1 and {MAX_LIFETIME_SECS}"),
        ));
    }
    if !(1..=3600).contains(&r.resync_secs) {
        return Err(cx.err("revocation.resync_secs", "must be between 1 and 3600"));
    }
    if !r.require_iat {
        cx.warn(
            "revocation.require_iat",
            "tokens without `iat` cannot be revoked by time: while their subject has a revocation in force they are refused whatever their age; Better Auth always sets iat (set require_iat = true to refuse tokens without one)",
        );
    }
    Ok(Some(RevocationSettings {
        retention: r.max_token_lifetime_secs + leeway_secs,
        resync: Duration::from_secs(r.resync_secs),
        require_iat: r.require_iat,
    }))
}
