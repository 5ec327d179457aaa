//! The request log: rows go over a channel to one writer thread that owns the SQLite store, so
//! request handlers never touch the database. A handler that needs its row to survive a crash
//! sends it with an acknowledgement and waits for it before the client sees the end of the answer;
//! the writer commits whatever has queued up in one transaction (group commit) and then
//! acknowledges every row of it.

use std::path::Path;

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::sync::oneshot;
use understudy_eval::store::{RequestRow, Store};

use crate::error::ServeError;

/// Most rows committed in one transaction.
const MAX_BATCH: usize = 512;

/// One row for the log, and who waits for it to be committed.
pub struct LogEntry {
    pub row: RequestRow,
    pub committed: Option<oneshot::Sender<()>>,
}

/// Where handlers send rows.
pub type LogSender = UnboundedSender<LogEntry>;

/// Opens (creating and migrating) the store at `path` and starts the writer thread.
pub fn spawn_writer(path: &Path) -> Result<LogSender, ServeError> {
    let store = Store::open(path).map_err(|e| ServeError::Config(e.to_string()))?;
    let (tx, mut rx) = unbounded_channel::<LogEntry>();
    std::thread::Builder::new()
        .name("request-log".into())
        .spawn(move || {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = rx.blocking_recv() {
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(entry) => batch.push(entry),
                        Err(_) => break,
                    }
                }
                let rows: Vec<&RequestRow> = batch.iter().map(|e| &e.row).collect();
                if let Err(e) = store.log_requests(&rows) {
                    tracing::warn!("request log: {e}");
                }
                for entry in batch.drain(..) {
                    if let Some(done) = entry.committed {
                        let _ = done.send(());
                    }
                }
            }
        })
        .map_err(|e| ServeError::Config(format!("cannot start the request-log thread: {e}")))?;
    Ok(tx)
}
