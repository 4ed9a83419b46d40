//! The real `upstream-api` binary as a child process, on SQLite (a temp file) or on the
//! machine's PostgreSQL (a fresh schema per test, dropped afterwards; see [`crate::postgres`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::postgres::PgSchema;
use crate::process::{binary, Service};

/// PostgreSQL used when `TEST_DATABASE_URL` is unset.
pub use crate::postgres::DEFAULT_TEST_DATABASE_URL as DEFAULT_POSTGRES_URL;

/// Line upstream-api prints on stdout once bound, followed by the address.
pub const READY_PREFIX: &str = "upstream-api listening on ";

/// Environment variables upstream-api reads; cleared so the caller's shell cannot leak in.
pub const ENV_VARS: &[&str] = &[
    "AUTHGATE_ASSERTION_SECRET",
    "AUTHGATE_ASSERTION_SECRET_FILE",
    "DATABASE_URL",
    "UPSTREAM_API_LISTEN",
    "UPSTREAM_API_SQLITE_PATH",
    "UPSTREAM_API_ASSERTION_ISSUER",
    "UPSTREAM_API_SERVICE_NAME",
    "UPSTREAM_API_REPLAY_CACHE_CAPACITY",
    "REDIS_URL",
    "REDIS_URL_FILE",
    "REDIS_TIMEOUT_MS",
];

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
    /// PostgreSQL answers; panics instead when PostgreSQL is required.
    pub async fn postgres(test: &str) -> Option<Self> {
        PgSchema::create(test).await.map(Self::Postgres)
    }

    /// The SQLite file, for [`Database::Sqlite`].
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match self {
            Self::Sqlite(dir) => Some(dir.path().join("tasks.db")),
            Self::Postgres(_) => None,
        }
    }

    fn configure(&self, cmd: &mut Command) {
        match self {
            Self::Sqlite(_) => {
                if let Some(path) = self.sqlite_path() {
                    cmd.env("UPSTREAM_API_SQLITE_PATH", path);
                }
            }
            Self::Postgres(schema) => {
                cmd.env("DATABASE_URL", schema.url());
            }
        }
    }
}

/// `program` (an upstream-api binary) on a free loopback port with the tests'
/// assertion secret, `database`, and nothing inherited from [`ENV_VARS`].
pub fn command(program: &Path, database: &Database) -> Command {
    let mut cmd = Command::new(program);
    for name in ENV_VARS {
        cmd.env_remove(name);
    }
    cmd.arg("--listen")
        .arg("127.0.0.1:0")
        .env("AUTHGATE_ASSERTION_SECRET", crate::ASSERTION_SECRET)
        .env("RUST_LOG", "info");
    database.configure(&mut cmd);
    cmd
}

/// Spawns an upstream-api `cmd` and waits until `/healthz` answers 200.
pub fn spawn(cmd: Command) -> Service {
    Service::spawn(cmd, READY_PREFIX, Some("/healthz"))
}

/// Starts the workspace's `upstream-api` on `database` and waits until it is healthy.
pub fn start(database: &Database) -> Service {
    spawn(command(&binary("upstream-api"), database))
}
