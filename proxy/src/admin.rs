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
use crate::health::{self, Probe};
use crate::lifecycle::Lifecycle;
use crate::metrics::{metrics, CONTENT_TYPE};

/// The admin HTTP application.
pub(crate) struct AdminApp {
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
    pub(crate) fn answer(&self, method: &Method, path: &str) -> Response<Vec<u8>> {
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
            _ => {
                let probe = if path == "/healthz" {
                    Probe::Live
                } else {
                    Probe::Ready
                };
                let (status, body) = health::answer(probe, &self.current.load(), &self.lifecycle);
                json(status, &body)
            }
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
