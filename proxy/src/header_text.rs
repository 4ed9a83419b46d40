//! What text may go into a header value unchanged: the one rule for claims sent
//! upstream and for configured names that end up in quoted header parameters.

/// True when `s` can be sent as a header value without being altered or split: no
/// control characters (CR, LF, NUL, TAB, DEL, C1 …).
pub(crate) fn is_header_safe(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// True when `s` can stand inside a quoted header parameter (`realm="…"`):
/// non-empty, header-safe, and without `"` or `\`.
pub(crate) fn is_quotable(s: &str) -> bool {
    !s.is_empty() && is_header_safe(s) && !s.contains(['"', '\\'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_split_headers_and_quotes_end_parameters() {
        assert!(is_header_safe("alice@example.com"));
        for bad in ["a\r\nb", "a\0", "a\u{7f}", "a\u{85}", "a\tb"] {
            assert!(!is_header_safe(bad), "{bad:?}");
            assert!(!is_quotable(bad), "{bad:?}");
        }
        assert!(is_quotable("authgate"));
        for bad in ["", "a\"b", "a\\b"] {
            assert!(!is_quotable(bad), "{bad:?}");
        }
    }
}
