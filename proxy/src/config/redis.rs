//! `[redis]` → [`RedisSettings`]. The URL may hold a password, so it is read like a
//! secret: from `url_file`, else the file `AUTHGATE_REDIS_URL_FILE` names, else
//! `AUTHGATE_REDIS_URL`, else `url` in the file.

use std::time::Duration;

use super::context::Ctx;
use super::schema::RedisSection;
use super::secrets::{SecretReader, SecretSpec};
use crate::error::ConfigError;
use crate::redis::{RedisSettings, RedisUrl};

/// The variable that holds the URL (`<VAR>_FILE` names a file holding it).
pub(crate) const URL_ENV: &str = "AUTHGATE_REDIS_URL";

/// The key of a URL written in the config file itself.
const IN_FILE: &str = "redis.url";

/// Validates `[redis]`; `None` when Redis is not configured.
pub(super) fn resolve(
    cx: &Ctx<'_>,
    section: Option<&RedisSection>,
    secrets: &mut SecretReader<'_>,
) -> Result<Option<RedisSettings>, ConfigError> {
    let Some(r) = section else {
        return Ok(None);
    };
    if r.url.is_some() && r.url_file.is_some() {
        return Err(cx.err("redis.url_file", "give url or url_file, not both"));
    }
    let spec = SecretSpec {
        file: r.url_file.as_deref().map(|f| ("redis.url_file", f)),
        env: (URL_ENV, URL_ENV),
        purpose: "Redis URL",
    };
    let (key, text) = match (secrets.read_text(cx, &spec)?, &r.url) {
        (Some(found), _) => found,
        (None, Some(url)) => (IN_FILE.to_string(), url.clone()),
        (None, None) => {
            return Err(cx.err(
                "redis.url",
                format!("no Redis URL: set url, url_file, {URL_ENV} or {URL_ENV}_FILE"),
            ))
        }
    };
    let url = RedisUrl::parse(&text).map_err(|why| cx.err(&key, why))?;
    if key == IN_FILE && url.has_password() {
        cx.warn(
            "redis.url",
            "holds a password: keep it out of the config file (url_file, or AUTHGATE_REDIS_URL_FILE)",
        );
    }
    if !(1..=60_000).contains(&r.timeout_ms) {
        return Err(cx.err("redis.timeout_ms", "must be between 1 and 60000"));
    }
    let prefix_ok = !r.key_prefix.is_empty()
        && r.key_prefix.len() <= 64
        && r.key_prefix.bytes().all(|b| b.is_ascii_graphic());
    if !prefix_ok {
        return Err(cx.err(
            "redis.key_prefix",
            "must be 1 to 64 printable ASCII characters without spaces",
        ));
    }
    Ok(Some(RedisSettings {
        url,
        timeout: Duration::from_millis(r.timeout_ms),
        key_prefix: r.key_prefix.clone(),
    }))
}
