//! The request log. A handler writes its request's row itself, committed before the client sees
//! the end of the answer, so that an answered request's row survives a crash. A commit is a WAL
//! append without fsync (tens of microseconds); checkpoints, which fsync, run on a thread of
//! their own so that no request waits for one. (An earlier design handed rows to a writer
//! thread and waited for its acknowledgement: the thread hop cost more than the insert.)

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use understudy_store::{RequestRow, Store};

use crate::error::ServeError;

/// How often the checkpoint thread folds the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// The open request log.
pub struct RequestLog {
    store: Mutex<Store>,
    checkpointing: Arc<AtomicBool>,
}

impl RequestLog {
    /// Opens (creating and migrating) the store at `path` and starts its checkpoint thread.
    pub fn open(path: &Path) -> Result<Arc<Self>, ServeError> {
        let config = |e: understudy_store::StoreError| ServeError::Config(e.to_string());
        let store = Store::open(path).map_err(config)?;
        store.defer_checkpoints().map_err(config)?;
        let checkpointer = Store::open(path).map_err(config)?;
        let checkpointing = Arc::new(AtomicBool::new(true));
        let running = checkpointing.clone();
        std::thread::Builder::new()
            .name("request-log-checkpoint".into())
            .spawn(move || {
                while running.load(Ordering::Relaxed) {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    if let Err(e) = checkpointer.checkpoint() {
                        tracing::warn!("request log checkpoint: {e}");
                    }
                }
            })
            .map_err(|e| ServeError::Config(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Arc::new(Self {
            store: Mutex::new(store),
            checkpointing,
        }))
    }

    /// Appends and commits one row; a failure is logged, never the request's failure.
    pub fn write(&self, row: &RequestRow) {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = store.log_request(row) {
            tracing::warn!("request log: {e}");
        }
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        self.checkpointing.store(false, Ordering::Relaxed);
    }
}
