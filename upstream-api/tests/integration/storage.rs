//! Storage tests written once and run on both backends: SQLite (a temp file) and
//! PostgreSQL (a fresh schema per test; skipped with `SKIP:` when none answers, a
//! failure when `REQUIRE_POSTGRES=1`).

use serde_json::json;

use upstream_api::db::Store;
use upstream_api::models::{NewTask, StatusFilter, TaskChanges, TaskListQuery};

use crate::common::*;

fn new_task(title: &str, description: Option<&str>) -> NewTask {
    NewTask {
        title: title.to_owned(),
        description: description.map(str::to_owned),
    }
}

fn query(status: StatusFilter, limit: i64, offset: i64) -> TaskListQuery {
    TaskListQuery {
        status,
        limit,
        offset,
    }
}

/// Create, read back, update, delete; every field round-trips.
async fn crud_round_trips(store: Store) {
    store.ping().await.expect("ping");
    let created = store
        .create_task("alice", &new_task("Grüße ✓", Some("line1\nline2")))
        .await
        .expect("create");
    let fetched = store
        .get_task("alice", &created.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(fetched, created);
    assert_eq!(fetched.title, "Grüße ✓");
    assert_eq!(fetched.description.as_deref(), Some("line1\nline2"));
    assert!(!fetched.completed);

    let changed = store
        .update_task(
            "alice",
            &created.id,
            &TaskChanges {
                title: Some("renamed".into()),
                ..TaskChanges::default()
            },
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(changed.title, "renamed");
    assert_eq!(changed.description, created.description);
    assert!(!changed.completed);
    assert_eq!(changed.created_at, created.created_at);
    assert!(changed.updated_at > created.updated_at);

    let changed = store
        .update_task(
            "alice",
            &created.id,
            &TaskChanges {
                description: Some(None),
                completed: Some(true),
                ..TaskChanges::default()
            },
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(changed.title, "renamed");
    assert_eq!(changed.description, None);
    assert!(changed.completed);
    let changed = store
        .update_task(
            "alice",
            &created.id,
            &TaskChanges {
                description: Some(Some("back".into())),
                completed: Some(false),
                ..TaskChanges::default()
            },
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(changed.description.as_deref(), Some("back"));
    assert!(!changed.completed);
    assert_eq!(
        store.get_task("alice", &created.id).await.expect("get"),
        Some(changed)
    );

    assert!(store
        .delete_task("alice", &created.id)
        .await
        .expect("delete"));
    assert_eq!(
        store.get_task("alice", &created.id).await.expect("get"),
        None
    );
    assert!(!store
        .delete_task("alice", &created.id)
        .await
        .expect("delete"));
}

/// `completed` decodes as a bool after insert, `NOT completed` and `RETURNING`, and the
/// status filters agree with it.
async fn completed_round_trips_as_bool(store: Store) {
    let a = store
        .create_task("alice", &new_task("a", None))
        .await
        .expect("create");
    let b = store
        .create_task("alice", &new_task("b", None))
        .await
        .expect("create");
    let toggled = store
        .toggle_task("alice", &a.id)
        .await
        .expect("toggle")
        .expect("exists");
    assert!(toggled.completed);
    assert!(
        store
            .get_task("alice", &a.id)
            .await
            .expect("get")
            .expect("exists")
            .completed
    );

    let completed = store
        .list_tasks("alice", &query(StatusFilter::Completed, 50, 0))
        .await
        .expect("list");
    assert_eq!(completed, vec![toggled.clone()]);
    let pending = store
        .list_tasks("alice", &query(StatusFilter::Pending, 50, 0))
        .await
        .expect("list");
    assert_eq!(pending, vec![b.clone()]);

    let untoggled = store
        .toggle_task("alice", &a.id)
        .await
        .expect("toggle")
        .expect("exists");
    assert!(!untoggled.completed);
    let pending = store
        .list_tasks("alice", &query(StatusFilter::Pending, 50, 0))
        .await
        .expect("list");
    assert_eq!(pending.len(), 2);
}

/// Nothing crosses owners: another user's id is "not found" for every operation.
async fn every_query_is_scoped_by_owner(store: Store) {
    let alices = store
        .create_task("alice", &new_task("alice's", None))
        .await
        .expect("create");
    let bobs = store
        .create_task("bob", &new_task("bob's", None))
        .await
        .expect("create");

    assert_eq!(store.get_task("bob", &alices.id).await.expect("get"), None);
    assert_eq!(
        store.toggle_task("bob", &alices.id).await.expect("toggle"),
        None
    );
    let changes = TaskChanges {
        title: Some("pwned".into()),
        ..TaskChanges::default()
    };
    assert_eq!(
        store
            .update_task("bob", &alices.id, &changes)
            .await
            .expect("update"),
        None
    );
    assert!(!store.delete_task("bob", &alices.id).await.expect("delete"));

    let all = query(StatusFilter::All, 50, 0);
    assert_eq!(
        store.list_tasks("alice", &all).await.expect("list"),
        vec![alices]
    );
    assert_eq!(
        store.list_tasks("bob", &all).await.expect("list"),
        vec![bobs]
    );
    assert!(store
        .list_tasks("carol", &all)
        .await
        .expect("list")
        .is_empty());
}

/// Pages are in creation order and `limit`/`offset` are honoured.
async fn listing_pages_in_creation_order(store: Store) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let task = store
            .create_task("alice", &new_task(&format!("t{i}"), None))
            .await
            .expect("create");
        ids.push(task.id);
    }
    let page = |limit, offset| {
        let store = store.clone();
        async move {
            store
                .list_tasks("alice", &query(StatusFilter::All, limit, offset))
                .await
                .expect("list")
                .into_iter()
                .map(|t| t.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(50, 0).await, ids);
    assert_eq!(page(3, 0).await, ids[0..3].to_vec());
    assert_eq!(page(3, 3).await, ids[3..6].to_vec());
    assert_eq!(page(3, 6).await, ids[6..7].to_vec());
    assert!(page(3, 7).await.is_empty());
}

/// Text with SQL-ish content is stored as data (queries bind, never interpolate).
async fn values_are_bound_not_interpolated(store: Store) {
    let nasty = "x'); DROP TABLE tasks; --";
    let owner = "o'neil\"; --";
    let task = store
        .create_task(owner, &new_task(nasty, Some(nasty)))
        .await
        .expect("create");
    let fetched = store
        .get_task(owner, &task.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(fetched.title, nasty);
    assert_eq!(fetched.user_id, owner);
    let listed = store
        .list_tasks(owner, &TaskListQuery::default())
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
}

/// The whole HTTP flow over this store: create, toggle, list, delete.
async fn http_flow(store: Store) {
    let (_app, routes) = routes(store);
    let response = call(
        &routes,
        "alice",
        "POST",
        "/api/alice/tasks",
        Some(&json!({"title": "via http"}).to_string()),
    )
    .await;
    assert_eq!(response.status(), 201);
    let id = json_of(&response)["id"].as_str().expect("id").to_owned();
    let response = call(
        &routes,
        "alice",
        "PATCH",
        &format!("/api/alice/tasks/{id}/complete"),
        None,
    )
    .await;
    assert_eq!(json_of(&response)["completed"], true);
    let response = call(
        &routes,
        "alice",
        "GET",
        "/api/alice/tasks?status=completed",
        None,
    )
    .await;
    assert_eq!(json_of(&response).as_array().map(Vec::len), Some(1));
    let response = call(
        &routes,
        "alice",
        "DELETE",
        &format!("/api/alice/tasks/{id}"),
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
}

/// Declares one `#[tokio::test]` per backend for each storage test body.
macro_rules! on_both_backends {
    ($($body:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $body() {
                    let (store, _dir) = crate::common::sqlite_store().await;
                    super::$body(store.clone()).await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $body() {
                    crate::common::with_postgres(stringify!($body), super::$body).await;
                }
            )*
        }
    };
}

on_both_backends!(
    crud_round_trips,
    completed_round_trips_as_bool,
    every_query_is_scoped_by_owner,
    listing_pages_in_creation_order,
    values_are_bound_not_interpolated,
    http_flow,
);

#[tokio::test]
async fn sqlite_file_is_created_and_data_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sub dir?#").join("tasks.db");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let target = upstream_api::db::DatabaseTarget::SqliteFile(path.clone());
    let store = Store::connect(&target).await.expect("open");
    let task = store
        .create_task("alice", &new_task("persisted", None))
        .await
        .expect("create");
    store.close().await;
    assert!(path.exists(), "{} not created", path.display());

    // Reopening runs the migrations again (a no-op) and finds the data.
    let store = Store::connect(&target).await.expect("reopen");
    assert_eq!(
        store.get_task("alice", &task.id).await.expect("get"),
        Some(task)
    );
    store.close().await;
}

#[tokio::test]
async fn sqlite_in_memory_keeps_its_data_on_one_connection() {
    let store = Store::connect_url("sqlite::memory:").await.expect("open");
    let task = store
        .create_task("alice", &new_task("in memory", None))
        .await
        .expect("create");
    assert_eq!(
        store.get_task("alice", &task.id).await.expect("get"),
        Some(task)
    );
}
