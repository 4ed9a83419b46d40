//! Verified-token cache. A token is reused for its whole life (15 minutes for Better
//! Auth) while an EdDSA/ES256 verification costs tens of microseconds, so successful
//! verifications are remembered, keyed by the whole token.
//!
//! The table is indexed by a fast hash seeded at random per process (foldhash, inside
//! quick_cache) and a hit is confirmed by comparing the whole token in constant time:
//! a hit means exactly these bytes verified before, whatever the hash does. That is
//! cheaper than a SHA-256 of the token per request (about 9 % of a cached request's
//! instructions, bench/RESULTS.md) and leaves no collision to reason about.
//!
//! Only successes are stored, so an attacker cannot evict good entries with junk: an
//! entry costs a validly signed token. Entries never outlive `exp` (checked against
//! the clock on every hit), are bounded in number and size, and die with their key:
//! each holds a weak reference to the key that verified it, which a JWKS refresh that
//! drops the key releases.

use quick_cache::sync::Cache;
use quick_cache::Equivalent;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};

use super::claims::check_time;
use super::error::TokenError;
use super::identity::Identity;
use super::keys::VerifyingKey;

/// Entries larger than this (token plus identity: a long token, many forwarded claims)
/// are not cached, which bounds the cache's memory at about `max_entries ×
/// MAX_ENTRY_BYTES`.
pub(crate) const MAX_ENTRY_BYTES: usize = 3072;

/// A stored key: the purpose tag and the whole token.
#[derive(Clone)]
pub(crate) struct CacheKey {
    tag: u8,
    token: Box<str>,
}

/// A lookup key: the same, borrowed from the request.
#[derive(Clone, Copy)]
pub(crate) struct TokenRef<'a> {
    tag: u8,
    token: &'a str,
}

impl<'a> TokenRef<'a> {
    /// The key for `token` verified as `tag`.
    pub(crate) fn new(tag: u8, token: &'a str) -> Self {
        Self { tag, token }
    }

    fn stored(self) -> CacheKey {
        CacheKey {
            tag: self.tag,
            token: self.token.into(),
        }
    }
}

// Both hash the same bytes in the same order, as `Equivalent` requires.
impl Hash for TokenRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(self.tag);
        state.write(self.token.as_bytes());
    }
}

impl Hash for CacheKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        TokenRef::new(self.tag, &self.token).hash(state);
    }
}

impl Equivalent<CacheKey> for TokenRef<'_> {
    fn equivalent(&self, key: &CacheKey) -> bool {
        // Constant time in the contents: a probe that lands on a cached token learns
        // nothing of it from how long the comparison took.
        self.tag == key.tag
            && aws_lc_rs::constant_time::verify_slices_are_equal(
                self.token.as_bytes(),
                key.token.as_bytes(),
            )
            .is_ok()
    }
}

impl PartialEq for CacheKey {
    fn eq(&self, other: &Self) -> bool {
        TokenRef::new(other.tag, &other.token).equivalent(self)
    }
}

impl Eq for CacheKey {}

// Tokens never reach Debug output.
impl std::fmt::Debug for TokenRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheKey")
            .field("tag", &self.tag)
            .field("token_len", &self.token.len())
            .finish()
    }
}

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        TokenRef::new(self.tag, &self.token).fmt(f)
    }
}

#[derive(Clone)]
struct Entry {
    identity: Arc<Identity>,
    key: Weak<VerifyingKey>,
    leeway: u64,
}

/// What a lookup found.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Not cached (or its key is gone): verify for real.
    Miss,
    /// Cached and still valid now.
    Hit(Arc<Identity>),
    /// Cached, but now expired or not yet valid.
    Invalid(TokenError),
}

/// A bounded, concurrent map from token hash to verified identity.
pub(crate) struct VerifiedCache {
    entries: Cache<CacheKey, Entry>,
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("len", &self.entries.len())
            .finish()
    }
}

/// About what a claim's value takes in memory: its compact JSON length.
fn json_size(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::String(s) => s.len(),
        other => other.to_string().len(),
    }
}

fn identity_size(id: &Identity) -> usize {
    std::mem::size_of::<Identity>()
        + id.subject.len()
        + id.email.as_ref().map_or(0, String::len)
        + id.claims
            .iter()
            .map(|(name, value)| name.len() + json_size(value) + 32)
            .sum::<usize>()
}

impl VerifiedCache {
    /// A cache of at most `max_entries` tokens.
    pub(crate) fn new(max_entries: usize) -> Self {
        Self {
            entries: Cache::new(max_entries.max(1)),
        }
    }

    /// Looks `key` up at time `now`.
    pub(crate) fn get(&self, key: &TokenRef<'_>, now: u64) -> Lookup {
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
    pub(crate) fn insert(
        &self,
        key: TokenRef<'_>,
        identity: &Arc<Identity>,
        verified_by: &Arc<VerifyingKey>,
    ) {
        if key.token.len() + identity_size(identity) > MAX_ENTRY_BYTES {
            return;
        }
        self.entries.insert(
            key.stored(),
            Entry {
                identity: identity.clone(),
                key: Arc::downgrade(verified_by),
                leeway: verified_by.rules.leeway.as_secs(),
            },
        );
    }

    /// Number of cached tokens.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
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
            issued_at: None,
            token_id: None,
        })
    }

    #[test]
    fn hits_until_expiry_then_invalid() {
        let cache = VerifiedCache::new(10);
        let k = key();
        let ck = TokenRef::new(0, "token");
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
        let ck = TokenRef::new(0, "token");
        cache.insert(ck, &identity(1000), &k);
        drop(k);
        assert!(matches!(cache.get(&ck, 100), Lookup::Miss));
    }

    #[test]
    fn purpose_tag_separates_keys_and_size_is_bounded() {
        let cache = VerifiedCache::new(4);
        let k = key();
        cache.insert(TokenRef::new(0, "t"), &identity(1000), &k);
        assert!(matches!(cache.get(&TokenRef::new(1, "t"), 1), Lookup::Miss));
        assert!(matches!(
            cache.get(&TokenRef::new(0, "t"), 1),
            Lookup::Hit(_)
        ));
        for i in 0..100 {
            let token = i.to_string();
            cache.insert(TokenRef::new(0, &token), &identity(1000), &k);
        }
        assert!(cache.len() <= 4);
        let mut big = (*identity(1000)).clone();
        big.claims.push(("name".into(), "x".repeat(4096).into()));
        let ck = TokenRef::new(0, "big");
        cache.insert(ck, &Arc::new(big), &k);
        assert!(matches!(cache.get(&ck, 1), Lookup::Miss));
        let long = "x".repeat(MAX_ENTRY_BYTES);
        cache.insert(TokenRef::new(0, &long), &identity(1000), &k);
        assert!(
            matches!(cache.get(&TokenRef::new(0, &long), 1), Lookup::Miss),
            "the token counts towards the entry's size"
        );
    }

    #[test]
    fn only_the_same_token_hits() {
        let cache = VerifiedCache::new(10);
        let k = key();
        cache.insert(TokenRef::new(0, "aaaa.bbbb.cccc"), &identity(1000), &k);
        for other in ["aaaa.bbbb.cccd", "aaaa.bbbb.ccc", "aaaa.bbbb.cccc.", ""] {
            assert!(matches!(
                cache.get(&TokenRef::new(0, other), 1),
                Lookup::Miss
            ));
        }
        assert!(matches!(
            cache.get(&TokenRef::new(0, "aaaa.bbbb.cccc"), 1),
            Lookup::Hit(_)
        ));
    }

    #[test]
    fn keys_do_not_show_the_token() {
        let shown = format!("{:?}", TokenRef::new(0, "secret.token.here"));
        assert!(!shown.contains("secret"), "{shown}");
    }
}
