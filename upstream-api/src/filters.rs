//! One function per route; the route is in its doc comment.
//!
//! Every `/api` route runs, in order: path, method, authgate's assertion (401), path user
//! against the assertion's subject (403), body size (413), then the handler. A catch-all
//! makes any other `/api` request without a valid assertion a 401 as well.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use percent_encoding::percent_decode_str;
use warp::filters::path::FullPath;
use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, Method};
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

use crate::error::{self, ApiError};
use crate::handlers;
use crate::models::{Owner, BODY_LIMIT_BYTES};
use crate::trust::{self, Identity};
use crate::App;

/// The whole service: every route, JSON errors, one access-log line per request.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    healthz(app.clone())
        .or(openapi_json())
        .unify()
        .or(list_tasks(app.clone()))
        .unify()
        .or(create_task(app.clone()))
        .unify()
        .or(get_task(app.clone()))
        .unify()
        .or(update_task(app.clone()))
        .unify()
        .or(delete_task(app.clone()))
        .unify()
        .or(toggle_task(app.clone()))
        .unify()
        .or(api_fallback(app))
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

/// `GET /api/{user_id}/tasks?status=all|pending|completed&limit=&offset=`
pub fn list_tasks(app: App) -> BoxedFilter<(Response,)> {
    as_owner(warp::path!("api" / String / "tasks").and(warp::get()), &app)
        .and(warp::query::<Vec<(String, String)>>())
        .and(with_app(app))
        .then(handlers::list_tasks)
        .map(error::respond)
        .boxed()
}

/// `POST /api/{user_id}/tasks` with `{title, description?}` → 201
pub fn create_task(app: App) -> BoxedFilter<(Response,)> {
    as_owner(
        warp::path!("api" / String / "tasks").and(warp::post()),
        &app,
    )
    .and(body_bytes())
    .and(with_app(app))
    .then(handlers::create_task)
    .map(error::respond)
    .boxed()
}

/// `GET /api/{user_id}/tasks/{id}`
pub fn get_task(app: App) -> BoxedFilter<(Response,)> {
    as_task_owner(
        warp::path!("api" / String / "tasks" / String).and(warp::get()),
        &app,
    )
    .and(with_app(app))
    .then(handlers::get_task)
    .map(error::respond)
    .boxed()
}

/// `PUT /api/{user_id}/tasks/{id}` with any of `{title, description, completed}`
pub fn update_task(app: App) -> BoxedFilter<(Response,)> {
    as_task_owner(
        warp::path!("api" / String / "tasks" / String).and(warp::put()),
        &app,
    )
    .and(body_bytes())
    .and(with_app(app))
    .then(handlers::update_task)
    .map(error::respond)
    .boxed()
}

/// `DELETE /api/{user_id}/tasks/{id}` → 204
pub fn delete_task(app: App) -> BoxedFilter<(Response,)> {
    as_task_owner(
        warp::path!("api" / String / "tasks" / String).and(warp::delete()),
        &app,
    )
    .and(with_app(app))
    .then(handlers::delete_task)
    .map(error::respond)
    .boxed()
}

/// `PATCH /api/{user_id}/tasks/{id}/complete`
pub fn toggle_task(app: App) -> BoxedFilter<(Response,)> {
    as_task_owner(
        warp::path!("api" / String / "tasks" / String / "complete").and(warp::patch()),
        &app,
    )
    .and(with_app(app))
    .then(handlers::toggle_task)
    .map(error::respond)
    .boxed()
}

/// `ANY /api/**` that no route above took: 401 without a valid assertion, else 404 (or
/// the 405 another route reported).
pub fn api_fallback(app: App) -> BoxedFilter<(Response,)> {
    warp::path("api")
        .and(authenticated(&app))
        .and_then(|_identity: Identity| async { Err::<Response, _>(warp::reject::not_found()) })
        .boxed()
}

/// The caller's identity from authgate's assertion, bound to this method and raw path.
/// Nothing else in the request (in particular no `X-Auth-User-Id`) is read for identity.
fn authenticated(app: &App) -> impl Filter<Extract = (Identity,), Error = Rejection> + Clone {
    let verifier = app.verifier.clone();
    warp::method()
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and_then(move |method: Method, path: FullPath, headers: HeaderMap| {
            let verifier = verifier.clone();
            async move {
                let assertion = trust::assertion_from_headers(&headers).map_err(ApiError::from)?;
                let identity = verifier
                    .verify(assertion, method.as_str(), path.as_str())
                    .map_err(ApiError::from)?;
                Ok::<_, Rejection>(identity)
            }
        })
}

/// `route` (which extracted the path's `{user_id}`), then authentication (401), then the
/// owner check (403).
fn as_owner<F>(route: F, app: &App) -> impl Filter<Extract = (Owner,), Error = Rejection> + Clone
where
    F: Filter<Extract = (String,), Error = Rejection> + Clone,
{
    route
        .and(authenticated(app))
        .and_then(|user_segment: String, identity: Identity| async move {
            owner_matches_subject(&user_segment, identity).map_err(Rejection::from)
        })
}

/// [`as_owner`] for routes that also extracted a task `{id}`.
fn as_task_owner<F>(
    route: F,
    app: &App,
) -> impl Filter<Extract = (Owner, String), Error = Rejection> + Clone
where
    F: Filter<Extract = (String, String), Error = Rejection> + Clone,
{
    route
        .and(authenticated(app))
        .and_then(
            |user_segment: String, task_id: String, identity: Identity| async move {
                let owner = owner_matches_subject(&user_segment, identity)?;
                Ok::<_, Rejection>((owner, task_id))
            },
        )
        .untuple_one()
}

/// The asserted user becomes the [`Owner`] only if the percent-decoded `{user_id}` path
/// segment is exactly the assertion's `sub` (defence in depth: authgate checks it too).
fn owner_matches_subject(user_segment: &str, identity: Identity) -> Result<Owner, ApiError> {
    let path_user = percent_decode_str(user_segment)
        .decode_utf8()
        .map_err(|_| ApiError::BadPath("user_id in the path is not valid UTF-8".to_owned()))?;
    if path_user != identity.user_id {
        return Err(ApiError::Forbidden);
    }
    Ok(Owner {
        user_id: identity.user_id,
    })
}

/// The request body, at most [`BODY_LIMIT_BYTES`]; larger is 413, whether or not the
/// client sent `Content-Length`.
fn body_bytes() -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(|length: Option<u64>| async move {
            match length {
                Some(length) if length > BODY_LIMIT_BYTES => {
                    Err(Rejection::from(ApiError::PayloadTooLarge(BODY_LIMIT_BYTES)))
                }
                _ => Ok(()),
            }
        })
        .untuple_one()
        .and(warp::body::stream())
        .and_then(read_body_capped)
}

async fn read_body_capped<S, B>(stream: S) -> Result<Bytes, Rejection>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = Box::pin(stream);
    let mut body = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| {
            tracing::debug!(error = %err, "reading request body failed");
            ApiError::InvalidJson("request body could not be read".to_owned())
        })?;
        let limit = usize::try_from(BODY_LIMIT_BYTES).unwrap_or(usize::MAX);
        if body.len().saturating_add(chunk.remaining()) > limit {
            return Err(ApiError::PayloadTooLarge(BODY_LIMIT_BYTES).into());
        }
        body.put(chunk);
    }
    Ok(body.freeze())
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
