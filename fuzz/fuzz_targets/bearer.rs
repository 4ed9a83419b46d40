//! `Authorization` extraction: never panics, and a token it returns is a non-empty
//! RFC 6750 `b64token` taken from the one header sent with the `Bearer` scheme.
#![no_main]

use authgate::fuzzing::{bearer_token, BearerError};
use http::HeaderValue;
use libfuzzer_sys::fuzz_target;

fn is_b64token(t: &[u8]) -> bool {
    let body = t.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    body > 0
        && t[..body]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

fuzz_target!(|data: &[u8]| {
    // Each line is one `Authorization` header (values a client could send).
    let values: Vec<HeaderValue> = data
        .split(|&b| b == b'\n')
        .filter_map(|l| HeaderValue::from_bytes(l).ok())
        .collect();
    match bearer_token(values.iter()) {
        Ok(Some(token)) => {
            assert_eq!(values.len(), 1, "a token from several headers");
            let raw = values[0].as_bytes();
            assert!(is_b64token(token.as_bytes()), "not a b64token: {token:?}");
            assert!(raw.len() > 7 && raw[..6].eq_ignore_ascii_case(b"bearer"));
            assert!(raw[6] == b' ', "scheme not followed by a space");
            assert_eq!(raw[7..].trim_ascii(), token.as_bytes());
        }
        Ok(None) => assert!(values.len() <= 1),
        Err(BearerError::Multiple) => assert!(values.len() > 1),
        Err(BearerError::Malformed) => assert_eq!(values.len(), 1),
    }
});
