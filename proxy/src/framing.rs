//! Request framing checks (request smuggling defence): a request whose body length
//! two parsers could read differently is refused before anything else looks at it.

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use pingora::http::RequestHeader;

/// Why the request's framing is ambiguous, if it is. `raw_head` is the request head
/// as received, when the connection is HTTP/1.
pub(crate) fn ambiguous_framing(
    req: &RequestHeader,
    raw_head: Option<&[u8]>,
) -> Option<&'static str> {
    if has_content_length_and_transfer_encoding(req, raw_head) {
        Some("both Content-Length and Transfer-Encoding")
    } else if has_ambiguous_content_length(req) {
        Some("more than one Content-Length, or not a number")
    } else {
        None
    }
}

/// True when the request has both `Content-Length` and `Transfer-Encoding`. Pingora
/// drops `Content-Length` in that case before our filters run, so the raw bytes are
/// the only place left to see it.
fn has_content_length_and_transfer_encoding(req: &RequestHeader, raw_head: Option<&[u8]>) -> bool {
    if !req.headers.contains_key(TRANSFER_ENCODING) {
        return false;
    }
    if req.headers.contains_key(CONTENT_LENGTH) {
        return true;
    }
    raw_head.is_some_and(|raw| {
        raw.split(|&b| b == b'\n')
            .any(|line| line.len() > 15 && line[..15].eq_ignore_ascii_case(b"content-length:"))
    })
}

/// True when `Content-Length` is repeated or is not a plain number (`4, 4`, `+4`).
/// Pingora accepts identical repeats and forwards them as they came, and upstreams
/// disagree on what they mean: refuse rather than let the two sides frame differently.
fn has_ambiguous_content_length(req: &RequestHeader) -> bool {
    let mut values = req.headers.get_all(CONTENT_LENGTH).iter();
    match (values.next(), values.next()) {
        (None, _) => false,
        (Some(v), None) => v.is_empty() || !v.as_bytes().iter().all(u8::is_ascii_digit),
        (Some(_), Some(_)) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> RequestHeader {
        let mut req = RequestHeader::build("POST", b"/", None).unwrap();
        for (name, value) in headers {
            req.append_header(name.to_string(), *value).unwrap();
        }
        req
    }

    #[test]
    fn plain_framing_passes() {
        assert_eq!(ambiguous_framing(&request(&[]), None), None);
        let cl = request(&[("Content-Length", "4")]);
        assert_eq!(ambiguous_framing(&cl, None), None);
        let te = request(&[("Transfer-Encoding", "chunked")]);
        assert_eq!(ambiguous_framing(&te, Some(b"POST / HTTP/1.1\r\n")), None);
    }

    #[test]
    fn both_lengths_are_ambiguous_even_when_pingora_dropped_one() {
        let te = request(&[("Transfer-Encoding", "chunked")]);
        let raw = b"POST / HTTP/1.1\r\nContent-length: 4\r\nTransfer-Encoding: chunked\r\n";
        assert!(ambiguous_framing(&te, Some(raw)).is_some());
        let both = request(&[("Transfer-Encoding", "chunked"), ("Content-Length", "4")]);
        assert!(ambiguous_framing(&both, None).is_some());
    }

    #[test]
    fn repeated_or_odd_content_length_is_ambiguous() {
        for value in ["4, 4", "+4", "", "0x4", " 4"] {
            let req = request(&[("Content-Length", value)]);
            assert!(ambiguous_framing(&req, None).is_some(), "{value:?}");
        }
        let twice = request(&[("Content-Length", "4"), ("Content-Length", "4")]);
        assert!(ambiguous_framing(&twice, None).is_some());
    }
}
