//! Plain async functions behind the routes.
//!
//! By the time a handler runs, the filters have verified authgate's assertion and checked
//! that the path names the asserted user (the [`Owner`]). Handlers parse and validate the
//! input, call the store scoped by that owner, and shape the reply. The `#[utoipa::path]`
//! attributes here are what `GET /openapi.json` is generated from.

use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use warp::http::StatusCode;
use warp::reply::{self, Reply, Response};

use crate::error::ApiError;
use crate::models::{
    CreateTaskRequest, ErrorBody, Health, Owner, Task, TaskListQuery, UpdateTaskRequest,
    ValidationError,
};
use crate::routing::{TaskPath, UserPath};
use crate::App;

/// How long `GET /healthz` waits for the database.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: 200 `{"status":"ok"}` when the database answers, 503 otherwise.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "Service and database are up (through authgate, authgate answers this path itself, with the same body)", body = Health),
        (status = 503, description = "Database unreachable", body = ErrorBody),
    )
)]
pub async fn health(app: App) -> Result<Response, ApiError> {
    match tokio::time::timeout(HEALTH_TIMEOUT, app.store.ping()).await {
        Ok(Ok(())) => Ok(reply::json(&Health {
            status: "ok".to_owned(),
        })
        .into_response()),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "health check failed");
            Err(ApiError::Unavailable)
        }
        Err(_) => {
            tracing::warn!("health check timed out");
            Err(ApiError::Unavailable)
        }
    }
}

/// `GET /api/{user_id}/tasks`: the owner's tasks, oldest first.
#[utoipa::path(
    get,
    path = "/api/{user_id}/tasks",
    tag = "tasks",
    security(("bearerAuth" = [])),
    params(UserPath, TaskListQuery),
    responses(
        (status = 200, description = "The user's tasks", body = [Task]),
        (status = 422, description = "Invalid status, limit or offset", body = ErrorBody),
    )
)]
pub async fn list_tasks(
    owner: Owner,
    query: Vec<(String, String)>,
    app: App,
) -> Result<Response, ApiError> {
    let query = TaskListQuery::from_pairs(&query)?;
    let tasks = app.store.list_tasks(&owner.user_id, &query).await?;
    Ok(reply::json(&tasks).into_response())
}

/// `POST /api/{user_id}/tasks`: create a task, 201 with the task.
#[utoipa::path(
    post,
    path = "/api/{user_id}/tasks",
    tag = "tasks",
    security(("bearerAuth" = [])),
    params(UserPath),
    request_body = CreateTaskRequest,
    responses(
        (status = 201, description = "Task created", body = Task),
        (status = 413, description = "Body larger than 64 KiB", body = ErrorBody),
        (status = 422, description = "A field is invalid, null where not allowed, or unknown; `field` names it", body = ErrorBody),
    )
)]
pub async fn create_task(owner: Owner, body: Bytes, app: App) -> Result<Response, ApiError> {
    let new = parse_json::<CreateTaskRequest>(&body)?.validate()?;
    let task = app.store.create_task(&owner.user_id, &new).await?;
    Ok(reply::with_status(reply::json(&task), StatusCode::CREATED).into_response())
}

/// `GET /api/{user_id}/tasks/{id}`: one task.
#[utoipa::path(
    get,
    path = "/api/{user_id}/tasks/{id}",
    tag = "tasks",
    security(("bearerAuth" = [])),
    params(TaskPath),
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 404, description = "No such task for this user (or the id is not a UUID)", body = ErrorBody),
    )
)]
pub async fn get_task(owner: Owner, id: String, app: App) -> Result<Response, ApiError> {
    let id = task_id(&id)?;
    let task = app
        .store
        .get_task(&owner.user_id, &id)
        .await?
        .ok_or(ApiError::TaskNotFound)?;
    Ok(reply::json(&task).into_response())
}

/// `PUT /api/{user_id}/tasks/{id}`: change title, description and/or completed.
#[utoipa::path(
    put,
    path = "/api/{user_id}/tasks/{id}",
    tag = "tasks",
    security(("bearerAuth" = [])),
    params(TaskPath),
    request_body = UpdateTaskRequest,
    responses(
        (status = 200, description = "The updated task", body = Task),
        (status = 404, description = "No such task for this user (or the id is not a UUID)", body = ErrorBody),
        (status = 413, description = "Body larger than 64 KiB", body = ErrorBody),
        (status = 422, description = "A field is invalid, null where not allowed, or unknown; `field` names it", body = ErrorBody),
    )
)]
pub async fn update_task(
    owner: Owner,
    id: String,
    body: Bytes,
    app: App,
) -> Result<Response, ApiError> {
    let id = task_id(&id)?;
    let changes = parse_json::<UpdateTaskRequest>(&body)?.validate()?;
    let task = app
        .store
        .update_task(&owner.user_id, &id, &changes)
        .await?
        .ok_or(ApiError::TaskNotFound)?;
    Ok(reply::json(&task).into_response())
}

/// `DELETE /api/{user_id}/tasks/{id}`: delete, 204.
#[utoipa::path(
    delete,
    path = "/api/{user_id}/tasks/{id}",
    tag = "tasks",
    security(("bearerAuth" = [])),
    params(TaskPath),
    responses(
        (status = 204, description = "Task deleted"),
        (status = 404, description = "No such task for this user (or the id is not a UUID)", body = ErrorBody),
    )
)]
pub async fn delete_task(owner: Owner, id: String, app: App) -> Result<Response, ApiError> {
    let id = task_id(&id)?;
    if app.store.delete_task(&owner.user_id, &id).await? {
        Ok(reply::with_status(reply::reply(), StatusCode::NO_CONTENT).into_response())
    } else {
        Err(ApiError::TaskNotFound)
    }
}

/// `PATCH /api/{user_id}/tasks/{id}/complete`: flip `completed`.
#[utoipa::path(
    patch,
    path = "/api/{user_id}/tasks/{id}/complete",
    tag = "tasks",
    security(("bearerAuth" = [])),
    params(TaskPath),
    responses(
        (status = 200, description = "The task with `completed` flipped", body = Task),
        (status = 404, description = "No such task for this user (or the id is not a UUID)", body = ErrorBody),
    )
)]
pub async fn toggle_task(owner: Owner, id: String, app: App) -> Result<Response, ApiError> {
    let id = task_id(&id)?;
    let task = app
        .store
        .toggle_task(&owner.user_id, &id)
        .await?
        .ok_or(ApiError::TaskNotFound)?;
    Ok(reply::json(&task).into_response())
}

/// The task id as stored (lowercase hyphenated UUID). Anything that is not a UUID cannot
/// name a task, so it is a 404 like any other unknown id.
fn task_id(segment: &str) -> Result<String, ApiError> {
    uuid::Uuid::try_parse(segment)
        .map(|id| id.to_string())
        .map_err(|_| ApiError::TaskNotFound)
}

/// Parses a JSON body: malformed JSON or a non-object is 400, a field of the wrong type
/// is 422 naming the field.
fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        // A data error inside a top-level field names that field; anything else (not
        // JSON, not an object) is a malformed body.
        let field = match err.path().iter().next() {
            Some(serde_path_to_error::Segment::Map { key }) => Some(key.clone()),
            _ => None,
        };
        let path = err.path().to_string();
        let inner = err.into_inner();
        match (inner.classify(), field) {
            (Category::Data, Some(field)) => {
                ValidationError::new(field, format!("{path}: {inner}")).into()
            }
            (Category::Data, None) => {
                ApiError::InvalidJson(format!("request body must be a JSON object: {inner}"))
            }
            (Category::Syntax | Category::Eof | Category::Io, _) => {
                ApiError::InvalidJson(format!("request body is not valid JSON: {inner}"))
            }
        }
    })?;
    deserializer
        .end()
        .map_err(|err| ApiError::InvalidJson(format!("request body is not valid JSON: {err}")))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_are_normalised_uuids() {
        let upper = "0B6A2F6E-2F0E-4C4B-9D55-6F3F8C1F6F0A";
        assert_eq!(
            task_id(upper).expect("uuid"),
            "0b6a2f6e-2f0e-4c4b-9d55-6f3f8c1f6f0a"
        );
        assert!(matches!(task_id("123"), Err(ApiError::TaskNotFound)));
    }

    #[test]
    fn json_errors_are_400_and_type_errors_name_the_field() {
        for bad in [
            "",
            "{",
            "not json",
            "[]",
            "[1]",
            "\"title\"",
            "{} trailing",
            "null",
        ] {
            let err = parse_json::<CreateTaskRequest>(bad.as_bytes()).expect_err(bad);
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        let err = parse_json::<CreateTaskRequest>(br#"{"title": 5}"#).expect_err("type");
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.body().field.as_deref(), Some("title"));
        let err = parse_json::<UpdateTaskRequest>(br#"{"completed": "yes"}"#).expect_err("type");
        assert_eq!(err.body().field.as_deref(), Some("completed"));
    }
}
