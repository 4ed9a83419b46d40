//! End to end: the real authgate, with the sample `config.toml`, in front of the real
//! upstream-api on SQLite and on PostgreSQL. Users drive the task API through the
//! proxy; assertions captured from the real proxy are replayed at the upstream.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo::{self, header_values};
use authgate_tests::issuer::{access_token, sign_up, Issuer, IssuerOptions};
use authgate_tests::process::{workspace_root, Authgate, Service};
use authgate_tests::tokens::{claims, hs256};
use authgate_tests::upstream::{self, Database};
use authgate_tests::BETTER_AUTH_SECRET;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The sample config shipped at the repository root, as users get it.
fn sample_config() -> String {
    std::fs::read_to_string(workspace_root().join("config.toml")).expect("config.toml")
}

/// authgate (sample config) in front of upstream-api on `database`.
struct Stack {
    proxy: Service,
    upstream: Service,
    client: Client,
    _dir: tempfile::TempDir,
    _database: Database,
}

fn start_stack(database: Database, config: &str) -> Stack {
    let upstream = upstream::start(&database);
    let (proxy, dir) = Authgate::new(config, upstream.addr)
        .wait_until_ready()
        .start();
    Stack {
        proxy,
        upstream,
        client: Client::new(),
        _dir: dir,
        _database: database,
    }
}

impl Stack {
    /// A request through authgate with `token` as the bearer token.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        send(&self.client, self.proxy.url(path), method, token, body, &[]).await
    }
}

async fn send(
    client: &Client,
    url: String,
    method: Method,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = client.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, value, headers)
}

fn token(sub: &str) -> String {
    hs256(&claims(sub), BETTER_AUTH_SECRET)
}

/// Alice's whole task life cycle through the proxy, then what bob may not do.
async fn task_life_cycle(stack: &Stack) {
    let alice = token("alice");
    let bob = token("bob");
    let tasks = "/api/alice/tasks";
    use Method as M;

    let (status, created, _) = stack
        .call(
            M::POST,
            tasks,
            Some(&alice),
            Some(json!({"title": "  Buy milk  ", "description": "2 litres"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["title"], "Buy milk");
    assert_eq!(created["user_id"], "alice");
    assert_eq!(created["completed"], false);
    let id = created["id"].as_str().unwrap().to_string();
    let (status, second, _) = stack
        .call(M::POST, tasks, Some(&alice), Some(json!({"title": "Walk"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");

    let (status, list, _) = stack.call(M::GET, tasks, Some(&alice), None).await;
    assert_eq!(status, StatusCode::OK);
    let titles: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Buy milk", "Walk"]);

    let one = format!("{tasks}/{id}");
    let (status, got, _) = stack.call(M::GET, &one, Some(&alice), None).await;
    assert_eq!((status, &got["id"]), (StatusCode::OK, &json!(id)));

    let (status, updated, _) = stack
        .call(
            M::PUT,
            &one,
            Some(&alice),
            Some(json!({"title": "Buy oat milk", "description": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["title"], "Buy oat milk");
    assert_eq!(updated["description"], Value::Null);

    let complete = format!("{one}/complete");
    let (status, toggled, _) = stack.call(M::PATCH, &complete, Some(&alice), None).await;
    assert_eq!(
        (status, &toggled["completed"]),
        (StatusCode::OK, &json!(true))
    );
    let (_, pending, _) = stack
        .call(
            M::GET,
            &format!("{tasks}?status=pending"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    let (_, done, _) = stack
        .call(
            M::GET,
            &format!("{tasks}?status=completed"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(
        done[0]["id"],
        json!(id),
        "the query string reaches the upstream"
    );

    // Validation errors come from the upstream, through the proxy.
    let (status, err, _) = stack
        .call(M::POST, tasks, Some(&alice), Some(json!({"title": "   "})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["field"], "title");

    // Bob on alice's paths: refused at the edge (authgate's realm, not the upstream's).
    for (method, path) in [
        (M::GET, tasks.to_string()),
        (M::POST, tasks.to_string()),
        (M::GET, one.clone()),
        (M::DELETE, one.clone()),
        (M::PATCH, complete.clone()),
    ] {
        let (status, body, headers) = stack
            .call(
                method.clone(),
                &path,
                Some(&bob),
                Some(json!({"title": "x"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(body["error"], "insufficient_scope");
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("realm=\"authgate\""), "{challenge}");
    }
    let upstream_log = stack.upstream.stderr();
    assert!(upstream_log.contains("status=201"), "{upstream_log}");
    assert!(
        !upstream_log.contains("status=403"),
        "bob's requests never reached the upstream: {upstream_log}"
    );
    // Bob under his own path cannot reach alice's task ids.
    let bobs = format!("/api/bob/tasks/{id}");
    for method in [M::GET, M::PUT, M::DELETE] {
        let (status, body, _) = stack
            .call(
                method.clone(),
                &bobs,
                Some(&bob),
                Some(json!({"title": "mine"})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}: {body}");
    }
    let (status, _, _) = stack
        .call(M::PATCH, &format!("{bobs}/complete"), Some(&bob), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, bob_list, _) = stack.call(M::GET, "/api/bob/tasks", Some(&bob), None).await;
    assert_eq!(bob_list, json!([]));
    // Alice's task is untouched by all that.
    let (_, still, _) = stack.call(M::GET, &one, Some(&alice), None).await;
    assert_eq!(still["title"], "Buy oat milk");

    // No token, or a path trick toward alice's tasks: never reaches the data.
    let (status, _, _) = stack.call(M::GET, tasks, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let raw = authgate_tests::raw::send(
        stack.proxy.addr,
        &authgate_tests::raw::get(
            "/api/bob/../alice/tasks",
            &[("Authorization", &format!("Bearer {bob}"))],
        ),
    )
    .unwrap();
    assert_eq!(
        raw.status, 403,
        "dot-segments resolve before the owner rule"
    );

    let (status, _, _) = stack.call(M::DELETE, &one, Some(&alice), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = stack.call(M::GET, &one, Some(&alice), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The public OpenAPI route of the sample config.
    let (status, doc, _) = stack.call(M::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_life_cycle_through_authgate_on_sqlite() {
    let stack = start_stack(Database::sqlite(), &sample_config());
    task_life_cycle(&stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_life_cycle_through_authgate_on_postgres() {
    let Some(db) = Database::postgres("task_life_cycle_through_authgate_on_postgres").await else {
        return;
    };
    let stack = start_stack(db, &sample_config());
    task_life_cycle(&stack).await;
}

/// Better Auth (EdDSA, its default) → authgate → upstream-api: the whole product.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn better_auth_user_manages_tasks_through_authgate() {
    let issuer = Issuer::start(&IssuerOptions::alg("EdDSA"));
    let config = sample_config().replace(
        "[[auth.sources]]\ntype = \"shared_secret\"",
        &format!(
            "[[auth.sources]]\ntype = \"jwks_url\"\nurl = \"{}\"\nissuer = [\"{base}\"]\naudience = [\"{base}\"]\n\n[[auth.sources]]\ntype = \"shared_secret\"",
            issuer.jwks_url(),
            base = issuer.base
        ),
    );
    assert!(config.contains("jwks_url"), "sample config layout changed");
    let stack = start_stack(Database::sqlite(), &config);
    let user = sign_up(&issuer, "carol@example.com").await;
    let jwt = access_token(&issuer, &user).await;
    let tasks = format!("/api/{}/tasks", user.id);
    let (status, created, _) = stack
        .call(
            Method::POST,
            &tasks,
            Some(&jwt),
            Some(json!({"title": "Ship it"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["user_id"], json!(user.id));
    let (status, list, _) = stack.call(Method::GET, &tasks, Some(&jwt), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["title"], "Ship it");
}

/// authgate (sample config, `ttl` seconds of assertion lifetime) in front of an echo
/// upstream: the real assertion it forwards for `path`, as `alice`.
async fn capture_assertion(path: &str, ttl: u64) -> String {
    let echo = echo::start().await;
    let config = sample_config().replace(
        "assertion_ttl_secs = 10",
        &format!("assertion_ttl_secs = {ttl}"),
    );
    let (proxy, _dir) = Authgate::new(&config, echo.addr).start();
    let (status, seen, _) = send(
        &Client::new(),
        proxy.url(path),
        Method::GET,
        Some(&token("alice")),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let values = header_values(&seen, "x-auth-assertion");
    assert_eq!(values.len(), 1, "{seen}");
    values[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_trusts_identity_only_from_authgate() {
    let database = Database::sqlite();
    let api = upstream::start(&database);
    let client = Client::new();
    let tasks = "/api/alice/tasks";

    // Direct requests without a valid assertion: 401, whatever identity headers say.
    for headers in [
        vec![],
        vec![("X-Auth-User-Id", "alice")],
        vec![("X-Auth-User-Id", "alice"), ("X-Auth-Assertion", "a.b.c")],
        vec![("Authorization", "Bearer whatever")],
    ] {
        let (status, body, resp_headers) =
            send(&client, api.url(tasks), Method::GET, None, None, &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}: {body}");
        assert!(resp_headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("realm=\"upstream-api\""));
    }

    // A real assertion from authgate works for the request it was made for …
    let assertion = capture_assertion(tasks, 30).await;
    let with = [("X-Auth-Assertion", assertion.as_str())];
    let (status, list, _) = send(&client, api.url(tasks), Method::GET, None, None, &with).await;
    assert_eq!((status, list), (StatusCode::OK, json!([])));
    // … and for no other method or path.
    let (status, _, _) = send(
        &client,
        api.url(tasks),
        Method::POST,
        None,
        Some(json!({"title": "smuggled"})),
        &with,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed with POST");
    for path in ["/api/alice/tasks/x", "/api/bob/tasks", "/api/alice/tasks/"] {
        let (status, _, _) = send(&client, api.url(path), Method::GET, None, None, &with).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed on {path}");
    }
    // The query string is not part of the binding: same route, other filter.
    let (status, _, _) = send(
        &client,
        api.url("/api/alice/tasks?status=pending"),
        Method::GET,
        None,
        None,
        &with,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_assertion_is_refused() {
    let database = Database::sqlite();
    let api = upstream::start(&database);
    let tasks = "/api/alice/tasks";
    let assertion = capture_assertion(tasks, 1).await;
    let captured = Instant::now();
    let client = Client::new();
    let with = [("X-Auth-Assertion", assertion.as_str())];
    let (status, _, _) = send(&client, api.url(tasks), Method::GET, None, None, &with).await;
    assert_eq!(status, StatusCode::OK, "fresh");
    // 1 s lifetime plus the upstream's 5 s clock leeway, at second granularity.
    tokio::time::sleep(Duration::from_secs(8).saturating_sub(captured.elapsed())).await;
    let (status, body, _) = send(&client, api.url(tasks), Method::GET, None, None, &with).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}
