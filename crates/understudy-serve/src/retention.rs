//! The request log's retention (`[serve] log_retention_days`, `log_max_rows`,
//! `capture_retention_days`): rows logged before the UTC day that many days back, and rows beyond
//! the newest `log_max_rows`, are removed, and captured traffic older than its own limit is
//! cleared from the rows that stay, when the gateway starts and every hour while it runs — on
//! SQLite and PostgreSQL alike (PostgreSQL drops whole day partitions for the age limit).

use std::sync::Arc;
use std::time::Duration;

use understudy_store::{RequestLog, StoreError};

/// How often retention runs while the gateway does.
const EVERY: Duration = Duration::from_secs(3600);

/// What the request log keeps; nothing set keeps everything.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Retention {
    pub days: Option<u32>,
    pub rows: Option<u64>,
    /// Days captured requests and answers are kept.
    pub capture_days: Option<u32>,
}

impl Retention {
    /// Whether any limit is set.
    pub fn is_set(&self) -> bool {
        self.days.is_some() || self.rows.is_some() || self.capture_days.is_some()
    }

    /// Applies the limits once; how many rows were removed or had their capture cleared.
    pub async fn apply(&self, log: &dyn RequestLog) -> Result<u64, StoreError> {
        let mut removed = 0;
        let cutoff = self
            .days
            .and_then(|days| understudy_core::since::since_bound(&format!("{days}d")).ok());
        if let Some(bound) = cutoff {
            removed += log.drop_requests_before(&bound[..10]).await?;
        }
        if let Some(rows) = self.rows {
            removed += log.keep_newest_requests(rows).await?;
        }
        let capture_cutoff = self
            .capture_days
            .and_then(|days| understudy_core::since::since_bound(&format!("{days}d")).ok());
        if let Some(bound) = capture_cutoff {
            removed += log.clear_captures_before(&bound[..10]).await?;
        }
        Ok(removed)
    }

    /// Applies the limits now and every hour, on a task of its own; a failure is logged and
    /// retried at the next hour.
    pub fn spawn(self, log: Arc<dyn RequestLog>) {
        if !self.is_set() {
            return;
        }
        tokio::spawn(async move {
            loop {
                match self.apply(log.as_ref()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("request log retention removed {n} rows"),
                    Err(e) => tracing::warn!("request log retention: {e}"),
                }
                tokio::time::sleep(EVERY).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rows_beyond_the_newest_are_removed_and_today_is_kept() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = understudy_store::Store::open_path(&dir.path().join("log.db"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for i in 0..10 {
            let row = understudy_store::RequestRow {
                model: format!("m{i}"),
                status: 200,
                ..Default::default()
            };
            store
                .log
                .log_request(&row)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let keep = Retention {
            days: Some(1),
            rows: Some(4),
            capture_days: None,
        };
        assert_eq!(keep.apply(store.log.as_ref()).await.ok(), Some(6));
        let left = store.log.requests("", 100).await.unwrap_or_default();
        let models: Vec<&str> = left.iter().map(|r| r.model.as_str()).collect();
        assert_eq!(models, ["m6", "m7", "m8", "m9"]);
    }
}
