//! Responses authgate writes itself: 400/401/403 at the edge, 502/503/504 for upstream
//! trouble. JSON bodies `{"error", "message"}`, RFC 6750 `WWW-Authenticate` challenges,
//! and never any part of the token.

use bytes::Bytes;
use http::header::{HeaderName, ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use std::borrow::Cow;

use crate::auth::{BearerError, TokenError};
use crate::path::PathError;
use crate::rate_limit::{RateLimitFields, Refusal};
use crate::requirements::Requirement;

/// The `WWW-Authenticate` challenge to send, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// No challenge (not an authentication problem).
    None,
    /// `Bearer realm="…"`: no credentials were presented (RFC 6750 §3.1: no error code).
    Bearer,
    /// `Bearer realm="…", error="…", error_description="…"`.
    BearerError {
        /// RFC 6750 error code.
        code: &'static str,
        /// Fixed human text.
        description: &'static str,
    },
}

/// A response authgate writes instead of proxying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// HTTP status.
    pub status: u16,
    /// `error` in the JSON body.
    pub error: &'static str,
    /// `message` in the JSON body.
    pub message: Cow<'static, str>,
    /// The RFC 6750 challenge, if the refusal is about the token.
    pub challenge: Challenge,
    /// `Retry-After` seconds, for 503.
    pub retry_after: Option<u64>,
    /// Short label for the access log (`missing_token`, `expired`, `owner_mismatch`…).
    pub reason: &'static str,
    /// The verified subject, when a valid token was refused (403), for the access log.
    pub subject: Option<String>,
    /// `Allow`, for 405 (RFC 9110 §15.5.6).
    pub allow: Option<&'static str>,
    /// `scope` of the challenge: the scopes an `insufficient_scope` refusal needs
    /// (RFC 6750 §3).
    pub scope: Option<String>,
    /// The route requirement that was not met, for the access log.
    pub requirement: Option<String>,
    /// `RateLimit-Policy` and `RateLimit`, on refusals of a rate-limited route.
    pub rate_limit: Option<RateLimitFields>,
}

impl Rejection {
    fn new(status: u16, error: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            error,
            message: message.into(),
            challenge: Challenge::None,
            retry_after: None,
            reason: error,
            subject: None,
            allow: None,
            scope: None,
            requirement: None,
            rate_limit: None,
        }
    }

    /// 401: `subject`'s token, or every token of its subject issued before it, was
    /// revoked.
    pub(crate) fn revoked(subject: &str) -> Self {
        Self {
            subject: Some(subject.to_string()),
            challenge: Challenge::BearerError {
                code: "invalid_token",
                description: "token revoked",
            },
            reason: "revoked",
            ..Self::new(401, "invalid_token", "token revoked")
        }
    }

    /// 429 over a rate limit, or 503 when Redis failed and the policy says `deny`;
    /// both with `Retry-After` and the rate-limit fields.
    pub(crate) fn rate_limit(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Limited {
                policy,
                retry_after,
                fields,
            } => Self {
                retry_after: Some(retry_after),
                reason: "rate_limited",
                rate_limit: Some(fields),
                ..Self::new(
                    429,
                    "rate_limited",
                    format!("rate limit `{policy}` exceeded; retry in {retry_after} s"),
                )
            },
            Refusal::Unavailable { fields } => Self {
                retry_after: Some(1),
                reason: "rate_limit_unavailable",
                rate_limit: Some(fields),
                ..Self::new(
                    503,
                    "service_unavailable",
                    "the rate limit cannot be checked now; retry shortly",
                )
            },
        }
    }

    /// 403: a cookie-authenticated unsafe request from another origin (CSRF).
    pub(crate) fn cross_site() -> Self {
        Self {
            reason: "csrf",
            ..Self::new(
                403,
                "forbidden",
                "cookie-authenticated requests that change state must come from an allowed origin",
            )
        }
    }

    /// 405: a method authgate never forwards (TRACE, CONNECT).
    pub(crate) fn method_refused() -> Self {
        Self {
            reason: "method_refused",
            allow: Some("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
            ..Self::new(405, "method_not_allowed", "this method is not forwarded")
        }
    }

    /// 400: an HTTP/1.0 request without `Host` (the upstream could not route it).
    pub(crate) fn missing_host() -> Self {
        Self {
            reason: "missing_host",
            ..Self::new(400, "bad_request", "a Host header is required")
        }
    }

    /// 400: an HTTP/2 request whose `Host` names another host than its
    /// `:authority`, or that names none.
    pub(crate) fn host_mismatch() -> Self {
        Self {
            reason: "bad_host",
            ..Self::new(
                400,
                "bad_request",
                "Host and :authority must name the same host",
            )
        }
    }

    /// 401: no bearer token presented.
    pub(crate) fn missing_token() -> Self {
        Self {
            challenge: Challenge::Bearer,
            reason: "missing_token",
            ..Self::new(401, "missing_token", "a bearer token is required")
        }
    }

    /// 401: a token was presented and refused.
    pub(crate) fn invalid_token(e: TokenError) -> Self {
        Self {
            challenge: Challenge::BearerError {
                code: "invalid_token",
                description: e.description(),
            },
            reason: e.reason(),
            ..Self::new(401, "invalid_token", e.description())
        }
    }

    /// 400 or 401 for an unusable `Authorization` header.
    pub(crate) fn bad_authorization(e: BearerError) -> Self {
        match e {
            BearerError::Multiple => Self {
                challenge: Challenge::BearerError {
                    code: "invalid_request",
                    description: "more than one Authorization header",
                },
                reason: "multiple_authorization",
                ..Self::new(400, "invalid_request", "more than one Authorization header")
            },
            BearerError::Malformed => Self {
                challenge: Challenge::BearerError {
                    code: "invalid_token",
                    description: "malformed bearer token",
                },
                reason: "malformed_bearer",
                ..Self::new(401, "invalid_token", "malformed bearer token")
            },
        }
    }

    /// 403: `subject`'s token does not meet `requirement` of the route `rule`. The
    /// answer names the rule and what it requires, never what the token holds.
    pub(crate) fn requirement_unmet(requirement: &Requirement, rule: &str, subject: &str) -> Self {
        let (description, message) = match requirement {
            Requirement::Owner { param } => (
                "the token subject does not own this resource",
                format!("path parameter `{param}` does not match the token subject"),
            ),
            Requirement::Scopes(_) => (
                "the token lacks a scope this route requires",
                format!("route `{rule}` requires {requirement}"),
            ),
            _ => (
                "the token does not meet a claim requirement of this route",
                format!("route `{rule}` requires {requirement}"),
            ),
        };
        let scope = match requirement {
            Requirement::Scopes(scopes) => Some(scopes.join(" ")),
            _ => None,
        };
        Self {
            subject: Some(subject.to_string()),
            challenge: Challenge::BearerError {
                code: "insufficient_scope",
                description,
            },
            reason: requirement.reason(),
            scope,
            requirement: Some(requirement.to_string()),
            ..Self::new(403, "insufficient_scope", message)
        }
    }

    /// 400: the request target cannot be canonicalised safely.
    pub(crate) fn bad_path(e: PathError) -> Self {
        Self {
            reason: "bad_path",
            ..Self::new(400, "bad_request", e.message())
        }
    }

    /// 400: ambiguous message framing (request smuggling defence).
    pub(crate) fn bad_framing(message: &'static str) -> Self {
        Self {
            reason: "bad_framing",
            ..Self::new(400, "bad_request", message)
        }
    }

    /// 503: no signing keys could be loaded yet (the issuer's JWKS is unreachable);
    /// not the client's fault, so not a 401.
    pub(crate) fn keys_unavailable() -> Self {
        Self {
            retry_after: Some(5),
            reason: "keys_unavailable",
            ..Self::new(
                503,
                "service_unavailable",
                "signing keys are not available yet; retry shortly",
            )
        }
    }

    /// 400: a head Pingora could not read (bad syntax, `Content-Length: abc`, a
    /// `Transfer-Encoding` not ending in `chunked`, HTTP/1.0 with one …).
    pub(crate) fn unreadable_head() -> Self {
        Self {
            reason: "bad_request",
            ..Self::new(400, "bad_request", "malformed request head")
        }
    }

    /// 408: the request head did not arrive within `server.header_read_timeout_secs`.
    pub(crate) fn head_timeout() -> Self {
        Self {
            reason: "head_timeout",
            ..Self::new(
                408,
                "request_timeout",
                "the request head was not received in time",
            )
        }
    }

    /// 408: the request body did not arrive within `server.body_read_timeout_secs`.
    pub(crate) fn body_timeout() -> Self {
        Self {
            reason: "body_timeout",
            ..Self::new(
                408,
                "request_timeout",
                "the request body was not received in time",
            )
        }
    }

    /// 503: `server.max_connections` connections are open already.
    pub(crate) fn too_many_connections() -> Self {
        Self {
            retry_after: Some(1),
            reason: "connection_limit",
            ..Self::new(503, "service_unavailable", "too many connections")
        }
    }

    /// 400/5xx for failures inside the proxy machinery, by status.
    pub(crate) fn for_status(status: u16) -> Self {
        match status {
            400 => Self::new(400, "bad_request", "malformed request"),
            502 => Self::new(502, "bad_gateway", "the upstream service is unavailable"),
            503 => Self::new(503, "service_unavailable", "the service is not ready"),
            504 => Self::new(504, "gateway_timeout", "the upstream service timed out"),
            _ => Self::new(500, "internal_error", "internal proxy error"),
        }
    }

    /// 405 on the health endpoints.
    pub(crate) fn method_not_allowed() -> Self {
        Self {
            allow: Some("GET, HEAD"),
            ..Self::new(405, "method_not_allowed", "use GET or HEAD")
        }
    }

    /// The `WWW-Authenticate` value for `realm`, if any.
    pub(crate) fn www_authenticate(&self, realm: &str) -> Option<String> {
        match self.challenge {
            Challenge::None => None,
            Challenge::Bearer => Some(format!("Bearer realm=\"{realm}\"")),
            Challenge::BearerError { code, description } => {
                let scope = self
                    .scope
                    .as_deref()
                    .map_or(String::new(), |s| format!(", scope=\"{s}\""));
                Some(format!(
                    "Bearer realm=\"{realm}\", error=\"{code}\", error_description=\"{description}\"{scope}"
                ))
            }
        }
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Bytes {
        let body = serde_json::json!({ "error": self.error, "message": self.message });
        Bytes::from(body.to_string())
    }

    /// The response to write, with the challenge for `realm`.
    pub(crate) fn answer(&self, realm: &str) -> Answer {
        let mut answer = Answer::json(self.status, self.body());
        answer.message = self.message.clone();
        if let Some(challenge) = self.www_authenticate(realm) {
            answer.headers.push((WWW_AUTHENTICATE, challenge));
        }
        if let Some(secs) = self.retry_after {
            answer.headers.push((RETRY_AFTER, secs.to_string()));
        }
        if let Some(allow) = self.allow {
            answer.headers.push((ALLOW, allow.to_string()));
        }
        if let Some(fields) = &self.rate_limit {
            answer.headers.extend(fields.headers());
        }
        answer
    }
}

/// A JSON response authgate writes itself (a refusal, a health answer), before the
/// request id and the framing headers are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (`WWW-Authenticate`, `Retry-After`, `Allow`).
    pub headers: Vec<(HeaderName, String)>,
    /// The JSON body.
    pub body: Bytes,
    /// The body's `message`, for answers that carry it elsewhere (`grpc-message`).
    pub message: Cow<'static, str>,
}

impl Answer {
    /// `status` with a JSON `body` and no extra header.
    pub(crate) fn json(status: u16, body: Bytes) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
            message: Cow::Borrowed(""),
        }
    }

    /// The whole HTTP/1.1 response, for a connection authgate answers itself
    /// before or outside a request Pingora hands it; it always closes.
    pub(crate) fn to_http1(&self, request_id: &str) -> Vec<u8> {
        let reason = http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Request-Id: {request_id}\r\nConnection: close\r\n",
            self.status,
            self.body.len()
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{}: {value}\r\n", title_case(name.as_str())));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// `retry-after` → `Retry-After`, as the other headers of a raw response are written.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or_else(String::new, |f| {
                f.to_ascii_uppercase().to_string() + c.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_follows_rfc6750() {
        assert_eq!(
            Rejection::missing_token()
                .www_authenticate("authgate")
                .unwrap(),
            "Bearer realm=\"authgate\""
        );
        let r = Rejection::invalid_token(TokenError::Expired);
        assert_eq!(r.status, 401);
        assert_eq!(
            r.www_authenticate("x").unwrap(),
            "Bearer realm=\"x\", error=\"invalid_token\", error_description=\"token expired\""
        );
        let owner = Requirement::Owner {
            param: "user_id".into(),
        };
        let r = Rejection::requirement_unmet(&owner, "/api/{user_id}/**", "bob");
        assert_eq!(r.status, 403);
        assert!(r
            .www_authenticate("x")
            .unwrap()
            .contains("error=\"insufficient_scope\""));
        assert_eq!(
            Rejection::bad_path(PathError::EncodedSlash).www_authenticate("x"),
            None
        );
    }

    #[test]
    fn raw_responses_are_complete_and_close() {
        let bytes = Rejection::too_many_connections()
            .answer("x")
            .to_http1("abc");
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nConnection: close"));
        assert!(head.contains("\r\nRetry-After: 1"));
        assert!(head.contains("\r\nX-Request-Id: abc"));
        assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["message"], "too many connections");
    }

    #[test]
    fn body_is_json_with_error_and_message() {
        let body = Rejection::invalid_token(TokenError::BadSignature).body();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "invalid_token");
        assert_eq!(v["message"], "invalid signature");
    }
}
