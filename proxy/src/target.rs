//! The request-target: split into path and query, the path canonicalised once. The
//! canonical path is what rules match and what goes upstream.

use std::borrow::Cow;

use crate::path::{canonicalize, check_query, PathError};

/// An accepted origin-form target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The canonical path.
    pub path: String,
    /// The target to send upstream (canonical path plus the query as received) when
    /// canonicalisation changed the path; `None` forwards the target unchanged.
    pub rewritten: Option<String>,
}

/// Splits the raw request target into path and query.
fn split(raw: &[u8]) -> Result<(&str, Option<&str>), PathError> {
    let raw = std::str::from_utf8(raw).map_err(|_| PathError::NonAscii)?;
    Ok(match raw.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw, None),
    })
}

/// Canonicalises the raw target's path, keeping the query as received.
pub(crate) fn parse_target(raw: &[u8]) -> Result<Target, PathError> {
    let (path, query) = split(raw)?;
    if let Some(q) = query {
        check_query(q.as_bytes())?;
    }
    Ok(match canonicalize(path)? {
        Cow::Borrowed(p) => Target {
            path: p.to_owned(),
            rewritten: None,
        },
        Cow::Owned(p) => {
            let rewritten = match query {
                Some(q) => format!("{p}?{q}"),
                None => p.clone(),
            };
            Target {
                path: p,
                rewritten: Some(rewritten),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_targets_are_forwarded_unchanged() {
        let t = parse_target(b"/api/alice/tasks?status=done").unwrap();
        assert_eq!(t.path, "/api/alice/tasks");
        assert_eq!(t.rewritten, None);
    }

    #[test]
    fn a_changed_path_keeps_its_query() {
        let t = parse_target(b"/api/./alice//tasks/%7Ex?a=%2F&b").unwrap();
        assert_eq!(t.path, "/api/alice/tasks/~x");
        assert_eq!(t.rewritten.as_deref(), Some("/api/alice/tasks/~x?a=%2F&b"));
        let t = parse_target(b"/a/../b").unwrap();
        assert_eq!(t.rewritten.as_deref(), Some("/b"));
    }

    #[test]
    fn bad_targets_are_refused() {
        assert!(parse_target(b"/a%2Fb").is_err());
        assert!(parse_target(b"/\xff").is_err());
        assert!(parse_target(b"http://x/").is_err());
    }

    #[test]
    fn fragments_and_characters_a_path_cannot_hold_are_refused() {
        assert_eq!(parse_target(b"/api/bob#/alice"), Err(PathError::Fragment));
        assert_eq!(
            parse_target(b"/api/bob?x=1#/alice"),
            Err(PathError::Fragment)
        );
        for c in [" ", "\"", "<", ">", "[", "]", "^", "`", "{", "|", "}"] {
            let target = format!("/api/a{c}b");
            assert_eq!(
                parse_target(target.as_bytes()),
                Err(PathError::DisallowedCharacter),
                "{target}"
            );
        }
        assert_eq!(parse_target(b"/a?x=\x01"), Err(PathError::ControlCharacter));
        assert_eq!(parse_target(b"/a?x= y"), Err(PathError::ControlCharacter));
        // What RFC 3986 allows passes: sub-delims, ':' and '@' in the path; '/'
        // and '?' in the query; braces in the query as browsers send them.
        assert!(parse_target(b"/a/!$&'()*+,=:@~/b").is_ok());
        assert!(parse_target(b"/a?x=/y?z&f={1}|^").is_ok());
    }
}
