//! Eval runs and their cells, and the response cache, in SQLite.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::SqliteStore;
use crate::api::{ResponseCache, RunStore};
use crate::rows::{cell_key, Cell, RunInfo};
use crate::StoreError;

#[async_trait]
impl RunStore for SqliteStore {
    async fn open_run(&self, plan_key: &str, plan_json: &str) -> Result<(i64, bool), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        let found: Option<i64> = tx
            .query_row(
                "SELECT id FROM runs WHERE plan_key = ?1 AND status != 'finished' ORDER BY id DESC LIMIT 1",
                [plan_key],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        let opened = match found {
            Some(id) => (id, true),
            None => {
                tx.execute(
                    "INSERT INTO runs (plan_key, status, plan_json) VALUES (?1, 'running', ?2)",
                    params![plan_key, plan_json],
                )
                .map_err(self.err())?;
                (tx.last_insert_rowid(), false)
            }
        };
        tx.commit().map_err(self.err())?;
        Ok(opened)
    }

    async fn set_status(&self, run: i64, status: &str) -> Result<(), StoreError> {
        let finished = status == "finished";
        self.conn()
            .execute(
                "UPDATE runs SET status = ?2, finished_at = CASE WHEN ?3 THEN strftime('%Y-%m-%dT%H:%M:%SZ', 'now') ELSE finished_at END WHERE id = ?1",
                params![run, status, finished],
            )
            .map_err(self.err())?;
        Ok(())
    }

    async fn done_keys(&self, run: i64) -> Result<HashSet<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT model, strategy, format, task, item_id FROM cells WHERE run_id = ?1")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(cell_key(
                    &r.get::<_, String>(0)?,
                    &r.get::<_, String>(1)?,
                    &r.get::<_, String>(2)?,
                    &r.get::<_, String>(3)?,
                    &r.get::<_, String>(4)?,
                ))
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    async fn insert_cell(&self, run: i64, c: &Cell) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.err())?;
        let stored = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO cells (run_id, model, strategy, format, task, item_id, prompt_json, answer, reasoning, parsed, gold, score, format_failure, ttft_ms, total_ms, decode_tps, prompt_tokens, completion_tokens, cached, detail, conditions, program, program_hash, cached_prompt_tokens)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    run, c.model, c.strategy, c.format, c.task, c.item_id, c.prompt_json, c.answer, c.reasoning, c.parsed, c.gold,
                    c.score, c.format_failure, c.ttft_ms, c.total_ms, c.decode_tps, c.prompt_tokens, c.completion_tokens, c.cached, c.detail,
                    c.conditions.and_then(|k| serde_json::to_string(&k).ok()),
                    c.program, c.program.as_deref().map(understudy_prompt::program::hash_of), c.cached_prompt_tokens
                ])
            })
            .map_err(self.err())?;
        super::claims::mark_done(
            &tx,
            run,
            &cell_key(&c.model, &c.strategy, &c.format, &c.task, &c.item_id),
        )
        .map_err(self.err())?;
        tx.commit().map_err(self.err())?;
        Ok(stored > 0)
    }

    async fn measured_speeds(&self) -> Result<Vec<(String, f64, f64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT model, AVG(decode_tps), SUM(prompt_tokens - cached_prompt_tokens) * 1000.0 / SUM(ttft_ms) FROM cells \
                 WHERE cached = 0 AND decode_tps > 0 AND ttft_ms > 0 GROUP BY model",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    async fn measured_output_tokens(&self) -> Result<Vec<(String, String, f64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT model, strategy, AVG(completion_tokens) FROM cells \
                 WHERE cached = 0 GROUP BY model, strategy",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    async fn row_keys(&self, run: i64) -> Result<Vec<(String, String, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT model, strategy, format FROM cells WHERE run_id = ?1
                 GROUP BY model, strategy, format ORDER BY MIN(rowid)",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    async fn cells(&self, run: i64) -> Result<Vec<Cell>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT model, strategy, format, task, item_id, prompt_json, answer, reasoning, parsed, gold, score, format_failure, ttft_ms, total_ms, decode_tps, prompt_tokens, completion_tokens, cached, detail, conditions, program, cached_prompt_tokens
                 FROM cells WHERE run_id = ?1 ORDER BY rowid",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(Cell {
                    model: r.get(0)?,
                    strategy: r.get(1)?,
                    format: r.get(2)?,
                    task: r.get(3)?,
                    item_id: r.get(4)?,
                    prompt_json: r.get(5)?,
                    answer: r.get(6)?,
                    reasoning: r.get(7)?,
                    parsed: r.get(8)?,
                    gold: r.get(9)?,
                    score: r.get(10)?,
                    format_failure: r.get(11)?,
                    ttft_ms: r.get(12)?,
                    total_ms: r.get(13)?,
                    decode_tps: r.get(14)?,
                    prompt_tokens: r.get(15)?,
                    completion_tokens: r.get(16)?,
                    cached: r.get(17)?,
                    detail: r.get(18)?,
                    conditions: r
                        .get::<_, Option<String>>(19)?
                        .and_then(|text| serde_json::from_str(&text).ok()),
                    program: r.get(20)?,
                    cached_prompt_tokens: r.get(21)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    async fn runs(&self) -> Result<Vec<RunInfo>, StoreError> {
        self.query_runs(None)
    }

    async fn run(&self, id: i64) -> Result<RunInfo, StoreError> {
        self.query_runs(Some(id))?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NoSuchRun(id.to_string()))
    }

    async fn claim(
        &self,
        run: i64,
        key: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        super::claims::claim(&self.conn(), run, key, worker, lease).map_err(self.err())
    }

    async fn renew_claims(
        &self,
        run: i64,
        worker: &str,
        lease: Duration,
    ) -> Result<(), StoreError> {
        super::claims::renew(&self.conn(), run, worker, lease).map_err(self.err())
    }

    async fn claim_holders(&self, run: i64) -> Result<Vec<String>, StoreError> {
        super::claims::holders(&self.conn(), run).map_err(self.err())
    }

    async fn release_claims(&self, run: i64, worker: &str) -> Result<(), StoreError> {
        super::claims::release(&self.conn(), run, worker).map_err(self.err())
    }
}

impl SqliteStore {
    /// Runs with their cell counts, oldest first; only run `id` when given.
    fn query_runs(&self, id: Option<i64>) -> Result<Vec<RunInfo>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT r.id, r.plan_key, r.created_at, r.finished_at, r.status, r.plan_json, (SELECT COUNT(*) FROM cells c WHERE c.run_id = r.id)
                 FROM runs r WHERE ?1 IS NULL OR r.id = ?1 ORDER BY r.id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(RunInfo {
                    id: r.get(0)?,
                    plan_key: r.get(1)?,
                    created_at: r.get(2)?,
                    finished_at: r.get(3)?,
                    status: r.get(4)?,
                    plan_json: r.get(5)?,
                    cells: r.get(6)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }
}

#[async_trait]
impl ResponseCache for SqliteStore {
    async fn cache_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .prepare_cached("SELECT response_json FROM cache WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(self.err())
    }

    async fn cache_put(&self, key: &str, response_json: &str) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached("INSERT OR REPLACE INTO cache (key, response_json) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![key, response_json]))
            .map_err(self.err())?;
        Ok(())
    }
}
