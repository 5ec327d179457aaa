//! Shadowed pairs in PostgreSQL (written by any replica's background worker, read by
//! `understudy shadow`) and canary weights (set by `understudy canary`, polled by replicas).

use super::PgStore;
use crate::rows::ShadowRow;
use crate::StoreError;

impl PgStore {
    pub(super) async fn insert_shadow(&self, r: &ShadowRow) -> Result<(), StoreError> {
        let client = self.client().await?;
        self.execute_on(
            &client,
            "INSERT INTO shadow_pairs (profile, conversation, request, reference_model, reference, reference_ms, reference_tokens,
                                       candidate_model, candidate, candidate_ms, candidate_tokens, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &r.profile, &r.conversation, &r.request, &r.reference_model, &r.reference, &r.reference_ms,
                &r.reference_tokens.map(i64::from), &r.candidate_model, &r.candidate, &r.candidate_ms,
                &r.candidate_tokens.map(i64::from), &r.error,
            ],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn read_shadows(
        &self,
        profile: &str,
        since: &str,
    ) -> Result<Vec<ShadowRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), profile, conversation, request,
                        reference_model, reference, reference_ms, reference_tokens, candidate_model, candidate,
                        candidate_ms, candidate_tokens, error
                 FROM shadow_pairs WHERE profile = $1 AND at >= $2::text::timestamptz ORDER BY id",
                &[&profile, &since],
            )
            .await
            .map_err(|e| self.fail(e))?;
        let tokens = |v: Option<i64>| v.and_then(|t| u32::try_from(t).ok());
        rows.iter()
            .map(|r| {
                Ok(ShadowRow {
                    at: r.try_get(0)?,
                    profile: r.try_get(1)?,
                    conversation: r.try_get(2)?,
                    request: r.try_get(3)?,
                    reference_model: r.try_get(4)?,
                    reference: r.try_get(5)?,
                    reference_ms: r.try_get(6)?,
                    reference_tokens: tokens(r.try_get(7)?),
                    candidate_model: r.try_get(8)?,
                    candidate: r.try_get(9)?,
                    candidate_ms: r.try_get(10)?,
                    candidate_tokens: tokens(r.try_get(11)?),
                    error: r.try_get(12)?,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(|e| self.fail(e))
    }

    pub(super) async fn upsert_canary(
        &self,
        profile: &str,
        weights: &str,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        self.execute_on(
            &client,
            "INSERT INTO canary_weights (profile, weights) VALUES ($1, $2)
             ON CONFLICT (profile) DO UPDATE SET weights = excluded.weights, at = now()",
            &[&profile, &weights],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn read_canaries(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT profile, weights FROM canary_weights ORDER BY profile",
                &[],
            )
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(|e| self.fail(e))
    }
}
