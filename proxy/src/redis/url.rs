//! A Redis URL, checked once, that can be logged: its `Display` and `Debug` show the
//! password as `***` (redis-rs takes it from the URL's user part only).

use std::fmt;

use crate::auth::jwks::redact_password;

/// `redis://…` or `rediss://…` (TLS).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RedisUrl {
    full: String,
    shown: String,
}

impl RedisUrl {
    /// Checks `text`; the error says what is wrong and never repeats the URL.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(text.trim()).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(url.scheme(), "redis" | "rediss") {
            return Err("the scheme must be redis:// or rediss:// (TLS)".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("has no host".into());
        }
        if url.fragment().is_some() {
            return Err("a fragment (such as #insecure) is not supported".into());
        }
        // redis-rs's own checks (database number, credentials); its messages name
        // the problem, not the URL.
        redis::Client::open(url.as_str()).map_err(|e| {
            let message = e.to_string().replace(url.as_str(), "<url>");
            match url.password() {
                Some(password) if !password.is_empty() => message.replace(password, "***"),
                _ => message,
            }
        })?;
        Ok(Self {
            shown: redact_password(url.as_str()),
            full: url.into(),
        })
    }

    /// The URL with its password, for the client only.
    pub(super) fn expose(&self) -> &str {
        &self.full
    }

    /// Whether the connection uses TLS.
    pub(super) fn is_tls(&self) -> bool {
        self.full.starts_with("rediss://")
    }

    /// Whether the URL carries a password.
    pub(crate) fn has_password(&self) -> bool {
        self.full != self.shown
    }
}

/// `text` as it may be shown: the URL with its password hidden, or `***` when it
/// is not a URL authgate accepts (it might still hold a password).
pub(crate) fn shown(text: &str) -> String {
    RedisUrl::parse(text).map_or_else(|_| "***".into(), |url| url.shown)
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({})", self.shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = RedisUrl::parse("redis://app:s3cr%40t@cache.example:6380/2").unwrap();
        assert_eq!(url.to_string(), "redis://app:***@cache.example:6380/2");
        assert!(!format!("{url:?}").contains("s3cr"), "{url:?}");
        assert!(url.has_password());
        assert!(!url.is_tls());
        let url = RedisUrl::parse("rediss://:hunter2hunter2@cache.example").unwrap();
        assert!(url.is_tls());
        assert!(!url.to_string().contains("hunter2"), "{url}");
        let url = RedisUrl::parse("redis://127.0.0.1:6379").unwrap();
        assert_eq!(url.to_string(), "redis://127.0.0.1:6379");
        assert!(!url.has_password());
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_them() {
        for bad in [
            "127.0.0.1:6379",
            "http://:hunter2@cache.example",
            "redis+unix:///run/redis.sock",
            "rediss://:hunter2@cache.example#insecure",
            "redis://:hunter2@cache.example/notanumber",
            "redis://:hunter2@",
        ] {
            let e = RedisUrl::parse(bad).expect_err(bad);
            assert!(!e.contains("hunter2"), "{bad}: {e}");
        }
    }
}
