//! The gateway's request log in SQLite, and when the WAL is checkpointed. A row's commit is a
//! WAL append without fsync (tens of microseconds); checkpoints, which fsync, run on a thread of
//! their own, so that no request waits for one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use crate::api::RequestLog;
use crate::rows::RequestRow;
use crate::StoreError;

/// How often the checkpoint thread folds the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// The running checkpoint thread; stops when dropped.
pub(super) struct Checkpoints {
    running: Arc<AtomicBool>,
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
    }
}

impl SqliteStore {
    /// Stops this connection from checkpointing the WAL after its own commits (a commit someone
    /// waits on never includes a checkpoint's fsync) and starts a thread that checkpoints from
    /// a connection of its own.
    fn start_checkpoints(&self) -> Result<Checkpoints, StoreError> {
        self.conn()
            .execute_batch("PRAGMA wal_autocheckpoint=0;")
            .map_err(self.err())?;
        let checkpointer = SqliteStore::open(&self.path)?;
        let running = Arc::new(AtomicBool::new(true));
        let still = running.clone();
        let spawned = std::thread::Builder::new()
            .name("request-log-checkpoint".into())
            .spawn(move || {
                while still.load(Ordering::Relaxed) {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    if let Err(e) = checkpointer.checkpoint() {
                        tracing::warn!("request log checkpoint: {e}");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the request log's checkpoint thread: {e}");
        }
        Ok(Checkpoints { running })
    }

    /// Copies committed WAL pages into the database file, then lets the WAL start over. The
    /// passive pass copies nearly everything without blocking writers; the restart then copies
    /// only what was committed meanwhile, holding writers for that short moment. Under steady
    /// writes a passive checkpoint alone never catches up, and the WAL (and its mapped index)
    /// would grow without end.
    fn checkpoint(&self) -> Result<(), StoreError> {
        for mode in ["PASSIVE", "RESTART"] {
            self.conn()
                .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
                .map_err(self.err())?;
        }
        Ok(())
    }
}

#[async_trait]
impl RequestLog for SqliteStore {
    async fn log_request(&self, r: &RequestRow) -> Result<(), StoreError> {
        if self.checkpoints.get().is_none() {
            let started = self.start_checkpoints()?;
            let _ = self.checkpoints.set(started);
        }
        self.conn()
            .prepare_cached(
                "INSERT INTO requests (model, profile, backend_model, status, error_type, stream, total_ms, ttft_ms, prompt_tokens, completion_tokens, prompt_json, answer, route, cached_tokens, concurrency, capture)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    r.model, r.profile, r.backend_model, r.status, r.error_type, r.stream, r.total_ms, r.ttft_ms, r.prompt_tokens, r.completion_tokens,
                    r.prompt_json, r.answer, r.route, r.cached_tokens, r.concurrency, r.capture
                ])
            })
            .map_err(self.err())?;
        Ok(())
    }

    async fn drop_requests_before(&self, day: &str) -> Result<u64, StoreError> {
        let removed = self
            .conn()
            .execute(
                "DELETE FROM requests WHERE at < ?1",
                [format!("{day}T00:00:00")],
            )
            .map_err(self.err())?;
        Ok(removed as u64)
    }

    async fn keep_newest_requests(&self, rows: u64) -> Result<u64, StoreError> {
        let removed = self
            .conn()
            .execute(
                "DELETE FROM requests WHERE id <= (SELECT id FROM requests ORDER BY id DESC LIMIT 1 OFFSET ?1)",
                [i64::try_from(rows).unwrap_or(i64::MAX)],
            )
            .map_err(self.err())?;
        Ok(removed as u64)
    }

    async fn log_shadow(&self, row: &crate::ShadowRow) -> Result<(), StoreError> {
        self.insert_shadow(row)
    }

    async fn shadows(
        &self,
        profile: &str,
        since: &str,
    ) -> Result<Vec<crate::ShadowRow>, StoreError> {
        self.read_shadows(profile, since)
    }

    async fn set_canary_weights(&self, profile: &str, weights: &str) -> Result<(), StoreError> {
        self.upsert_canary(profile, weights)
    }

    async fn canary_weights(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read_canaries()
    }

    async fn clear_captures_before(&self, day: &str) -> Result<u64, StoreError> {
        let cleared = self
            .conn()
            .execute(
                "UPDATE requests SET capture = NULL WHERE capture IS NOT NULL AND at < ?1",
                [format!("{day}T00:00:00")],
            )
            .map_err(self.err())?;
        Ok(cleared as u64)
    }

    async fn request_profiles(&self, since: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT DISTINCT profile FROM requests WHERE at >= ?1 AND profile IS NOT NULL ORDER BY profile")
            .map_err(self.err())?;
        let rows = stmt.query_map([since], |r| r.get(0)).map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    async fn requests_where(
        &self,
        f: &crate::RequestFilter,
        limit: usize,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT at, model, profile, backend_model, status, error_type, stream, total_ms, ttft_ms, prompt_tokens, completion_tokens, prompt_json, answer, route, cached_tokens, concurrency, capture
                 FROM requests WHERE at >= ?1 AND (?2 IS NULL OR profile = ?2) AND (?3 IS NULL OR status = ?3)
                   AND (?4 IS NULL OR status / 100 = ?4) AND (?6 IS NULL OR at < ?6)
                   AND (?7 IS NULL OR backend_model = ?7) AND (?8 = 0 OR capture IS NOT NULL)
                 ORDER BY id DESC LIMIT ?5",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(
                params![
                    f.since,
                    f.profile,
                    f.status,
                    f.status_class,
                    limit as i64,
                    f.until,
                    f.model,
                    f.captured
                ],
                |r| {
                    Ok(RequestRow {
                        at: r.get(0)?,
                        model: r.get(1)?,
                        profile: r.get(2)?,
                        backend_model: r.get(3)?,
                        status: r.get(4)?,
                        error_type: r.get(5)?,
                        stream: r.get(6)?,
                        total_ms: r.get(7)?,
                        ttft_ms: r.get(8)?,
                        prompt_tokens: r.get(9)?,
                        completion_tokens: r.get(10)?,
                        prompt_json: r.get(11)?,
                        answer: r.get(12)?,
                        route: r.get(13)?,
                        cached_tokens: r.get(14)?,
                        concurrency: r.get(15)?,
                        capture: r.get(16)?,
                    })
                },
            )
            .map_err(self.err())?;
        let mut out: Vec<RequestRow> = rows.collect::<Result<_, _>>().map_err(self.err())?;
        out.reverse();
        Ok(out)
    }
}
