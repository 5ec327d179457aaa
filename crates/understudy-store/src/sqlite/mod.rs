//! The SQLite store (WAL): runs, cells, the response cache and the gateway's request log.
//! Versioned schema with migrations. Each cell is committed on its own, so a killed run loses
//! at most the cell in flight.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::StoreError;

mod log;
mod rows;
mod runs;

pub use rows::{Cell, RequestRow, RunInfo};
pub use runs::cell_key;

/// Schema migrations, applied in order; the index + 1 is the schema version they produce.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    plan_key TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    finished_at TEXT,
    status TEXT NOT NULL,
    plan_json TEXT NOT NULL
);
CREATE INDEX runs_plan_key ON runs(plan_key);
CREATE TABLE cells (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    model TEXT NOT NULL,
    strategy TEXT NOT NULL,
    format TEXT NOT NULL,
    task TEXT NOT NULL,
    item_id TEXT NOT NULL,
    prompt_json TEXT NOT NULL,
    answer TEXT NOT NULL,
    reasoning TEXT,
    parsed TEXT,
    gold TEXT NOT NULL,
    score REAL NOT NULL,
    format_failure INTEGER NOT NULL,
    ttft_ms REAL NOT NULL,
    total_ms REAL NOT NULL,
    decode_tps REAL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    PRIMARY KEY (run_id, model, strategy, format, task, item_id)
);
CREATE TABLE cache (
    key TEXT PRIMARY KEY,
    response_json TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
"#,
    r#"
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    model TEXT NOT NULL,
    profile TEXT,
    backend_model TEXT,
    status INTEGER NOT NULL,
    error_type TEXT,
    stream INTEGER NOT NULL,
    total_ms REAL NOT NULL,
    ttft_ms REAL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    prompt_json TEXT,
    answer TEXT
);
CREATE INDEX requests_at ON requests(at);
"#,
    r#"
ALTER TABLE cells ADD COLUMN detail TEXT;
"#,
    r#"
ALTER TABLE requests ADD COLUMN route TEXT;
"#,
    r#"
ALTER TABLE cells ADD COLUMN conditions TEXT;
"#,
    r#"
ALTER TABLE cells ADD COLUMN program TEXT;
ALTER TABLE cells ADD COLUMN program_hash TEXT;
"#,
    r#"
ALTER TABLE cells ADD COLUMN cached_prompt_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN cached_tokens INTEGER;
"#,
    r#"
ALTER TABLE requests ADD COLUMN concurrency INTEGER;
"#,
];

/// The store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating and migrating) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;")
            .map_err(err)?;
        let store = Self {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.err())?;
        if version as usize > MIGRATIONS.len() {
            return Err(StoreError::Newer {
                path: self.path.clone(),
                version,
            });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.unchecked_transaction().map_err(self.err())?;
            tx.execute_batch(sql).map_err(self.err())?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))
                .map_err(self.err())?;
            tx.commit().map_err(self.err())?;
        }
        Ok(())
    }
}
