//! JOSE header and claims parsing. Properties: never panics; a parsed header never
//! carries an embedded key or `crit` (those are refused); an identity built from any
//! claims is header-safe (subject non-empty, every value a valid header value).
#![no_main]

use authgate::fuzzing::{claim_as_header, Identity, KeptClaims};
use authgate::fuzzing::{decode_part, split, JoseHeader};
use authgate::fuzzing::{ClaimMode, ClaimRules, NoTrace};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::time::Duration;

const NOW: u64 = 1_700_000_000;

fn check_header(encoded: &str) {
    let Ok(header) = JoseHeader::parse(encoded) else {
        return;
    };
    // A parsed header is UTF-8 (checked before serde, issue 10). Numbers out of f64
    // range in members it ignores are still skipped by serde: read leniently.
    let bytes = decode_part(encoded).expect("parsed, so base64url");
    let text = std::str::from_utf8(&bytes).expect("a parsed header is UTF-8");
    let Ok(raw) = serde_json::from_str::<Map<String, Value>>(text) else {
        return;
    };
    for refused in ["jku", "jwk", "x5u", "x5c", "crit"] {
        assert!(!raw.contains_key(refused), "{refused} accepted");
    }
    assert_eq!(
        raw.get("alg").and_then(Value::as_str),
        Some(header.alg.as_str())
    );
}

fn header_safe(s: &str) {
    assert!(
        HeaderValue::from_str(s).is_ok(),
        "not a header value: {s:?}"
    );
}

fn check_claims(json: &[u8]) {
    let Ok(claims) = serde_json::from_slice::<Map<String, Value>>(json) else {
        return;
    };
    let rules = ClaimRules {
        issuer: vec!["https://auth.example".into()],
        audience: vec!["api".into()],
        leeway: Duration::from_secs(30),
    };
    for mode in [
        ClaimMode::Access,
        ClaimMode::SessionCookieHs256,
        ClaimMode::SessionCookieJwks,
    ] {
        let _ = rules.validate(&claims, NOW, mode, &mut NoTrace);
        let _ = ClaimRules::default().validate(&claims, NOW, mode, &mut NoTrace);
    }
    let forward = KeptClaims {
        forwarded: vec!["name".into(), "role".into(), "org".into()],
        for_rules: vec!["scope".into(), "role".into()],
    };
    for identity in [
        Identity::from_claims(&claims, &forward),
        Identity::from_hs256_session_cookie(&claims, &forward),
        Identity::from_jwks_session_cookie(&claims, &forward),
    ]
    .into_iter()
    .flatten()
    {
        assert!(!identity.subject.is_empty());
        header_safe(&identity.subject);
        if let Some(email) = &identity.email {
            header_safe(email);
        }
        for (name, value) in &identity.claims {
            let forwarded = forward.forwarded.contains(name);
            assert!(forwarded || forward.for_rules.contains(name), "{name} kept");
            if forwarded {
                let text = claim_as_header(value).expect("a forwarded claim is header-safe");
                if let Some(text) = text {
                    header_safe(&text);
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        // A whole compact token, as it comes from a request.
        0 => {
            let Ok(token) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok((h, compact)) = split(token) {
                assert_eq!(compact.signing_input, &token[..compact.signing_input.len()]);
                check_header(h);
                if let Ok(payload) = decode_part(compact.payload) {
                    check_claims(&payload);
                }
            }
        }
        // The header's JSON itself (skips base64 for the fuzzer).
        1 => check_header(&URL_SAFE_NO_PAD.encode(rest)),
        // The claims' JSON itself.
        _ => check_claims(rest),
    }
});
