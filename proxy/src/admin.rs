//! The admin listener (`[admin] listen`, default 127.0.0.1:9901): `/metrics`
//! (OpenMetrics text), `/healthz` (the process is alive) and `/readyz` (ready to
//! take traffic). Never proxied, never behind a token, and not access-logged at
//! INFO, so probes do not flood the log.

use arc_swap::ArcSwap;
use async_trait::async_trait;
use http::{Method, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::sync::Arc;

use crate::generation::Generation;
use crate::lifecycle::Lifecycle;
use crate::metrics::{metrics, CONTENT_TYPE};

/// Why `/readyz` says no, if it does.
pub fn not_ready_reason(generation: &Generation, lifecycle: &Lifecycle) -> Option<&'static str> {
    if lifecycle.is_draining() {
        Some("shutting_down")
    } else if !generation.is_ready() {
        Some("keys_not_loaded")
    } else if !lifecycle.upstream_healthy() {
        Some("upstream_unhealthy")
    } else {
        None
    }
}

/// The admin HTTP application.
pub struct AdminApp {
    /// The current configuration (for readiness).
    pub current: Arc<ArcSwap<Generation>>,
    /// Draining and upstream health.
    pub lifecycle: Arc<Lifecycle>,
}

fn reply(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(v) = content_type.parse() {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    let len = response.body().len();
    response
        .headers_mut()
        .insert(http::header::CONTENT_LENGTH, len.into());
    response
}

fn json(status: StatusCode, body: &str) -> Response<Vec<u8>> {
    reply(status, "application/json", body.as_bytes().to_vec())
}

impl AdminApp {
    /// The answer for `method` and `path`.
    pub fn answer(&self, method: &Method, path: &str) -> Response<Vec<u8>> {
        let path = path.split('?').next().unwrap_or(path);
        let known = matches!(path, "/metrics" | "/healthz" | "/readyz");
        if !known {
            return json(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#);
        }
        if method != Method::GET && method != Method::HEAD {
            let mut r = json(
                StatusCode::METHOD_NOT_ALLOWED,
                r#"{"error":"method_not_allowed"}"#,
            );
            r.headers_mut().insert(
                http::header::ALLOW,
                http::HeaderValue::from_static("GET, HEAD"),
            );
            return r;
        }
        match path {
            "/metrics" => reply(
                StatusCode::OK,
                CONTENT_TYPE,
                metrics().encode().into_bytes(),
            ),
            "/healthz" => json(StatusCode::OK, r#"{"status":"ok"}"#),
            _ => match not_ready_reason(&self.current.load(), &self.lifecycle) {
                None => json(StatusCode::OK, r#"{"status":"ok"}"#),
                Some(reason) => json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!(r#"{{"status":"not_ready","reason":"{reason}"}}"#),
                ),
            },
        }
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let req = session.req_header();
        let (method, path) = (req.method.clone(), req.uri.path().to_string());
        let response = self.answer(&method, &path);
        tracing::debug!(
            target: "authgate::admin",
            method = method.as_str(),
            path = path.as_str(),
            status = response.status().as_u16(),
        );
        if method == Method::HEAD {
            let (parts, _) = response.into_parts();
            return Response::from_parts(parts, Vec::new());
        }
        response
    }
}
