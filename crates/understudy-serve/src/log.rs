//! The request log: rows go over a channel to one writer thread that owns the SQLite store, so
//! request handlers never wait on the database.

use std::path::Path;

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use understudy_eval::store::{RequestRow, Store};

use crate::error::ServeError;

/// Opens (creating and migrating) the store at `path` and starts the writer thread.
pub fn spawn_writer(path: &Path) -> Result<UnboundedSender<RequestRow>, ServeError> {
    let store = Store::open(path).map_err(|e| ServeError::Config(e.to_string()))?;
    let (tx, mut rx) = unbounded_channel::<RequestRow>();
    std::thread::Builder::new()
        .name("request-log".into())
        .spawn(move || {
            while let Some(row) = rx.blocking_recv() {
                if let Err(e) = store.log_request(&row) {
                    tracing::warn!("request log: {e}");
                }
            }
        })
        .map_err(|e| ServeError::Config(format!("cannot start the request-log thread: {e}")))?;
    Ok(tx)
}
