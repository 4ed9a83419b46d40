//! What goes upstream: the one function that turns the client's request head into
//! the upstream's. The order is security-critical and lives only here:
//!
//! 1. the target: the canonical path the rules matched, never the raw one;
//! 2. hop-by-hop headers, including every header `Connection` names (first, so a
//!    client cannot make a header authgate adds later hop-by-hop);
//! 3. client-sent identity headers, in every spelling;
//! 4. routing and method override headers (`X-Original-URL`, `X-HTTP-Method-Override`…);
//! 5. `Authorization` (unless kept);
//! 6. Better Auth's session cookies (raw session tokens);
//! 7. `X-Forwarded-*`, `Forwarded` and `X-Request-Id` (see [`forwarding`]);
//! 8. the verified identity and the signed assertion, last.

use http::header::AUTHORIZATION;
use http::Uri;
use pingora::http::RequestHeader;
use pingora::{Error, ErrorType};
use std::sync::Arc;

use crate::assertion::{AssertionSigner, BoundRequest};
use crate::auth::cookie::without_session_cookies;
use crate::auth::Identity;
use crate::forwarding::{self, Forwarding, Scheme};
use crate::identity_headers::IdentityHeaders;

/// How this deployment rewrites requests (from the settings, fixed per config).
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    /// Identity header names.
    pub identity: IdentityHeaders,
    /// Signs `X-Auth-Assertion`.
    pub assertion: Arc<AssertionSigner>,
    /// Keep the client's `Authorization` header.
    pub keep_authorization: bool,
    /// Remove Better Auth's cookies (with this prefix) before forwarding.
    pub strip_cookie_prefix: Option<String>,
}

/// What authgate decided about one request.
#[derive(Debug, Clone, Copy)]
pub struct Admitted<'a> {
    /// The canonical path the rules matched.
    pub path: &'a str,
    /// The new request-target when canonicalisation changed the path.
    pub rewritten_target: Option<&'a str>,
    /// The verified caller, if any.
    pub identity: Option<&'a Identity>,
    /// The TCP peer's IP address.
    pub client_ip: Option<&'a str>,
    /// Whether the peer is a trusted proxy (its forwarding headers are kept).
    pub peer_trusted: bool,
    /// The listener's scheme (`proto` of `Forwarded`, `X-Forwarded-Proto`).
    pub scheme: Scheme,
    /// The upstream leg is HTTP/2: a client's `TE: trailers`, the one hop-by-hop
    /// header HTTP/2 allows (RFC 9113 §8.2.2) and gRPC servers require, passes.
    pub upstream_h2: bool,
    /// The request id.
    pub request_id: &'a str,
    /// The name of the upstream it goes to (`aud` of the assertion).
    pub audience: &'a str,
}

fn internal(why: &'static str) -> Box<Error> {
    Error::explain(ErrorType::InternalError, why)
}

impl OutboundPolicy {
    /// Rewrites `req` (already a copy of the client's head) for the upstream.
    pub fn prepare(&self, req: &mut RequestHeader, admitted: &Admitted<'_>) -> pingora::Result<()> {
        if let Some(target) = admitted.rewritten_target {
            let uri: Uri = target
                .parse()
                .map_err(|_| internal("canonical target is not a URI"))?;
            req.set_uri(uri);
        }
        let te_trailers = admitted.upstream_h2 && forwarding::asks_for_trailers(req);
        forwarding::strip_hop_by_hop(req);
        if te_trailers {
            req.insert_header(http::header::TE, "trailers")?;
        }
        self.identity.strip_inbound(req);
        forwarding::strip_routing_overrides(req);
        if !self.keep_authorization {
            req.remove_header(&AUTHORIZATION);
        }
        if let Some(prefix) = &self.strip_cookie_prefix {
            strip_session_cookies(req, prefix)?;
        }
        let hop = Forwarding {
            peer: admitted.client_ip,
            trusted: admitted.peer_trusted,
            scheme: admitted.scheme,
            request_id: admitted.request_id,
        };
        forwarding::set_forwarding_headers(req, &hop)?;
        if let Some(identity) = admitted.identity {
            // The query exactly as it goes upstream: the assertion binds it.
            let bound = BoundRequest {
                audience: admitted.audience,
                method: req.method.as_str(),
                path: admitted.path,
                query: req.uri.query().unwrap_or("").as_bytes(),
            };
            let assertion = self
                .assertion
                .sign(identity, bound)
                .map_err(|_| internal("cannot sign the identity assertion"))?;
            self.identity.inject(req, identity, &assertion)?;
        }
        Ok(())
    }
}

/// Removes Better Auth's cookies (raw session tokens), keeping the user's others.
fn strip_session_cookies(req: &mut RequestHeader, prefix: &str) -> pingora::Result<()> {
    let cookie = http::header::COOKIE;
    let Some(kept) = without_session_cookies(req.headers.get_all(&cookie).iter(), prefix) else {
        return Ok(());
    };
    req.remove_header(&cookie);
    if !kept.is_empty() {
        req.insert_header(cookie, kept)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity_headers::HeaderNames;
    use crate::secret::Secret;

    fn policy(keep_authorization: bool) -> OutboundPolicy {
        let identity = IdentityHeaders::new(&HeaderNames {
            user_id: "X-Auth-User-Id",
            email: "X-Auth-Email",
            assertion: "X-Auth-Assertion",
            claims: &[],
            extra_strip: &[],
        })
        .unwrap();
        let secret = Secret::new("0123456789abcdef0123456789abcdef");
        OutboundPolicy {
            identity,
            assertion: Arc::new(AssertionSigner::new(&secret, "authgate".into(), 10)),
            keep_authorization,
            strip_cookie_prefix: Some("better-auth".into()),
        }
    }

    fn alice() -> Identity {
        Identity {
            subject: "alice".into(),
            email: Some("alice@example.com".into()),
            claims: Vec::new(),
            expires_at: u64::MAX,
            not_before: None,
            issued_at: None,
            token_id: None,
        }
    }

    fn hostile_request() -> RequestHeader {
        let mut req = RequestHeader::build("GET", b"/api/./alice/tasks?x=1", None).unwrap();
        for (name, value) in [
            // Connection names an identity header and the assertion: hop-by-hop is
            // stripped first, then authgate's own values must still be there.
            (
                "Connection",
                "X-Auth-User-Id, X-Auth-Assertion, X-Forwarded-For",
            ),
            ("X-Auth-User-Id", "mallory"),
            ("x_auth_user_id", "mallory"),
            ("X-Auth-Assertion", "forged"),
            ("Authorization", "Bearer client-token"),
            ("Cookie", "better-auth.session_token=raw; theme=dark"),
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Request-Id", "spoofed"),
            ("X-HTTP-Method-Override", "DELETE"),
            ("X-Original-URL", "/admin"),
            ("X-Kept", "yes"),
        ] {
            req.append_header(name, value).unwrap();
        }
        req
    }

    fn admitted<'a>(identity: Option<&'a Identity>) -> Admitted<'a> {
        Admitted {
            path: "/api/alice/tasks",
            rewritten_target: Some("/api/alice/tasks?x=1"),
            identity,
            client_ip: Some("192.0.2.7"),
            peer_trusted: false,
            scheme: Scheme::Https,
            upstream_h2: false,
            request_id: "rid-1",
            audience: "upstream-api",
        }
    }

    fn values<'h>(req: &'h RequestHeader, name: &str) -> Vec<&'h [u8]> {
        req.headers
            .get_all(name)
            .iter()
            .map(|v| v.as_bytes())
            .collect()
    }

    #[test]
    fn the_upstream_sees_only_what_authgate_vouches_for() {
        let identity = alice();
        let mut req = hostile_request();
        policy(false)
            .prepare(&mut req, &admitted(Some(&identity)))
            .unwrap();
        assert_eq!(req.uri.to_string(), "/api/alice/tasks?x=1");
        assert_eq!(values(&req, "x-auth-user-id"), [b"alice".as_slice()]);
        assert!(req.headers.get("x_auth_user_id").is_none());
        assert_eq!(
            values(&req, "x-auth-email"),
            [b"alice@example.com".as_slice()]
        );
        let assertion = values(&req, "x-auth-assertion");
        assert_eq!(assertion.len(), 1);
        assert_ne!(assertion[0], b"forged");
        assert!(req.headers.get("connection").is_none());
        assert!(req.headers.get("authorization").is_none());
        assert_eq!(values(&req, "cookie"), [b"theme=dark".as_slice()]);
        assert_eq!(values(&req, "x-forwarded-for"), [b"192.0.2.7".as_slice()]);
        assert_eq!(values(&req, "x-forwarded-proto"), [b"https".as_slice()]);
        assert_eq!(
            values(&req, "forwarded"),
            [b"for=192.0.2.7;proto=https".as_slice()]
        );
        assert_eq!(values(&req, "x-request-id"), [b"rid-1".as_slice()]);
        assert_eq!(values(&req, "x-kept"), [b"yes".as_slice()]);
        assert!(req.headers.get("x-http-method-override").is_none());
        assert!(req.headers.get("x-original-url").is_none());
        // The assertion binds the query as forwarded.
        let token = std::str::from_utf8(assertion[0]).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["htp"], "/api/alice/tasks");
        assert_eq!(
            claims["htq"],
            crate::assertion::query_hash(b"x=1", &mut [0; 43])
        );
    }

    #[test]
    fn te_trailers_passes_only_to_an_http2_upstream() {
        let identity = alice();
        for (h2, want) in [(true, vec![b"trailers".as_slice()]), (false, vec![])] {
            let mut req = hostile_request();
            req.append_header("TE", "trailers").unwrap();
            let mut admitted = admitted(Some(&identity));
            admitted.upstream_h2 = h2;
            policy(false).prepare(&mut req, &admitted).unwrap();
            assert_eq!(values(&req, "te"), want);
        }
        let mut req = hostile_request();
        req.append_header("TE", "gzip, trailers").unwrap();
        let mut admitted = admitted(Some(&identity));
        admitted.upstream_h2 = true;
        policy(false).prepare(&mut req, &admitted).unwrap();
        assert!(values(&req, "te").is_empty());
    }

    #[test]
    fn anonymous_requests_carry_no_identity_at_all() {
        let mut req = hostile_request();
        policy(true).prepare(&mut req, &admitted(None)).unwrap();
        for name in [
            "x-auth-user-id",
            "x_auth_user_id",
            "x-auth-assertion",
            "x-auth-email",
        ] {
            assert!(req.headers.get(name).is_none(), "{name}");
        }
        assert_eq!(
            values(&req, "authorization"),
            [b"Bearer client-token".as_slice()],
            "kept when configured"
        );
    }
}
