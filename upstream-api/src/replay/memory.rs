//! The in-process record: a bounded map of the assertion ids (`jti`) already accepted,
//! each kept until its assertion could no longer pass the `exp` check.
//!
//! It lives in this process only (see [`super`]). When it is full of ids that are still
//! live, new assertions are refused (fail closed, 503 with `Retry-After`) rather than
//! accepted unchecked or evicting ids that could be replayed.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use super::ReplayError;

/// The ids seen, with the unix second after which each may be forgotten.
pub struct ReplayCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    forget_after: HashMap<Arc<str>, u64>,
    by_expiry: BTreeSet<(u64, Arc<str>)>,
}

/// Sizes only: the ids are not printed.
impl fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl ReplayCache {
    /// A record for at most `capacity` live ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// How many live ids it can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Admits `id` once: records it until `forget_after` (unix seconds, inclusive), or
    /// refuses it when it was seen before or the record is full. `now` is unix seconds.
    pub fn admit(&self, id: &str, forget_after: u64, now: u64) -> Result<(), ReplayError> {
        // The maps are updated together with no panic in between, so a poisoned lock
        // still guards consistent data.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.forget_expired(now);
        if inner.forget_after.contains_key(id) {
            return Err(ReplayError::Replayed);
        }
        if inner.forget_after.len() >= self.capacity {
            let oldest = inner.by_expiry.first().map_or(now, |(at, _)| *at);
            return Err(ReplayError::Full {
                retry_after_secs: oldest.saturating_sub(now).saturating_add(1),
            });
        }
        let id: Arc<str> = Arc::from(id);
        inner.forget_after.insert(id.clone(), forget_after);
        inner.by_expiry.insert((forget_after, id));
        Ok(())
    }

    /// Live ids held now.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .forget_after
            .len()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    /// Drops every id whose assertion has expired by `now`.
    fn forget_expired(&mut self, now: u64) {
        while let Some((at, _)) = self.by_expiry.first() {
            if *at >= now {
                break;
            }
            if let Some((_, id)) = self.by_expiry.pop_first() {
                self.forget_after.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_admitted_once_while_live() {
        let cache = ReplayCache::new(10);
        assert_eq!(cache.admit("a", 110, 100), Ok(()));
        assert_eq!(cache.admit("a", 110, 100), Err(ReplayError::Replayed));
        // Still refused on its last live second, whatever expiry the replay claims.
        assert_eq!(cache.admit("a", 200, 110), Err(ReplayError::Replayed));
        assert_eq!(cache.admit("b", 110, 100), Ok(()));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn expired_ids_are_forgotten() {
        let cache = ReplayCache::new(10);
        cache.admit("a", 110, 100).expect("fresh");
        cache.admit("b", 120, 100).expect("fresh");
        cache.admit("c", 111, 111).expect("fresh");
        assert_eq!(cache.len(), 2, "a is forgotten after its second 110");
        cache.admit("d", 130, 121).expect("fresh");
        assert_eq!(cache.len(), 1, "b and c are gone too");
        // Forgotten ids are admitted again; by then the assertion itself has expired.
        assert_eq!(cache.admit("a", 140, 121), Ok(()));
    }

    #[test]
    fn a_full_record_fails_closed_until_an_id_expires() {
        let cache = ReplayCache::new(2);
        cache.admit("a", 105, 100).expect("fresh");
        cache.admit("b", 108, 100).expect("fresh");
        assert_eq!(
            cache.admit("c", 110, 100),
            Err(ReplayError::Full {
                retry_after_secs: 6
            })
        );
        assert_eq!(cache.len(), 2, "nothing was evicted");
        assert_eq!(cache.admit("a", 110, 101), Err(ReplayError::Replayed));
        assert_eq!(cache.admit("c", 110, 106), Ok(()), "a expired at 105");
    }

    #[test]
    fn capacity_is_at_least_one() {
        let cache = ReplayCache::new(0);
        assert_eq!(cache.capacity(), 1);
        assert!(cache.is_empty());
        cache.admit("a", 10, 1).expect("fresh");
        assert!(matches!(
            cache.admit("b", 10, 1),
            Err(ReplayError::Full { .. })
        ));
    }
}
