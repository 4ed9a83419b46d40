//! The Redis client every request shares: one multiplexed connection (redis-rs's
//! `ConnectionManager`: reused by every request, reopened in the background with
//! backoff when it drops), each reply awaited at most `timeout`.
//!
//! Two things redis-rs does not do, done here:
//! - A connection that hangs without closing (a peer gone behind a NAT or a
//!   firewall that drops packets) is never reopened by the manager: its replies just
//!   stop coming. After [`HUNG_AFTER`] timeouts in a row, the manager is replaced by
//!   a new one (at most once per [`RENEW_AT_MOST_EVERY`]).
//! - An outage is logged once when it begins (WARN) and once when it ends (INFO),
//!   whatever the number of requests in between; every call is counted
//!   (`authgate_redis_requests_total{op,result}`) and timed.

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Cmd, Value};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::url::RedisUrl;
use crate::metrics::metrics;

/// Timeouts in a row after which the connection is taken for hung and replaced.
const HUNG_AFTER: u32 = 3;
/// The connection is replaced at most this often.
const RENEW_AT_MOST_EVERY: Duration = Duration::from_secs(1);
/// Time allowed for one TCP (and TLS) connection attempt.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnection attempts per round; the next request after a failed round starts
/// another.
const RECONNECT_ATTEMPTS: usize = 4;
/// Longest pause between two reconnection attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Why a call did not get its reply. Never carries the URL's password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No reply within the timeout.
    Timeout(Duration),
    /// An error: refused, dropped, a Redis error reply, an unexpected reply.
    Error(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(after) => write!(f, "no reply within {} ms", after.as_millis()),
            Self::Error(e) => f.write_str(e),
        }
    }
}

impl From<redis::RedisError> for Failure {
    fn from(e: redis::RedisError) -> Self {
        Self::Error(e.to_string())
    }
}

/// The shared client.
pub(crate) struct RedisClient {
    url: RedisUrl,
    client: redis::Client,
    timeout: Duration,
    /// Made on first use, inside the runtime that uses it (redis-rs spawns its
    /// tasks where it is created).
    manager: ArcSwapOption<ConnectionManager>,
    timeouts_in_a_row: AtomicU32,
    /// Milliseconds after `born` of the last replacement of the manager.
    last_renewal_ms: AtomicU64,
    born: Instant,
    failing: AtomicBool,
}

/// The URL (password hidden) and the timeout; nothing of the connection.
impl fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClient")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisClient {
    /// A client for `url` (no connection yet).
    pub(crate) fn new(url: &RedisUrl, timeout: Duration) -> Result<Self, String> {
        if url.is_tls() {
            // redis-rs builds its rustls config with the process's default provider;
            // name aws-lc-rs unless something did already.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let client = redis::Client::open(url.expose())
            .map_err(|e| format!("cannot set up the Redis client for {url}: {e}"))?;
        Ok(Self {
            url: url.clone(),
            client,
            timeout,
            manager: ArcSwapOption::empty(),
            timeouts_in_a_row: AtomicU32::new(0),
            last_renewal_ms: AtomicU64::new(0),
            born: Instant::now(),
            failing: AtomicBool::new(false),
        })
    }

    /// The shared connection, made now if this is its first use.
    fn manager(&self) -> Result<ConnectionManager, Failure> {
        if let Some(manager) = self.manager.load_full() {
            return Ok((*manager).clone());
        }
        let fresh = Arc::new(self.new_manager()?);
        let previous = self
            .manager
            .compare_and_swap(&None::<Arc<ConnectionManager>>, Some(fresh.clone()));
        Ok(match &*previous {
            Some(raced) => (**raced).clone(),
            None => (*fresh).clone(),
        })
    }

    fn new_manager(&self) -> Result<ConnectionManager, Failure> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(RECONNECT_ATTEMPTS)
            .set_max_delay(MAX_RECONNECT_DELAY);
        ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(|e| Failure::Error(e.to_string()))
    }

    /// Runs `script` with `keys` and `args`: `EVALSHA`, and `EVAL` when Redis does
    /// not have the script yet (first call, or Redis restarted); `EVAL` caches it.
    pub(crate) async fn run_script(
        &self,
        op: &'static str,
        script: &Script,
        keys: &[&[u8]],
        args: &[&[u8]],
    ) -> Result<Value, Failure> {
        let mut connection = self.manager()?;
        let started = Instant::now();
        let evalsha = script.command("EVALSHA", script.sha1.as_bytes(), keys, args);
        let reply = tokio::time::timeout(self.timeout, async {
            match evalsha.query_async::<Value>(&mut connection).await {
                Err(e)
                    if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
                {
                    let eval = script.command("EVAL", script.code.as_bytes(), keys, args);
                    eval.query_async::<Value>(&mut connection).await
                }
                other => other,
            }
        })
        .await;
        self.settle(op, started, reply)
    }

    /// A connection of its own (not the shared one), for work off the request path:
    /// loading the revocation set, `authgate revoke`. Each reply awaited at most
    /// `reply_timeout`.
    pub(crate) async fn dedicated(
        &self,
        reply_timeout: Duration,
    ) -> Result<MultiplexedConnection, Failure> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(reply_timeout));
        let connect = self
            .client
            .get_multiplexed_async_connection_with_config(&config);
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(Failure::Error(e.to_string())),
            Err(_) => Err(Failure::Timeout(CONNECT_TIMEOUT)),
        }
    }

    /// A subscriber connection for `channel`: its messages, in order, until it drops.
    pub(crate) async fn subscribe(&self, channel: &str) -> Result<redis::aio::PubSub, Failure> {
        let subscribe = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, subscribe).await {
            Ok(Ok(pubsub)) => Ok(pubsub),
            Ok(Err(e)) => Err(Failure::Error(e.to_string())),
            Err(_) => Err(Failure::Timeout(CONNECT_TIMEOUT)),
        }
    }

    /// Counts and times a call, follows the outage, and spots a hung connection.
    fn settle<T>(
        &self,
        op: &'static str,
        started: Instant,
        reply: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, Failure> {
        let outcome = match reply {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(Failure::Error(e.to_string())),
            Err(_) => Err(Failure::Timeout(self.timeout)),
        };
        self.observe(op, started.elapsed(), outcome.as_ref().map(|_| ()));
        outcome
    }

    /// Awaits `call` made outside [`Self::run_script`] (on a connection of its own),
    /// counting and timing it as `op` and following the outage.
    pub(crate) async fn observed<T, E: Into<Failure>>(
        &self,
        op: &'static str,
        call: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, Failure> {
        let started = Instant::now();
        let outcome = call.await.map_err(Into::into);
        self.observe(op, started.elapsed(), outcome.as_ref().map(|_| ()));
        outcome
    }

    /// Records the outcome of one call and follows the outage.
    fn observe(&self, op: &'static str, elapsed: Duration, outcome: Result<(), &Failure>) {
        let result = match outcome {
            Ok(()) => "ok",
            Err(Failure::Timeout(_)) => "timeout",
            Err(Failure::Error(_)) => "error",
        };
        metrics().record_redis(op, result, elapsed);
        match outcome {
            Ok(()) => {
                self.timeouts_in_a_row.store(0, Ordering::Relaxed);
                if self.failing.swap(false, Ordering::AcqRel) {
                    tracing::info!(redis = %self.url, "Redis answers again");
                }
            }
            Err(failure) => {
                if matches!(failure, Failure::Timeout(_)) {
                    self.note_timeout();
                }
                if !self.failing.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        redis = %self.url,
                        error = %failure,
                        "Redis does not answer: rate limits follow their on_redis_error, revocations stay as last loaded, until it does"
                    );
                }
            }
        }
    }

    /// Replaces the shared connection after [`HUNG_AFTER`] timeouts in a row.
    fn note_timeout(&self) {
        let in_a_row = self.timeouts_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        if in_a_row < HUNG_AFTER {
            return;
        }
        let now = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_renewal_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= RENEW_AT_MOST_EVERY.as_millis() as u64;
        if due
            && self
                .last_renewal_ms
                .compare_exchange(last, now.max(1), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.timeouts_in_a_row.store(0, Ordering::Relaxed);
            // The next call makes a new manager; the old one's connection closes
            // when its last clone is dropped.
            self.manager.store(None);
            tracing::debug!(redis = %self.url, "no reply {HUNG_AFTER} times in a row: reconnecting");
        }
    }

    /// Whether an outage is going on (the last call failed).
    #[cfg(test)]
    pub(crate) fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Acquire)
    }
}

/// A Lua script, run by its SHA-1 digest.
#[derive(Debug, Clone)]
pub(crate) struct Script {
    code: &'static str,
    sha1: String,
}

impl Script {
    /// The script `code`.
    pub(crate) fn new(code: &'static str) -> Self {
        let sha1 = redis::Script::new(code).get_hash().to_string();
        Self { code, sha1 }
    }

    fn command(&self, verb: &str, script: &[u8], keys: &[&[u8]], args: &[&[u8]]) -> Cmd {
        let mut cmd = redis::cmd(verb);
        cmd.arg(script).arg(keys.len());
        for key in keys {
            cmd.arg(*key);
        }
        for arg in args {
            cmd.arg(*arg);
        }
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ping(client: &RedisClient) -> Result<Value, Failure> {
        let script = Script::new("return redis.call('PING')");
        client.run_script("test", &script, &[], &[]).await
    }

    fn unused_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port()
    }

    #[tokio::test]
    async fn an_unreachable_redis_fails_fast_and_is_one_outage() {
        let url =
            RedisUrl::parse(&format!("redis://:pw-pw-pw@127.0.0.1:{}", unused_port())).unwrap();
        let client = RedisClient::new(&url, Duration::from_millis(50)).unwrap();
        for _ in 0..3 {
            let started = Instant::now();
            assert!(ping(&client).await.is_err());
            assert!(
                started.elapsed() < Duration::from_millis(500),
                "bounded by the timeout"
            );
        }
        assert!(client.is_failing());
        assert!(!format!("{client:?}").contains("pw-pw-pw"), "{client:?}");
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_the_connection_is_renewed() {
        // Accepts connections and never answers: a hung Redis.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicU32::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        let url = RedisUrl::parse(&format!("redis://{addr}")).unwrap();
        let client = RedisClient::new(&url, Duration::from_millis(30)).unwrap();
        for _ in 0..HUNG_AFTER {
            assert_eq!(
                ping(&client).await,
                Err(Failure::Timeout(Duration::from_millis(30)))
            );
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one shared connection so far"
        );
        let _ = ping(&client).await;
        let deadline = Instant::now() + Duration::from_secs(2);
        while accepted.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "after {HUNG_AFTER} timeouts in a row a new connection is opened"
        );
    }
}
