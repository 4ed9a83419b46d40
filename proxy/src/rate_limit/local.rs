//! The bucket in this process: without Redis, and when Redis fails with
//! `on_redis_error = "local"`. Sixteen locked shards of partition → TAT on the
//! process's monotonic clock, bounded: a full shard first forgets the buckets that
//! are full again (their TAT has passed), then the one closest to full.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::gcra::{Gcra, Verdict};
use super::partition::Partition;

/// Buckets kept per policy.
pub(crate) const MAX_KEYS: usize = 100_000;
const SHARDS: usize = 16;

/// One policy's buckets in this process.
#[derive(Debug)]
pub(crate) struct LocalLimiter {
    gcra: Gcra,
    shards: Vec<Mutex<HashMap<Partition, u64>>>,
    per_shard: usize,
    epoch: Instant,
}

impl LocalLimiter {
    /// Empty buckets for `gcra`, at most `max_keys` of them.
    pub(crate) fn new(gcra: Gcra, max_keys: usize) -> Self {
        Self {
            gcra,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: max_keys.div_ceil(SHARDS).max(1),
            epoch: Instant::now(),
        }
    }

    /// Checks (and, when allowed, takes from) the bucket of `partition` now.
    pub(crate) fn check(&self, partition: &Partition) -> Verdict {
        let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        let shard = &self.shards[usize::from(partition[0]) % SHARDS];
        // A panic cannot leave a shard half-updated (one insert): go on after one.
        let mut buckets = shard.lock().unwrap_or_else(PoisonError::into_inner);
        let tat = buckets.get(partition).copied();
        let (verdict, new_tat) = self.gcra.decide(tat, now);
        if let Some(new_tat) = new_tat {
            if tat.is_none() && buckets.len() >= self.per_shard {
                make_room(&mut buckets, now);
            }
            buckets.insert(*partition, new_tat);
        }
        verdict
    }

    /// Buckets held now (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

/// Forgets the buckets that are full again; if none is, the one closest to full.
fn make_room(buckets: &mut HashMap<Partition, u64>, now: u64) {
    buckets.retain(|_, tat| *tat > now);
    if buckets.is_empty() {
        return;
    }
    let closest = buckets
        .iter()
        .min_by_key(|(_, tat)| **tat)
        .map(|(key, _)| *key);
    if let Some(key) = closest {
        buckets.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> Partition {
        let mut k = [0; 16];
        k[..4].copy_from_slice(&n.to_be_bytes());
        k[0] = 0; // one shard
        k
    }

    #[test]
    fn each_partition_has_its_own_bucket() {
        let limiter = LocalLimiter::new(Gcra::new(1, 60, 2), MAX_KEYS);
        assert!(limiter.check(&key(1)).allowed);
        assert!(limiter.check(&key(1)).allowed);
        assert!(!limiter.check(&key(1)).allowed);
        assert!(
            limiter.check(&key(2)).allowed,
            "another partition is not affected"
        );
    }

    #[test]
    fn the_table_is_bounded() {
        let limiter = LocalLimiter::new(Gcra::new(1, 60, 1), SHARDS * 4);
        for n in 0..100 {
            assert!(limiter.check(&key(n)).allowed);
        }
        assert!(limiter.len() <= 4, "{} buckets", limiter.len());
        // The newest buckets are kept: the last key is still limited.
        assert!(!limiter.check(&key(99)).allowed);
    }
}
