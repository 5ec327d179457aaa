//! The SQLite store (WAL): every trait of [`crate::api`] over one connection. [`crate::Store`]
//! opens one per kind of state. Each cell and each log row is committed on its own, so a killed
//! process loses at most what was in flight.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::StoreError;

mod claims;
mod conversations;
mod log;
mod migrations;
mod runs;
mod shadow;
mod vectors;

/// One connection to the store's file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// The request log's checkpoint thread, started by the first logged row.
    checkpoints: OnceLock<log::Checkpoints>,
    /// Vectors of searched collections, with the generation they were read at.
    vectors: Mutex<HashMap<String, Arc<vectors::Loaded>>>,
}

impl SqliteStore {
    /// Opens (creating and migrating) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; PRAGMA journal_size_limit=4194304;")
            .map_err(err)?;
        let store = Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            checkpoints: OnceLock::new(),
            vectors: Mutex::new(HashMap::new()),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Opens the existing store at `path` for reading only: nothing is created or migrated, a
    /// file that is not a store is refused by name, and a store on read-only media opens (as
    /// immutable when not even the WAL index can be made next to it).
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let encoded = path
            .to_string_lossy()
            .replace('%', "%25")
            .replace('?', "%3f")
            .replace('#', "%23");
        let open = |extra: &str| -> Result<(Connection, i64), rusqlite::Error> {
            let conn =
                Connection::open_with_flags(format!("file:{encoded}?mode=ro{extra}"), flags)?;
            let version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            Ok((conn, version))
        };
        let (conn, version) = open("").or_else(|_| open("&immutable=1")).map_err(err)?;
        let shown = path.display().to_string();
        let current = migrations::MIGRATIONS.len() as i64;
        match version {
            0 => return Err(StoreError::NotAStore(shown)),
            v if v > current => {
                return Err(StoreError::Newer {
                    store: shown,
                    version: v,
                })
            }
            v if v < current => {
                return Err(StoreError::Older {
                    store: shown,
                    version: v,
                })
            }
            _ => {}
        }
        conn.execute_batch("PRAGMA busy_timeout=5000;")
            .map_err(err)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            checkpoints: OnceLock::new(),
            vectors: Mutex::new(HashMap::new()),
        })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies the migrations this file has not had, each in a write transaction of its own
    /// (two processes opening a new file at once do not both apply one).
    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let current: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.err())?;
        if current as usize == migrations::MIGRATIONS.len() {
            return Ok(());
        }
        for (index, sql) in migrations::MIGRATIONS.iter().enumerate() {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(self.err())?;
            let version: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(self.err())?;
            if version as usize > migrations::MIGRATIONS.len() {
                return Err(StoreError::Newer {
                    store: self.path.display().to_string(),
                    version,
                });
            }
            if version as usize > index {
                continue;
            }
            tx.execute_batch(sql).map_err(self.err())?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))
                .map_err(self.err())?;
            tx.commit().map_err(self.err())?;
        }
        Ok(())
    }
}
