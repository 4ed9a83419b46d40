//! The revocations in force, in this replica's memory: what every request is
//! checked against, with no Redis round trip. Subjects map to the moment before
//! which their tokens are refused, token ids (`jti`) to the moment they were
//! revoked; an entry counts until that moment plus the retention (the longest token
//! lifetime and the leeway), after which every token it refused has expired anyway.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};

use crate::auth::Identity;

/// What a revocation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every token of a subject issued before a moment.
    Subject,
    /// One token, by its `jti`.
    Token,
}

impl Kind {
    /// The word in messages, `--list` and metrics.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Subject => "sub",
            Self::Token => "jti",
        }
    }

    /// The kind a word names.
    pub(crate) fn parse(word: &str) -> Option<Self> {
        match word {
            "sub" => Some(Self::Subject),
            "jti" => Some(Self::Token),
            _ => None,
        }
    }
}

/// One revocation: what, and from when (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Subject or token id.
    pub kind: Kind,
    /// The subject or the `jti`.
    pub id: String,
    /// For a subject, tokens issued before this are refused; for a token, when it
    /// was revoked.
    pub at: u64,
}

#[derive(Debug, Default)]
struct Entries {
    subjects: HashMap<Box<str>, u64>,
    tokens: HashMap<Box<str>, u64>,
}

impl Entries {
    fn of(&mut self, kind: Kind) -> &mut HashMap<Box<str>, u64> {
        match kind {
            Kind::Subject => &mut self.subjects,
            Kind::Token => &mut self.tokens,
        }
    }
}

/// The set, shared by the request path (reads) and its follower (writes).
#[derive(Debug)]
pub struct RevocationSet {
    entries: RwLock<Entries>,
    /// Entries held: lets the check skip the lock while there are none.
    held: AtomicUsize,
    /// No entry's moment is earlier than this (`u64::MAX`: none held): lets the
    /// periodic purge skip the walk while nothing can have expired.
    oldest: AtomicU64,
    /// Seconds an entry counts after its moment.
    retention: u64,
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

impl RevocationSet {
    /// An empty set whose entries count for `retention` seconds.
    pub fn new(retention: u64) -> Self {
        Self {
            entries: RwLock::new(Entries::default()),
            held: AtomicUsize::new(0),
            oldest: AtomicU64::new(u64::MAX),
            retention,
        }
    }

    /// Whether `identity`'s token is revoked: its `jti` is, or its subject is and
    /// the token was issued before that (a token without `iat` cannot show it was
    /// not, so it is refused while its subject's revocation lasts).
    pub fn is_revoked(&self, identity: &Identity) -> bool {
        if self.held.load(Ordering::Relaxed) == 0 {
            return false;
        }
        // Writers never panic while holding the lock: the data is whole.
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let subject = entries
            .subjects
            .get(identity.subject.as_str())
            .filter(|before| {
                identity.issued_at.is_none_or(|iat| iat < **before) && self.counts(**before)
            });
        let token = || {
            let id = identity.token_id.as_deref()?;
            entries.tokens.get(id).filter(|at| self.counts(**at))
        };
        subject.is_some() || token().is_some()
    }

    /// Whether an entry of moment `at` still counts.
    fn counts(&self, at: u64) -> bool {
        now() < at.saturating_add(self.retention)
    }

    /// Adds (or moves later) one entry.
    pub fn insert(&self, entry: &Entry) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.oldest.fetch_min(entry.at, Ordering::Relaxed);
        let map = entries.of(entry.kind);
        match map.get_mut(entry.id.as_str()) {
            Some(at) => *at = (*at).max(entry.at),
            None => {
                map.insert(entry.id.as_str().into(), entry.at);
            }
        }
        self.recount(&entries);
    }

    /// Adds every entry of a snapshot; what the set holds and the snapshot lacks
    /// stays until it expires (a Redis that lost its data does not undo revocations
    /// a replica knows).
    pub fn merge(&self, snapshot: Vec<Entry>) {
        let now = now();
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        for entry in snapshot {
            if now >= entry.at.saturating_add(self.retention) {
                continue;
            }
            self.oldest.fetch_min(entry.at, Ordering::Relaxed);
            let at = entries
                .of(entry.kind)
                .entry(entry.id.into_boxed_str())
                .or_insert(entry.at);
            *at = (*at).max(entry.at);
        }
        self.recount(&entries);
    }

    /// Forgets the entries that no longer count; no walk while none can have expired.
    pub(crate) fn purge(&self) {
        let now = now();
        let retention = self.retention;
        if now
            < self
                .oldest
                .load(Ordering::Relaxed)
                .saturating_add(retention)
        {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let mut oldest = u64::MAX;
        for kind in [Kind::Subject, Kind::Token] {
            entries.of(kind).retain(|_, at| {
                let counts = now < at.saturating_add(retention);
                if counts {
                    oldest = oldest.min(*at);
                }
                counts
            });
        }
        self.oldest.store(oldest, Ordering::Relaxed);
        self.recount(&entries);
    }

    fn recount(&self, entries: &Entries) {
        let (subjects, tokens) = (entries.subjects.len(), entries.tokens.len());
        self.held.store(subjects + tokens, Ordering::Relaxed);
        let metrics = crate::metrics::metrics();
        metrics.set_revocations(Kind::Subject.as_str(), subjects);
        metrics.set_revocations(Kind::Token.as_str(), tokens);
    }

    /// Entries held (subjects, tokens).
    pub(crate) fn len(&self) -> (usize, usize) {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        (entries.subjects.len(), entries.tokens.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(sub: &str, iat: Option<u64>, jti: Option<&str>) -> Identity {
        let mut id = Identity::for_test(sub, json!({}));
        id.issued_at = iat;
        id.token_id = jti.map(str::to_string);
        id
    }

    fn entry(kind: Kind, id: &str, at: u64) -> Entry {
        Entry {
            kind,
            id: id.into(),
            at,
        }
    }

    #[test]
    fn a_subject_is_refused_for_tokens_issued_before_the_moment() {
        let set = RevocationSet::new(900);
        let t = now();
        assert!(!set.is_revoked(&token("alice", Some(t - 10), None)));
        set.insert(&entry(Kind::Subject, "alice", t));
        assert!(set.is_revoked(&token("alice", Some(t - 10), None)));
        assert!(set.is_revoked(&token("alice", Some(t - 1), None)));
        assert!(
            !set.is_revoked(&token("alice", Some(t), None)),
            "issued at the moment: after it"
        );
        assert!(
            set.is_revoked(&token("alice", None, None)),
            "no iat: cannot show it is newer"
        );
        assert!(!set.is_revoked(&token("bob", Some(t - 10), None)));
        // A later revocation moves the moment; an earlier one does not.
        set.insert(&entry(Kind::Subject, "alice", t + 5));
        set.insert(&entry(Kind::Subject, "alice", t - 100));
        assert!(set.is_revoked(&token("alice", Some(t + 1), None)));
        assert_eq!(set.len(), (1, 0));
    }

    #[test]
    fn a_token_id_is_refused_whatever_its_age() {
        let set = RevocationSet::new(900);
        set.insert(&entry(Kind::Token, "j1", now()));
        assert!(set.is_revoked(&token("alice", Some(now() + 5), Some("j1"))));
        assert!(!set.is_revoked(&token("alice", Some(now()), Some("j2"))));
        assert!(!set.is_revoked(&token("alice", Some(now()), None)));
    }

    #[test]
    fn entries_expire_after_the_retention() {
        let set = RevocationSet::new(60);
        let t = now();
        set.merge(vec![
            entry(Kind::Subject, "old", t - 61),
            entry(Kind::Subject, "alice", t - 30),
            entry(Kind::Token, "j1", t - 61),
        ]);
        assert_eq!(set.len(), (1, 0), "expired entries are not taken");
        assert!(set.is_revoked(&token("alice", Some(t - 40), None)));
        set.insert(&entry(Kind::Token, "j2", t - 61));
        assert!(
            !set.is_revoked(&token("x", Some(t), Some("j2"))),
            "expired: no longer counts"
        );
        set.purge();
        assert_eq!(set.len(), (1, 0));
        assert_eq!(
            set.oldest.load(Ordering::Relaxed),
            t - 30,
            "the oldest that still counts"
        );
        set.insert(&entry(Kind::Token, "j3", t - 61));
        set.purge();
        assert_eq!(
            set.len(),
            (1, 0),
            "an expired entry added later is purged too"
        );
    }

    #[test]
    fn a_snapshot_adds_to_what_is_known() {
        let set = RevocationSet::new(900);
        let t = now();
        set.insert(&entry(Kind::Subject, "alice", t));
        set.merge(vec![entry(Kind::Subject, "bob", t)]);
        assert_eq!(
            set.len(),
            (2, 0),
            "alice stays though the snapshot lacks her"
        );
    }
}
