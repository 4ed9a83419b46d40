//! The task store: one schema and one set of queries for SQLite and PostgreSQL.
//!
//! Both go through sqlx's `Any` driver with runtime-bound queries (`$1`, `$2`, … work on
//! both). Ids are UUID strings made here, timestamps RFC 3339 text in UTC with a fixed
//! number of digits, so they sort as text. `completed` is an `INTEGER` 0/1 mapped to
//! `bool` here: through `Any`, a SQLite `BOOLEAN` column fails to decode ("Any driver
//! does not support the SQLite type Bool"), while integers decode on both backends. The
//! storage tests run on both to prove the mapping, including `RETURNING` after a toggle.
//!
//! Every query on a task is scoped by its owner: `WHERE user_id = $… AND id = $…`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Row};
use uuid::Uuid;

use crate::models::{NewTask, StatusFilter, Task, TaskChanges, TaskListQuery};

/// Where the tasks are stored.
///
/// Its `Debug` is [`describe`](Self::describe): a URL may carry a password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// A SQLite file, created if missing.
    SqliteFile(PathBuf),
    /// A database URL (`postgres://…`, `sqlite:…`).
    Url(String),
}

impl DatabaseTarget {
    /// Which backend, without credentials: `sqlite:<path>` for a file, else the URL's
    /// scheme alone.
    pub fn describe(&self) -> String {
        match self {
            Self::SqliteFile(path) => format!("sqlite:{}", path.display()),
            Self::Url(url) => url.split(':').next().unwrap_or("database").to_owned(),
        }
    }
}

impl std::fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DatabaseTarget")
            .field(&self.describe())
            .finish()
    }
}

/// A storage failure. Its text may contain database detail: log it, never send it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A query or connection failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Running the migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The SQLite path could not be made absolute.
    #[error("invalid SQLite path: {0}")]
    SqlitePath(std::io::Error),
}

const TASK_COLUMNS: &str = "id, user_id, title, description, completed, created_at, updated_at";

/// Handle to the task database (cheap to clone: it is a pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
}

impl Store {
    /// Connects to `target` and runs the migrations.
    pub async fn connect(target: &DatabaseTarget) -> Result<Self, StoreError> {
        let url = match target {
            DatabaseTarget::SqliteFile(path) => sqlite_file_url(path)?,
            DatabaseTarget::Url(url) => url.clone(),
        };
        Self::connect_url(&url).await
    }

    /// Connects to a database URL and runs the migrations.
    pub async fn connect_url(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(5));
        if is_sqlite_memory(url) {
            // Every connection would see its own empty database, and the last one to
            // close would take the data with it: keep exactly one, forever.
            options = options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        } else {
            options = options.max_connections(10);
        }
        let pool = options.connect(url).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Checks that the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The underlying pool, for tests and maintenance tools.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// `owner`'s tasks, oldest first, filtered and paged by `query`.
    pub async fn list_tasks(
        &self,
        owner: &str,
        query: &TaskListQuery,
    ) -> Result<Vec<Task>, StoreError> {
        let filter = match query.status {
            StatusFilter::All => "",
            StatusFilter::Pending => " AND completed = 0",
            StatusFilter::Completed => " AND completed = 1",
        };
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = $1{filter} \
             ORDER BY created_at, id LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(query.limit)
            .bind(query.offset)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// Creates a task for `owner`.
    pub async fn create_task(&self, owner: &str, new: &NewTask) -> Result<Task, StoreError> {
        let now = now_rfc3339();
        let task = Task {
            id: Uuid::new_v4().to_string(),
            user_id: owner.to_owned(),
            title: new.title.clone(),
            description: new.description.clone(),
            completed: false,
            created_at: now.clone(),
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO tasks (id, user_id, title, description, completed, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&task.id)
        .bind(&task.user_id)
        .bind(&task.title)
        .bind(task.description.as_deref())
        .bind(i64::from(task.completed))
        .bind(&task.created_at)
        .bind(&task.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(task)
    }

    /// `owner`'s task `id`, if it exists.
    pub async fn get_task(&self, owner: &str, id: &str) -> Result<Option<Task>, StoreError> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(owner)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Applies `changes` to `owner`'s task `id`; `None` if there is no such task.
    pub async fn update_task(
        &self,
        owner: &str,
        id: &str,
        changes: &TaskChanges,
    ) -> Result<Option<Task>, StoreError> {
        // One statement, so concurrent partial updates of different fields do not undo
        // each other.
        let sql = format!(
            "UPDATE tasks SET \
               title = COALESCE($1, title), \
               description = CASE WHEN $2 THEN $3 ELSE description END, \
               completed = COALESCE($4, completed), \
               updated_at = $5 \
             WHERE user_id = $6 AND id = $7 \
             RETURNING {TASK_COLUMNS}"
        );
        let (set_description, description) = match &changes.description {
            Some(description) => (true, description.as_deref()),
            None => (false, None),
        };
        let row = sqlx::query(&sql)
            .bind(changes.title.as_deref())
            .bind(set_description)
            .bind(description)
            .bind(changes.completed.map(i64::from))
            .bind(now_rfc3339())
            .bind(owner)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Flips `completed` on `owner`'s task `id`; `None` if there is no such task.
    pub async fn toggle_task(&self, owner: &str, id: &str) -> Result<Option<Task>, StoreError> {
        let sql = format!(
            "UPDATE tasks SET completed = 1 - completed, updated_at = $1 \
             WHERE user_id = $2 AND id = $3 \
             RETURNING {TASK_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(now_rfc3339())
            .bind(owner)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Deletes `owner`'s task `id`; `false` if there was no such task.
    pub async fn delete_task(&self, owner: &str, id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM tasks WHERE user_id = $1 AND id = $2")
            .bind(owner)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }
}

fn task_from_row(row: &AnyRow) -> Result<Task, StoreError> {
    Ok(Task {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        completed: row.try_get::<i64, _>("completed")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Now, as RFC 3339 UTC with microseconds: fixed width, so text order is time order.
fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A `sqlite://` URL for `path` that creates the file if missing. The path is made
/// absolute and percent-encoded by sqlx, so `?` or `#` in it cannot change its meaning.
fn sqlite_file_url(path: &std::path::Path) -> Result<String, StoreError> {
    let path = std::path::absolute(path).map_err(StoreError::SqlitePath)?;
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .to_url_lossy()
        .to_string())
}

fn is_sqlite_memory(url: &str) -> bool {
    url.starts_with("sqlite:") && (url.contains(":memory:") || url.contains("mode=memory"))
}
