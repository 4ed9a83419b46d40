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

/// The sample config with the assertion lifetime set to `ttl` seconds.
fn config_with_ttl(ttl: u64) -> String {
    let config = sample_config();
    let mut found = false;
    let lines: Vec<String> = config
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("assertion_ttl_secs") {
                found = true;
                format!("assertion_ttl_secs = {ttl}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert!(found, "config.toml has no assertion_ttl_secs line");
    lines.join("\n")
}

/// authgate (sample config, `ttl` seconds of assertion lifetime) in front of an echo
/// upstream: the real assertions it forwards for `count` GETs of `target` (path and
/// query), as `alice`.
async fn capture_assertions(target: &str, ttl: u64, count: usize) -> Vec<String> {
    let echo = echo::start().await;
    let (proxy, _dir) = Authgate::new(&config_with_ttl(ttl), echo.addr).start();
    let client = Client::new();
    let mut captured = Vec::new();
    for _ in 0..count {
        let (status, seen, _) = send(
            &client,
            proxy.url(target),
            Method::GET,
            Some(&token("alice")),
            None,
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let values = header_values(&seen, "x-auth-assertion");
        assert_eq!(values.len(), 1, "{seen}");
        captured.push(values[0].clone());
    }
    captured
}

/// The claims of a captured assertion (already verified by the upstream's tests; here
/// only read).
fn payload(assertion: &str) -> Value {
    use base64::Engine as _;
    let part = assertion.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON payload")
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

    // A real assertion from authgate names no other method, path or query …
    let captured = capture_assertions(tasks, 10, 1).await;
    let with = [("X-Auth-Assertion", captured[0].as_str())];
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
    for target in [
        "/api/alice/tasks/x",
        "/api/bob/tasks",
        "/api/alice/tasks/",
        "/api/alice/tasks?status=pending",
    ] {
        let (status, _, _) = send(&client, api.url(target), Method::GET, None, None, &with).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed on {target}");
    }
    // … and works for the request it was made for, once: those refusals did not use
    // it up, and the second use is a replay.
    let (status, list, _) = send(&client, api.url(tasks), Method::GET, None, None, &with).await;
    assert_eq!((status, list), (StatusCode::OK, json!([])));
    let (status, body, _) = send(&client, api.url(tasks), Method::GET, None, None, &with).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "second use: {body}");
    assert_eq!(body["message"], "assertion was already used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_assertion_binds_its_query_and_has_its_own_id() {
    let database = Database::sqlite();
    let api = upstream::start(&database);
    let client = Client::new();
    let target = "/api/alice/tasks?status=pending&limit=5";
    let captured = capture_assertions(target, 10, 2).await;
    let (first, second) = (payload(&captured[0]), payload(&captured[1]));
    for claims in [&first, &second] {
        let jti = claims["jti"].as_str().expect("jti");
        let id = uuid::Uuid::parse_str(jti).expect("jti is a UUID");
        assert_eq!(id.get_version_num(), 4, "{jti}");
        let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
        assert!(lifetime <= 10, "lifetime {lifetime}");
    }
    assert_ne!(first["jti"], second["jti"], "a fresh jti per assertion");

    let other = [("X-Auth-Assertion", captured[0].as_str())];
    for sent in [
        "/api/alice/tasks?status=pending",
        "/api/alice/tasks?limit=5&status=pending",
        "/api/alice/tasks?status=pending&limit=5&limit=6",
        "/api/alice/tasks",
    ] {
        let (status, _, _) = send(&client, api.url(sent), Method::GET, None, None, &other).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{sent}");
    }
    for assertion in &captured {
        let with = [("X-Auth-Assertion", assertion.as_str())];
        let (status, body, _) =
            send(&client, api.url(target), Method::GET, None, None, &with).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_assertion_is_refused() {
    let database = Database::sqlite();
    let api = upstream::start(&database);
    let tasks = "/api/alice/tasks";
    let captured = capture_assertions(tasks, 1, 2).await;
    let at = Instant::now();
    let client = Client::new();
    let fresh = [("X-Auth-Assertion", captured[0].as_str())];
    let (status, _, _) = send(&client, api.url(tasks), Method::GET, None, None, &fresh).await;
    assert_eq!(status, StatusCode::OK, "fresh");
    // The second one, never used, once its 1 s lifetime plus the upstream's 5 s clock
    // leeway have passed (second granularity): waiting for the clock is the test.
    tokio::time::sleep(Duration::from_secs(8).saturating_sub(at.elapsed())).await;
    let stale = [("X-Auth-Assertion", captured[1].as_str())];
    let (status, body, _) = send(&client, api.url(tasks), Method::GET, None, None, &stale).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["message"], "assertion expired");
}
