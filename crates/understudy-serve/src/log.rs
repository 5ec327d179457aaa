//! The request log. A handler writes its request's row itself, committed before the client sees
//! the end of the answer, so that an answered request's row survives a crash of the gateway.
//! (An earlier design handed rows to a writer thread and waited for its acknowledgement: the
//! thread hop cost more than the insert.) Where the row goes, and how its commit is made cheap,
//! is the store's business: a WAL append in SQLite, an asynchronous commit in PostgreSQL.

use std::sync::Arc;

use understudy_store::{RequestLog as LogStore, RequestRow};

/// The open request log.
pub struct RequestLog {
    store: Arc<dyn LogStore>,
}

impl RequestLog {
    pub fn new(store: Arc<dyn LogStore>) -> Arc<Self> {
        Arc::new(Self { store })
    }

    /// Appends and commits one row; a failure is logged, never the request's failure.
    pub async fn write(&self, row: &RequestRow) {
        if let Err(e) = self.store.log_request(row).await {
            tracing::warn!("request log: {e}");
        }
    }

    /// Writes `row` without waiting: for a request that ended without an answer, where no
    /// client waits for the commit.
    pub fn write_later(self: Arc<Self>, row: RequestRow) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { self.write(&row).await });
            }
            Err(_) => tracing::warn!("request log: no runtime to write a row"),
        }
    }
}
