//! Eval runs, their cells and claims, and the response cache, in PostgreSQL. Claims are rows
//! taken with `INSERT … ON CONFLICT DO UPDATE … WHERE expired`, which PostgreSQL serialises per
//! row: of two workers claiming one cell, exactly one gets it.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use tokio_postgres::Row;

use super::PgStore;
use crate::api::{ResponseCache, RunStore};
use crate::rows::{cell_key, Cell, RunInfo};
use crate::StoreError;

const CELL_COLUMNS: &str = "model, strategy, format, task, item_id, prompt_json, answer, reasoning, parsed, gold, score, format_failure, ttft_ms, total_ms, decode_tps, prompt_tokens, completion_tokens, cached, detail, conditions, program, cached_prompt_tokens";

fn cell(r: &Row) -> Result<Cell, tokio_postgres::Error> {
    Ok(Cell {
        model: r.try_get(0)?,
        strategy: r.try_get(1)?,
        format: r.try_get(2)?,
        task: r.try_get(3)?,
        item_id: r.try_get(4)?,
        prompt_json: r.try_get(5)?,
        answer: r.try_get(6)?,
        reasoning: r.try_get(7)?,
        parsed: r.try_get(8)?,
        gold: r.try_get(9)?,
        score: r.try_get(10)?,
        format_failure: r.try_get(11)?,
        ttft_ms: r.try_get(12)?,
        total_ms: r.try_get(13)?,
        decode_tps: r.try_get(14)?,
        prompt_tokens: r.try_get::<_, i64>(15)? as u32,
        completion_tokens: r.try_get::<_, i64>(16)? as u32,
        cached: r.try_get(17)?,
        detail: r.try_get(18)?,
        conditions: r
            .try_get::<_, Option<String>>(19)?
            .and_then(|text| serde_json::from_str(&text).ok()),
        program: r.try_get(20)?,
        cached_prompt_tokens: r.try_get::<_, i64>(21)? as u32,
    })
}

fn run_info(r: &Row) -> Result<RunInfo, tokio_postgres::Error> {
    Ok(RunInfo {
        id: r.try_get(0)?,
        plan_key: r.try_get(1)?,
        created_at: r.try_get(2)?,
        finished_at: r.try_get(3)?,
        status: r.try_get(4)?,
        plan_json: r.try_get(5)?,
        cells: r.try_get(6)?,
    })
}

/// A lease as PostgreSQL milliseconds.
fn millis(lease: Duration) -> f64 {
    lease.as_secs_f64() * 1000.0
}

#[async_trait]
impl RunStore for PgStore {
    async fn open_run(&self, plan_key: &str, plan_json: &str) -> Result<(i64, bool), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.fail(e))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 1))",
            &[&plan_key],
        )
        .await
        .map_err(|e| self.fail(e))?;
        let found = tx
            .query_opt(
                "SELECT id FROM runs WHERE plan_key = $1 AND status != 'finished' ORDER BY id DESC LIMIT 1",
                &[&plan_key],
            )
            .await
            .map_err(|e| self.fail(e))?;
        let opened = match found {
            Some(row) => (row.try_get(0).map_err(|e| self.fail(e))?, true),
            None => {
                let row = tx
                    .query_one(
                        "INSERT INTO runs (plan_key, status, plan_json) VALUES ($1, 'running', $2) RETURNING id",
                        &[&plan_key, &plan_json],
                    )
                    .await
                    .map_err(|e| self.fail(e))?;
                (row.try_get(0).map_err(|e| self.fail(e))?, false)
            }
        };
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(opened)
    }

    async fn set_status(&self, run: i64, status: &str) -> Result<(), StoreError> {
        self.execute("UPDATE runs SET status = $2, finished_at = CASE WHEN $2 = 'finished' THEN now() ELSE finished_at END WHERE id = $1", &[&run, &status]).await?;
        Ok(())
    }

    async fn done_keys(&self, run: i64) -> Result<HashSet<String>, StoreError> {
        self.rows(
            "SELECT model, strategy, format, task, item_id FROM cells WHERE run_id = $1",
            &[&run],
            |r| {
                Ok(cell_key(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                ))
            },
        )
        .await
        .map(|keys| keys.into_iter().collect())
    }

    async fn insert_cell(&self, run: i64, c: &Cell) -> Result<bool, StoreError> {
        let conditions = c.conditions.and_then(|k| serde_json::to_string(&k).ok());
        let program_hash = c
            .program
            .as_deref()
            .map(understudy_prompt::program::hash_of);
        let key = cell_key(&c.model, &c.strategy, &c.format, &c.task, &c.item_id);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.fail(e))?;
        let stored = tx
            .execute(
                &format!(
                    "INSERT INTO cells (run_id, {CELL_COLUMNS}, program_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
                     ON CONFLICT DO NOTHING"
                ),
                &[
                    &run, &c.model, &c.strategy, &c.format, &c.task, &c.item_id, &c.prompt_json, &c.answer, &c.reasoning,
                    &c.parsed, &c.gold, &c.score, &c.format_failure, &c.ttft_ms, &c.total_ms, &c.decode_tps,
                    &i64::from(c.prompt_tokens), &i64::from(c.completion_tokens), &c.cached, &c.detail, &conditions,
                    &c.program, &i64::from(c.cached_prompt_tokens), &program_hash,
                ],
            )
            .await
            .map_err(|e| self.fail(e))?;
        tx.execute(
            "INSERT INTO claims (run_id, cell, worker, expires_at, done) VALUES ($1, $2, '', now(), true)
             ON CONFLICT (run_id, cell) DO UPDATE SET done = true",
            &[&run, &key],
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(stored > 0)
    }

    async fn cells(&self, run: i64) -> Result<Vec<Cell>, StoreError> {
        self.rows(
            &format!("SELECT {CELL_COLUMNS} FROM cells WHERE run_id = $1 ORDER BY seq"),
            &[&run],
            cell,
        )
        .await
    }

    async fn row_keys(&self, run: i64) -> Result<Vec<(String, String, String)>, StoreError> {
        self.rows(
            "SELECT model, strategy, format FROM cells WHERE run_id = $1 \
             GROUP BY model, strategy, format ORDER BY MIN(seq)",
            &[&run],
            |r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
        )
        .await
    }

    async fn runs(&self) -> Result<Vec<RunInfo>, StoreError> {
        self.query_runs(None).await
    }

    async fn run(&self, id: i64) -> Result<RunInfo, StoreError> {
        self.query_runs(Some(id))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NoSuchRun(id.to_string()))
    }

    async fn measured_speeds(&self) -> Result<Vec<(String, f64, f64)>, StoreError> {
        self.rows("SELECT model, AVG(decode_tps), SUM(prompt_tokens - cached_prompt_tokens) * 1000.0 / SUM(ttft_ms) FROM cells \
                 WHERE NOT cached AND decode_tps > 0 AND ttft_ms > 0 GROUP BY model", &[], |r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).await
    }

    async fn measured_output_tokens(&self) -> Result<Vec<(String, String, f64)>, StoreError> {
        self.rows("SELECT model, strategy, AVG(completion_tokens)::float8 FROM cells WHERE NOT cached GROUP BY model, strategy", &[], |r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).await
    }

    async fn claim(
        &self,
        run: i64,
        key: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let held = self
            .rows(
                "INSERT INTO claims (run_id, cell, worker, expires_at) VALUES ($1, $2, $3, clock_timestamp() + $4 * interval '1 millisecond')
                 ON CONFLICT (run_id, cell) DO UPDATE SET worker = excluded.worker, expires_at = excluded.expires_at
                 WHERE NOT claims.done AND (claims.worker = excluded.worker OR claims.expires_at < clock_timestamp())
                 RETURNING worker",
                &[&run, &key, &worker, &millis(lease)],
                |_| Ok(()),
            )
            .await?;
        Ok(!held.is_empty())
    }

    async fn renew_claims(
        &self,
        run: i64,
        worker: &str,
        lease: Duration,
    ) -> Result<(), StoreError> {
        self.execute("UPDATE claims SET expires_at = clock_timestamp() + $3 * interval '1 millisecond' WHERE run_id = $1 AND worker = $2 AND NOT done", &[&run, &worker, &millis(lease)]).await?;
        Ok(())
    }

    async fn claim_holders(&self, run: i64) -> Result<Vec<String>, StoreError> {
        self.rows(
            "SELECT DISTINCT worker FROM claims WHERE run_id = $1 AND NOT done ORDER BY worker",
            &[&run],
            |r| r.try_get(0),
        )
        .await
    }

    async fn release_claims(&self, run: i64, worker: &str) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM claims WHERE run_id = $1 AND worker = $2 AND NOT done",
            &[&run, &worker],
        )
        .await?;
        Ok(())
    }
}

impl PgStore {
    async fn query_runs(&self, id: Option<i64>) -> Result<Vec<RunInfo>, StoreError> {
        self.rows("SELECT r.id, r.plan_key, to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                        to_char(r.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), r.status, r.plan_json,
                        (SELECT COUNT(*) FROM cells c WHERE c.run_id = r.id)
                 FROM runs r WHERE $1::bigint IS NULL OR r.id = $1 ORDER BY r.id", &[&id], run_info).await
    }
}

#[async_trait]
impl ResponseCache for PgStore {
    async fn cache_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT response_json FROM cache WHERE key = $1", &[&key])
            .await
            .map_err(|e| self.fail(e))?;
        row.map(|r| r.try_get(0))
            .transpose()
            .map_err(|e| self.fail(e))
    }

    async fn cache_put(&self, key: &str, response_json: &str) -> Result<(), StoreError> {
        self.execute("INSERT INTO cache (key, response_json) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET response_json = excluded.response_json", &[&key, &response_json]).await?;
        Ok(())
    }
}
