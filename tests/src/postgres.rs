//! The test PostgreSQL, shared by every crate's tests: one variable names it
//! (`TEST_DATABASE_URL`), each test gets a schema of its own, dropped afterwards, and
//! `REQUIRE_POSTGRES=1` (or `CI=true`) turns "no PostgreSQL" from a skip into a failure.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

/// Environment variable naming the test database.
pub const TEST_DATABASE_URL_ENV: &str = "TEST_DATABASE_URL";
/// PostgreSQL used when `TEST_DATABASE_URL` is unset.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The base URL of the test database.
pub fn test_database_url() -> String {
    std::env::var(TEST_DATABASE_URL_ENV)
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_DATABASE_URL.to_owned())
}

/// Whether a missing PostgreSQL must fail the test: `REQUIRE_POSTGRES=1` or `CI=true`.
pub fn required() -> bool {
    let set = |name: &str, value: &str| {
        std::env::var(name).is_ok_and(|v| v.trim().eq_ignore_ascii_case(value))
    };
    set("REQUIRE_POSTGRES", "1") || set("CI", "true")
}

/// A PostgreSQL schema created for one test and dropped when it goes out of scope.
pub struct PgSchema {
    base: String,
    name: String,
}

impl PgSchema {
    /// A fresh schema in the test database. When no PostgreSQL answers: prints
    /// `SKIP: …` and returns `None`, or panics when [`required`] says it must run.
    pub async fn create(test: &str) -> Option<Self> {
        let base = test_database_url();
        let admin = match admin_pool(&base).await {
            Ok(pool) => pool,
            Err(e) if required() => {
                panic!("{test}: PostgreSQL is required (REQUIRE_POSTGRES=1 or CI=true) but {base} does not answer: {e}")
            }
            Err(e) => {
                eprintln!("SKIP: {test}: no PostgreSQL at {base}: {e}");
                return None;
            }
        };
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        Some(Self { base, name })
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A database URL whose connections put every table in this schema.
    pub fn url(&self) -> String {
        let separator = if self.base.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-c%20search_path%3D{}",
            self.base, self.name
        )
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // Drop may run inside or outside a runtime: use a small one of our own.
        let (base, name) = (self.base.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let admin = admin_pool(&base).await.ok()?;
                let result = sqlx::query(&format!("DROP SCHEMA {name} CASCADE"))
                    .execute(&admin)
                    .await;
                admin.close().await;
                result.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("warning: could not drop test schema {}", self.name);
        }
    }
}

async fn admin_pool(url: &str) -> Result<AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .connect(url)
        .await
}
