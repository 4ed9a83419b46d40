//! The Pingora `ProxyHttp` implementation: glue only. Access control happens in
//! `request_filter` (via [`Gate`]), header rewriting in `upstream_request_filter`
//! (via the identity and forwarding modules), error pages in `fail_to_proxy`.

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{AUTHORIZATION, COOKIE};
use http::Uri;
use pingora::http::ResponseHeader;
use pingora::prelude::{HttpPeer, ProxyHttp, Session};
use pingora::proxy::FailToProxy;
use pingora::{Error, ErrorSource, ErrorType};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use crate::assertion::{AssertionSigner, BoundRequest};
use crate::auth::cookie::without_session_cookies;
use crate::auth::Identity;
use crate::forwarding;
use crate::gate::Gate;
use crate::identity::IdentityHeaders;
use crate::path::{canonicalize, PathError};
use crate::reject::Rejection;

/// What happened to a request, for the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Not decided yet (the request failed before the gate).
    Undecided,
    /// Passed with a verified identity.
    Allow,
    /// Passed anonymously (public, optional without token, CORS preflight).
    Anonymous,
    /// Answered by the health endpoints.
    Health,
    /// Refused at the edge; the reason label.
    Reject(&'static str),
    /// Proxying failed (502/504).
    UpstreamError,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Self::Undecided => "undecided",
            Self::Allow => "allow",
            Self::Anonymous => "anonymous",
            Self::Health => "health",
            Self::Reject(_) => "reject",
            Self::UpstreamError => "upstream_error",
        }
    }
}

/// Per-request state.
#[derive(Debug)]
pub struct RequestCtx {
    started: Instant,
    request_id: String,
    /// Canonical path; set once the target has been accepted.
    path: Option<String>,
    /// The upstream target (canonical path and the query unchanged) when
    /// canonicalisation changed the path; `None` forwards the target as received.
    rewritten_target: Option<String>,
    identity: Option<Arc<Identity>>,
    /// The verified subject of a request refused by an owner rule (for the log).
    refused_subject: Option<String>,
    decision: Decision,
}

/// Everything the proxy needs, built once from the settings.
pub struct AuthGate {
    /// The edge decision.
    pub gate: Gate,
    /// Identity header names.
    pub identity: IdentityHeaders,
    /// Signs `X-Auth-Assertion`.
    pub assertion: Arc<AssertionSigner>,
    /// The upstream peer, cloned per request.
    pub peer: HttpPeer,
    /// `WWW-Authenticate` realm.
    pub realm: String,
    /// Keep the client's `Authorization` header.
    pub keep_authorization: bool,
    /// Remove Better Auth's cookies (with this prefix) before forwarding.
    pub strip_cookie_prefix: Option<String>,
    /// Liveness path.
    pub health_path: String,
    /// Readiness path.
    pub ready_path: String,
}

/// True when the raw request header has both `Content-Length` and
/// `Transfer-Encoding`. Pingora drops `Content-Length` in that case before our
/// filters run, so the raw bytes are the only place left to see it.
fn has_content_length_and_transfer_encoding(session: &Session) -> bool {
    let req = session.req_header();
    if !req.headers.contains_key(http::header::TRANSFER_ENCODING) {
        return false;
    }
    if req.headers.contains_key(http::header::CONTENT_LENGTH) {
        return true;
    }
    let Some(h1) = session.as_downstream().as_http1() else {
        return false;
    };
    h1.get_headers_raw_bytes()
        .split(|&b| b == b'\n')
        .any(|line| line.len() > 15 && line[..15].eq_ignore_ascii_case(b"content-length:"))
}

/// Why the request's framing is ambiguous (request smuggling defence), if it is.
fn ambiguous_framing(session: &Session) -> Option<&'static str> {
    if has_content_length_and_transfer_encoding(session) {
        Some("both Content-Length and Transfer-Encoding")
    } else if has_ambiguous_content_length(session.req_header()) {
        Some("more than one Content-Length, or not a number")
    } else {
        None
    }
}

/// True when `Content-Length` is repeated or is not a plain number (`4, 4`, `+4`).
/// Pingora accepts identical repeats and forwards them as they came, and upstreams
/// disagree on what they mean: refuse rather than let the two sides frame differently.
fn has_ambiguous_content_length(req: &pingora::http::RequestHeader) -> bool {
    let mut values = req.headers.get_all(http::header::CONTENT_LENGTH).iter();
    match (values.next(), values.next()) {
        (None, _) => false,
        (Some(v), None) => v.is_empty() || !v.as_bytes().iter().all(u8::is_ascii_digit),
        (Some(_), Some(_)) => true,
    }
}

/// Removes Better Auth's cookies (raw session tokens) from the upstream request,
/// keeping the user's other cookies.
fn strip_session_cookies(
    req: &mut pingora::http::RequestHeader,
    prefix: &str,
) -> pingora::Result<()> {
    let Some(kept) = without_session_cookies(req.headers.get_all(COOKIE).iter(), prefix) else {
        return Ok(());
    };
    req.remove_header(&COOKIE);
    if !kept.is_empty() {
        req.insert_header(COOKIE, kept)?;
    }
    Ok(())
}

/// Splits the raw request target into path and query.
fn split_target(raw: &[u8]) -> Result<(&str, Option<&str>), PathError> {
    let raw = std::str::from_utf8(raw).map_err(|_| PathError::NonAscii)?;
    Ok(match raw.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw, None),
    })
}

impl AuthGate {
    /// Writes a JSON response authgate generates itself.
    async fn respond(
        &self,
        session: &mut Session,
        ctx: &RequestCtx,
        status: u16,
        body: Bytes,
        www_authenticate: Option<String>,
        retry_after: Option<u64>,
    ) -> pingora::Result<()> {
        let mut resp = ResponseHeader::build(status, Some(6))?;
        resp.insert_header(http::header::CONTENT_TYPE, "application/json")?;
        resp.insert_header(http::header::CONTENT_LENGTH, body.len())?;
        resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
        resp.insert_header("X-Request-Id", ctx.request_id.as_str())?;
        if let Some(challenge) = www_authenticate {
            resp.insert_header(http::header::WWW_AUTHENTICATE, challenge)?;
        }
        if let Some(secs) = retry_after {
            resp.insert_header(http::header::RETRY_AFTER, secs)?;
        }
        let head_only = session.req_header().method == http::Method::HEAD;
        session
            .write_response_header(Box::new(resp), head_only)
            .await?;
        if !head_only {
            session.write_response_body(Some(body), true).await?;
        }
        Ok(())
    }

    async fn reject(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        rejection: Rejection,
    ) -> pingora::Result<bool> {
        ctx.decision = Decision::Reject(rejection.reason);
        if rejection.status == 400 {
            // A malformed request may leave the stream in an unknown state: close it.
            session.set_keepalive(None);
        }
        let challenge = rejection.www_authenticate(&self.realm);
        self.respond(
            session,
            ctx,
            rejection.status,
            rejection.body(),
            challenge,
            rejection.retry_after,
        )
        .await?;
        Ok(true)
    }

    /// Answers `/healthz` and `/readyz`; `None` when `path` is neither.
    async fn health(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        path: &str,
    ) -> Option<pingora::Result<bool>> {
        let ready = if path == self.health_path {
            true
        } else if path == self.ready_path {
            self.gate.is_ready()
        } else {
            return None;
        };
        let method = &session.req_header().method;
        if method != http::Method::GET && method != http::Method::HEAD {
            return Some(
                self.reject(session, ctx, Rejection::method_not_allowed())
                    .await,
            );
        }
        ctx.decision = Decision::Health;
        let (status, body) = if ready {
            (200, r#"{"status":"ok"}"#)
        } else {
            (503, r#"{"status":"not_ready"}"#)
        };
        let result = self
            .respond(
                session,
                ctx,
                status,
                Bytes::from_static(body.as_bytes()),
                None,
                None,
            )
            .await;
        Some(result.map(|()| true))
    }
}

#[async_trait]
impl ProxyHttp for AuthGate {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> Self::CTX {
        RequestCtx {
            started: Instant::now(),
            request_id: uuid::Uuid::new_v4().to_string(),
            path: None,
            rewritten_target: None,
            identity: None,
            refused_subject: None,
            decision: Decision::Undecided,
        }
    }

    async fn request_filter(
        &self,
        session: &mut Session,
        ctx: &mut Self::CTX,
    ) -> pingora::Result<bool> {
        if let Some(why) = ambiguous_framing(session) {
            return self.reject(session, ctx, Rejection::bad_framing(why)).await;
        }
        let req = session.req_header();
        let (path, rewritten_target) =
            match split_target(req.raw_path()).and_then(|(p, q)| Ok((canonicalize(p)?, q))) {
                Ok((Cow::Borrowed(p), _)) => (p.to_owned(), None),
                Ok((Cow::Owned(p), q)) => {
                    let target = match q {
                        Some(q) => format!("{p}?{q}"),
                        None => p.clone(),
                    };
                    (p, Some(target))
                }
                Err(e) => return self.reject(session, ctx, Rejection::bad_path(e)).await,
            };
        if let Some(result) = self.health(session, ctx, &path).await {
            return result;
        }
        let req = session.req_header();
        match self.gate.admit(&req.method, &path, &req.headers).await {
            Ok(admission) => {
                ctx.decision = if admission.identity.is_some() {
                    Decision::Allow
                } else {
                    Decision::Anonymous
                };
                ctx.identity = admission.identity;
                ctx.path = Some(path);
                ctx.rewritten_target = rewritten_target;
                Ok(false)
            }
            Err(rejection) => {
                ctx.path = Some(path);
                ctx.refused_subject = rejection.subject.clone();
                self.reject(session, ctx, *rejection).await
            }
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut Self::CTX,
    ) -> pingora::Result<Box<HttpPeer>> {
        Ok(Box::new(self.peer.clone()))
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut pingora::http::RequestHeader,
        ctx: &mut Self::CTX,
    ) -> pingora::Result<()> {
        let Some(path) = ctx.path.as_deref() else {
            return Error::e_explain(
                ErrorType::InternalError,
                "request reached upstream without a canonical path",
            );
        };
        if let Some(target) = &ctx.rewritten_target {
            let uri: Uri = target.parse().map_err(|_| {
                Error::explain(ErrorType::InternalError, "canonical target is not a URI")
            })?;
            upstream.set_uri(uri);
        }
        forwarding::strip_hop_by_hop(upstream);
        self.identity.strip_inbound(upstream);
        if !self.keep_authorization {
            upstream.remove_header(&AUTHORIZATION);
        }
        if let Some(prefix) = &self.strip_cookie_prefix {
            strip_session_cookies(upstream, prefix)?;
        }
        let client_ip = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip().to_string());
        forwarding::set_forwarding_headers(upstream, client_ip.as_deref(), &ctx.request_id)?;
        if let Some(identity) = &ctx.identity {
            let bound = BoundRequest {
                method: upstream.method.as_str(),
                path,
                request_id: &ctx.request_id,
            };
            let assertion = self.assertion.sign(identity, bound).map_err(|_| {
                Error::explain(
                    ErrorType::InternalError,
                    "cannot sign the identity assertion",
                )
            })?;
            self.identity.inject(upstream, identity, &assertion)?;
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> pingora::Result<()> {
        response.insert_header("X-Request-Id", ctx.request_id.as_str())?;
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut Self::CTX,
    ) -> FailToProxy {
        use ErrorType::*;
        let status = match (e.esource(), e.etype()) {
            (_, HTTPStatus(code)) => *code,
            (ErrorSource::Upstream, ConnectTimedout | ReadTimedout | WriteTimedout) => 504,
            (ErrorSource::Upstream, _) => 502,
            (
                ErrorSource::Downstream,
                ReadError | WriteError | ConnectionClosed | ReadTimedout | WriteTimedout,
            ) => 0,
            (ErrorSource::Downstream, _) => 400,
            (ErrorSource::Internal | ErrorSource::Unset, _) => 500,
        };
        if ctx.decision != Decision::Health && !matches!(ctx.decision, Decision::Reject(_)) {
            ctx.decision = Decision::UpstreamError;
        }
        if status > 0 && session.response_written().is_none() {
            let rejection = Rejection::for_status(status);
            if let Err(write_error) = self
                .respond(session, ctx, rejection.status, rejection.body(), None, None)
                .await
            {
                tracing::debug!(error = %write_error, "could not write the error response");
            }
        }
        FailToProxy {
            error_code: status,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut Self::CTX) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let req = session.req_header();
        let raw_path;
        let path = match &ctx.path {
            Some(p) => p.as_str(),
            None => {
                // Refused before canonicalisation: log a bounded, escaped copy.
                let raw = req.raw_path();
                raw_path = String::from_utf8_lossy(&raw[..raw.len().min(200)])
                    .escape_debug()
                    .to_string();
                raw_path.as_str()
            }
        };
        let reason = match ctx.decision {
            Decision::Reject(r) => r,
            _ => "",
        };
        tracing::info!(
            target: "authgate::access",
            request_id = %ctx.request_id,
            method = %req.method,
            path = %path,
            status,
            decision = %ctx.decision.as_str(),
            reason = %reason,
            subject = %ctx
                .identity
                .as_ref()
                .map(|i| i.subject.as_str())
                .or(ctx.refused_subject.as_deref())
                .unwrap_or(""),
            latency_us = u64::try_from(ctx.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            error = %e.map(|e| e.etype().as_str()).unwrap_or(""),
        );
    }
}
