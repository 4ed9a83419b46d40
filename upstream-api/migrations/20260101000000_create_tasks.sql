-- One schema for SQLite and PostgreSQL (both reached through sqlx's Any driver).
-- Ids are UUID strings made by the service; timestamps are RFC 3339 UTC text with a
-- fixed number of digits, so ordering by text is ordering by time. `completed` is an
-- INTEGER 0/1 rather than BOOLEAN: through sqlx's Any driver a SQLite BOOLEAN column does
-- not decode, while integers decode on both backends (src/db.rs maps it to bool).
CREATE TABLE IF NOT EXISTS tasks (
    id          TEXT    PRIMARY KEY NOT NULL,
    user_id     TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    description TEXT,
    completed   INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

-- Every query is scoped by owner; listing pages through one owner's tasks in time order.
CREATE INDEX IF NOT EXISTS tasks_user_id_created_at ON tasks (user_id, created_at, id);
