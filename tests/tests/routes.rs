//! Which rule a request meets and the path it goes upstream with, with the real
//! authgate in front of an echo upstream: public and optional routes; the owner rule
//! (`{user_id}` must be the token's `sub`, else 403, in the sample config too); path
//! tricks, either canonicalised before any rule is matched or refused with 400; and
//! the query string, passed on unchanged.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo::header_values;
use authgate_tests::gated::{Gated, CONFIG};
use authgate_tests::tokens::{alice_token, bearer, claims, hs256, now};
use authgate_tests::BETTER_AUTH_SECRET;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_and_optional_routes() {
    let f = Gated::start(CONFIG).await;
    assert_eq!(f.get("/public/x", &[]).status, 200);
    let resp = f.get("/feed/today", &[]);
    assert_eq!(resp.status, 200);
    assert!(header_values(&resp.json(), "x-auth-user-id").is_empty());
    let token = alice_token();
    let resp = f.get("/feed/today", &[("Authorization", &bearer(&token))]);
    assert_eq!(header_values(&resp.json(), "x-auth-user-id"), ["alice"]);
    let bad = hs256(
        &json!({"sub":"alice","exp": now() - 100}),
        BETTER_AUTH_SECRET,
    );
    assert_eq!(
        f.get("/feed/today", &[("Authorization", &bearer(&bad))])
            .status,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_mismatch_is_403() {
    let f = Gated::start(CONFIG).await;
    let bob = hs256(&claims("bob"), BETTER_AUTH_SECRET);
    for path in [
        "/api/alice/tasks",
        "/api/alice/tasks/1",
        "/api/alice/tasks/1/complete",
    ] {
        let resp = f.get(path, &[("Authorization", &bearer(&bob))]);
        assert_eq!(resp.status, 403, "{path}");
        assert!(resp
            .header("www-authenticate")
            .unwrap()
            .contains("error=\"insufficient_scope\""));
        assert_eq!(resp.json()["error"], "insufficient_scope");
    }
    assert_eq!(
        f.get("/api/bob/tasks", &[("Authorization", &bearer(&bob))])
            .status,
        200
    );
    assert_eq!(f.echo.hits(), 1);
    let log = f
        .proxy
        .stderr_containing("owner_mismatch", Duration::from_secs(5));
    assert!(
        log.contains("owner_mismatch"),
        "access log names the reason"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_config_puts_every_other_users_prefix_behind_the_owner_rule() {
    let root = authgate_tests::process::workspace_root();
    let sample = std::fs::read_to_string(root.join("config.toml")).unwrap();
    let f = Gated::start(&sample).await;
    let alice = format!("Bearer {}", hs256(&claims("alice"), BETTER_AUTH_SECRET));
    for path in [
        "/api/bob",
        "/api/bob/",
        "/api/bob/tasks",
        "/api/bob/tasks.json",
        "/api/bob/anything",
        "/API/bob/Tasks",
    ] {
        let resp = f.get(path, &[("Authorization", &alice)]);
        assert_eq!(resp.status, 403, "{path}: {resp:?}");
    }
    assert_eq!(f.echo.hits(), 0);
    assert_eq!(
        f.get("/api/alice/anything", &[("Authorization", &alice)])
            .status,
        200
    );
    // The deployment sample has the same rule.
    let deploy = std::fs::read_to_string(root.join("deploy/authgate.toml")).unwrap();
    assert!(
        deploy.contains("path = \"/api/{user_id}/**\"") && deploy.contains("owner = \"user_id\""),
        "deploy/authgate.toml owner rule:\n{deploy}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_tricks_never_reach_another_users_resource() {
    let f = Gated::start(CONFIG).await;
    let token = alice_token();
    let auth = bearer(&token);
    let h = [("Authorization", auth.as_str())];
    let cases: &[(&str, u16)] = &[
        ("/api/alice/../bob/tasks", 403),
        ("/api/alice/tasks/../../bob/tasks", 403),
        ("/api/./bob/tasks", 403),
        ("//api//bob//tasks", 403),
        ("/api/%62ob/tasks", 403),
        // For upstreams that route case-insensitively (Express, ASP.NET).
        ("/API/bob/TASKS", 403),
        ("/Api/bob/Tasks/1", 403),
        ("/api/alice%2F..%2Fbob/tasks", 400),
        ("/api/alice%2f..%2fbob/tasks", 400),
        ("/api/alice/%2e%2e/bob/tasks", 400),
        ("/api/alice/.%2E/bob/tasks", 400),
        ("/api/alice\\..\\bob/tasks", 400),
        ("/api/alice%5c..%5cbob/tasks", 400),
        ("/api/alice;/../bob/tasks", 400),
        ("/api/bob;alice/tasks", 400),
        ("/api/alice%00/tasks", 400),
        ("/api/alice/tasks/%0d%0aX-Auth-User-Id:%20bob", 400),
        ("/../api/bob/tasks", 400),
        ("http://evil.example/api/bob/tasks", 400),
        ("*", 400),
    ];
    for (path, status) in cases {
        let resp = f.get(path, &h);
        assert_eq!(resp.status, *status, "{path}: {resp:?}");
    }
    assert_eq!(f.echo.hits(), 0, "nothing reached the upstream");
    // Alice's own paths in odd spellings reach the upstream, canonicalised.
    for (path, canonical) in [
        ("/api/alice/./tasks", "/api/alice/tasks"),
        ("/api//alice/tasks/", "/api/alice/tasks/"),
        ("/api/%61lice/tasks", "/api/alice/tasks"),
        ("/api/bob/../alice/tasks", "/api/alice/tasks"),
    ] {
        let resp = f.get(path, &h);
        assert_eq!(resp.status, 200, "{path}");
        assert_eq!(resp.json()["path"], canonical, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_string_is_forwarded_unchanged() {
    let f = Gated::start(CONFIG).await;
    let token = alice_token();
    let resp = f.get(
        "/api/alice/tasks?status=pending&limit=5&q=a%2Fb%20c&x=..%2F",
        &[("Authorization", &bearer(&token))],
    );
    assert_eq!(resp.status, 200);
    let seen = resp.json();
    assert_eq!(seen["path"], "/api/alice/tasks");
    assert_eq!(seen["query"], "status=pending&limit=5&q=a%2Fb%20c&x=..%2F");
}
