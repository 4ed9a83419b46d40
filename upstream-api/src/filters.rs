//! The service's warp filters: the public routes, one function each (the route in its
//! doc comment), and [`api`], which takes everything under `/api`.
//!
//! Under `/api` the assertion is checked first, once per request, whatever the path:
//! each assertion may be used once, so it must not be looked at by several routes in
//! turn. The task routes are then matched by [`crate::routing`].

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use warp::filters::path::FullPath;
use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, Method};
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

use crate::error::{self, ApiError};
use crate::handlers;
use crate::models::{Owner, BODY_LIMIT_BYTES};
use crate::routing::{self, TaskRoute};
use crate::trust::{self, Identity, RequestTarget};
use crate::App;

/// The whole service: every route, JSON errors, one access-log line per request.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    healthz(app.clone())
        .or(openapi_json())
        .unify()
        .or(crate::docs::routes())
        .unify()
        .or(api(app))
        .unify()
        .recover(error::recover)
        .unify()
        .with(warp::log::custom(log_request))
        .map(Reply::into_response)
        .boxed()
}

/// `GET /healthz` (no auth): `{"status":"ok"}`, or 503 when the database does not answer.
pub fn healthz(app: App) -> BoxedFilter<(Response,)> {
    warp::path!("healthz")
        .and(warp::get())
        .and(with_app(app))
        .then(handlers::health)
        .map(error::respond)
        .boxed()
}

/// `GET /openapi.json` (no auth): the OpenAPI 3.1 document, generated from the code.
pub fn openapi_json() -> BoxedFilter<(Response,)> {
    let document = Arc::new(crate::openapi::document());
    warp::path!("openapi.json")
        .and(warp::get())
        .map(move || warp::reply::json(&*document).into_response())
        .boxed()
}

/// `ANY /api/**`: the task API. In order: authgate's assertion, verified against this
/// method, path and query and used up (401; exactly once per request, before any
/// routing, so no route can look at it twice); the route table (404, or 405 with
/// `Allow`); the path's `{user_id}` (400 unless it matches the pattern, 403 unless it
/// is the assertion's subject); the body (413 over the limit); then the handler.
pub fn api(app: App) -> BoxedFilter<(Response,)> {
    warp::path("api")
        .and(warp::method())
        .and(warp::path::full())
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .and(lazy_body())
        .and(with_app(app))
        .then(
            |method: Method,
             path: FullPath,
             query: String,
             headers: HeaderMap,
             body: LazyBody,
             app: App| async move {
                let request = RequestTarget {
                    method: method.as_str(),
                    path: path.as_str(),
                    query: &query,
                };
                error::respond(serve_api(request, &headers, body, app).await)
            },
        )
        .boxed()
}

async fn serve_api(
    request: RequestTarget<'_>,
    headers: &HeaderMap,
    body: LazyBody,
    app: App,
) -> Result<Response, ApiError> {
    let assertion = trust::assertion_from_headers(headers)?;
    let identity = app.verifier.verify(assertion, request).await?;
    let matched = routing::match_route(request.method, request.path)?;
    let owner = owner_matches_subject(&matched.user_segment, identity)?;
    match matched.route {
        TaskRoute::List => {
            let pairs = query_pairs(request.query)?;
            handlers::list_tasks(owner, pairs, app).await
        }
        TaskRoute::Create => {
            let body = body.read().await?;
            handlers::create_task(owner, body, app).await
        }
        TaskRoute::Get(id) => handlers::get_task(owner, id, app).await,
        TaskRoute::Update(id) => {
            let body = body.read().await?;
            handlers::update_task(owner, id, body, app).await
        }
        TaskRoute::Delete(id) => handlers::delete_task(owner, id, app).await,
        TaskRoute::Toggle(id) => handlers::toggle_task(owner, id, app).await,
    }
}

/// The raw query string (without `?`), empty when there is none.
fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// The decoded `name=value` pairs of a raw query string.
fn query_pairs(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(raw).map_err(|_| ApiError::InvalidQueryString)
}

/// The asserted user becomes the [`Owner`] only if the percent-decoded `{user_id}` path
/// segment is a well-formed user id (400) and exactly the assertion's `sub` (403;
/// defence in depth: authgate checks it too).
fn owner_matches_subject(user_segment: &str, identity: Identity) -> Result<Owner, ApiError> {
    let path_user = routing::user_id(user_segment)?;
    if path_user != identity.user_id {
        return Err(ApiError::Forbidden);
    }
    Ok(Owner {
        user_id: identity.user_id,
    })
}

/// A request body not read yet: only the routes that take one read it, after the
/// owner check.
struct LazyBody {
    length: Option<u64>,
    stream: Pin<Box<dyn Stream<Item = Result<Bytes, warp::Error>> + Send>>,
}

fn lazy_body() -> impl Filter<Extract = (LazyBody,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .map(LazyBody::new)
}

impl LazyBody {
    fn new<S, B>(length: Option<u64>, stream: S) -> Self
    where
        S: Stream<Item = Result<B, warp::Error>> + Send + 'static,
        B: Buf,
    {
        Self {
            length,
            stream: Box::pin(
                stream.map(|chunk| chunk.map(|mut buf| buf.copy_to_bytes(buf.remaining()))),
            ),
        }
    }

    /// The body, at most [`BODY_LIMIT_BYTES`]; larger is 413, whether or not the client
    /// sent `Content-Length`.
    async fn read(mut self) -> Result<Bytes, ApiError> {
        if self.length.is_some_and(|length| length > BODY_LIMIT_BYTES) {
            return Err(ApiError::PayloadTooLarge(BODY_LIMIT_BYTES));
        }
        let limit = usize::try_from(BODY_LIMIT_BYTES).unwrap_or(usize::MAX);
        let mut body = BytesMut::new();
        while let Some(chunk) = self.stream.next().await {
            let chunk = chunk.map_err(|err| {
                tracing::debug!(error = %err, "reading request body failed");
                ApiError::InvalidJson("request body could not be read".to_owned())
            })?;
            if body.len().saturating_add(chunk.len()) > limit {
                return Err(ApiError::PayloadTooLarge(BODY_LIMIT_BYTES));
            }
            body.put(chunk);
        }
        Ok(body.freeze())
    }
}

fn with_app(app: App) -> impl Filter<Extract = (App,), Error = Infallible> + Clone {
    warp::any().map(move || app.clone())
}

/// One line per request: method, path (no query), status, latency. Never headers, so
/// never the assertion.
fn log_request(info: warp::log::Info<'_>) {
    tracing::info!(
        target: "upstream_api::access",
        method = %info.method(),
        path = info.path(),
        status = info.status().as_u16(),
        latency_ms = info.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
}
