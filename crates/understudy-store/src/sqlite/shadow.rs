//! Shadowed pairs in SQLite (written by the gateway's background worker, read by
//! `understudy shadow`) and canary weights (set by `understudy canary`, polled by gateways).

use rusqlite::params;

use super::SqliteStore;
use crate::rows::ShadowRow;
use crate::StoreError;

impl SqliteStore {
    pub(super) fn insert_shadow(&self, r: &ShadowRow) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(
                "INSERT INTO shadow_pairs (profile, conversation, request, reference_model, reference, reference_ms, reference_tokens,
                                           candidate_model, candidate, candidate_ms, candidate_tokens, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    r.profile, r.conversation, r.request, r.reference_model, r.reference, r.reference_ms, r.reference_tokens,
                    r.candidate_model, r.candidate, r.candidate_ms, r.candidate_tokens, r.error
                ])
            })
            .map_err(self.err())?;
        Ok(())
    }

    pub(super) fn read_shadows(
        &self,
        profile: &str,
        since: &str,
    ) -> Result<Vec<ShadowRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT at, profile, conversation, request, reference_model, reference, reference_ms, reference_tokens,
                        candidate_model, candidate, candidate_ms, candidate_tokens, error
                 FROM shadow_pairs WHERE profile = ?1 AND at >= ?2 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![profile, since], |r| {
                Ok(ShadowRow {
                    at: r.get(0)?,
                    profile: r.get(1)?,
                    conversation: r.get(2)?,
                    request: r.get(3)?,
                    reference_model: r.get(4)?,
                    reference: r.get(5)?,
                    reference_ms: r.get(6)?,
                    reference_tokens: r.get(7)?,
                    candidate_model: r.get(8)?,
                    candidate: r.get(9)?,
                    candidate_ms: r.get(10)?,
                    candidate_tokens: r.get(11)?,
                    error: r.get(12)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    pub(super) fn upsert_canary(&self, profile: &str, weights: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO canary_weights (profile, weights) VALUES (?1, ?2)
                 ON CONFLICT (profile) DO UPDATE SET weights = excluded.weights,
                     at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                params![profile, weights],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub(super) fn read_canaries(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT profile, weights FROM canary_weights ORDER BY profile")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }
}
