//! The real `upstream-api` binary as a child process, on SQLite (a temp file) or on the
//! machine's PostgreSQL (a fresh schema per test, dropped afterwards).

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::process::Command;
use std::time::Duration;

use crate::process::{binary, Service};

/// PostgreSQL used when `AUTHGATE_TEST_DATABASE_URL` is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Where upstream-api keeps its tasks.
pub enum Database {
    /// A SQLite file in a temporary directory.
    Sqlite(tempfile::TempDir),
    /// A PostgreSQL schema of its own.
    Postgres(PgSchema),
}

impl Database {
    /// A SQLite file in a fresh temporary directory.
    pub fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().expect("temp dir"))
    }

    /// A fresh PostgreSQL schema, or `None` (after printing `SKIP: …`) when no
    /// PostgreSQL answers.
    pub async fn postgres(test: &str) -> Option<Self> {
        PgSchema::create(test).await.map(Self::Postgres)
    }

    fn configure(&self, cmd: &mut Command) {
        match self {
            Self::Sqlite(dir) => {
                cmd.env_remove("DATABASE_URL")
                    .env("UPSTREAM_API_SQLITE_PATH", dir.path().join("tasks.db"));
            }
            Self::Postgres(schema) => {
                cmd.env("DATABASE_URL", schema.url());
            }
        }
    }
}

/// A PostgreSQL schema created for one test and dropped when the test ends.
pub struct PgSchema {
    base: String,
    name: String,
}

impl PgSchema {
    async fn create(test: &str) -> Option<Self> {
        let base = std::env::var("AUTHGATE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
        let admin = match admin_pool(&base).await {
            Ok(pool) => pool,
            Err(e) => {
                eprintln!("SKIP: {test}: no PostgreSQL at {base}: {e}");
                return None;
            }
        };
        let name = format!("e2e_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        Some(Self { base, name })
    }

    /// The `DATABASE_URL` that puts every table of the service in this schema.
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
        // Drop runs outside any runtime guarantee: use a small one of our own.
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

/// Starts `upstream-api` on a free port with the tests' assertion secret and waits
/// until `/healthz` answers 200.
pub fn start(database: &Database) -> Service {
    let mut cmd = Command::new(binary("upstream-api"));
    cmd.arg("--listen")
        .arg("127.0.0.1:0")
        .env("AUTHGATE_ASSERTION_SECRET", crate::ASSERTION_SECRET)
        .env_remove("UPSTREAM_API_LISTEN")
        .env_remove("UPSTREAM_API_ASSERTION_ISSUER")
        .env_remove("UPSTREAM_API_SERVICE_NAME")
        .env("RUST_LOG", "info");
    database.configure(&mut cmd);
    Service::spawn(cmd, "upstream-api listening on ", Some("/healthz"))
}
