//! One use per assertion: the record of the assertion ids (`jti`) already accepted, each
//! kept until its assertion could no longer pass the `exp` check.
//!
//! Two stores behind one type, [`ReplayStore`], so the verifier does not care which:
//!
//! - [`ReplayCache`] ([`memory`]), the default: bounded, in this process. It does not
//!   survive a restart and is not shared: with several replicas, an assertion captured on
//!   its way to one could be used once at another.
//! - [`RedisReplay`] ([`redis`]), when `REDIS_URL` is set: one `SET NX PX` per assertion
//!   in a Redis every replica shares, the key living as long as the assertion can pass.
//!
//! Both fail closed: a store that cannot say "first use" (record full, Redis down or
//! slow) refuses the request with 503 and `Retry-After`, never lets it through unchecked.

pub mod memory;
pub mod redis;

use std::fmt;

pub use self::memory::ReplayCache;
pub use self::redis::{RedisReplay, RedisUrl};

/// How many live assertion ids the in-process record holds by default.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Longest `jti` accepted, in bytes (authgate sends a 36-character UUID); bounds the
/// memory (or the Redis key) one entry can take.
pub const MAX_ID_BYTES: usize = 128;

/// Why an assertion id was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The id was already used within its lifetime.
    #[error("assertion was already used")]
    Replayed,
    /// The in-process record holds `capacity` live ids; the oldest is forgotten in
    /// `retry_after_secs`.
    #[error("too many live assertions to check for replay")]
    Full {
        /// Seconds until the first id can be forgotten.
        retry_after_secs: u64,
    },
    /// The shared record (Redis) failed or did not answer within its timeout: whether
    /// the id was used before is unknown.
    #[error("the replay record does not answer")]
    Unavailable,
}

/// Where accepted assertion ids are recorded.
pub enum ReplayStore {
    /// In this process ([`ReplayCache`]).
    Memory(ReplayCache),
    /// In Redis, shared by every replica ([`RedisReplay`]).
    Redis(Box<RedisReplay>),
}

/// Which store and its size or (password-free) URL; never the ids.
impl fmt::Debug for ReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory(cache) => cache.fmt(f),
            Self::Redis(redis) => redis.fmt(f),
        }
    }
}

impl ReplayStore {
    /// The in-process record for at most `capacity` live ids.
    pub fn memory(capacity: usize) -> Self {
        Self::Memory(ReplayCache::new(capacity))
    }

    /// Admits `id` once: records it until the end of the unix second `forget_after`
    /// (inclusive), or refuses it when it was seen before or the store cannot tell.
    /// `now_ms` is the unix time in milliseconds.
    pub async fn admit(&self, id: &str, forget_after: u64, now_ms: u64) -> Result<(), ReplayError> {
        match self {
            Self::Memory(cache) => cache.admit(id, forget_after, now_ms / 1000),
            Self::Redis(redis) => redis.admit(id, remaining_ms(forget_after, now_ms)).await,
        }
    }
}

/// Milliseconds from `now_ms` to the end of the unix second `forget_after`, at least 1:
/// how long a key must live so that the id is remembered while its assertion can pass.
pub fn remaining_ms(forget_after: u64, now_ms: u64) -> u64 {
    forget_after
        .saturating_add(1)
        .saturating_mul(1000)
        .saturating_sub(now_ms)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_lives_to_the_end_of_the_last_second_its_assertion_passes() {
        assert_eq!(remaining_ms(110, 100_000), 11_000);
        assert_eq!(remaining_ms(110, 100_250), 10_750);
        assert_eq!(remaining_ms(110, 110_999), 1);
        // Never zero or negative: PX 0 is an error in Redis.
        assert_eq!(remaining_ms(110, 111_000), 1);
        assert_eq!(remaining_ms(110, 500_000), 1);
    }

    #[tokio::test]
    async fn the_memory_store_admits_once() {
        let store = ReplayStore::memory(10);
        assert_eq!(store.admit("a", 110, 100_000).await, Ok(()));
        assert_eq!(
            store.admit("a", 110, 100_500).await,
            Err(ReplayError::Replayed)
        );
        assert!(format!("{store:?}").contains("capacity"), "{store:?}");
    }
}
