//! Handler tests in-process (`warp::test`) on SQLite: every endpoint, validation,
//! ownership, and every way an assertion can be wrong.

use serde_json::{json, Value};
use warp::filters::BoxedFilter;
use warp::reply::Response;

use upstream_api::models::Task;

use crate::common::*;

async fn setup() -> (
    upstream_api::App,
    BoxedFilter<(Response,)>,
    tempfile::TempDir,
) {
    let (store, dir) = sqlite_store().await;
    let (app, routes) = routes(store);
    (app, routes, dir)
}

async fn create(routes: &BoxedFilter<(Response,)>, sub: &str, body: Value) -> Task {
    let path = format!("/api/{sub}/tasks");
    let response = call(routes, sub, "POST", &path, Some(&body.to_string())).await;
    assert_eq!(
        response.status(),
        201,
        "{}",
        String::from_utf8_lossy(response.body())
    );
    serde_json::from_slice(response.body()).expect("task")
}

fn task_of(response: &warp::http::Response<bytes::Bytes>) -> Task {
    assert_eq!(
        response.status(),
        200,
        "{}",
        String::from_utf8_lossy(response.body())
    );
    serde_json::from_slice(response.body()).expect("task")
}

fn tasks_of(response: &warp::http::Response<bytes::Bytes>) -> Vec<Task> {
    assert_eq!(
        response.status(),
        200,
        "{}",
        String::from_utf8_lossy(response.body())
    );
    serde_json::from_slice(response.body()).expect("tasks")
}

// ---- the six endpoints ------------------------------------------------------------

#[tokio::test]
async fn create_returns_201_with_the_task() {
    let (_app, routes, _dir) = setup().await;
    let task = create(
        &routes,
        "alice",
        json!({"title": "  Buy milk  ", "description": "2 litres"}),
    )
    .await;
    assert_eq!(task.title, "Buy milk");
    assert_eq!(task.description.as_deref(), Some("2 litres"));
    assert_eq!(task.user_id, "alice");
    assert!(!task.completed);
    assert!(uuid::Uuid::try_parse(&task.id).is_ok(), "{}", task.id);
    let created = chrono::DateTime::parse_from_rfc3339(&task.created_at).expect("rfc3339");
    chrono::DateTime::parse_from_rfc3339(&task.updated_at).expect("rfc3339");
    assert!((chrono::Utc::now() - created.to_utc()).num_seconds().abs() < 60);
    assert_eq!(task.created_at, task.updated_at);
}

#[tokio::test]
async fn user_id_in_body_is_refused_and_in_query_ignored() {
    let (_app, routes, _dir) = setup().await;
    // Bodies refuse unknown fields, so a user id there never gets a say.
    let response = call(
        &routes,
        "alice",
        "POST",
        "/api/alice/tasks",
        Some(r#"{"title": "mine", "user_id": "mallory"}"#),
    )
    .await;
    assert_eq!(
        assert_error(&response, 422, "validation_error")["field"],
        "user_id"
    );
    let task = create(&routes, "alice", json!({"title": "mine"})).await;
    assert_eq!(task.user_id, "alice");
    create(&routes, "bob", json!({"title": "bob's"})).await;
    let listed = tasks_of(
        &call(
            &routes,
            "alice",
            "GET",
            "/api/alice/tasks?user_id=bob",
            None,
        )
        .await,
    );
    assert_eq!(listed, vec![task]);
}

#[tokio::test]
async fn list_returns_only_the_users_tasks_in_creation_order() {
    let (_app, routes, _dir) = setup().await;
    let a = create(&routes, "alice", json!({"title": "a"})).await;
    let b = create(&routes, "alice", json!({"title": "b"})).await;
    create(&routes, "bob", json!({"title": "not alice's"})).await;
    let listed = tasks_of(&call(&routes, "alice", "GET", "/api/alice/tasks", None).await);
    assert_eq!(listed, vec![a, b]);
    let empty = tasks_of(&call(&routes, "carol", "GET", "/api/carol/tasks", None).await);
    assert!(empty.is_empty());
}

#[tokio::test]
async fn list_filters_by_status_and_pages() {
    let (_app, routes, _dir) = setup().await;
    let mut tasks = Vec::new();
    for i in 0..5 {
        tasks.push(create(&routes, "alice", json!({"title": format!("t{i}")})).await);
    }
    let done = task_of(
        &call(
            &routes,
            "alice",
            "PATCH",
            &format!("/api/alice/tasks/{}/complete", tasks[1].id),
            None,
        )
        .await,
    );
    assert!(done.completed);

    let completed = tasks_of(
        &call(
            &routes,
            "alice",
            "GET",
            "/api/alice/tasks?status=completed",
            None,
        )
        .await,
    );
    assert_eq!(completed, vec![done.clone()]);
    let pending = tasks_of(
        &call(
            &routes,
            "alice",
            "GET",
            "/api/alice/tasks?status=pending",
            None,
        )
        .await,
    );
    assert_eq!(pending.len(), 4);
    assert!(pending.iter().all(|t| !t.completed && t.id != done.id));
    let all = tasks_of(&call(&routes, "alice", "GET", "/api/alice/tasks?status=all", None).await);
    assert_eq!(all.len(), 5);

    let page = tasks_of(
        &call(
            &routes,
            "alice",
            "GET",
            "/api/alice/tasks?limit=2&offset=2",
            None,
        )
        .await,
    );
    let ids: Vec<_> = page.iter().map(|t| t.id.clone()).collect();
    assert_eq!(ids, vec![tasks[2].id.clone(), tasks[3].id.clone()]);
    let past_end =
        tasks_of(&call(&routes, "alice", "GET", "/api/alice/tasks?offset=10", None).await);
    assert!(past_end.is_empty());
}

#[tokio::test]
async fn list_limit_defaults_to_50_and_is_capped_at_100() {
    let (app, routes, _dir) = setup().await;
    for i in 0..105 {
        app.store
            .create_task(
                "alice",
                &upstream_api::models::NewTask {
                    title: format!("t{i}"),
                    description: None,
                },
            )
            .await
            .expect("insert");
    }
    let default = tasks_of(&call(&routes, "alice", "GET", "/api/alice/tasks", None).await);
    assert_eq!(default.len(), 50);
    let capped =
        tasks_of(&call(&routes, "alice", "GET", "/api/alice/tasks?limit=1000", None).await);
    assert_eq!(capped.len(), 100);
}

#[tokio::test]
async fn bad_list_parameters_are_422_naming_the_parameter() {
    let (_app, routes, _dir) = setup().await;
    for (query, field) in [
        ("status=done", "status"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=-5", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
    ] {
        let path = format!("/api/alice/tasks?{query}");
        let body = assert_error(
            &call(&routes, "alice", "GET", &path, None).await,
            422,
            "validation_error",
        );
        assert_eq!(body["field"], field, "{query}: {body}");
    }
}

#[tokio::test]
async fn get_returns_one_task() {
    let (_app, routes, _dir) = setup().await;
    let task = create(&routes, "alice", json!({"title": "one"})).await;
    let path = format!("/api/alice/tasks/{}", task.id);
    assert_eq!(
        task_of(&call(&routes, "alice", "GET", &path, None).await),
        task
    );
    // The id is matched as a UUID, whatever its case.
    let upper = format!("/api/alice/tasks/{}", task.id.to_uppercase());
    assert_eq!(
        task_of(&call(&routes, "alice", "GET", &upper, None).await),
        task
    );
}

#[tokio::test]
async fn unknown_or_malformed_task_ids_are_404() {
    let (_app, routes, _dir) = setup().await;
    let unknown = format!("/api/alice/tasks/{}", uuid::Uuid::new_v4());
    assert_error(
        &call(&routes, "alice", "GET", &unknown, None).await,
        404,
        "not_found",
    );
    assert_error(
        &call(&routes, "alice", "GET", "/api/alice/tasks/123", None).await,
        404,
        "not_found",
    );
    assert_error(
        &call(&routes, "alice", "DELETE", &unknown, None).await,
        404,
        "not_found",
    );
    assert_error(
        &call(
            &routes,
            "alice",
            "PATCH",
            &format!("{unknown}/complete"),
            None,
        )
        .await,
        404,
        "not_found",
    );
    assert_error(
        &call(&routes, "alice", "PUT", &unknown, Some(r#"{"title":"x"}"#)).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn another_users_task_is_404_on_every_route() {
    let (_app, routes, _dir) = setup().await;
    let task = create(&routes, "alice", json!({"title": "alice's"})).await;
    let path = format!("/api/bob/tasks/{}", task.id);
    assert_error(
        &call(&routes, "bob", "GET", &path, None).await,
        404,
        "not_found",
    );
    assert_error(
        &call(&routes, "bob", "PUT", &path, Some(r#"{"title":"pwned"}"#)).await,
        404,
        "not_found",
    );
    assert_error(
        &call(&routes, "bob", "PATCH", &format!("{path}/complete"), None).await,
        404,
        "not_found",
    );
    assert_error(
        &call(&routes, "bob", "DELETE", &path, None).await,
        404,
        "not_found",
    );
    // Untouched.
    let mine = format!("/api/alice/tasks/{}", task.id);
    assert_eq!(
        task_of(&call(&routes, "alice", "GET", &mine, None).await),
        task
    );
}

#[tokio::test]
async fn put_updates_given_fields_only() {
    let (_app, routes, _dir) = setup().await;
    let task = create(
        &routes,
        "alice",
        json!({"title": "old", "description": "keep me"}),
    )
    .await;
    let path = format!("/api/alice/tasks/{}", task.id);

    let updated =
        task_of(&call(&routes, "alice", "PUT", &path, Some(r#"{"title":" new "}"#)).await);
    assert_eq!(updated.title, "new");
    assert_eq!(updated.description.as_deref(), Some("keep me"));
    assert!(!updated.completed);
    assert_eq!(updated.created_at, task.created_at);
    assert!(updated.updated_at > task.updated_at);

    let updated = task_of(
        &call(
            &routes,
            "alice",
            "PUT",
            &path,
            Some(r#"{"description":null,"completed":true}"#),
        )
        .await,
    );
    assert_eq!(updated.title, "new");
    assert_eq!(updated.description, None);
    assert!(updated.completed);

    // Persisted, not just echoed.
    assert_eq!(
        task_of(&call(&routes, "alice", "GET", &path, None).await),
        updated
    );
}

#[tokio::test]
async fn delete_returns_204_and_the_task_is_gone() {
    let (_app, routes, _dir) = setup().await;
    let task = create(&routes, "alice", json!({"title": "bye"})).await;
    let path = format!("/api/alice/tasks/{}", task.id);
    let response = call(&routes, "alice", "DELETE", &path, None).await;
    assert_eq!(response.status(), 204);
    assert!(response.body().is_empty());
    assert_error(
        &call(&routes, "alice", "GET", &path, None).await,
        404,
        "not_found",
    );
    assert_error(
        &call(&routes, "alice", "DELETE", &path, None).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn patch_complete_toggles() {
    let (_app, routes, _dir) = setup().await;
    let task = create(&routes, "alice", json!({"title": "toggle"})).await;
    let path = format!("/api/alice/tasks/{}/complete", task.id);
    let once = task_of(&call(&routes, "alice", "PATCH", &path, None).await);
    assert!(once.completed);
    assert!(once.updated_at > task.updated_at);
    let twice = task_of(&call(&routes, "alice", "PATCH", &path, None).await);
    assert!(!twice.completed);
}

// ---- input errors -----------------------------------------------------------------

#[tokio::test]
async fn validation_errors_are_422_naming_the_field() {
    let (_app, routes, _dir) = setup().await;
    let long_title = "x".repeat(201);
    let long_description = "d".repeat(1001);
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "title"),
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": long_title}), "title"),
        (json!({"title": 42}), "title"),
        (
            json!({"title": "ok", "description": long_description}),
            "description",
        ),
        (json!({"title": "ok", "description": false}), "description"),
    ];
    for (body, field) in cases {
        let response = call(
            &routes,
            "alice",
            "POST",
            "/api/alice/tasks",
            Some(&body.to_string()),
        )
        .await;
        let error = assert_error(&response, 422, "validation_error");
        assert_eq!(error["field"], field, "{body}: {error}");
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(field)),
            "{error}"
        );
    }
    // Exactly at the limits is fine.
    create(
        &routes,
        "alice",
        json!({"title": "x".repeat(200), "description": "d".repeat(1000)}),
    )
    .await;

    let task = create(&routes, "alice", json!({"title": "t"})).await;
    let path = format!("/api/alice/tasks/{}", task.id);
    for (body, field) in [
        (json!({"title": ""}), "title"),
        (json!({"completed": "yes"}), "completed"),
        (json!({"description": "d".repeat(1001)}), "description"),
        (json!({}), "body"),
    ] {
        let response = call(&routes, "alice", "PUT", &path, Some(&body.to_string())).await;
        let error = assert_error(&response, 422, "validation_error");
        assert_eq!(error["field"], field, "{body}: {error}");
    }
}

#[tokio::test]
async fn bad_json_is_400() {
    let (_app, routes, _dir) = setup().await;
    let task = create(&routes, "alice", json!({"title": "t"})).await;
    let put_path = format!("/api/alice/tasks/{}", task.id);
    for body in [
        "",
        "{",
        "{\"title\": }",
        "not json",
        "[1,2]",
        "{\"title\":\"a\"} {}",
    ] {
        assert_error(
            &call(&routes, "alice", "POST", "/api/alice/tasks", Some(body)).await,
            400,
            "invalid_json",
        );
        assert_error(
            &call(&routes, "alice", "PUT", &put_path, Some(body)).await,
            400,
            "invalid_json",
        );
    }
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let (_app, routes, _dir) = setup().await;
    let big = json!({"title": "t", "description": "d".repeat(70 * 1024)}).to_string();
    assert_error(
        &call(&routes, "alice", "POST", "/api/alice/tasks", Some(&big)).await,
        413,
        "payload_too_large",
    );
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let (_app, routes, _dir) = setup().await;
    // Under /api, a valid assertion is needed before anything else is said.
    let response = warp::test::request()
        .method("GET")
        .path("/api/alice/nothing-here")
        .reply(&routes)
        .await;
    assert_unauthorized(&response);
    assert_error(
        &call(&routes, "alice", "GET", "/api/alice/nothing-here", None).await,
        404,
        "not_found",
    );
    for (method, path, allow) in [
        ("PATCH", "/api/alice/tasks", "GET, POST"),
        ("TRACE", "/api/alice/tasks", "GET, POST"),
        ("POST", "/api/alice/tasks/x", "GET, PUT, DELETE"),
        ("DELETE", "/api/alice/tasks/x/complete", "PATCH"),
    ] {
        let response = call(&routes, "alice", method, path, None).await;
        assert_error(&response, 405, "method_not_allowed");
        assert_eq!(
            response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
    }
    for path in ["/healthz", "/openapi.json"] {
        let response = warp::test::request()
            .method("DELETE")
            .path(path)
            .reply(&routes)
            .await;
        assert_error(&response, 405, "method_not_allowed");
        assert_eq!(
            response.headers().get("allow").map(|v| v.as_bytes()),
            Some(&b"GET"[..])
        );
    }
    let response = warp::test::request()
        .method("GET")
        .path("/elsewhere")
        .reply(&routes)
        .await;
    assert_error(&response, 404, "not_found");
}

#[tokio::test]
async fn database_errors_do_not_leak() {
    let (app, routes, _dir) = setup().await;
    sqlx::query("DROP TABLE tasks")
        .execute(app.store.pool())
        .await
        .expect("drop");
    let response = call(&routes, "alice", "GET", "/api/alice/tasks", None).await;
    let body = assert_error(&response, 500, "internal_error");
    let text = body.to_string().to_lowercase();
    for leak in ["tasks", "table", "sqlite", "select"] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
}

// ---- identity ---------------------------------------------------------------------

#[tokio::test]
async fn path_user_must_be_the_subject() {
    let (_app, routes, _dir) = setup().await;
    // A genuine assertion for alice, on a path naming bob.
    let response = call(&routes, "alice", "GET", "/api/bob/tasks", None).await;
    assert_error(&response, 403, "forbidden");
    let response = call(
        &routes,
        "alice",
        "POST",
        "/api/bob/tasks",
        Some(r#"{"title":"x"}"#),
    )
    .await;
    assert_error(&response, 403, "forbidden");
    let path = format!("/api/bob/tasks/{}/complete", uuid::Uuid::new_v4());
    assert_error(
        &call(&routes, "alice", "PATCH", &path, None).await,
        403,
        "forbidden",
    );
}

#[tokio::test]
async fn path_user_is_percent_decoded() {
    let (_app, routes, _dir) = setup().await;
    let path = "/api/%61lice/tasks";
    let response = call(&routes, "alice", "POST", path, Some(r#"{"title":"x"}"#)).await;
    assert_eq!(response.status(), 201);
    let task: Task = serde_json::from_slice(response.body()).expect("task");
    assert_eq!(task.user_id, "alice");
    // Undecoded it would be a different user.
    let response = call(&routes, "%61lice", "GET", path, None).await;
    assert_error(&response, 403, "forbidden");
}

#[tokio::test]
async fn path_users_outside_the_pattern_are_400() {
    let (_app, routes, _dir) = setup().await;
    // Even when the assertion's subject is that very string.
    for (sub, segment) in [
        ("alice smith", "alice%20smith"),
        ("al.ice", "al.ice"),
        ("é", "%C3%A9"),
        (&"x".repeat(129), &"x".repeat(129)),
    ] {
        let path = format!("/api/{segment}/tasks");
        let response = call(&routes, sub, "GET", &path, None).await;
        let body = assert_error(&response, 400, "bad_request");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("^[A-Za-z0-9_-]{1,128}$")),
            "{body}"
        );
    }
}

/// Sends `GET /api/alice/tasks` with the given assertion header values.
async fn list_with(
    routes: &BoxedFilter<(Response,)>,
    assertions: &[&str],
) -> warp::http::Response<bytes::Bytes> {
    let mut request = warp::test::request().method("GET").path("/api/alice/tasks");
    for assertion in assertions {
        request = request.header("x-auth-assertion", *assertion);
    }
    request.reply(routes).await
}

#[tokio::test]
async fn missing_assertion_is_401_on_every_route() {
    let (_app, routes, _dir) = setup().await;
    let id = uuid::Uuid::new_v4();
    for (method, path) in [
        ("GET", "/api/alice/tasks".to_owned()),
        ("POST", "/api/alice/tasks".to_owned()),
        ("GET", format!("/api/alice/tasks/{id}")),
        ("PUT", format!("/api/alice/tasks/{id}")),
        ("DELETE", format!("/api/alice/tasks/{id}")),
        ("PATCH", format!("/api/alice/tasks/{id}/complete")),
    ] {
        let response = warp::test::request()
            .method(method)
            .path(&path)
            .body(r#"{"title":"x"}"#)
            .reply(&routes)
            .await;
        assert_unauthorized(&response);
    }
}

#[tokio::test]
async fn plain_user_id_header_is_not_trusted() {
    let (_app, routes, _dir) = setup().await;
    let response = warp::test::request()
        .method("GET")
        .path("/api/alice/tasks")
        .header("x-auth-user-id", "alice")
        .header("x-auth-user-email", "alice@example.com")
        .reply(&routes)
        .await;
    assert_unauthorized(&response);
}

#[tokio::test]
async fn a_valid_assertion_is_accepted() {
    let (_app, routes, _dir) = setup().await;
    let token = assertion("alice", "GET", "/api/alice/tasks");
    assert_eq!(list_with(&routes, &[&token]).await.status(), 200);
}

#[tokio::test]
async fn garbage_assertions_are_401() {
    let (_app, routes, _dir) = setup().await;
    for garbage in ["", "garbage", "a.b.c", "Bearer x.y.z"] {
        assert_unauthorized(&list_with(&routes, &[garbage]).await);
    }
    // (Two X-Auth-Assertion headers are refused too: `warp::test` cannot send them, so
    // that is checked in trust.rs and over a real socket in binary.rs.)
}

#[tokio::test]
async fn expired_assertion_is_401() {
    let (_app, routes, _dir) = setup().await;
    let now = unix_now();
    let mut claims = claims("alice", "GET", "/api/alice/tasks");
    claims["iat"] = json!(now - 120);
    claims["exp"] = json!(now - 60);
    assert_unauthorized(&list_with(&routes, &[&sign(&claims)]).await);
}

#[tokio::test]
async fn too_long_lived_assertion_is_401() {
    let (_app, routes, _dir) = setup().await;
    let mut claims = claims("alice", "GET", "/api/alice/tasks");
    claims["exp"] = json!(unix_now() + 3600);
    assert_unauthorized(&list_with(&routes, &[&sign(&claims)]).await);
}

#[tokio::test]
async fn assertion_replayed_on_another_path_or_method_is_401() {
    let (_app, routes, _dir) = setup().await;
    let task = create(&routes, "alice", json!({"title": "t"})).await;
    let get_path = format!("/api/alice/tasks/{}", task.id);
    // Issued for GET of the task, replayed as DELETE of the same path.
    let get_token = assertion("alice", "GET", &get_path);
    let response = warp::test::request()
        .method("DELETE")
        .path(&get_path)
        .header("x-auth-assertion", &get_token)
        .reply(&routes)
        .await;
    assert_unauthorized(&response);
    // Replayed on another path with the same method.
    let response = warp::test::request()
        .method("GET")
        .path("/api/alice/tasks")
        .header("x-auth-assertion", &get_token)
        .reply(&routes)
        .await;
    assert_unauthorized(&response);
    // Replayed on the toggle route.
    let response = warp::test::request()
        .method("PATCH")
        .path(&format!("{get_path}/complete"))
        .header("x-auth-assertion", &get_token)
        .reply(&routes)
        .await;
    assert_unauthorized(&response);
    // Replayed with a query it was not issued for: the query is bound too (htq).
    let response = warp::test::request()
        .method("GET")
        .path(&format!("{get_path}?x=1"))
        .header("x-auth-assertion", &get_token)
        .reply(&routes)
        .await;
    assert_unauthorized(&response);
    // None of those used it up: it still works, once, for its own request, and the
    // task was not touched.
    let own = || {
        warp::test::request()
            .method("GET")
            .path(&get_path)
            .header("x-auth-assertion", &get_token)
            .reply(&routes)
    };
    assert_eq!(task_of(&own().await), task);
    assert_unauthorized(&own().await);
}

#[tokio::test]
async fn an_assertion_is_accepted_once_whatever_the_answer() {
    let (_app, routes, _dir) = setup().await;
    let token = assertion("alice", "GET", "/api/alice/tasks");
    assert_eq!(list_with(&routes, &[&token]).await.status(), 200);
    let replayed = list_with(&routes, &[&token]).await;
    assert_unauthorized(&replayed);
    assert_eq!(json_of(&replayed)["message"], "assertion was already used");
    // Used up by a request that failed after authentication, too: a 413 cannot be
    // retried with a smaller body under the same assertion.
    let big = json!({"title": "t", "description": "d".repeat(70 * 1024)}).to_string();
    let token = assertion("alice", "POST", "/api/alice/tasks");
    let post = |body: String| {
        warp::test::request()
            .method("POST")
            .path("/api/alice/tasks")
            .header("x-auth-assertion", &token)
            .header("content-type", "application/json")
            .body(body)
            .reply(&routes)
    };
    assert_error(&post(big).await, 413, "payload_too_large");
    assert_unauthorized(&post(r#"{"title":"small"}"#.to_owned()).await);
}

#[tokio::test]
async fn the_query_is_bound_to_the_assertion() {
    let (_app, routes, _dir) = setup().await;
    create(&routes, "alice", json!({"title": "t"})).await;
    let path = "/api/alice/tasks?status=completed";
    assert_eq!(
        tasks_of(&call(&routes, "alice", "GET", path, None).await),
        vec![]
    );
    for (issued, sent) in [
        ("/api/alice/tasks", "/api/alice/tasks?status=completed"),
        (
            "/api/alice/tasks?status=pending",
            "/api/alice/tasks?status=completed",
        ),
        ("/api/alice/tasks?status=pending", "/api/alice/tasks"),
        (
            "/api/alice/tasks?limit=1",
            "/api/alice/tasks?limit=1&limit=2",
        ),
    ] {
        let response = warp::test::request()
            .method("GET")
            .path(sent)
            .header("x-auth-assertion", assertion("alice", "GET", issued))
            .reply(&routes)
            .await;
        assert_unauthorized(&response);
    }
}

#[tokio::test]
async fn assertion_signed_with_another_key_is_401() {
    let (_app, routes, _dir) = setup().await;
    let forged = sign_with(
        &claims("alice", "GET", "/api/alice/tasks"),
        b"not-the-shared-secret-but-long-enough-0123",
    );
    assert_unauthorized(&list_with(&routes, &[&forged]).await);
}

#[tokio::test]
async fn alg_none_assertion_is_401() {
    use base64::Engine;
    let (_app, routes, _dir) = setup().await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64.encode(claims("alice", "GET", "/api/alice/tasks").to_string());
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        assert_unauthorized(&list_with(&routes, &[&token]).await);
    }
}

#[tokio::test]
async fn wrong_issuer_audience_or_missing_claims_are_401() {
    let (_app, routes, _dir) = setup().await;
    let base = claims("alice", "GET", "/api/alice/tasks");
    let mut variants = Vec::new();
    for (name, value) in [("iss", json!("evil")), ("aud", json!("other-service"))] {
        let mut c = base.clone();
        c[name] = value;
        variants.push(c);
    }
    for name in [
        "iss", "aud", "sub", "iat", "exp", "htm", "htp", "htq", "jti",
    ] {
        let mut c = base.clone();
        c.as_object_mut().expect("object").remove(name);
        variants.push(c);
    }
    for claims in variants {
        assert_unauthorized(&list_with(&routes, &[&sign(&claims)]).await);
    }
}

// ---- health and OpenAPI -----------------------------------------------------------

#[tokio::test]
async fn healthz_reports_ok_without_auth_and_503_when_the_database_is_gone() {
    let (app, routes, _dir) = setup().await;
    let response = warp::test::request().path("/healthz").reply(&routes).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json_of(&response), json!({"status": "ok"}));
    app.store.close().await;
    let response = warp::test::request().path("/healthz").reply(&routes).await;
    assert_error(&response, 503, "service_unavailable");
}

#[tokio::test]
async fn openapi_document_describes_every_endpoint() {
    let (_app, routes, _dir) = setup().await;
    let response = warp::test::request()
        .path("/openapi.json")
        .reply(&routes)
        .await;
    assert_eq!(response.status(), 200);
    let doc = json_of(&response);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    for schema in [
        "Task",
        "CreateTaskRequest",
        "UpdateTaskRequest",
        "ErrorBody",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
    let endpoints = [
        ("/api/{user_id}/tasks", "get", "200"),
        ("/api/{user_id}/tasks", "post", "201"),
        ("/api/{user_id}/tasks/{id}", "get", "200"),
        ("/api/{user_id}/tasks/{id}", "put", "200"),
        ("/api/{user_id}/tasks/{id}", "delete", "204"),
        ("/api/{user_id}/tasks/{id}/complete", "patch", "200"),
    ];
    for (path, method, success) in endpoints {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing");
        assert!(
            op["responses"][success].is_object(),
            "{method} {path} {success}"
        );
        for status in ["401", "403"] {
            assert!(
                op["responses"][status].is_object(),
                "{method} {path} {status}"
            );
        }
        let security = op["security"].as_array().expect("security");
        assert!(
            security.iter().any(|s| s.get("bearerAuth").is_some()),
            "{method} {path} security: {security:?}"
        );
    }
    let update = &doc["components"]["schemas"]["UpdateTaskRequest"];
    assert!(
        update["required"].as_array().is_none_or(Vec::is_empty),
        "PUT fields are optional: {update}"
    );
    assert_eq!(
        doc["components"]["schemas"]["CreateTaskRequest"]["required"],
        json!(["title"])
    );
    for (path, method) in [
        ("/api/{user_id}/tasks/{id}", "get"),
        ("/api/{user_id}/tasks/{id}", "put"),
        ("/api/{user_id}/tasks/{id}", "delete"),
        ("/api/{user_id}/tasks/{id}/complete", "patch"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"]["404"].is_object(),
            "{method} {path} 404"
        );
    }
    for (path, method) in [
        ("/api/{user_id}/tasks", "get"),
        ("/api/{user_id}/tasks", "post"),
        ("/api/{user_id}/tasks/{id}", "put"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"]["422"].is_object(),
            "{method} {path} 422"
        );
    }
}

// ---- /docs ------------------------------------------------------------------------

#[tokio::test]
async fn docs_page_and_assets_come_from_this_service() {
    let (_app, routes, _dir) = setup().await;
    let get = |path: &'static str| warp::test::request().path(path).reply(&routes);
    let page = get("/docs").await;
    if upstream_api::docs::SWAGGER_UI_VERSION.is_none() {
        // Built before `npm ci` in docs-ui: the page says how to get the assets.
        assert_error(&page, 503, "docs_unavailable");
        return;
    }
    assert_eq!(page.status(), 200);
    let html = String::from_utf8_lossy(page.body()).into_owned();
    assert!(
        html.contains(r#"src="docs/swagger-ui-bundle.js""#),
        "{html}"
    );
    assert!(!html.contains("://"), "no absolute URL to anywhere: {html}");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let mut bytes = 0;
    for (path, content_type) in [
        ("/docs/swagger-ui-bundle.js", "text/javascript"),
        ("/docs/swagger-ui.css", "text/css"),
        ("/docs/init.js", "text/javascript"),
        ("/docs/LICENSE", "text/plain"),
    ] {
        let response = get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let got = response.headers()["content-type"].to_str().expect("type");
        assert!(got.starts_with(content_type), "{path}: {got}");
        assert!(!response.body().is_empty(), "{path}");
        if path.contains("swagger-ui") {
            bytes += response.body().len();
        }
    }
    assert_eq!(bytes, upstream_api::docs::ASSET_BYTES);
    let init = get("/docs/init.js").await;
    assert!(String::from_utf8_lossy(init.body()).contains(r#"url: "openapi.json""#));
    assert_error(&get("/docs/nothing.js").await, 404, "not_found");
    let response = warp::test::request()
        .method("POST")
        .path("/docs")
        .reply(&routes)
        .await;
    assert_error(&response, 405, "method_not_allowed");
}
