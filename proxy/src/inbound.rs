//! What authgate refuses or corrects in the client's request head before any rule
//! is looked at: ambiguous framing (request smuggling), methods it never forwards,
//! an HTTP/1.0 request without `Host`, an `Upgrade` nobody asked this hop for, and
//! the raw request-target (the parsed URI has already dropped a `#fragment`).

use http::header::{CONNECTION, HOST, UPGRADE};
use http::{Method, Version};
use pingora::http::RequestHeader;

use crate::framing::ambiguous_framing;
use crate::reject::Rejection;

/// Why the request is refused before routing, if it is. `raw_head` is the head as
/// received, when the connection is HTTP/1.
pub fn refusal(req: &RequestHeader, raw_head: Option<&[u8]>) -> Option<Rejection> {
    if let Some(why) = ambiguous_framing(req, raw_head) {
        return Some(Rejection::bad_framing(why));
    }
    if req.method == Method::TRACE || req.method == Method::CONNECT {
        return Some(Rejection::method_refused());
    }
    // HTTP/1.1 requires Host (Pingora refuses it there); HTTP/1.0 does not, but the
    // upstream gets HTTP/1.1, which would then lack it.
    if req.version == Version::HTTP_10 && !req.headers.contains_key(HOST) {
        return Some(Rejection::missing_host());
    }
    None
}

/// `Upgrade` is hop-by-hop: without `Connection: upgrade` the client did not ask
/// this hop to switch protocols, and Pingora must not treat the request as an
/// upgrade (it would tunnel whatever follows).
pub fn drop_unrequested_upgrade(req: &mut RequestHeader) {
    if !req.headers.contains_key(UPGRADE) {
        return;
    }
    let requested = req
        .headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if !requested {
        req.remove_header(&UPGRADE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, version: Version, headers: &[(&str, &str)]) -> RequestHeader {
        let mut req = RequestHeader::build(method, b"/", None).unwrap();
        req.set_version(version);
        for (n, v) in headers {
            req.append_header(n.to_string(), *v).unwrap();
        }
        req
    }

    #[test]
    fn trace_connect_and_hostless_http10_are_refused() {
        let trace = request("TRACE", Version::HTTP_11, &[("Host", "x")]);
        assert_eq!(refusal(&trace, None).unwrap().status, 405);
        let connect = request("CONNECT", Version::HTTP_11, &[("Host", "x")]);
        assert_eq!(refusal(&connect, None).unwrap().status, 405);
        let old = request("GET", Version::HTTP_10, &[]);
        assert_eq!(refusal(&old, None).unwrap().reason, "missing_host");
        let old_with_host = request("GET", Version::HTTP_10, &[("Host", "x")]);
        assert!(refusal(&old_with_host, None).is_none());
        let framing = request("POST", Version::HTTP_11, &[("Content-Length", "1, 1")]);
        assert_eq!(refusal(&framing, None).unwrap().reason, "bad_framing");
    }

    #[test]
    fn upgrade_stays_only_when_connection_asks_for_it() {
        let mut req = request("GET", Version::HTTP_11, &[("Upgrade", "websocket")]);
        drop_unrequested_upgrade(&mut req);
        assert!(req.headers.get("upgrade").is_none());
        let mut req = request(
            "GET",
            Version::HTTP_11,
            &[
                ("Upgrade", "websocket"),
                ("Connection", "keep-alive, Upgrade"),
            ],
        );
        drop_unrequested_upgrade(&mut req);
        assert!(req.headers.get("upgrade").is_some());
    }
}
