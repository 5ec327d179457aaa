//! Kept conversations in SQLite: turns by position, and the summary of trimmed ones.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use understudy_core::ChatMessage;

use super::SqliteStore;
use crate::api::{ConversationStore, History};
use crate::rows::{stored_turn, turn_calls};
use crate::StoreError;

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn load(&self, id: &str) -> Result<History, StoreError> {
        let conn = self.conn();
        let summary = conn
            .query_row(
                "SELECT summary FROM conversation_summaries WHERE conversation = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        let mut stmt = conn
            .prepare("SELECT role, content, calls FROM conversation_turns WHERE conversation = ?1 ORDER BY position")
            .map_err(self.err())?;
        let turns = stmt
            .query_map([id], |r| {
                let role: String = r.get(0)?;
                Ok(stored_turn(&role, r.get(1)?, r.get(2)?))
            })
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        Ok(History { summary, turns })
    }

    async fn append(&self, id: &str, turns: &[ChatMessage]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        // Immediate: the position read and the inserts hold the write lock together, so two
        // processes appending to one conversation cannot take the same position.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        let next: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM conversation_turns WHERE conversation = ?1",
                [id],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        for (i, t) in turns.iter().enumerate() {
            tx.execute(
                "INSERT INTO conversation_turns (conversation, position, role, content, calls) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, next + i as i64, t.role.as_str(), t.content, turn_calls(t)],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }

    async fn fold(&self, id: &str, count: usize, summary: &str) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        tx.execute(
            "DELETE FROM conversation_turns WHERE conversation = ?1 AND position IN (SELECT position FROM conversation_turns WHERE conversation = ?1 ORDER BY position LIMIT ?2)",
            params![id, count as i64],
        )
        .map_err(self.err())?;
        tx.execute(
            "INSERT INTO conversation_summaries (conversation, summary) VALUES (?1, ?2) ON CONFLICT(conversation) DO UPDATE SET summary = excluded.summary",
            params![id, summary],
        )
        .map_err(self.err())?;
        tx.commit().map_err(self.err())
    }
}
