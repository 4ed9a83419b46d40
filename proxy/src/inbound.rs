//! What authgate makes of a client's request head before any rule is looked at, in
//! one function and one order ([`examine`]):
//!
//! 1. a trusted proxy's `X-Request-Id` is taken (so a refusal carries it too);
//! 2. ambiguous framing (request smuggling), methods never forwarded (TRACE,
//!    CONNECT) and an HTTP/1.0 request without `Host` are refused; on HTTP/2,
//!    `:authority` becomes `Host` (a `Host` naming another is refused);
//! 3. an `Upgrade` that `Connection` does not ask for is dropped;
//! 4. the raw request-target is read from the head as sent (the parsed URI has
//!    already dropped a `#fragment`); a head without a readable one is refused.
//!    HTTP/2 has no raw head: the h2 library has parsed `:path` (dropping a
//!    fragment there), and that one path is what is both judged and forwarded;
//! 5. the path is canonicalised, or refused;
//! 6. the proxy port's own health paths are recognised (GET and HEAD only).
//!
//! What is left goes to the gate with its [`Target`].

use http::header::{HOST, UPGRADE};
use http::{Method, Version};
use pingora::http::RequestHeader;

use crate::forwarding::{trusted_request_id, upgrade_requested};
use crate::framing::ambiguous_framing;
use crate::health::Probe;
use crate::http1_head;
use crate::path::PathError;
use crate::reject::Rejection;
use crate::target::{parse_target, Target};

/// The proxy port's own health paths (`server.health_path`, `server.ready_path`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HealthPaths<'a> {
    /// Answered "alive".
    pub(crate) live: Option<&'a str>,
    /// Answered with readiness.
    pub(crate) ready: Option<&'a str>,
}

/// Where a request goes after the inbound checks.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// A probe of the proxy port's health paths, answered by authgate.
    Health(Probe),
    /// A request for the gate, with its canonical target.
    Route(Target),
}

/// What [`examine`] found.
#[derive(Debug)]
pub(crate) struct Examined {
    /// The request id a trusted proxy sent, when it is one to keep.
    pub(crate) request_id: Option<String>,
    /// The request's way on, or its refusal.
    pub(crate) outcome: Result<Inbound, Box<Rejection>>,
}

/// Runs the inbound checks in their order (see the module doc). `raw_head` is the
/// head as received on an HTTP/1 connection; `peer_trusted` says whether the TCP
/// peer is one of `server.trusted_proxies`.
pub(crate) fn examine(
    req: &mut RequestHeader,
    raw_head: Option<&[u8]>,
    peer_trusted: bool,
    health: HealthPaths<'_>,
) -> Examined {
    let request_id = peer_trusted.then(|| trusted_request_id(req)).flatten();
    Examined {
        request_id,
        outcome: route(req, raw_head, health),
    }
}

fn route(
    req: &mut RequestHeader,
    raw_head: Option<&[u8]>,
    health: HealthPaths<'_>,
) -> Result<Inbound, Box<Rejection>> {
    if let Some(rejection) = refusal(req, raw_head) {
        return Err(Box::new(rejection));
    }
    host_from_authority(req)?;
    drop_unrequested_upgrade(req);
    let raw_target = match raw_head {
        Some(head) => {
            http1_head::request_target(head).ok_or(Rejection::bad_path(PathError::NotOriginForm))?
        }
        None => req.raw_path(),
    };
    let target = parse_target(raw_target).map_err(Rejection::bad_path)?;
    let probe = if health.live == Some(target.path.as_str()) {
        Probe::Live
    } else if health.ready == Some(target.path.as_str()) {
        Probe::Ready
    } else {
        return Ok(Inbound::Route(target));
    };
    if req.method != Method::GET && req.method != Method::HEAD {
        return Err(Box::new(Rejection::method_not_allowed()));
    }
    Ok(Inbound::Health(probe))
}

/// Why the request is refused before routing, if it is.
fn refusal(req: &RequestHeader, raw_head: Option<&[u8]>) -> Option<Rejection> {
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

/// HTTP/2 names the host in `:authority`, and the upstream gets that as `Host`
/// (Pingora writes it): so the rules and the CSRF origin check read it in `Host`
/// too. A `Host` that names another host (or a second one) makes the request
/// malformed (RFC 9113 §8.3.1); neither is refused as HTTP/1.1 refuses a missing
/// `Host`.
fn host_from_authority(req: &mut RequestHeader) -> Result<(), Box<Rejection>> {
    if req.version != Version::HTTP_2 {
        return Ok(());
    }
    let authority = req.uri.authority().map(|a| a.as_str().to_string());
    let mut hosts = req.headers.get_all(HOST).iter();
    let (first, second) = (hosts.next(), hosts.next());
    let agrees = match (&authority, first, second) {
        (Some(a), Some(h), None) => h.as_bytes().eq_ignore_ascii_case(a.as_bytes()),
        (None, Some(_), None) | (Some(_), None, _) => true,
        _ => false,
    };
    if !agrees || authority.as_deref().is_some_and(|a| a.contains('@')) {
        return Err(Box::new(Rejection::host_mismatch()));
    }
    if let (Some(a), None) = (authority, first) {
        req.insert_header(HOST, a)
            .map_err(|_| Box::new(Rejection::host_mismatch()))?;
    }
    Ok(())
}

/// `Upgrade` is hop-by-hop: without `Connection: upgrade` the client did not ask
/// this hop to switch protocols, and Pingora must not treat the request as an
/// upgrade (it would tunnel whatever follows).
fn drop_unrequested_upgrade(req: &mut RequestHeader) {
    if req.headers.contains_key(UPGRADE) && !upgrade_requested(req) {
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

    fn examine_raw(head: &str, trusted: bool) -> Examined {
        let head = head.as_bytes();
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut parsed = httparse::Request::new(&mut headers);
        parsed.parse(head).unwrap();
        let mut req = RequestHeader::build(
            parsed.method.unwrap(),
            parsed.path.unwrap().as_bytes(),
            None,
        )
        .unwrap();
        req.set_version(if parsed.version == Some(0) {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        });
        for h in parsed.headers.iter() {
            req.append_header(h.name.to_string(), h.value).unwrap();
        }
        let health = HealthPaths {
            live: Some("/healthz"),
            ready: Some("/readyz"),
        };
        examine(&mut req, Some(head), trusted, health)
    }

    fn reason(e: &Examined) -> &'static str {
        match &e.outcome {
            Err(r) => r.reason,
            Ok(Inbound::Health(_)) => "health",
            Ok(Inbound::Route(_)) => "route",
        }
    }

    #[test]
    fn the_checks_run_in_their_order() {
        // Framing before the method, the method before the target, the target
        // before the health paths, and the trusted request id whatever follows.
        let cases = [
            (
                "TRACE /a#b HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                "bad_framing",
            ),
            ("TRACE /a#b HTTP/1.1\r\nHost: x\r\n\r\n", "method_refused"),
            ("GET /a#b HTTP/1.0\r\n\r\n", "missing_host"),
            ("POST /healthz#x HTTP/1.1\r\nHost: x\r\n\r\n", "bad_path"),
            (
                "POST /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                "method_not_allowed",
            ),
            ("HEAD /./readyz HTTP/1.1\r\nHost: x\r\n\r\n", "health"),
            ("GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n", "route"),
        ];
        for (head, want) in cases {
            let with_id = head.replacen("\r\n", "\r\nX-Request-Id: ingress-1\r\n", 1);
            let e = examine_raw(&with_id, true);
            assert_eq!(reason(&e), want, "{head:?}");
            assert_eq!(e.request_id.as_deref(), Some("ingress-1"), "{head:?}");
            assert_eq!(examine_raw(&with_id, false).request_id, None);
        }
        let e = examine_raw("GET /a/../b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n", false);
        match e.outcome {
            Ok(Inbound::Route(t)) => {
                assert_eq!(t.path, "/b");
                assert_eq!(t.rewritten.as_deref(), Some("/b?q=1"));
            }
            other => panic!("{other:?}"),
        }
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
    fn a_leading_empty_line_does_not_hide_the_raw_target() {
        let e = examine_raw(
            "\r\n\nGET /api/alice#/../bob HTTP/1.1\r\nHost: x\r\n\r\n",
            false,
        );
        assert_eq!(reason(&e), "bad_path");
    }

    fn h2_request(authority: Option<&str>, hosts: &[&str]) -> RequestHeader {
        let mut req = RequestHeader::build("GET", b"/api/x", None).unwrap();
        if let Some(a) = authority {
            req.set_uri(format!("https://{a}/api/x").parse().unwrap());
        }
        req.set_version(Version::HTTP_2);
        for h in hosts {
            req.append_header("host", *h).unwrap();
        }
        req
    }

    #[test]
    fn on_http2_the_authority_is_the_host() {
        let mut req = h2_request(Some("app.example"), &[]);
        assert!(host_from_authority(&mut req).is_ok());
        assert_eq!(req.headers["host"], "app.example");
        let mut same = h2_request(Some("app.example"), &["APP.example"]);
        assert!(host_from_authority(&mut same).is_ok());
        let mut host_only = h2_request(None, &["app.example"]);
        assert!(host_from_authority(&mut host_only).is_ok());
        for (authority, hosts) in [
            (Some("app.example"), &["evil.example"][..]),
            (Some("app.example"), &["app.example", "app.example"][..]),
            (Some("user@app.example"), &[][..]),
            (None, &[][..]),
        ] {
            let mut req = h2_request(authority, hosts);
            let refused = host_from_authority(&mut req).unwrap_err();
            assert_eq!(refused.reason, "bad_host", "{authority:?} {hosts:?}");
        }
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
