//! What text may go into a header value unchanged: the one rule for claims sent
//! upstream and for configured names that end up in quoted header parameters.

use serde_json::Value;

/// True when `s` can be sent as a header value without being altered or split: no
/// control characters (CR, LF, NUL, TAB, DEL, C1 …).
pub(crate) fn is_header_safe(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// A claim that cannot go into a header unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsafeText;

/// How a claim is sent in a header: a string as it is, a boolean or number as JSON,
/// an array or object as compact JSON; `null` is not sent. Checked when the token
/// is verified (an unsafe claim refuses the token) and rendered when the header is
/// written.
pub fn claim_as_header(value: &Value) -> Result<Option<String>, UnsafeText> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s.clone(),
        // serde_json escapes the C0 controls inside strings but not DEL (0x7f), which
        // no header value may hold: the rendering is checked too.
        other => other.to_string(),
    };
    if is_header_safe(&text) {
        Ok(Some(text))
    } else {
        Err(UnsafeText)
    }
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
    fn claims_render_as_text_or_compact_json() {
        use serde_json::json;
        assert_eq!(claim_as_header(&json!("Al")), Ok(Some("Al".into())));
        assert_eq!(claim_as_header(&json!(3)), Ok(Some("3".into())));
        assert_eq!(claim_as_header(&json!(true)), Ok(Some("true".into())));
        assert_eq!(
            claim_as_header(&json!(["a", "b"])),
            Ok(Some(r#"["a","b"]"#.into()))
        );
        assert_eq!(claim_as_header(&json!(null)), Ok(None));
        assert_eq!(claim_as_header(&json!("x\ry")), Err(UnsafeText));
        assert_eq!(claim_as_header(&json!(["x\u{7f}"])), Err(UnsafeText));
        assert_eq!(
            claim_as_header(&json!(["x\ny"])),
            Ok(Some(r#"["x\ny"]"#.into()))
        );
    }

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
