//! understudy's store: eval runs and cells (with claims for several workers), the response
//! cache, the gateway's request log, kept conversations and vector collections, behind the traits
//! in [`api`]. SQLite (one WAL file, the zero-setup default) and PostgreSQL with pgvector (shared
//! by gateway replicas and eval workers) implement them, each under versioned migrations; no other
//! crate names a database driver.

pub mod api;
mod cache_key;
pub mod conditions;
mod error;
pub mod load_summary;
mod location;
mod postgres;
mod rows;
mod sqlite;
pub mod stored_plan;
#[cfg(feature = "test-server")]
pub mod test_server;
pub mod vector_math;

use std::sync::Arc;

pub use api::{ConversationStore, History, RequestLog, ResponseCache, RunStore, VectorStore};
pub use cache_key::cache_key;
pub use conditions::Conditions;
pub use error::StoreError;
pub use location::{redact, Location};
pub use rows::{
    cell_key, Cell, CollectionInfo, Hit, RequestFilter, RequestRow, RunInfo, ShadowRow,
};

/// An open store: one handle per kind of state, all in one place (one SQLite file or one
/// PostgreSQL database). Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub runs: Arc<dyn RunStore>,
    pub cache: Arc<dyn ResponseCache>,
    pub log: Arc<dyn RequestLog>,
    pub conversations: Arc<dyn ConversationStore>,
    pub vectors: Arc<dyn VectorStore>,
    location: Location,
}

impl Store {
    /// Opens (creating and migrating) the store at `location`. SQLite gets a connection per
    /// kind of state, so that the gateway's log commits never wait behind a conversation's;
    /// PostgreSQL shares one connection pool (and a second one for the request log, whose
    /// commits do not wait for the server's disk flush).
    pub async fn open(location: &Location) -> Result<Store, StoreError> {
        match location {
            Location::Sqlite(path) => {
                let runs = Arc::new(sqlite::SqliteStore::open(path)?);
                Ok(Store {
                    cache: runs.clone(),
                    runs,
                    log: Arc::new(sqlite::SqliteStore::open(path)?),
                    conversations: Arc::new(sqlite::SqliteStore::open(path)?),
                    vectors: Arc::new(sqlite::SqliteStore::open(path)?),
                    location: location.clone(),
                })
            }
            Location::Postgres(url) => {
                let pg = Arc::new(postgres::PgStore::open(url).await?);
                postgres::keep_log_partitions(&pg);
                Ok(Store {
                    runs: pg.clone(),
                    cache: pg.clone(),
                    log: pg.clone(),
                    conversations: pg.clone(),
                    vectors: pg,
                    location: location.clone(),
                })
            }
        }
    }

    /// Opens the existing store at `location` for reading (`runs`, `show`, `report`, `compare`,
    /// `view`, `logs`): a SQLite file is opened read-only, never created or migrated, so a store
    /// on read-only media works and a file that is not a store is refused, not made into one.
    /// PostgreSQL opens as usual (reading needs no write access there).
    pub async fn open_read_only(location: &Location) -> Result<Store, StoreError> {
        match location {
            Location::Sqlite(path) => {
                let runs = Arc::new(sqlite::SqliteStore::open_read_only(path)?);
                Ok(Store {
                    cache: runs.clone(),
                    runs,
                    log: Arc::new(sqlite::SqliteStore::open_read_only(path)?),
                    conversations: Arc::new(sqlite::SqliteStore::open_read_only(path)?),
                    vectors: Arc::new(sqlite::SqliteStore::open_read_only(path)?),
                    location: location.clone(),
                })
            }
            Location::Postgres(_) => Store::open(location).await,
        }
    }

    /// Opens the SQLite file at `path` (a shorthand for tests and tools).
    pub async fn open_path(path: &std::path::Path) -> Result<Store, StoreError> {
        Store::open(&Location::Sqlite(path.to_path_buf())).await
    }

    /// Where the store is (a PostgreSQL URL shown without its password).
    pub fn location(&self) -> &Location {
        &self.location
    }
}
