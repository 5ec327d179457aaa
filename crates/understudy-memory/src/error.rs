//! The memory crate's error type; every variant names what and where.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    #[error("embedding model: {0}")]
    Model(String),
    #[error("embeddings server {url}: {message}")]
    Http { url: String, message: String },
    #[error("{}: {message}", path.display())]
    Input { path: PathBuf, message: String },
    #[error("collection {collection:?}: {source}")]
    Store {
        collection: String,
        source: understudy_store::StoreError,
    },
    #[error("collection {collection:?}, chunk {id}: not a solved example (build example collections with `understudy memory add-examples`)")]
    NotAnExample { collection: String, id: String },
}
