//! Shared helpers: stores on SQLite and PostgreSQL, assertion minting, requests.

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tempfile::TempDir;
use warp::filters::BoxedFilter;
use warp::http::Response as HttpResponse;
use warp::reply::Response;

use authgate_tests::postgres::PgSchema;
use upstream_api::db::{DatabaseTarget, Store};
use upstream_api::trust::{AssertionSecret, AssertionVerifier};
use upstream_api::App;

/// Secret shared by the tests' "authgate" and the service.
pub const SECRET: &str = "integration-test-assertion-secret-0123456789";
/// Default issuer and audience.
pub const ISSUER: &str = "authgate";
pub const AUDIENCE: &str = "upstream-api";

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A SQLite store in a fresh temporary directory (kept alive by the returned guard).
pub async fn sqlite_store() -> (Store, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&DatabaseTarget::SqliteFile(dir.path().join("tasks.db")))
        .await
        .expect("open sqlite store");
    (store, dir)
}

/// Runs `test` against a store in a freshly created PostgreSQL schema, dropped afterwards
/// (also when the test panics). Without PostgreSQL it prints `SKIP:` and returns, or
/// fails when `REQUIRE_POSTGRES=1` / `CI=true` (see `authgate_tests::postgres`).
pub async fn with_postgres<F, Fut>(name: &str, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(schema) = PgSchema::create(name).await else {
        return;
    };
    let store = Store::connect_url(&schema.url())
        .await
        .unwrap_or_else(|err| panic!("{name}: connecting to the test schema failed: {err}"));
    let outcome = tokio::spawn(test(store.clone())).await;
    store.close().await;
    drop(schema);
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// The service's routes over `store`, with the test secret.
pub fn routes(store: Store) -> (App, BoxedFilter<(Response,)>) {
    let secret = AssertionSecret::new(SECRET).expect("secret");
    let app = App::new(store, AssertionVerifier::new(&secret, ISSUER, AUDIENCE));
    let routes = upstream_api::filters::routes(app.clone());
    (app, routes)
}

/// Claims of a valid assertion for `sub` doing `method` on `path` (which may carry a
/// query: `htp` is the path before `?`, `htq` the hash of what follows). A fresh `jti`.
pub fn claims(sub: &str, method: &str, path: &str) -> Value {
    let now = unix_now();
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "email": format!("{sub}@example.com"),
        "iat": now,
        "exp": now + 30,
        "htm": method,
        "htp": path,
        "htq": upstream_api::trust::query_hash(query),
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

/// Signs `claims` with `key` as HS256.
pub fn sign_with(claims: &Value, key: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key),
    )
    .expect("sign")
}

/// Signs `claims` as authgate would.
pub fn sign(claims: &Value) -> String {
    sign_with(claims, SECRET.as_bytes())
}

/// A valid assertion for `sub` doing `method` on `path`.
pub fn assertion(sub: &str, method: &str, path: &str) -> String {
    sign(&claims(sub, method, path))
}

/// Sends a request with a valid assertion for `sub`.
pub async fn call(
    routes: &BoxedFilter<(Response,)>,
    sub: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> HttpResponse<Bytes> {
    let mut request = warp::test::request()
        .method(method)
        .path(path)
        .header("x-auth-assertion", assertion(sub, method, path));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    request.reply(routes).await
}

/// The body as JSON.
pub fn json_of(response: &HttpResponse<Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap_or_else(|err| {
        panic!(
            "body is not JSON ({err}): {:?}",
            String::from_utf8_lossy(response.body())
        )
    })
}

/// Asserts an error response: status, JSON `{error, message}` with the given code.
pub fn assert_error(response: &HttpResponse<Bytes>, status: u16, code: &str) -> Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "body: {}",
        String::from_utf8_lossy(response.body())
    );
    let body = json_of(response);
    assert_eq!(body["error"], code, "body: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message: {body}"
    );
    body
}

/// Asserts a 401 with `WWW-Authenticate` and the JSON error body.
pub fn assert_unauthorized(response: &HttpResponse<Bytes>) {
    assert_error(response, 401, "unauthorized");
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"upstream-api\"")
    );
}
