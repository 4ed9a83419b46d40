//! Revocation: tokens revoked with `authgate revoke` (or by a Better Auth hook
//! running the same script) are refused with 401 `invalid_token` on every replica,
//! with no Redis round trip per request.
//!
//! - [`set`]: the revocations in force, in memory: what each request is checked
//!   against.
//! - [`store`]: the record in Redis (`revoke.lua` writes it) and its messages.
//! - [`follow`]: how a replica keeps its set current: loaded before the proxy
//!   serves, then following the channel, with a periodic check of the version
//!   counter that catches a lost message.

mod follow;
mod set;
mod store;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::auth::Identity;
use crate::redis::{Failure, RedisClient};
pub use set::{Entry, Kind, RevocationSet};
pub(crate) use store::{load, revoke, Keys};

/// `[revocation]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RevocationSettings {
    /// Seconds an entry counts after its moment: the longest token lifetime plus
    /// `auth.leeway_secs`.
    pub retention: u64,
    /// Time between version checks.
    pub resync: Duration,
    /// Refuse tokens without `iat`.
    pub require_iat: bool,
}

/// Why a verified token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// It, or its subject, was revoked.
    Revoked,
    /// It has no `iat` and `require_iat` is on.
    MissingIat,
}

/// One replica's view of the revocations, and how it follows Redis.
#[derive(Debug)]
pub(crate) struct Revocations {
    set: RevocationSet,
    settings: RevocationSettings,
    keys: Keys,
    redis: Arc<RedisClient>,
    /// The version of the record the set has caught up with.
    version: AtomicU64,
    loaded: AtomicBool,
}

impl Revocations {
    /// An empty view of the record under `key_prefix` in `redis`.
    pub(crate) fn new(
        settings: RevocationSettings,
        redis: Arc<RedisClient>,
        key_prefix: &str,
    ) -> Self {
        Self {
            set: RevocationSet::new(settings.retention),
            settings,
            keys: Keys::new(key_prefix),
            redis,
            version: AtomicU64::new(0),
            loaded: AtomicBool::new(false),
        }
    }

    /// Whether this view can serve a configuration with `settings` on `redis`
    /// (kept across a reload).
    pub(crate) fn serves(
        &self,
        settings: &RevocationSettings,
        redis: &Arc<RedisClient>,
        key_prefix: &str,
    ) -> bool {
        self.settings == *settings
            && Arc::ptr_eq(&self.redis, redis)
            && self.keys == Keys::new(key_prefix)
    }

    /// Checks a verified identity: no Redis call, a hash look-up at most. Kept out
    /// of line so that `bench/callgrind.sh` can count its instructions.
    #[inline(never)]
    pub(crate) fn check(&self, identity: &Identity) -> Result<(), Refused> {
        if self.settings.require_iat && identity.issued_at.is_none() {
            return Err(Refused::MissingIat);
        }
        if self.set.is_revoked(identity) {
            return Err(Refused::Revoked);
        }
        Ok(())
    }

    /// Adds a revocation to this replica only (for tests of the check).
    #[cfg(test)]
    pub(crate) fn insert_locally(&self, entry: &Entry) {
        self.set.insert(entry);
    }

    /// Revocations held (subjects, tokens).
    pub(crate) fn held(&self) -> (usize, usize) {
        self.set.len()
    }

    /// Whether the record has been read once.
    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Reads the whole record on a connection of its own (before serving, and after
    /// a reload that changed the settings).
    pub(crate) async fn load_once(&self) -> Result<(), Failure> {
        let read = async {
            let mut connection = self.redis.dedicated(follow::REPLY_TIMEOUT).await?;
            Ok::<_, Failure>(store::load(&mut connection, &self.keys).await?)
        };
        let snapshot = self.redis.observed("revocation_load", read).await?;
        self.take(snapshot);
        Ok(())
    }

    /// Takes a snapshot in.
    fn take(&self, snapshot: store::Snapshot) {
        self.set.merge(snapshot.entries);
        self.version.fetch_max(snapshot.version, Ordering::AcqRel);
        self.loaded.store(true, Ordering::Release);
    }

    /// Follows the record until `stop` turns true (a background task).
    pub(crate) async fn follow(self: Arc<Self>, stop: tokio::sync::watch::Receiver<bool>) {
        follow::follow(self, stop).await;
    }
}
