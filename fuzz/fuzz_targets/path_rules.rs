//! Path canonicalisation and rule matching. Properties, for every target accepted:
//! - the canonical path is a fixed point (`canonicalize(c) == c`);
//! - it never climbs above the root nor carries an empty or dot segment;
//! - matching the canonical path picks the same rule, with the same owner value, as
//!   matching what an upstream that percent-decodes each segment before routing
//!   (Go's ServeMux, Spring, ASP.NET…) reads from the forwarded target: nothing
//!   accepted can fall under a different rule once forwarded.
#![no_main]

use authgate::fuzzing::{canonicalize, decode_segment};
use authgate::fuzzing::{AuthMode, Identity, NoTrace, Pattern, Requirement, Route, RouteTable};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// config.toml's rules (with the owner rule over all of `/api/{user_id}`), plus rules
/// a deployment may well add: a public tree, an optional one, a literal beside an
/// owner parameter, and a literal with a sub-delimiter (`/users/@me/**`: literals are
/// matched decoded, as an upstream that decodes reads them; this target found that
/// they were not, issue 10).
fn table() -> &'static RouteTable {
    static TABLE: OnceLock<RouteTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let rule = |path: &str, methods: &[&str], auth: AuthMode, owner: Option<&str>| Route {
            pattern: Pattern::parse(path).expect("valid pattern"),
            methods: methods.iter().map(|m| m.to_string()).collect(),
            auth,
            requirements: owner
                .map(|param| Requirement::Owner {
                    param: param.to_string(),
                })
                .into_iter()
                .collect(),
            rate_limit: Vec::new(),
            upstream: 0,
        };
        RouteTable::new(vec![
            rule("/openapi.json", &["GET"], AuthMode::Public, None),
            rule("/public/**", &[], AuthMode::Public, None),
            rule("/health/*", &["GET"], AuthMode::Optional, None),
            rule("/users/me/**", &[], AuthMode::Required, None),
            rule("/users/@me/**", &[], AuthMode::Required, None),
            rule(
                "/users/{user_id}/**",
                &[],
                AuthMode::Required,
                Some("user_id"),
            ),
            rule(
                "/api/{user_id}/tasks/**",
                &[],
                AuthMode::Required,
                Some("user_id"),
            ),
            rule(
                "/api/{user_id}/**",
                &[],
                AuthMode::Required,
                Some("user_id"),
            ),
            rule("/api/{user_id}", &[], AuthMode::Required, Some("user_id")),
        ])
    })
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// RFC 3986 `pchar` plus `/` (and `%`, checked by canonicalisation): what an
/// origin-form path may hold. Other bytes (`#`, `"`, `<`, `{`…) are the request-target
/// check's to refuse (issue 10, defect 8), not this function's.
fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b)
}

/// The path as such an upstream reads it: each segment fully percent-decoded.
fn upstream_view(canonical: &str) -> Option<String> {
    let mut out = String::with_capacity(canonical.len());
    for segment in canonical.split('/').skip(1) {
        let decoded = decode_segment(segment)?;
        assert!(
            !decoded.contains('/'),
            "a segment decodes to a slash: {canonical:?}"
        );
        out.push('/');
        out.push_str(&decoded);
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let method = METHODS[usize::from(m) % METHODS.len()];
    let Ok(target) = std::str::from_utf8(rest) else {
        return;
    };
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let Ok(canonical) = canonicalize(path) else {
        return;
    };
    let c: &str = &canonical;
    assert_eq!(
        canonicalize(c).as_deref(),
        Ok(c),
        "not a fixed point: {path:?} -> {c:?}"
    );
    assert!(c.starts_with('/'));
    let inner = c.strip_suffix('/').unwrap_or(c);
    for segment in inner.split('/').skip(1) {
        assert!(!matches!(segment, "" | "." | ".."), "{path:?} -> {c:?}");
    }
    if !c.bytes().all(is_path_char) {
        return;
    }
    let Some(seen) = upstream_view(c) else {
        return; // not UTF-8 once decoded: no literal rule can match either way
    };
    let ours = table().lookup(method, c);
    // The table decodes each segment once before comparing literals; the upstream's
    // view is already decoded, so its `%` is escaped again to be read as itself.
    let escaped = seen.replace('%', "%25");
    let theirs = table().lookup(method, &escaped);
    assert_eq!(
        ours.pattern_text(),
        theirs.pattern_text(),
        "{method} {path:?}: authgate matches {c:?}, the upstream reads {seen:?}"
    );
    if let Some(owner) = theirs.owner_value.and_then(decode_segment) {
        assert!(
            ours.first_unmet(&Identity {
                subject: owner.to_string(),
                email: None,
                claims: Vec::new(),
                expires_at: u64::MAX,
                not_before: None,
                issued_at: None,
                token_id: None,
            }, &mut NoTrace)
            .is_none(),
            "{method} {path:?}: owner {owner:?} differs from authgate's view of {c:?}"
        );
    }
});
