//! Cookie parsing and stripping. Properties: never panics; what goes upstream is a
//! valid header value that holds no Better Auth cookie (by `is_session_cookie`, also
//! behind a comma) and keeps every other pair byte for byte, in order; `session_data`
//! is only ever read from a pair of exactly that name.
#![no_main]

use authgate::fuzzing::{find_session_data, is_session_cookie, without_session_cookies};
use http::HeaderValue;
use libfuzzer_sys::fuzz_target;

const PREFIX: &str = "better-auth";

fn trim_ows(mut p: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = p {
        p = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = p {
        p = rest;
    }
    p
}

/// Reference split: `;`-separated, trimmed, non-empty.
fn pairs<'a>(values: &'a [&'a [u8]]) -> Vec<&'a [u8]> {
    values
        .iter()
        .flat_map(|v| v.split(|&b| b == b';'))
        .map(trim_ows)
        .filter(|p| !p.is_empty())
        .collect()
}

/// Reference: a pair is a session cookie when any comma part's name (up to `=`) is.
fn is_session_pair(pair: &[u8]) -> bool {
    pair.split(|&b| b == b',').any(|part| {
        let name = part.split(|&b| b == b'=').next().unwrap_or(part);
        is_session_cookie(name, PREFIX)
    })
}

fn exact_names(values: &[&[u8]]) -> Vec<Vec<u8>> {
    pairs(values)
        .into_iter()
        .filter_map(|p| {
            p.iter()
                .position(|&b| b == b'=')
                .map(|i| trim_ows(&p[..i]).to_vec())
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    // Each line is one `Cookie` header (any byte a client can send: no CR, LF, NUL).
    let headers: Vec<HeaderValue> = data
        .split(|&b| b == b'\n')
        .filter_map(|l| HeaderValue::from_bytes(l).ok())
        .collect();
    let values: Vec<&[u8]> = headers.iter().map(HeaderValue::as_bytes).collect();
    let expected: Vec<&[u8]> = pairs(&values)
        .into_iter()
        .filter(|p| !is_session_pair(p))
        .collect();
    let had_session = pairs(&values).iter().any(|p| is_session_pair(p));

    match without_session_cookies(headers.iter(), PREFIX) {
        None => assert!(!had_session, "a session cookie was left in place"),
        Some(out) => {
            assert!(had_session, "rewritten although nothing was stripped");
            let out_value =
                HeaderValue::from_bytes(&out).expect("stripped header is a valid value");
            let out_values = [out_value.as_bytes()];
            let kept = pairs(&out_values);
            assert_eq!(kept, expected, "other pairs not kept byte for byte");
            assert!(
                !kept.iter().any(|p| is_session_pair(p)),
                "session cookie survived"
            );
            assert_eq!(find_session_data(out_values, PREFIX), None);
        }
    }

    if find_session_data(headers.iter(), PREFIX).is_some() {
        let names = exact_names(&values);
        let wanted = |n: &[u8]| {
            [
                format!("{PREFIX}.session_data"),
                format!("__Secure-{PREFIX}.session_data"),
            ]
            .iter()
            .any(|w| n == w.as_bytes() || n == format!("{w}.0").as_bytes())
        };
        assert!(
            names.iter().any(|n| wanted(n)),
            "session_data from no such pair"
        );
    }
});
