//! The task routes under `/api` as one table: which path shapes exist, which methods
//! each takes (the `Allow` of a 405), and what the path's `{user_id}` may be.

use percent_encoding::percent_decode_str;
use utoipa::IntoParams;

use crate::error::ApiError;

/// What a user id may look like: Better Auth's ids (32 alphanumerics by default, or
/// UUIDs and the like from other generators) with room to spare. Also in the OpenAPI
/// document as the `{user_id}` pattern.
pub const USER_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,128}$";

/// Longest user id, in bytes.
pub const USER_ID_MAX_BYTES: usize = 128;

/// The path parameter of `/api/{user_id}/tasks` (documentation of what
/// [`match_route`] and [`user_id`] accept).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    /// The user whose tasks these are; must be the authenticated user (403 otherwise),
    /// and match the pattern (400 otherwise).
    #[param(
        pattern = "^[A-Za-z0-9_-]{1,128}$",
        example = "U9XBjhMQY8X8xPvmIcZojfhqcLbqv4Pb"
    )]
    pub user_id: String,
}

/// The path parameters of `/api/{user_id}/tasks/{id}` and below.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TaskPath {
    /// The user whose task this is; must be the authenticated user (403 otherwise),
    /// and match the pattern (400 otherwise).
    #[param(
        pattern = "^[A-Za-z0-9_-]{1,128}$",
        example = "U9XBjhMQY8X8xPvmIcZojfhqcLbqv4Pb"
    )]
    pub user_id: String,
    /// The task id, a UUID (any case). Anything else names no task: 404.
    #[param(format = "uuid", example = "0b6a2f6e-2f0e-4c4b-9d55-6f3f8c1f6f0a")]
    pub id: String,
}

/// One operation on a user's tasks; the task id is the raw path segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskRoute {
    /// `GET /api/{user_id}/tasks`
    List,
    /// `POST /api/{user_id}/tasks`
    Create,
    /// `GET /api/{user_id}/tasks/{id}`
    Get(String),
    /// `PUT /api/{user_id}/tasks/{id}`
    Update(String),
    /// `DELETE /api/{user_id}/tasks/{id}`
    Delete(String),
    /// `PATCH /api/{user_id}/tasks/{id}/complete`
    Toggle(String),
}

/// A matched request: the path's user id segment (raw) and the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The `{user_id}` segment as it is in the path (percent-encoded).
    pub user_segment: String,
    /// The operation.
    pub route: TaskRoute,
}

/// Matches `method` on `path` (the whole path, starting `/api/`): 404 for a path that
/// is no route, 405 naming the allowed methods for a known path.
pub fn match_route(method: &str, path: &str) -> Result<Matched, ApiError> {
    let rest = path.strip_prefix("/api/").ok_or(ApiError::RouteNotFound)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let (user, route) = match segments.as_slice() {
        [user, "tasks"] => (
            *user,
            match method {
                "GET" => Ok(TaskRoute::List),
                "POST" => Ok(TaskRoute::Create),
                _ => Err("GET, POST"),
            },
        ),
        [user, "tasks", id] => {
            let id = (*id).to_owned();
            (
                *user,
                match method {
                    "GET" => Ok(TaskRoute::Get(id)),
                    "PUT" => Ok(TaskRoute::Update(id)),
                    "DELETE" => Ok(TaskRoute::Delete(id)),
                    _ => Err("GET, PUT, DELETE"),
                },
            )
        }
        [user, "tasks", id, "complete"] => (
            *user,
            match method {
                "PATCH" => Ok(TaskRoute::Toggle((*id).to_owned())),
                _ => Err("PATCH"),
            },
        ),
        _ => return Err(ApiError::RouteNotFound),
    };
    // Empty segments are no route, as with any other unknown path.
    if user.is_empty() || segments.iter().any(|s| s.is_empty()) {
        return Err(ApiError::RouteNotFound);
    }
    let route = route.map_err(|allow| ApiError::MethodNotAllowed { allow })?;
    Ok(Matched {
        user_segment: user.to_owned(),
        route,
    })
}

/// The percent-decoded `{user_id}`, if it matches [`USER_ID_PATTERN`]; else 400.
pub fn user_id(segment: &str) -> Result<String, ApiError> {
    let decoded = percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| bad_user_id())?;
    let valid = (1..=USER_ID_MAX_BYTES).contains(&decoded.len())
        && decoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(bad_user_id());
    }
    Ok(decoded.into_owned())
}

fn bad_user_id() -> ApiError {
    ApiError::BadPath(format!("user_id in the path must match {USER_ID_PATTERN}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Result<TaskRoute, ApiError> {
        match_route(method, path).map(|m| m.route)
    }

    #[test]
    fn every_route_and_its_methods() {
        assert_eq!(route("GET", "/api/u/tasks").ok(), Some(TaskRoute::List));
        assert_eq!(route("POST", "/api/u/tasks").ok(), Some(TaskRoute::Create));
        assert_eq!(
            route("GET", "/api/u/tasks/i").ok(),
            Some(TaskRoute::Get("i".into()))
        );
        assert_eq!(
            route("PUT", "/api/u/tasks/i").ok(),
            Some(TaskRoute::Update("i".into()))
        );
        assert_eq!(
            route("DELETE", "/api/u/tasks/i").ok(),
            Some(TaskRoute::Delete("i".into()))
        );
        assert_eq!(
            route("PATCH", "/api/u/tasks/i/complete").ok(),
            Some(TaskRoute::Toggle("i".into()))
        );
        assert_eq!(
            match_route("GET", "/api/u%20v/tasks")
                .expect("route")
                .user_segment,
            "u%20v"
        );
    }

    #[test]
    fn wrong_methods_name_the_allowed_ones() {
        for (method, path, allow) in [
            ("PATCH", "/api/u/tasks", "GET, POST"),
            ("TRACE", "/api/u/tasks", "GET, POST"),
            ("get", "/api/u/tasks", "GET, POST"),
            ("POST", "/api/u/tasks/i", "GET, PUT, DELETE"),
            ("GET", "/api/u/tasks/i/complete", "PATCH"),
        ] {
            match route(method, path) {
                Err(ApiError::MethodNotAllowed { allow: got }) => assert_eq!(got, allow),
                other => panic!("{method} {path}: {other:?}"),
            }
        }
    }

    #[test]
    fn other_paths_are_not_found() {
        for path in [
            "/api",
            "/api/",
            "/api/u",
            "/api/u/tasks/",
            "/api//tasks",
            "/api/u/tasks//complete",
            "/api/u/tasks/i/complete/",
            "/api/u/tasks/i/other",
            "/api/u/other",
            "/elsewhere",
        ] {
            assert!(
                matches!(route("GET", path), Err(ApiError::RouteNotFound)),
                "{path}"
            );
        }
    }

    #[test]
    fn user_ids_follow_the_pattern() {
        for ok in [
            "alice",
            "U9XBjhMQY8X8xPvmIcZojfhqcLbqv4Pb",
            "a_b-c",
            &"x".repeat(128),
        ] {
            assert_eq!(user_id(ok).expect(ok), ok);
        }
        assert_eq!(user_id("%61lice").expect("encoded letters decode"), "alice");
        for bad in [
            "",
            "alice%20smith",
            "a.b",
            "%00",
            "%C3%A9",
            "%FF",
            &"x".repeat(129),
        ] {
            let err = user_id(bad).expect_err(bad);
            assert_eq!(err.status().as_u16(), 400, "{bad}");
        }
    }
}
