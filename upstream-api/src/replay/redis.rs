//! The shared record, in Redis: `SET upstream-api:jti:<jti> 1 NX PX <ms>` per assertion,
//! the key living exactly as long as the assertion can still pass verification.
//!
//! - `OK`: first use, admitted. Nil: the key exists, another replica (or this one)
//!   accepted the id: a replay (401).
//! - Any error, or no reply within the timeout: [`ReplayError::Unavailable`] (503). Never a
//!   pass: an assertion that cannot be checked is not accepted.
//!
//! One [`ConnectionManager`]: a single multiplexed connection shared by every request,
//! reconnected in the background with backoff after it drops. The first failure of an
//! outage is logged at WARN and the first success after it at INFO; nothing per request.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Value;

use super::ReplayError;

/// Prefix of every key this store writes; the `jti` follows.
pub const KEY_PREFIX: &str = "upstream-api:jti:";

/// Default time allowed for one reply, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 50;

/// Longest pause between two reconnection attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// Attempts per reconnection round; a request after a failed round starts another.
const RECONNECT_ATTEMPTS: usize = 4;
/// Time allowed for one TCP (and TLS) connection attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A Redis URL (`redis://`, `rediss://`, `redis+unix://`, `unix://`), checked once.
///
/// Its `Debug` and `Display` show it with the password (and any `pass…` query value)
/// replaced by `***`: the URL can be logged, the password cannot.
#[derive(Clone)]
pub struct RedisUrl {
    full: String,
    redacted: String,
}

/// What is wrong with a Redis URL; never contains the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RedisUrlError(String);

impl RedisUrl {
    /// Checks `text` as a URL redis-rs can connect to.
    pub fn parse(text: &str) -> Result<Self, RedisUrlError> {
        let url = url::Url::parse(text.trim())
            .map_err(|err| RedisUrlError(format!("not a URL ({err})")))?;
        if !matches!(url.scheme(), "redis" | "rediss" | "redis+unix" | "unix") {
            return Err(RedisUrlError(
                "the scheme must be redis://, rediss://, redis+unix:// or unix://".to_owned(),
            ));
        }
        if url.fragment().is_some() {
            return Err(RedisUrlError(
                "a fragment (such as #insecure, no certificate check) is not supported".to_owned(),
            ));
        }
        // redis-rs's own checks (host, database number, UTF-8 credentials); its messages
        // name the problem, never the URL.
        redis::Client::open(url.as_str())
            .map_err(|err| RedisUrlError(err.to_string().replace(url.as_str(), "<url>")))?;
        Ok(Self {
            redacted: redact(&url),
            full: url.into(),
        })
    }

    /// Whether the connection is TLS (`rediss://`).
    pub fn is_tls(&self) -> bool {
        self.full.starts_with("rediss://")
    }

    /// The URL for logs: password replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

/// The URL with its password, and the value of any query parameter whose name contains
/// `pass`, replaced by `***`.
fn redact(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        // Cannot fail: the URL has a password, so it has a host.
        let _ = shown.set_password(Some("***"));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if name.to_ascii_lowercase().contains("pass") {
                    "***".to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.into()
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisUrl").field(&self.redacted).finish()
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// The replay record in Redis.
pub struct RedisReplay {
    client: redis::Client,
    connection: ConnectionManager,
    timeout: Duration,
    url: RedisUrl,
    outage: Outage,
}

/// The URL (redacted) and the timeout; not the connection's internals, which hold the
/// password.
impl fmt::Debug for RedisReplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplay")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The connection could not be set up (not a connection failure: the URL or the TLS
/// set-up is unusable).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the Redis client for {url}: {reason}")]
pub struct RedisSetupError {
    url: RedisUrl,
    reason: String,
}

impl RedisReplay {
    /// A store on `url`, each reply awaited at most `timeout`. Connects lazily, on the
    /// first request: Redis being down at start-up is an outage like any other (503
    /// until it answers), not a reason to exit. Must run inside a Tokio runtime.
    pub fn connect(url: RedisUrl, timeout: Duration) -> Result<Self, RedisSetupError> {
        let setup_error = |reason: String| RedisSetupError {
            url: url.clone(),
            reason,
        };
        if url.is_tls() {
            // redis-rs builds its rustls config with the process default provider;
            // name aws-lc-rs unless something already did.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let client =
            redis::Client::open(url.full.as_str()).map_err(|err| setup_error(err.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(RECONNECT_ATTEMPTS)
            .set_max_delay(MAX_RECONNECT_DELAY);
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|err| setup_error(err.to_string()))?;
        Ok(Self {
            client,
            connection,
            timeout,
            url,
            outage: Outage::default(),
        })
    }

    /// Connects once, without retries, and sends `PING`, reporting like a request would
    /// (WARN with the error): for start-up, so that a wrong password or an untrusted
    /// certificate is named in the log before the first request, rather than hidden
    /// behind the shared connection's retries.
    pub async fn check(&self) -> Result<(), ReplayError> {
        let attempt = async {
            let mut connection = self.client.get_multiplexed_async_connection().await?;
            redis::cmd("PING").query_async(&mut connection).await
        };
        let reply = tokio::time::timeout(CONNECT_TIMEOUT, attempt).await;
        self.settle(reply, CONNECT_TIMEOUT).map(|_| ())
    }

    /// Records `id` for `ttl_ms` milliseconds unless it is there already.
    pub async fn admit(&self, id: &str, ttl_ms: u64) -> Result<(), ReplayError> {
        let mut connection = self.connection.clone();
        let mut set = redis::cmd("SET");
        set.arg(key(id))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms.max(1));
        let reply = tokio::time::timeout(self.timeout, set.query_async(&mut connection)).await;
        match self.settle(reply, self.timeout)? {
            Value::Okay => Ok(()),
            Value::Nil => Err(ReplayError::Replayed),
            other => {
                let kind = format!("unexpected reply to SET NX: {other:?}");
                self.outage.began(&self.url, &kind);
                Err(ReplayError::Unavailable)
            }
        }
    }

    /// The reply, or [`ReplayError::Unavailable`] on an error or a timeout; tells the
    /// outage log either way.
    fn settle(
        &self,
        reply: Result<redis::RedisResult<Value>, tokio::time::error::Elapsed>,
        waited: Duration,
    ) -> Result<Value, ReplayError> {
        let failure = match reply {
            Ok(Ok(value)) => {
                self.outage.ended(&self.url);
                return Ok(value);
            }
            Ok(Err(err)) => err.to_string(),
            Err(_elapsed) => format!("no reply within {} ms", waited.as_millis()),
        };
        self.outage.began(&self.url, &failure);
        Err(ReplayError::Unavailable)
    }
}

/// The key for `id`.
pub fn key(id: &str) -> String {
    let mut key = String::with_capacity(KEY_PREFIX.len() + id.len());
    key.push_str(KEY_PREFIX);
    key.push_str(id);
    key
}

/// Whether Redis is failing now, so that an outage is logged once when it begins and
/// once when it ends, whatever the number of requests in between.
#[derive(Debug, Default)]
struct Outage {
    failing: AtomicBool,
}

impl Outage {
    fn began(&self, url: &RedisUrl, error: &str) {
        if !self.failing.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                redis = %url,
                error,
                "Redis does not answer: requests under /api get 503 until it does"
            );
        }
    }

    fn ended(&self, url: &RedisUrl) {
        if self.failing.swap(false, Ordering::AcqRel) {
            tracing::info!(redis = %url, "Redis answers again: replay checks resumed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_shown() {
        let url = RedisUrl::parse("redis://user:s3cr%40t@cache.example:6380/2").expect("valid");
        assert_eq!(url.redacted(), "redis://user:***@cache.example:6380/2");
        assert_eq!(url.to_string(), url.redacted());
        assert!(!format!("{url:?}").contains("s3cr"), "{url:?}");
        let url = RedisUrl::parse("rediss://:hunter2hunter2@cache.example").expect("valid");
        assert!(url.is_tls());
        assert_eq!(url.redacted(), "rediss://:***@cache.example");
        let url = RedisUrl::parse("redis+unix:///run/redis.sock?db=1&pass=hunter2").expect("valid");
        assert!(!url.redacted().contains("hunter2"), "{}", url.redacted());
        assert!(url.redacted().contains("db=1"), "{}", url.redacted());
        let url = RedisUrl::parse("redis://127.0.0.1:6379").expect("valid");
        assert_eq!(url.redacted(), "redis://127.0.0.1:6379");
        assert!(!url.is_tls());
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_them() {
        for bad in [
            "127.0.0.1:6379",
            "http://:hunter2@cache.example",
            "rediss://:hunter2@cache.example#insecure",
            "redis://:hunter2@cache.example/notanumber",
            "redis://:hunter2@",
        ] {
            let err = RedisUrl::parse(bad).expect_err(bad);
            assert!(!err.to_string().contains("hunter2"), "{bad}: {err}");
        }
    }

    #[test]
    fn keys_carry_a_fixed_prefix() {
        assert_eq!(key("abc"), "upstream-api:jti:abc");
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_unavailable_never_a_pass() {
        // A port nothing listens on: bound, read and closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let url = RedisUrl::parse(&format!("redis://127.0.0.1:{port}")).expect("valid");
        let store = RedisReplay::connect(url, Duration::from_millis(50)).expect("client");
        assert_eq!(
            store.admit("a", 10_000).await,
            Err(ReplayError::Unavailable)
        );
        assert_eq!(
            store.admit("a", 10_000).await,
            Err(ReplayError::Unavailable)
        );
        assert!(store.outage.failing.load(Ordering::Acquire));
        assert!(format!("{store:?}").contains("RedisReplay"));
    }

    #[tokio::test]
    async fn a_tls_url_sets_up_rustls_without_a_panic() {
        // A socket that takes the connection (from its backlog) and never answers the
        // TLS handshake: the client config is built, then the check times out.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let url = RedisUrl::parse(&format!("rediss://{addr}")).expect("valid");
        let store = RedisReplay::connect(url, Duration::from_millis(50)).expect("client");
        assert_eq!(
            store.admit("a", 10_000).await,
            Err(ReplayError::Unavailable)
        );
        drop(listener);
    }
}
