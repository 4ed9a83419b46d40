//! The Pingora `ProxyHttp` implementation: glue only. Each request takes the
//! current [`Generation`] and keeps it to the end, so a reload never changes the
//! rules under a request in flight. Access control happens in `request_filter`
//! (framing, target, then the gate), the upstream request is prepared in
//! `upstream_request_filter` (by the generation's outbound policy), error pages in
//! `fail_to_proxy`, the access log and metrics in `logging`.

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use http::Method;
use pingora::http::ResponseHeader;
use pingora::modules::http::HttpModules;
use pingora::prelude::{HttpPeer, ProxyHttp, Session};
use pingora::protocols::http::HttpTask;
use pingora::proxy::FailToProxy;
use pingora::{Error, ErrorSource, ErrorType};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::access_log;
use crate::auth::Identity;
use crate::body_deadline::{self, BodyOf};
use crate::decision::Decision;
use crate::forwarding::{client_ip, client_scheme, Scheme};
use crate::gate::{GateRequest, Rule};
use crate::generation::Generation;
use crate::grpc;
use crate::health::{self, Probe};
use crate::inbound::{self, HealthPaths, Inbound};
use crate::lifecycle::{InFlight, Lifecycle};
use crate::metrics::metrics;
use crate::outbound::Admitted;
use crate::rate_limit::RateLimitFields;
use crate::reject::{Answer, Rejection};
use crate::target::Target;
use crate::trace::NoTrace;
use crate::upstream;

/// Per-request state.
#[derive(Debug)]
pub(crate) struct RequestCtx {
    started: Instant,
    /// The configuration this request runs under, start to end.
    generation: Arc<Generation>,
    request_id: String,
    /// Canonical path; set once the target has been accepted.
    path: Option<String>,
    /// The upstream target (canonical path and the query unchanged) when
    /// canonicalisation changed the path; `None` forwards the target as received.
    rewritten_target: Option<String>,
    identity: Option<Arc<Identity>>,
    /// The rule the gate applied (for the log).
    rule: Option<Rule>,
    /// The upstream the rule picked (an index into the generation's upstreams).
    upstream: usize,
    /// `RateLimit-Policy` and `RateLimit` for the upstream's response.
    rate_limit: Option<RateLimitFields>,
    /// The verified subject of a request refused by a route requirement (for the log).
    refused_subject: Option<String>,
    /// The route requirement that refused it (for the log).
    unmet_requirement: Option<String>,
    /// Whether the TCP peer is a trusted proxy.
    peer_trusted: bool,
    /// When the whole request body must have arrived (`server.body_read_timeout_secs`);
    /// `None` without a body.
    body_deadline: Option<Instant>,
    decision: Decision,
    _in_flight: InFlight,
}

/// The proxy application.
pub(crate) struct AuthGate {
    /// The configuration new requests take.
    pub current: Arc<ArcSwap<Generation>>,
    /// Draining and requests in flight.
    pub lifecycle: Arc<Lifecycle>,
    /// The scheme of the listener (`https` behind TLS), for `X-Forwarded-Proto`,
    /// `Forwarded` and the CSRF origin check.
    pub scheme: Scheme,
}

fn peer_ip(session: &Session) -> Option<IpAddr> {
    session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip())
}

/// The name of the upstream a request went (or was to go) to, for the access log;
/// empty for one authgate answered itself.
fn logged_upstream(ctx: &RequestCtx) -> &str {
    match ctx.decision {
        Decision::Allow | Decision::Anonymous | Decision::UpstreamError(_) => {
            &ctx.generation.upstream(ctx.upstream).settings.name
        }
        _ => "",
    }
}

/// On HTTP/2, where a read timeout does nothing, hands the body deadline of an
/// admitted request to its [`body_deadline`] clock. gRPC calls are exempt: the
/// request stream of a client-streaming or bidirectional call lasts as long as
/// the call (h2 flow control and the stream limits bound what it can hold).
fn time_h2_body(session: &Session, ctx: &RequestCtx) {
    let Some(deadline) = ctx.body_deadline else {
        return;
    };
    if session.as_downstream().is_http2() && !grpc::is_grpc(session.req_header()) {
        body_deadline::arm(BodyOf {
            deadline,
            started: ctx.started,
            request_id: &ctx.request_id,
            method: session.req_header().method.as_str(),
            path: ctx.path.as_deref().unwrap_or(""),
        });
    }
}

/// Starts the clock of `server.body_read_timeout_secs` for a request with a body:
/// Pingora times out single reads only, so a body sent a byte at a time would hold
/// the connection for ever. The drain of a refused request's body is bounded too.
fn arm_body_deadline(session: &mut Session, ctx: &mut RequestCtx) {
    let timeout = ctx.generation.body_read_timeout;
    let downstream = session.as_downstream_mut();
    downstream.set_total_drain_timeout(Some(timeout));
    if !downstream.is_body_empty() {
        ctx.body_deadline = Some(Instant::now() + timeout);
        downstream.set_read_timeout(Some(timeout));
    }
}

impl AuthGate {
    /// Asks the gate about a request whose target was accepted; a refusal is
    /// answered here.
    async fn admit(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        target: Target,
    ) -> pingora::Result<bool> {
        let Target {
            path,
            rewritten: rewritten_target,
        } = target;
        let generation = ctx.generation.clone();
        let req = session.req_header();
        let client = client_ip(
            &req.headers,
            peer_ip(session),
            ctx.peer_trusted,
            &generation.trusted_proxies,
        );
        let request = GateRequest {
            method: &req.method,
            path: &path,
            headers: &req.headers,
            scheme: client_scheme(req, ctx.peer_trusted, self.scheme),
            client_ip: client,
        };
        let verdict = generation.gate.admit(&request, &mut NoTrace).await;
        ctx.rule = Some(verdict.rule);
        ctx.upstream = verdict.upstream;
        ctx.rate_limit = verdict.rate_limit;
        ctx.path = Some(path);
        match verdict.outcome {
            Ok(identity) => {
                ctx.decision = if identity.is_some() {
                    Decision::Allow
                } else {
                    Decision::Anonymous
                };
                ctx.identity = identity;
                ctx.rewritten_target = rewritten_target;
                time_h2_body(session, ctx);
                Ok(false)
            }
            Err(rejection) => {
                ctx.refused_subject = rejection.subject.clone();
                ctx.unmet_requirement = rejection.requirement.clone();
                self.reject(session, ctx, *rejection).await
            }
        }
    }

    /// Writes a JSON response authgate generates itself (to a gRPC call: the same
    /// as a trailers-only gRPC answer).
    async fn respond(
        &self,
        session: &mut Session,
        ctx: &RequestCtx,
        answer: &Answer,
    ) -> pingora::Result<()> {
        if grpc::is_grpc(session.req_header()) {
            let http1 = !session.as_downstream().is_http2();
            let resp = grpc::trailers_only(answer, &ctx.request_id, http1)?;
            // The task API ends the stream on the headers (END_STREAM on HEADERS);
            // `write_response_header(.., true)` would not on HTTP/2.
            session
                .write_response_tasks(vec![HttpTask::Header(Box::new(resp), true)])
                .await?;
            return Ok(());
        }
        let mut resp = ResponseHeader::build(answer.status, Some(4 + answer.headers.len()))?;
        resp.insert_header(http::header::CONTENT_TYPE, "application/json")?;
        resp.insert_header(http::header::CONTENT_LENGTH, answer.body.len())?;
        resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
        resp.insert_header("X-Request-Id", ctx.request_id.as_str())?;
        for (name, value) in &answer.headers {
            resp.insert_header(name.clone(), value.as_str())?;
        }
        let head_only = session.req_header().method == Method::HEAD;
        session
            .write_response_header(Box::new(resp), head_only)
            .await?;
        if !head_only {
            session
                .write_response_body(Some(answer.body.clone()), true)
                .await?;
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
        let answer = rejection.answer(&ctx.generation.realm);
        self.respond(session, ctx, &answer).await?;
        Ok(true)
    }

    /// Answers a probe of the proxy port's own health paths.
    async fn health(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        probe: Probe,
    ) -> pingora::Result<bool> {
        ctx.decision = Decision::Health;
        let (status, body) = health::answer(probe, &ctx.generation, &self.lifecycle);
        let answer = Answer::json(status.as_u16(), Bytes::from(body));
        self.respond(session, ctx, &answer).await?;
        Ok(true)
    }
}

#[async_trait]
impl ProxyHttp for AuthGate {
    type CTX = RequestCtx;

    // None: authgate never compresses responses, and Pingora's default (a disabled
    // compression module) still builds and consults a module context per request.
    fn init_downstream_modules(&self, _modules: &mut HttpModules) {}

    fn new_ctx(&self) -> Self::CTX {
        RequestCtx {
            started: Instant::now(),
            generation: self.current.load_full(),
            request_id: uuid::Uuid::new_v4().to_string(),
            path: None,
            rewritten_target: None,
            identity: None,
            rule: None,
            upstream: 0,
            rate_limit: None,
            refused_subject: None,
            unmet_requirement: None,
            peer_trusted: false,
            body_deadline: None,
            decision: Decision::Undecided,
            _in_flight: self.lifecycle.track(),
        }
    }

    async fn request_filter(
        &self,
        session: &mut Session,
        ctx: &mut Self::CTX,
    ) -> pingora::Result<bool> {
        arm_body_deadline(session, ctx);
        ctx.peer_trusted = ctx.generation.trusted_proxies.contains(peer_ip(session));
        let raw_head = session
            .as_downstream()
            .as_http1()
            .map(|h1| h1.get_headers_raw_bytes());
        let g = ctx.generation.clone();
        let health = HealthPaths {
            live: g.health_path.as_deref(),
            ready: g.ready_path.as_deref(),
        };
        let examined = inbound::examine(
            session.req_header_mut(),
            raw_head.as_deref(),
            ctx.peer_trusted,
            health,
        );
        if let Some(id) = examined.request_id {
            ctx.request_id = id;
        }
        let target = match examined.outcome {
            Ok(Inbound::Route(target)) => target,
            Ok(Inbound::Health(probe)) => return self.health(session, ctx, probe).await,
            Err(rejection) => return self.reject(session, ctx, *rejection).await,
        };
        // Serve pipelined requests in order rather than drop them after a response
        // that said keep-alive (RFC 9112 §9.3.2).
        session.as_downstream_mut().set_pipelining_enabled(true);
        if session.get_keepalive().is_some() {
            session.set_keepalive(Some(g.keepalive_secs));
        }
        self.admit(session, ctx, target).await
    }

    async fn request_body_filter(
        &self,
        session: &mut Session,
        _body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> pingora::Result<()> {
        if end_of_stream {
            body_deadline::stop();
        }
        let Some(deadline) = ctx.body_deadline.filter(|_| !end_of_stream) else {
            return Ok(());
        };
        // Each read may wait only what is left of the whole body's time.
        match deadline.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => {
                session.as_downstream_mut().set_read_timeout(Some(left));
                Ok(())
            }
            _ => {
                let mut e = Error::explain(ErrorType::ReadTimedout, "request body deadline");
                e.as_down();
                Err(e)
            }
        }
    }

    async fn upstream_peer(
        &self,
        session: &mut Session,
        ctx: &mut Self::CTX,
    ) -> pingora::Result<Box<HttpPeer>> {
        let mut peer = ctx.generation.upstream(ctx.upstream).peer();
        if grpc::is_grpc(session.req_header()) {
            // gRPC needs HTTP/2 on this leg too (trailers): h2c with prior
            // knowledge to an http:// upstream, h2 by ALPN to an https:// one.
            upstream::speak_h2(&mut peer);
        }
        if session.is_upgrade_req() {
            // The read timeout would cut an idle WebSocket: a tunnel lasts until
            // either side closes it.
            peer.options.read_timeout = None;
        }
        Ok(Box::new(peer))
    }

    /// What Pingora's own error lines say about the request: the id that ties them
    /// to the access line, the method and the canonical path (never the query,
    /// which may carry an application's secrets).
    fn request_summary(&self, session: &Session, ctx: &Self::CTX) -> String {
        format!(
            "request_id={} {} {}",
            ctx.request_id,
            session.req_header().method,
            ctx.path.as_deref().unwrap_or("-")
        )
    }

    async fn connected_to_upstream(
        &self,
        _session: &mut Session,
        reused: bool,
        _peer: &HttpPeer,
        _fd: std::os::unix::io::RawFd,
        _digest: Option<&pingora::protocols::Digest>,
        ctx: &mut Self::CTX,
    ) -> pingora::Result<()> {
        ctx.generation
            .upstream(ctx.upstream)
            .counters
            .connection(reused);
        Ok(())
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
        let client_ip = peer_ip(session).map(|ip| ip.to_string());
        let admitted = Admitted {
            path,
            rewritten_target: ctx.rewritten_target.as_deref(),
            identity: ctx.identity.as_deref(),
            client_ip: client_ip.as_deref(),
            peer_trusted: ctx.peer_trusted,
            scheme: self.scheme,
            upstream_h2: grpc::is_grpc(upstream),
            request_id: &ctx.request_id,
            audience: &ctx.generation.upstream(ctx.upstream).settings.name,
        };
        ctx.generation.outbound.prepare(upstream, &admitted)
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> pingora::Result<()> {
        response.insert_header("X-Request-Id", ctx.request_id.as_str())?;
        if let Some(fields) = &ctx.rate_limit {
            for (name, value) in fields.headers() {
                response.insert_header(name, value)?;
            }
        }
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut Self::CTX,
    ) -> FailToProxy {
        use ErrorType::*;
        let (status, kind) = match (e.esource(), e.etype()) {
            (_, HTTPStatus(code)) => (*code, "status"),
            (ErrorSource::Upstream, ConnectTimedout | ReadTimedout | WriteTimedout) => {
                (504, "timeout")
            }
            (ErrorSource::Upstream, ConnectRefused | ConnectError | ConnectNoRoute) => {
                (502, "connect")
            }
            // A certificate that does not verify fails closed, like any TLS failure.
            (
                ErrorSource::Upstream,
                TLSHandshakeFailure | TLSHandshakeTimedout | InvalidCert | HandshakeError,
            ) => (502, "tls"),
            (ErrorSource::Upstream, _) => (502, "other"),
            // The only client read left once the head is in is the body's.
            (ErrorSource::Downstream, ReadTimedout) if ctx.body_deadline.is_some() => {
                (408, "body_timeout")
            }
            (
                ErrorSource::Downstream,
                ReadError | WriteError | ConnectionClosed | ReadTimedout | WriteTimedout,
            ) => (0, "client"),
            (ErrorSource::Downstream, _) => (400, "client"),
            (ErrorSource::Internal | ErrorSource::Unset, _) => (500, "internal"),
        };
        if e.esource() == &ErrorSource::Upstream {
            ctx.generation.upstream(ctx.upstream).counters.error(kind);
        }
        if status == 408 {
            ctx.decision = Decision::Reject(kind);
        } else if ctx.decision != Decision::Health && !matches!(ctx.decision, Decision::Reject(_)) {
            ctx.decision = Decision::UpstreamError(kind);
        }
        if status > 0 && session.response_written().is_none() {
            // The connection is not reused after a failure (`can_reuse_downstream`
            // below): say so, so the client does not send its next request into a
            // closing connection (RFC 9112 §9.6).
            session.set_keepalive(None);
            let rejection = match status {
                408 => Rejection::body_timeout(),
                _ => Rejection::for_status(status),
            };
            let answer = rejection.answer(&ctx.generation.realm);
            if let Err(write_error) = self.respond(session, ctx, &answer).await {
                tracing::debug!(error = %write_error, "could not write the error response");
            }
        }
        FailToProxy {
            error_code: status,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut Self::CTX) {
        let elapsed = ctx.started.elapsed();
        let labels = ctx.decision.labels();
        metrics().record_request(labels.clone(), elapsed);
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
        let subject = ctx
            .identity
            .as_ref()
            .map(|i| i.subject.as_str())
            .or(ctx.refused_subject.as_deref())
            .unwrap_or("");
        // Health probes of the proxy port are logged at DEBUG, requests at INFO.
        let level = if ctx.decision == Decision::Health {
            access_log::Level::Debug
        } else {
            access_log::Level::Info
        };
        access_log::log(
            level,
            &access_log::Entry {
                request_id: &ctx.request_id,
                method: req.method.as_str(),
                path,
                status,
                decision: labels.decision,
                reason: labels.reason,
                rule: ctx.rule.as_ref().map_or("", Rule::as_str),
                upstream: logged_upstream(ctx),
                requirement: ctx.unmet_requirement.as_deref().unwrap_or(""),
                subject,
                latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                error: e.map_or("", |e| e.etype().as_str()),
            },
        );
    }
}
