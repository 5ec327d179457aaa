//! Kept conversations in PostgreSQL. Each change takes a transaction-scoped advisory lock on
//! the conversation, so that replicas appending to one conversation at once take turns: no
//! position is taken twice and one call's turns stay together.

use async_trait::async_trait;
use understudy_core::ChatMessage;

use super::PgStore;
use crate::api::{ConversationStore, History};
use crate::rows::{stored_turn, turn_calls};
use crate::StoreError;

const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 2))";

#[async_trait]
impl ConversationStore for PgStore {
    async fn load(&self, id: &str) -> Result<History, StoreError> {
        let client = self.client().await?;
        let summary = client
            .query_opt(
                "SELECT summary FROM conversation_summaries WHERE conversation = $1",
                &[&id],
            )
            .await
            .map_err(|e| self.fail(e))?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(|e| self.fail(e))?;
        let rows = client
            .query(
                "SELECT role, content, calls FROM conversation_turns WHERE conversation = $1 ORDER BY position",
                &[&id],
            )
            .await
            .map_err(|e| self.fail(e))?;
        let turns = rows
            .iter()
            .map(|r| Ok(stored_turn(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(|e| self.fail(e))?;
        Ok(History { summary, turns })
    }

    async fn append(&self, id: &str, turns: &[ChatMessage]) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.fail(e))?;
        tx.execute(LOCK, &[&id]).await.map_err(|e| self.fail(e))?;
        let next: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM conversation_turns WHERE conversation = $1",
                &[&id],
            )
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.fail(e))?;
        for (i, t) in turns.iter().enumerate() {
            tx.execute(
                "INSERT INTO conversation_turns (conversation, position, role, content, calls) VALUES ($1, $2, $3, $4, $5)",
                &[&id, &(next + i as i64), &t.role.as_str(), &t.content, &turn_calls(t)],
            )
            .await
            .map_err(|e| self.fail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))
    }

    async fn fold(&self, id: &str, count: usize, summary: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.fail(e))?;
        tx.execute(LOCK, &[&id]).await.map_err(|e| self.fail(e))?;
        tx.execute(
            "DELETE FROM conversation_turns WHERE conversation = $1 AND position IN (SELECT position FROM conversation_turns WHERE conversation = $1 ORDER BY position LIMIT $2)",
            &[&id, &(count as i64)],
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.execute(
            "INSERT INTO conversation_summaries (conversation, summary) VALUES ($1, $2) ON CONFLICT (conversation) DO UPDATE SET summary = excluded.summary",
            &[&id, &summary],
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))
    }
}
