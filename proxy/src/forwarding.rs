//! Forwarding headers authgate sets itself (client values are replaced, never
//! appended to: authgate is the edge) and hop-by-hop clean-up (RFC 9110 §7.6.1).

use http::header::{HeaderName, CONNECTION, UPGRADE};
use pingora::http::RequestHeader;

/// Client-sent forwarding headers that are dropped in every spelling; authgate sets
/// `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Request-Id` itself.
const FORWARDING: &[&str] = &[
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-real-ip",
    "x-request-id",
    "forwarded",
];

/// Hop-by-hop headers never forwarded (besides those named in `Connection`).
const HOP_BY_HOP: &[&str] = &[
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "proxy-authorization",
];

fn is_forwarding_header(name: &str) -> bool {
    FORWARDING.iter().any(|f| {
        f.len() == name.len()
            && f.bytes()
                .zip(name.bytes())
                .all(|(a, b)| a == if b == b'_' { b'-' } else { b })
    })
}

/// Removes the `Connection` header and every header it names, keeping only an
/// `Upgrade` handshake. Done first, so a client cannot make a hop-by-hop header of a
/// header authgate adds afterwards (`Connection: X-Auth-User-Id`).
pub fn strip_hop_by_hop(req: &mut RequestHeader) {
    let mut upgrade = false;
    let named: Vec<HeaderName> = req
        .headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| {
            let is_upgrade = t.eq_ignore_ascii_case("upgrade");
            upgrade |= is_upgrade;
            !is_upgrade && !t.is_empty()
        })
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    for name in &named {
        req.remove_header(name);
    }
    // Looking first is cheaper than Pingora's remove, which also updates its case map.
    for name in HOP_BY_HOP {
        if req.headers.contains_key(*name) {
            req.remove_header(*name);
        }
    }
    req.remove_header(&CONNECTION);
    if upgrade && req.headers.contains_key(UPGRADE) {
        let _ = req.insert_header(CONNECTION, "upgrade");
    }
}

/// Replaces client forwarding headers with authgate's own.
pub fn set_forwarding_headers(
    req: &mut RequestHeader,
    client_ip: Option<&str>,
    request_id: &str,
) -> pingora::Result<()> {
    let doomed: Vec<HeaderName> = req
        .headers
        .keys()
        .filter(|n| is_forwarding_header(n.as_str()))
        .cloned()
        .collect();
    for name in &doomed {
        req.remove_header(name);
    }
    if let Some(ip) = client_ip {
        req.insert_header("X-Forwarded-For", ip)?;
    }
    req.insert_header("X-Forwarded-Proto", "http")?;
    req.insert_header("X-Request-Id", request_id)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_named_headers_are_removed() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header("Connection", "keep-alive, X-Auth-User-Id, X-Secret")
            .unwrap();
        req.append_header("X-Secret", "1").unwrap();
        req.append_header("Keep-Alive", "timeout=5").unwrap();
        req.append_header("X-Kept", "1").unwrap();
        strip_hop_by_hop(&mut req);
        assert!(req.headers.get("connection").is_none());
        assert!(req.headers.get("x-secret").is_none());
        assert!(req.headers.get("keep-alive").is_none());
        assert!(req.headers.get("x-kept").is_some());
    }

    #[test]
    fn upgrade_survives() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header("Connection", "Upgrade").unwrap();
        req.append_header("Upgrade", "websocket").unwrap();
        strip_hop_by_hop(&mut req);
        assert_eq!(req.headers.get("connection").unwrap(), "upgrade");
    }

    #[test]
    fn forwarding_headers_are_replaced_in_every_spelling() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header("X-Forwarded-For", "6.6.6.6").unwrap();
        req.append_header("X_Forwarded_For", "6.6.6.6").unwrap();
        req.append_header("X-Request-Id", "spoof").unwrap();
        req.append_header("Forwarded", "for=6.6.6.6").unwrap();
        set_forwarding_headers(&mut req, Some("127.0.0.1"), "rid").unwrap();
        let xff: Vec<_> = req.headers.get_all("x-forwarded-for").iter().collect();
        assert_eq!(xff, ["127.0.0.1"]);
        assert!(req.headers.get("x_forwarded_for").is_none());
        assert!(req.headers.get("forwarded").is_none());
        assert_eq!(req.headers.get("x-request-id").unwrap(), "rid");
        assert_eq!(req.headers.get("x-forwarded-proto").unwrap(), "http");
    }
}
