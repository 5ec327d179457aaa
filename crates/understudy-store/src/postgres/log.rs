//! The gateway's request log in PostgreSQL: one partition per UTC day, made a week ahead (and
//! again every hour by the gateway), so that old days can be dropped whole. Rows that find no
//! partition land in `requests_default` instead of failing.

use async_trait::async_trait;

use super::PgStore;
use crate::api::RequestLog;
use crate::rows::RequestRow;
use crate::StoreError;

/// Days ahead whose partitions exist.
const DAYS_AHEAD: i32 = 7;

#[async_trait]
impl RequestLog for PgStore {
    async fn log_request(&self, r: &RequestRow) -> Result<(), StoreError> {
        let client = self.log_client().await?;
        self.execute_on(
                &client,
                "INSERT INTO requests (model, profile, backend_model, status, error_type, stream, total_ms, ttft_ms, prompt_tokens, completion_tokens, prompt_json, answer, route, cached_tokens, concurrency, capture)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                &[
                    &r.model, &r.profile, &r.backend_model, &i32::from(r.status), &r.error_type, &r.stream, &r.total_ms, &r.ttft_ms,
                    &r.prompt_tokens.map(i64::from), &r.completion_tokens.map(i64::from), &r.prompt_json, &r.answer, &r.route,
                    &r.cached_tokens.map(i64::from), &r.concurrency.map(i64::from), &r.capture,
                ],
            )
            .await?;
        Ok(())
    }

    async fn drop_requests_before(&self, day: &str) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.fail(e))?;
        tx.batch_execute("SELECT pg_advisory_xact_lock(727275)")
            .await
            .map_err(|e| self.fail(e))?;
        // Day partitions are named requests_YYYYMMDD; those of days before `day` go whole.
        let old = tx
            .query(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'requests'::regclass AND c.relname ~ '^requests_[0-9]{8}$'
                   AND c.relname < 'requests_' || replace($1, '-', '')",
                &[&day],
            )
            .await
            .map_err(|e| self.fail(e))?;
        let mut removed = 0u64;
        for row in old {
            let name: String = row.try_get(0).map_err(|e| self.fail(e))?;
            let count = tx
                .query_one(&format!("SELECT COUNT(*) FROM {name}"), &[])
                .await
                .and_then(|r| r.try_get::<_, i64>(0))
                .map_err(|e| self.fail(e))?;
            removed += count as u64;
            tx.batch_execute(&format!("DROP TABLE {name}"))
                .await
                .map_err(|e| self.fail(e))?;
        }
        // Strays that found no partition.
        removed += tx
            .execute(
                "DELETE FROM requests_default WHERE at < $1::text::timestamptz",
                &[&format!("{day}T00:00:00Z")],
            )
            .await
            .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(removed)
    }

    async fn keep_newest_requests(&self, rows: u64) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let removed = client
            .execute(
                "DELETE FROM requests WHERE id <= (SELECT id FROM requests ORDER BY id DESC OFFSET $1 LIMIT 1)",
                &[&i64::try_from(rows).unwrap_or(i64::MAX)],
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(removed)
    }

    async fn log_shadow(&self, row: &crate::ShadowRow) -> Result<(), StoreError> {
        self.insert_shadow(row).await
    }

    async fn shadows(
        &self,
        profile: &str,
        since: &str,
    ) -> Result<Vec<crate::ShadowRow>, StoreError> {
        self.read_shadows(profile, since).await
    }

    async fn set_canary_weights(&self, profile: &str, weights: &str) -> Result<(), StoreError> {
        self.upsert_canary(profile, weights).await
    }

    async fn canary_weights(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read_canaries().await
    }

    async fn clear_captures_before(&self, day: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let cleared = client
            .execute(
                "UPDATE requests SET capture = NULL WHERE capture IS NOT NULL AND at < $1::text::timestamptz",
                &[&format!("{day}T00:00:00Z")],
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(cleared)
    }

    async fn request_profiles(&self, since: &str) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT DISTINCT profile FROM requests WHERE at >= $1::text::timestamptz AND profile IS NOT NULL ORDER BY profile",
                &[&since],
            )
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(|e| self.fail(e))
    }

    async fn requests_where(
        &self,
        f: &crate::RequestFilter,
        limit: usize,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let status = f.status.map(i32::from);
        let class = f.status_class.map(i32::from);
        let rows = self
            .client()
            .await?
            .query(
                "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), model, profile, backend_model, status, error_type, stream, total_ms, ttft_ms,
                        prompt_tokens, completion_tokens, prompt_json, answer, route, cached_tokens, concurrency, capture
                 FROM requests WHERE at >= $1::text::timestamptz AND ($2::text IS NULL OR profile = $2)
                   AND ($3::int IS NULL OR status = $3) AND ($4::int IS NULL OR status / 100 = $4)
                   AND ($6::text IS NULL OR at < $6::text::timestamptz) AND ($7::text IS NULL OR backend_model = $7)
                   AND (NOT $8 OR capture IS NOT NULL)
                 ORDER BY at DESC, id DESC LIMIT $5",
                &[&f.since, &f.profile, &status, &class, &(limit as i64), &f.until, &f.model, &f.captured],
            )
            .await
            .map_err(|e| self.fail(e))?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(RequestRow {
                    at: r.try_get(0)?,
                    model: r.try_get(1)?,
                    profile: r.try_get(2)?,
                    backend_model: r.try_get(3)?,
                    status: r.try_get::<_, i32>(4)? as u16,
                    error_type: r.try_get(5)?,
                    stream: r.try_get(6)?,
                    total_ms: r.try_get(7)?,
                    ttft_ms: r.try_get(8)?,
                    prompt_tokens: r.try_get::<_, Option<i64>>(9)?.map(|n| n as u32),
                    completion_tokens: r.try_get::<_, Option<i64>>(10)?.map(|n| n as u32),
                    prompt_json: r.try_get(11)?,
                    answer: r.try_get(12)?,
                    route: r.try_get(13)?,
                    cached_tokens: r.try_get::<_, Option<i64>>(14)?.map(|n| n as u32),
                    concurrency: r.try_get::<_, Option<i64>>(15)?.map(|n| n as u32),
                    capture: r.try_get(16)?,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(|e| self.fail(e))?;
        out.reverse();
        Ok(out)
    }
}

impl PgStore {
    /// Makes the partitions of today and the next week that do not exist yet. A day whose rows
    /// already went to the default partition keeps them there (and is named in a warning).
    pub(super) async fn ensure_log_partitions(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        // One process at a time: replicas starting together would race to make the same table.
        let tx = client.transaction().await.map_err(|e| self.fail(e))?;
        tx.batch_execute("SELECT pg_advisory_xact_lock(727275)")
            .await
            .map_err(|e| self.fail(e))?;
        let days = tx
            .query(
                "SELECT to_char(d, 'YYYYMMDD'), to_char(d, 'YYYY-MM-DD'), to_char(d + 1, 'YYYY-MM-DD')
                 FROM generate_series(0, $1) AS ahead, LATERAL (SELECT (now() AT TIME ZONE 'UTC')::date + ahead AS d) AS day
                 WHERE to_regclass('requests_' || to_char(d, 'YYYYMMDD')) IS NULL",
                &[&DAYS_AHEAD],
            )
            .await
            .map_err(|e| self.fail(e))?;
        for day in days {
            let (name, from, to): (String, String, String) = (
                day.try_get(0).map_err(|e| self.fail(e))?,
                day.try_get(1).map_err(|e| self.fail(e))?,
                day.try_get(2).map_err(|e| self.fail(e))?,
            );
            // A savepoint each, so that a day whose rows already went to the default partition
            // (which then refuses the new one) does not undo the others.
            let made = tx
                .batch_execute(&format!(
                    "SAVEPOINT day; CREATE TABLE requests_{name} PARTITION OF requests FOR VALUES FROM ('{from} 00:00:00+00') TO ('{to} 00:00:00+00'); RELEASE SAVEPOINT day"
                ))
                .await;
            if let Err(e) = made {
                tracing::warn!("request log partition {name}: {}", super::describe(&e));
                tx.batch_execute("ROLLBACK TO SAVEPOINT day")
                    .await
                    .map_err(|e| self.fail(e))?;
            }
        }
        tx.commit().await.map_err(|e| self.fail(e))
    }
}
