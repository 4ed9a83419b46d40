//! JWK/JWKS parsing: never panics; a loaded key is allowed for the source; parsing the
//! same document again with the result as the previous set reuses every key.
#![no_main]

use authgate::fuzzing::{parse_jwks, JwkContext};
use authgate::fuzzing::{ClaimRules, KeyAlg, KeySet};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let rules = Arc::new(ClaimRules::default());
    let source: Arc<str> = "fuzz".into();
    // The first byte picks the allow-list, so both "everything" and a narrow list run.
    let (allowed, doc): (&[KeyAlg], &[u8]) = match data.split_first() {
        Some((b, rest)) if b % 2 == 0 => (&KeyAlg::ASYMMETRIC, rest),
        Some((_, rest)) => (&[KeyAlg::RS256, KeyAlg::PS256, KeyAlg::EdDSA], rest),
        None => return,
    };
    let cx = JwkContext {
        allowed,
        rules: &rules,
        source: &source,
        previous: None,
    };
    let Ok(first) = parse_jwks(doc, &cx) else {
        return;
    };
    for key in &first.keys {
        assert!(
            allowed.contains(&key.alg),
            "{:?} loaded but not allowed",
            key.alg
        );
        assert_ne!(key.alg, KeyAlg::HS256, "symmetric key from a JWKS");
    }
    let count = first.keys.len();
    let set = KeySet::new(first.keys);
    let again = parse_jwks(
        doc,
        &JwkContext {
            previous: Some(&set),
            ..cx
        },
    )
    .expect("the same document parses twice");
    assert_eq!(again.keys.len(), count);
    for key in &again.keys {
        assert!(
            set.iter().any(|k| Arc::ptr_eq(k, key)),
            "an unchanged key was rebuilt"
        );
    }
});
