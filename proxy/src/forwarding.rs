//! Forwarding headers and hop-by-hop clean-up (RFC 9110 §7.6.1).
//!
//! authgate is the edge unless the TCP peer is one of `server.trusted_proxies`:
//! - from an untrusted peer, every client forwarding header is replaced by
//!   authgate's own (`X-Forwarded-For: <peer>`, `X-Forwarded-Proto` and
//!   `Forwarded: for=<peer>;proto=…` with the listener's scheme, `https` behind
//!   TLS, and a fresh `X-Request-Id`);
//! - from a trusted peer (an ingress), the peer is appended to `X-Forwarded-For`
//!   and `Forwarded`, and `X-Forwarded-Proto`, `X-Forwarded-Host`,
//!   `X-Forwarded-Port`, `X-Real-IP` and a sane `X-Request-Id` are kept.
//!
//! Routing and method override headers (`X-Original-URL`, `X-HTTP-Method-Override`
//! …) are always removed: an upstream honouring them would act on another path or
//! method than the one authgate decided on.

use http::header::{HeaderName, HeaderValue, CONNECTION, UPGRADE};
use ipnet::IpNet;
use pingora::http::RequestHeader;
use std::net::IpAddr;

use crate::header_names::{in_list, remove_where};

/// Forwarding headers authgate writes itself: appended to when the peer is a
/// trusted proxy, replaced otherwise.
const REWRITTEN: &[&str] = &["x-forwarded-for", "forwarded", "x-request-id"];

/// Forwarding headers a trusted proxy's value is kept of (`X-Forwarded-Proto` only
/// when it says `http` or `https`), and that are removed, in every spelling, when
/// anyone else sends them: the ones authgate sets, and the ones it does not set but
/// frameworks, servers and CDNs read for the scheme or the client's address (Rack
/// reads `X-Forwarded-Ssl: on` before `X-Forwarded-Proto`; apps behind a CDN read
/// `True-Client-IP`).
const KEPT_FROM_TRUSTED: &[&str] = &[
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-real-ip",
    "x-forwarded-ssl",
    "x-forwarded-scheme",
    "x-forwarded-protocol",
    "x-scheme",
    "front-end-https",
    "x-url-scheme",
    "x-forwarded-server",
    "x-forwarded-by",
    "x-host",
    "x-original-host",
    "client-ip",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-cluster-client-ip",
    "x-original-forwarded-for",
    "x-forwarded",
    "forwarded-for",
    "x-proxyuser-ip",
    "x-azure-clientip",
    "x-azure-socketip",
];

/// Whether `name` is a forwarding header, in any spelling.
fn is_forwarding(name: &str) -> bool {
    in_list(REWRITTEN, name) || in_list(KEPT_FROM_TRUSTED, name)
}

/// Headers that make some frameworks and servers route or dispatch on something
/// else than the request line. Always removed, in every spelling.
pub(crate) const ROUTING_OVERRIDES: &[&str] = &[
    "x-original-url",
    "x-original-uri",
    "x-rewrite-url",
    "x-forwarded-prefix",
    "x-forwarded-uri",
    "x-forwarded-path",
    "x-envoy-original-path",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-forwarded-method",
];

/// Hop-by-hop headers never forwarded (besides those named in `Connection`).
const HOP_BY_HOP: &[&str] = &[
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "proxy-authorization",
    "http2-settings",
];

/// Whether the client sent exactly `TE: trailers`.
pub(crate) fn asks_for_trailers(req: &RequestHeader) -> bool {
    let mut values = req.headers.get_all(http::header::TE).iter();
    matches!((values.next(), values.next()), (Some(v), None) if v.as_bytes().eq_ignore_ascii_case(b"trailers"))
}

/// Whether `Connection` asks this hop for the `Upgrade` handshake.
pub(crate) fn upgrade_requested(req: &RequestHeader) -> bool {
    connection_tokens(req).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

/// The tokens `Connection` lists, trimmed, in every `Connection` header.
fn connection_tokens(req: &RequestHeader) -> impl Iterator<Item = &str> {
    req.headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Removes the `Connection` header and every header it names, keeping only an
/// `Upgrade` handshake that `Connection` asks for. Done first, so a client cannot
/// make a hop-by-hop header of a header authgate adds afterwards
/// (`Connection: X-Auth-User-Id`).
pub(crate) fn strip_hop_by_hop(req: &mut RequestHeader) {
    let upgrade = upgrade_requested(req);
    let named: Vec<HeaderName> = connection_tokens(req)
        .filter(|t| !t.eq_ignore_ascii_case("upgrade"))
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
    if req.headers.contains_key(UPGRADE) {
        if upgrade {
            let _ = req.insert_header(CONNECTION, "upgrade");
        } else {
            // `Upgrade` is hop-by-hop too: without `Connection: upgrade` it is not a
            // handshake the client asked of this hop.
            req.remove_header(&UPGRADE);
        }
    }
}

/// Removes routing and method override headers in every spelling.
pub(crate) fn strip_routing_overrides(req: &mut RequestHeader) {
    if req
        .headers
        .keys()
        .any(|n| in_list(ROUTING_OVERRIDES, n.as_str()))
    {
        remove_where(req, |n| in_list(ROUTING_OVERRIDES, n));
    }
}

/// The scheme a client used to reach the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// The scheme the client used: the listener's, unless a trusted proxy in front says
/// otherwise with exactly one `X-Forwarded-Proto` of `http` or `https`.
pub(crate) fn client_scheme(req: &RequestHeader, peer_trusted: bool, listener: Scheme) -> Scheme {
    if !peer_trusted {
        return listener;
    }
    let mut values = req.headers.get_all("x-forwarded-proto").iter();
    match (values.next().map(|v| v.as_bytes()), values.next()) {
        (Some(b"https"), None) => Scheme::Https,
        (Some(b"http"), None) => Scheme::Http,
        _ => listener,
    }
}

/// Which peers are trusted proxies.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// Trusts the peers in `nets` (none: authgate is the edge).
    pub(crate) fn new(nets: Vec<IpNet>) -> Self {
        Self { nets }
    }

    /// Whether `peer` is a trusted proxy.
    pub(crate) fn contains(&self, peer: Option<IpAddr>) -> bool {
        let Some(ip) = peer else { return false };
        // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.nets.iter().any(|n| n.contains(&ip))
    }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the
/// nearest address in `X-Forwarded-For` (read from the right) that is not itself a
/// trusted proxy; the leftmost one when all are. An entry that is not an address
/// stops the walk at the last trusted hop (a client cannot choose its own address).
pub(crate) fn client_ip(
    headers: &http::HeaderMap,
    peer: Option<IpAddr>,
    peer_trusted: bool,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    if !peer_trusted {
        return peer;
    }
    let mut nearest = peer;
    let chain = headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .flat_map(|v| v.to_str().unwrap_or("").rsplit(','));
    for hop in chain.map(str::trim).filter(|h| !h.is_empty()) {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            return nearest;
        };
        nearest = Some(ip);
        if !trusted.contains(Some(ip)) {
            break;
        }
    }
    nearest
}

/// A client `X-Request-Id` worth keeping: 1 to 128 of `[A-Za-z0-9._-]`.
pub(crate) fn sane_request_id(value: &[u8]) -> bool {
    (1..=128).contains(&value.len())
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The request id a trusted proxy sent, if there is exactly one and it is sane.
pub(crate) fn trusted_request_id(req: &RequestHeader) -> Option<String> {
    let mut values = req.headers.get_all("x-request-id").iter();
    match (values.next(), values.next()) {
        (Some(v), None) if sane_request_id(v.as_bytes()) => v.to_str().ok().map(str::to_owned),
        _ => None,
    }
}

/// The peer as a `Forwarded` node (RFC 7239 §6: IPv6 quoted and bracketed).
fn forwarded_node(ip: &str) -> String {
    if ip.contains(':') {
        format!("\"[{ip}]\"")
    } else {
        ip.to_string()
    }
}

/// Every value of `name` joined with `, ` (a list header sent several times).
fn joined(req: &RequestHeader, name: &str) -> Option<String> {
    let values: Vec<&str> = req
        .headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// The hop a request came in on, as the forwarding headers tell it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Forwarding<'a> {
    /// The TCP peer's IP address.
    pub peer: Option<&'a str>,
    /// Whether the peer is a trusted proxy.
    pub trusted: bool,
    /// The listener's scheme, said when no trusted proxy says another.
    pub scheme: Scheme,
    /// The id already chosen for the request.
    pub request_id: &'a str,
}

/// Sets the forwarding headers for the upstream.
pub(crate) fn set_forwarding_headers(
    req: &mut RequestHeader,
    hop: &Forwarding<'_>,
) -> pingora::Result<()> {
    let Forwarding {
        peer,
        trusted,
        scheme,
        request_id,
    } = *hop;
    let (xff, forwarded) = if trusted {
        (joined(req, "x-forwarded-for"), joined(req, "forwarded"))
    } else {
        (None, None)
    };
    let proto_ok = trusted
        && req
            .headers
            .get_all("x-forwarded-proto")
            .iter()
            .all(|v| v == "http" || v == "https");
    // Kept only in their own spelling (header names arrive lower-cased): an
    // underscore variant is never what an ingress sends.
    let kept = |n: &str| {
        trusted && KEPT_FROM_TRUSTED.contains(&n) && (n != "x-forwarded-proto" || proto_ok)
    };
    remove_where(req, |n| is_forwarding(n) && !kept(n));
    if let Some(ip) = peer {
        let xff = match xff {
            Some(chain) => format!("{chain}, {ip}"),
            None => ip.to_string(),
        };
        req.insert_header("X-Forwarded-For", header_value(xff)?)?;
        let node = forwarded_node(ip);
        let forwarded = match forwarded {
            Some(chain) => format!("{chain}, for={node}"),
            None => format!("for={node};proto={}", scheme.as_str()),
        };
        req.insert_header("Forwarded", header_value(forwarded)?)?;
    }
    if !proto_ok {
        req.insert_header("X-Forwarded-Proto", scheme.as_str())?;
    }
    req.insert_header("X-Request-Id", request_id)?;
    Ok(())
}

fn header_value(s: String) -> pingora::Result<HeaderValue> {
    HeaderValue::from_str(&s).map_err(|_| {
        pingora::Error::explain(pingora::ErrorType::InternalError, "bad forwarding header")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> RequestHeader {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        for (name, value) in headers {
            req.append_header(name.to_string(), *value).unwrap();
        }
        req
    }

    fn hop<'a>(peer: Option<&'a str>, trusted: bool, request_id: &'a str) -> Forwarding<'a> {
        Forwarding {
            peer,
            trusted,
            scheme: Scheme::Http,
            request_id,
        }
    }

    fn all<'a>(req: &'a RequestHeader, name: &str) -> Vec<&'a str> {
        req.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn foreign_forwarding_headers_pass_only_from_trusted_proxies() {
        let foreign = [
            ("X-Forwarded-Ssl", "on"),
            ("X_Forwarded_Scheme", "https"),
            ("Front-End-Https", "on"),
            ("X-Url-Scheme", "https"),
            ("X-Forwarded-Server", "evil"),
            ("X-Host", "evil"),
            ("Client-IP", "1.2.3.4"),
            ("X-Client-IP", "1.2.3.4"),
            ("True-Client-IP", "1.2.3.4"),
            ("CF-Connecting-IP", "1.2.3.4"),
            ("X-Cluster-Client-IP", "1.2.3.4"),
            ("X-Original-Forwarded-For", "1.2.3.4"),
        ];
        let mut req = request(&foreign);
        set_forwarding_headers(&mut req, &hop(Some("10.0.0.9"), false, "id")).unwrap();
        for (name, _) in foreign {
            assert!(req.headers.get(name).is_none(), "{name} passed");
            assert!(
                req.headers.get(name.replace('_', "-")).is_none(),
                "{name} passed"
            );
        }
        let mut req = request(&[("True-Client-IP", "1.2.3.4"), ("X-Forwarded-Ssl", "on")]);
        set_forwarding_headers(&mut req, &hop(Some("10.0.0.9"), true, "id")).unwrap();
        assert_eq!(all(&req, "true-client-ip"), ["1.2.3.4"]);
        assert_eq!(all(&req, "x-forwarded-ssl"), ["on"]);
    }

    #[test]
    fn connection_named_headers_are_removed() {
        let mut req = request(&[
            ("Connection", "keep-alive, X-Auth-User-Id, X-Secret"),
            ("X-Secret", "1"),
            ("Keep-Alive", "timeout=5"),
            ("X-Kept", "1"),
        ]);
        strip_hop_by_hop(&mut req);
        assert!(req.headers.get("connection").is_none());
        assert!(req.headers.get("x-secret").is_none());
        assert!(req.headers.get("keep-alive").is_none());
        assert!(req.headers.get("x-kept").is_some());
    }

    #[test]
    fn upgrade_survives_only_when_connection_asks_for_it() {
        let mut req = request(&[("Connection", "Upgrade"), ("Upgrade", "websocket")]);
        strip_hop_by_hop(&mut req);
        assert_eq!(req.headers.get("connection").unwrap(), "upgrade");
        assert_eq!(req.headers.get("upgrade").unwrap(), "websocket");
        let mut req = request(&[("Upgrade", "websocket")]);
        strip_hop_by_hop(&mut req);
        assert!(req.headers.get("upgrade").is_none());
        assert!(req.headers.get("connection").is_none());
        let mut req = request(&[("Connection", "keep-alive"), ("Upgrade", "h2c")]);
        strip_hop_by_hop(&mut req);
        assert!(req.headers.get("upgrade").is_none());
    }

    #[test]
    fn routing_overrides_are_removed_in_every_spelling() {
        let mut req = request(&[
            ("X-Original-URL", "/admin"),
            ("x_rewrite_url", "/admin"),
            ("X-HTTP-Method-Override", "DELETE"),
            ("X-Http-Method", "DELETE"),
            ("X-METHOD-OVERRIDE", "DELETE"),
            ("X-Forwarded-Prefix", "/admin"),
            ("X-Kept", "1"),
        ]);
        strip_routing_overrides(&mut req);
        assert_eq!(req.headers.len(), 1, "{:?}", req.headers);
        assert!(req.headers.get("x-kept").is_some());
    }

    #[test]
    fn untrusted_peers_get_authgates_headers_only() {
        let mut req = request(&[
            ("X-Forwarded-For", "6.6.6.6"),
            ("X_Forwarded_For", "6.6.6.6"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Real-IP", "6.6.6.6"),
            ("X-Request-Id", "spoof"),
            ("Forwarded", "for=6.6.6.6"),
        ]);
        set_forwarding_headers(&mut req, &hop(Some("127.0.0.1"), false, "rid")).unwrap();
        assert_eq!(all(&req, "x-forwarded-for"), ["127.0.0.1"]);
        assert!(req.headers.get("x_forwarded_for").is_none());
        assert_eq!(all(&req, "forwarded"), ["for=127.0.0.1;proto=http"]);
        assert_eq!(all(&req, "x-request-id"), ["rid"]);
        assert_eq!(all(&req, "x-forwarded-proto"), ["http"]);
        assert!(req.headers.get("x-forwarded-host").is_none());
        assert!(req.headers.get("x-real-ip").is_none());
    }

    #[test]
    fn trusted_proxies_are_appended_to_and_their_headers_kept() {
        let mut req = request(&[
            ("X-Forwarded-For", "203.0.113.9"),
            ("X-Forwarded-For", "198.51.100.2"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "app.example"),
            ("Forwarded", "for=203.0.113.9;proto=https"),
            ("X-Request-Id", "ingress-1"),
        ]);
        set_forwarding_headers(&mut req, &hop(Some("10.0.0.5"), true, "ingress-1")).unwrap();
        assert_eq!(
            all(&req, "x-forwarded-for"),
            ["203.0.113.9, 198.51.100.2, 10.0.0.5"]
        );
        assert_eq!(
            all(&req, "forwarded"),
            ["for=203.0.113.9;proto=https, for=10.0.0.5"]
        );
        assert_eq!(all(&req, "x-forwarded-proto"), ["https"]);
        assert_eq!(all(&req, "x-forwarded-host"), ["app.example"]);
        assert_eq!(all(&req, "x-request-id"), ["ingress-1"]);
        // A scheme that is neither http nor https is not passed on.
        let mut req = request(&[("X-Forwarded-Proto", "javascript")]);
        set_forwarding_headers(&mut req, &hop(Some("::1"), true, "r")).unwrap();
        assert_eq!(all(&req, "x-forwarded-proto"), ["http"]);
        assert_eq!(all(&req, "forwarded"), ["for=\"[::1]\";proto=http"]);
    }

    #[test]
    fn request_ids_are_kept_only_when_sane() {
        assert!(sane_request_id(b"abc-123_X.y"));
        assert!(sane_request_id(&[b'a'; 128]));
        for bad in [
            &b""[..],
            &[b'a'; 129],
            b"a b",
            b"a\"b",
            b"a\xc3\xa9",
            b"a/b",
        ] {
            assert!(!sane_request_id(bad), "{bad:?}");
        }
        let two = request(&[("X-Request-Id", "a"), ("X-Request-Id", "b")]);
        assert_eq!(trusted_request_id(&two), None);
        let one = request(&[("x_request_id", "ignored"), ("X-Request-Id", "ok-1")]);
        assert_eq!(trusted_request_id(&one).as_deref(), Some("ok-1"));
    }

    #[test]
    fn the_client_address_is_the_nearest_untrusted_hop() {
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let peer: Option<IpAddr> = Some("10.0.0.1".parse().unwrap());
        let ip = |xff: &[&str], peer_trusted| {
            let mut h = http::HeaderMap::new();
            for v in xff {
                h.append("x-forwarded-for", v.parse().unwrap());
            }
            client_ip(&h, peer, peer_trusted, &trusted).map(|ip| ip.to_string())
        };
        assert_eq!(
            ip(&["1.2.3.4"], false).as_deref(),
            Some("10.0.0.1"),
            "an untrusted peer is the client"
        );
        assert_eq!(ip(&[], true).as_deref(), Some("10.0.0.1"));
        assert_eq!(
            ip(&["6.6.6.6, 1.2.3.4, 10.0.0.7"], true).as_deref(),
            Some("1.2.3.4")
        );
        assert_eq!(
            ip(&["6.6.6.6", "1.2.3.4"], true).as_deref(),
            Some("1.2.3.4"),
            "two fields, one list"
        );
        assert_eq!(
            ip(&["10.0.0.9, 10.0.0.8"], true).as_deref(),
            Some("10.0.0.9"),
            "all trusted: the leftmost"
        );
        assert_eq!(
            ip(&["1.2.3.4, junk"], true).as_deref(),
            Some("10.0.0.1"),
            "junk: the last trusted hop"
        );
        assert_eq!(ip(&["[::1]"], true).as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn trusted_networks_match_mapped_addresses() {
        let t = TrustedProxies::new(vec![
            "10.0.0.0/8".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ]);
        assert!(t.contains(Some("10.1.2.3".parse().unwrap())));
        assert!(t.contains(Some("::ffff:10.1.2.3".parse().unwrap())));
        assert!(t.contains(Some("::1".parse().unwrap())));
        assert!(!t.contains(Some("11.0.0.1".parse().unwrap())));
        assert!(!t.contains(None));
        assert!(!TrustedProxies::default().contains(Some("10.0.0.1".parse().unwrap())));
    }
}
