//! Micro-benchmark of the per-request revocation check: a look-up in the
//! in-memory set every replica keeps (no Redis round trip), with 100 000 revoked
//! subjects and 1 000 revoked token ids, against the identities a request brings.
//!
//! `cargo bench -p authgate --bench revocation` (CI only compiles it: `--all-targets`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use authgate::benching::{Entry, Identity, Kind, RevocationSet};
use criterion::{criterion_group, criterion_main, Criterion};

const SUBJECTS: usize = 100_000;
const TOKENS: usize = 1_000;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An identity as the verifier makes it: a 32-character Better Auth user id.
fn identity(subject: String, issued_at: u64, token_id: Option<String>) -> Identity {
    Identity {
        subject,
        email: None,
        claims: Vec::new(),
        expires_at: issued_at + 900,
        not_before: None,
        issued_at: Some(issued_at),
        token_id,
    }
}

fn user(n: usize) -> String {
    format!("user{n:028}")
}

fn full_set(at: u64) -> RevocationSet {
    let set = RevocationSet::new(930);
    let mut entries: Vec<Entry> = (0..SUBJECTS)
        .map(|n| Entry {
            kind: Kind::Subject,
            id: user(n),
            at,
        })
        .collect();
    entries.extend((0..TOKENS).map(|n| Entry {
        kind: Kind::Token,
        id: format!("jti-{n}"),
        at,
    }));
    set.merge(entries);
    set
}

fn revocation_check(c: &mut Criterion) {
    let at = now();
    let set = full_set(at);
    let empty = RevocationSet::new(930);
    let mut group = c.benchmark_group("revocation_check");
    let other = identity(
        "someone-not-revoked-0000000000000".into(),
        at - 5,
        Some("jti-x".into()),
    );
    group.bench_function("100k_subjects_not_revoked", |b| {
        b.iter(|| black_box(set.is_revoked(black_box(&other))))
    });
    let old = identity(user(4242), at - 5, None);
    group.bench_function("100k_subjects_revoked_token", |b| {
        b.iter(|| black_box(set.is_revoked(black_box(&old))))
    });
    let newer = identity(user(4242), at + 5, None);
    group.bench_function("100k_subjects_token_issued_after", |b| {
        b.iter(|| black_box(set.is_revoked(black_box(&newer))))
    });
    let by_jti = identity(
        "someone-not-revoked-0000000000000".into(),
        at,
        Some("jti-7".into()),
    );
    group.bench_function("1k_token_ids_revoked_jti", |b| {
        b.iter(|| black_box(set.is_revoked(black_box(&by_jti))))
    });
    group.bench_function("empty_set", |b| {
        b.iter(|| black_box(empty.is_revoked(black_box(&other))))
    });
    group.finish();
    assert!(set.is_revoked(&old) && set.is_revoked(&by_jti));
    assert!(!set.is_revoked(&other) && !set.is_revoked(&newer));
}

criterion_group!(benches, revocation_check);
criterion_main!(benches);
