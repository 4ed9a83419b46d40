//! Verified-token cache. A token is reused for its whole life (15 minutes for Better
//! Auth) while an EdDSA/ES256 verification costs tens of microseconds, so successful
//! verifications are remembered, keyed by a SHA-256 of the whole token.
//!
//! Only successes are stored, so an attacker cannot evict good entries with junk: an
//! entry costs a validly signed token. Entries never outlive `exp` (checked against
//! the clock on every hit), are bounded in number and size, and die with their key:
//! each holds a weak reference to the key that verified it, which a JWKS refresh that
//! drops the key releases.

use quick_cache::sync::Cache;
use std::sync::{Arc, Weak};

use super::keys::{check_time, VerifyingKey};
use super::{Identity, TokenError};

/// Identities larger than this (many forwarded claims) are not cached, which bounds
/// the cache's memory at about `max_entries × MAX_ENTRY_BYTES`.
pub const MAX_ENTRY_BYTES: usize = 2048;

/// Cache key: SHA-256 over a purpose tag and the token.
pub type CacheKey = [u8; 32];

#[derive(Clone)]
struct Entry {
    identity: Arc<Identity>,
    key: Weak<VerifyingKey>,
    leeway: u64,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// Not cached (or its key is gone): verify for real.
    Miss,
    /// Cached and still valid now.
    Hit(Arc<Identity>),
    /// Cached, but now expired or not yet valid.
    Invalid(TokenError),
}

/// A bounded, concurrent map from token hash to verified identity.
pub struct VerifiedCache {
    entries: Cache<CacheKey, Entry>,
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("len", &self.entries.len())
            .finish()
    }
}

fn identity_size(id: &Identity) -> usize {
    std::mem::size_of::<Identity>()
        + id.subject.len()
        + id.email.as_ref().map_or(0, String::len)
        + id.claims.iter().map(|(_, v)| v.len() + 16).sum::<usize>()
}

impl VerifiedCache {
    /// A cache of at most `max_entries` tokens.
    pub fn new(max_entries: usize) -> Self {
        Self {
            entries: Cache::new(max_entries.max(1)),
        }
    }

    /// The key for `token` verified as `tag`.
    pub fn key(tag: u8, token: &str) -> CacheKey {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(&[tag]);
        ctx.update(token.as_bytes());
        let digest = ctx.finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }

    /// Looks `key` up at time `now`.
    pub fn get(&self, key: &CacheKey, now: u64) -> Lookup {
        let Some(entry) = self.entries.get(key) else {
            return Lookup::Miss;
        };
        if entry.key.strong_count() == 0 {
            self.entries.remove(key);
            return Lookup::Miss;
        }
        let id = &entry.identity;
        match check_time(id.expires_at, id.not_before, entry.leeway, now) {
            Ok(()) => Lookup::Hit(entry.identity),
            Err(e) => {
                if e == TokenError::Expired {
                    self.entries.remove(key);
                }
                Lookup::Invalid(e)
            }
        }
    }

    /// Remembers a successful verification by `verified_by`.
    pub fn insert(&self, key: CacheKey, identity: &Arc<Identity>, verified_by: &Arc<VerifyingKey>) {
        if identity_size(identity) > MAX_ENTRY_BYTES {
            return;
        }
        self.entries.insert(
            key,
            Entry {
                identity: identity.clone(),
                key: Arc::downgrade(verified_by),
                leeway: verified_by.rules.leeway.as_secs(),
            },
        );
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ClaimRules;
    use crate::secret::Secret;
    use std::time::Duration;

    fn key() -> Arc<VerifyingKey> {
        let rules = Arc::new(ClaimRules {
            leeway: Duration::from_secs(5),
            ..ClaimRules::default()
        });
        Arc::new(VerifyingKey::hs256(
            &Secret::new("k".repeat(32)),
            rules,
            "t".into(),
        ))
    }

    fn identity(exp: u64) -> Arc<Identity> {
        Arc::new(Identity {
            subject: "alice".into(),
            email: None,
            claims: vec![],
            expires_at: exp,
            not_before: None,
        })
    }

    #[test]
    fn hits_until_expiry_then_invalid() {
        let cache = VerifiedCache::new(10);
        let k = key();
        let ck = VerifiedCache::key(0, "token");
        assert!(matches!(cache.get(&ck, 100), Lookup::Miss));
        cache.insert(ck, &identity(1000), &k);
        assert!(matches!(cache.get(&ck, 1004), Lookup::Hit(_)));
        assert!(matches!(
            cache.get(&ck, 1006),
            Lookup::Invalid(TokenError::Expired)
        ));
        assert!(
            matches!(cache.get(&ck, 100), Lookup::Miss),
            "expired entries are removed"
        );
    }

    #[test]
    fn entries_die_with_their_key() {
        let cache = VerifiedCache::new(10);
        let k = key();
        let ck = VerifiedCache::key(0, "token");
        cache.insert(ck, &identity(1000), &k);
        drop(k);
        assert!(matches!(cache.get(&ck, 100), Lookup::Miss));
    }

    #[test]
    fn purpose_tag_separates_keys_and_size_is_bounded() {
        assert_ne!(VerifiedCache::key(0, "t"), VerifiedCache::key(1, "t"));
        let cache = VerifiedCache::new(4);
        let k = key();
        for i in 0..100 {
            cache.insert(VerifiedCache::key(0, &i.to_string()), &identity(1000), &k);
        }
        assert!(cache.len() <= 4);
        let mut big = (*identity(1000)).clone();
        big.claims.push((0, "x".repeat(4096)));
        let ck = VerifiedCache::key(0, "big");
        cache.insert(ck, &Arc::new(big), &k);
        assert!(matches!(cache.get(&ck, 1), Lookup::Miss));
    }
}
