//! Errors a client can see, and the one place rejections become JSON.
//!
//! Every error response is `{"error": "...", "message": "..."}` (plus `field` for
//! validation errors). Database errors are logged here and reach the client only as a
//! generic 500: no SQL, driver message or connection detail ever leaves the service.

use std::convert::Infallible;

use warp::http::{header, HeaderValue, StatusCode};
use warp::reject::Rejection;
use warp::reply::{Reply, Response};

use crate::db::StoreError;
use crate::models::{ErrorBody, ValidationError, BODY_LIMIT_BYTES};
use crate::trust::AssertionError;

/// `WWW-Authenticate` value sent with every 401.
pub const WWW_AUTHENTICATE: &str = "Bearer realm=\"upstream-api\"";

/// `Retry-After` (seconds) when the shared replay record does not answer: Redis is
/// reconnected in the background within about a second.
pub const REPLAY_STORE_RETRY_AFTER_SECS: u64 = 1;

/// Everything that can go wrong in a request, as the client will see it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid assertion from authgate (401).
    #[error("{0}")]
    Unauthorized(AssertionError),
    /// Too many live assertions to check one more for replay (503, `Retry-After`).
    #[error("too many recent requests to check this one for replay; retry later")]
    ReplayCacheFull {
        /// Seconds until there is room again.
        retry_after_secs: u64,
    },
    /// The shared replay record (Redis) failed or was too slow: the assertion cannot be
    /// checked for replay, so it is not accepted (503, `Retry-After`).
    #[error("the replay record (Redis) does not answer, so this request cannot be checked for replay; retry later")]
    ReplayStoreUnavailable,
    /// The path's `{user_id}` is not the assertion's subject (403).
    #[error("the user in the path is not the authenticated user")]
    Forbidden,
    /// No such task for this user — or it belongs to someone else (404).
    #[error("task not found")]
    TaskNotFound,
    /// No such route (404).
    #[error("no such route")]
    RouteNotFound,
    /// Right path, wrong method (405); `allow` lists the methods the path takes.
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed {
        /// The `Allow` header value.
        allow: &'static str,
    },
    /// The body is not JSON, or not a JSON object of the expected shape (400).
    #[error("{0}")]
    InvalidJson(String),
    /// A path segment could not be decoded (400).
    #[error("{0}")]
    BadPath(String),
    /// The query string cannot be parsed at all (400).
    #[error("malformed query string")]
    InvalidQueryString,
    /// A body field or query parameter fails validation (422).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// The body exceeds the size limit (413).
    #[error("request body exceeds {0} bytes")]
    PayloadTooLarge(u64),
    /// The database does not answer the health check (503).
    #[error("database is not reachable")]
    Unavailable,
    /// The database failed (500; the detail is logged, not sent).
    #[error("internal server error")]
    Store(#[from] StoreError),
    /// A failure that is not the client's fault (500).
    #[error("internal server error")]
    Internal,
}

impl warp::reject::Reject for ApiError {}

impl From<AssertionError> for ApiError {
    fn from(err: AssertionError) -> Self {
        match err {
            AssertionError::ReplayCacheFull { retry_after_secs } => {
                Self::ReplayCacheFull { retry_after_secs }
            }
            AssertionError::ReplayStoreUnavailable => Self::ReplayStoreUnavailable,
            other => Self::Unauthorized(other),
        }
    }
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::TaskNotFound | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::InvalidJson(_) | Self::BadPath(_) | Self::InvalidQueryString => {
                StatusCode::BAD_REQUEST
            }
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable | Self::ReplayCacheFull { .. } | Self::ReplayStoreUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Store(_) | Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body for this error.
    pub fn body(&self) -> ErrorBody {
        let code = match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::TaskNotFound | Self::RouteNotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::InvalidJson(_) => "invalid_json",
            Self::BadPath(_) => "bad_request",
            Self::InvalidQueryString => "invalid_query",
            Self::Unavailable | Self::ReplayCacheFull { .. } | Self::ReplayStoreUnavailable => {
                "service_unavailable"
            }
            Self::Validation(_) => "validation_error",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Store(_) | Self::Internal => "internal_error",
        };
        let field = match self {
            Self::Validation(err) => Some(err.field.clone()),
            _ => None,
        };
        ErrorBody {
            error: code.to_owned(),
            message: self.to_string(),
            field,
        }
    }
}

impl ApiError {
    /// The full response: status, JSON body, `WWW-Authenticate` on 401, `Allow` on 405,
    /// `Retry-After` when the replay record is full or does not answer.
    pub fn to_response(&self) -> Response {
        match self {
            Self::Store(err) => tracing::error!(error = %err, "database error"),
            Self::Unauthorized(reason) => tracing::debug!(%reason, "assertion refused"),
            Self::ReplayCacheFull { .. } => tracing::warn!("replay record full; request refused"),
            // Logged once per outage by the store, not per request.
            Self::ReplayStoreUnavailable => tracing::debug!("replay record does not answer"),
            _ => {}
        }
        let status = self.status();
        let mut response =
            warp::reply::with_status(warp::reply::json(&self.body()), status).into_response();
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(WWW_AUTHENTICATE),
                );
            }
            Self::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            Self::ReplayCacheFull { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::ReplayStoreUnavailable => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(REPLAY_STORE_RETRY_AFTER_SECS),
                );
            }
            _ => {}
        }
        response
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        self.to_response()
    }
}

/// Turns a handler's result into a response, whichever way it went.
pub fn respond<T: Reply>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(reply) => reply.into_response(),
        Err(err) => err.into_response(),
    }
}

/// The `recover` for the whole service: every rejection becomes a JSON error.
///
/// Our own errors are looked for first: a request that failed authentication on the
/// route it matched must get that 401, not another route's 405.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    if let Some(err) = rejection.find::<ApiError>() {
        return Ok(err.to_response());
    }
    let err = if rejection.is_not_found() {
        ApiError::RouteNotFound
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        // Only the routes outside /api get here (/api does its own routing), and each
        // of them takes GET alone.
        ApiError::MethodNotAllowed { allow: "GET" }
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge(BODY_LIMIT_BYTES)
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        ApiError::InvalidQueryString
    } else {
        tracing::warn!(?rejection, "unhandled rejection");
        ApiError::Internal
    };
    Ok(err.to_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_hide_detail() {
        let err = ApiError::Store(StoreError::Database(sqlx::Error::Protocol(
            "relation \"tasks\" does not exist".into(),
        )));
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = err.body();
        assert_eq!(body.error, "internal_error");
        assert!(!body.message.contains("tasks"), "{}", body.message);
    }

    #[test]
    fn method_not_allowed_carries_allow_and_a_full_record_retry_after() {
        let response = ApiError::MethodNotAllowed { allow: "GET, POST" }.into_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            response.headers().get(header::ALLOW),
            Some(&HeaderValue::from_static("GET, POST"))
        );
        let response = ApiError::from(AssertionError::ReplayCacheFull {
            retry_after_secs: 7,
        })
        .into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from_static("7"))
        );
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn a_silent_replay_store_is_503_with_retry_after_never_401() {
        let err = ApiError::from(AssertionError::from(
            crate::replay::ReplayError::Unavailable,
        ));
        assert_eq!(err.body().error, "service_unavailable");
        assert!(
            err.body().message.contains("Redis"),
            "{}",
            err.body().message
        );
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from_static("1"))
        );
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn unauthorized_carries_www_authenticate() {
        let response = ApiError::Unauthorized(AssertionError::Missing).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE),
            Some(&HeaderValue::from_static(WWW_AUTHENTICATE))
        );
    }
}
