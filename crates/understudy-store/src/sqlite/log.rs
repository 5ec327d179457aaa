//! The gateway's request log, and when the WAL is checkpointed.

use rusqlite::params;

use super::{RequestRow, Store};
use crate::StoreError;

impl Store {
    /// Stops this connection from checkpointing the WAL after its own commits, so that a commit
    /// someone waits on never includes a checkpoint's fsync; call [`Store::checkpoint`] from
    /// another connection instead.
    pub fn defer_checkpoints(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA wal_autocheckpoint=0;")
            .map_err(self.err())
    }

    /// Copies committed WAL pages into the database file, then lets the WAL start over. The
    /// passive pass copies nearly everything without blocking writers; the restart then copies
    /// only what was committed meanwhile, holding writers for that short moment. Under steady
    /// writes a passive checkpoint alone never catches up, and the WAL (and its mapped index)
    /// would grow without end.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        for mode in ["PASSIVE", "RESTART"] {
            self.conn
                .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// Appends and commits one row of the request log.
    pub fn log_request(&self, r: &RequestRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO requests (model, profile, backend_model, status, error_type, stream, total_ms, ttft_ms, prompt_tokens, completion_tokens, prompt_json, answer, route, cached_tokens, concurrency)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    r.model, r.profile, r.backend_model, r.status, r.error_type, r.stream, r.total_ms, r.ttft_ms, r.prompt_tokens, r.completion_tokens,
                    r.prompt_json, r.answer, r.route, r.cached_tokens, r.concurrency
                ])
            })
            .map_err(self.err())?;
        Ok(())
    }

    /// Logged requests at or after `since` (an ISO-8601 UTC time), oldest first, at most `limit`.
    pub fn requests(&self, since: &str, limit: usize) -> Result<Vec<RequestRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT at, model, profile, backend_model, status, error_type, stream, total_ms, ttft_ms, prompt_tokens, completion_tokens, prompt_json, answer, route, cached_tokens, concurrency
                 FROM requests WHERE at >= ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![since, limit as i64], |r| {
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
                })
            })
            .map_err(self.err())?;
        let mut out: Vec<RequestRow> = rows.collect::<Result<_, _>>().map_err(self.err())?;
        out.reverse();
        Ok(out)
    }
}
