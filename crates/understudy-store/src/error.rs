//! What can go wrong with the store.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("store {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{} was written by a newer understudy (schema {version}); upgrade understudy", path.display())]
    Newer { path: PathBuf, version: i64 },
    #[error("no run {0} in the store (see `understudy runs`)")]
    NoSuchRun(String),
}
