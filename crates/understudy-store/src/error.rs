//! What can go wrong with the store; every variant names the store it happened in.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("store {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// `store` is the URL without its password.
    #[error("store {store}: {message}")]
    Postgres { store: String, message: String },
    #[error("{store} was written by a newer understudy (schema {version}); upgrade understudy")]
    Newer { store: String, version: i64 },
    #[error("{store} was written by an older understudy (schema {version}); run a command that writes (eval) once to upgrade it")]
    Older { store: String, version: i64 },
    #[error("{0} is not an understudy store (an empty file, or no understudy tables): pass the store's file with --db")]
    NotAStore(String),
    #[error("no run {0} in the store (see `understudy runs`)")]
    NoSuchRun(String),
    #[error("collection {collection:?} was embedded with {stored}, not {asked}: re-add it or use that embedder")]
    EmbedderMismatch {
        collection: String,
        stored: String,
        asked: String,
    },
    #[error("collection {collection:?} holds {stored}-dimensional vectors, not {asked}")]
    DimensionMismatch {
        collection: String,
        stored: usize,
        asked: usize,
    },
}
