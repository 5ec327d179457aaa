//! Conversation memory: for profiles with `conversation = true`, the gateway keeps each
//! conversation's turns (keyed by the `x-conversation-id` header or the request's `user` field)
//! in the SQLite store, so clients send only the new turn and a restart loses nothing. When the
//! history outgrows its token budget, the oldest half is summarised by the model (and the summary
//! kept), never dropped silently.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use understudy_backend::Backend;
use understudy_core::{ChatMessage, ChatRequest, Role};

use crate::error::{ApiError, ServeError};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS conversation_turns (
    conversation TEXT NOT NULL,
    position INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    PRIMARY KEY (conversation, position)
);
CREATE TABLE IF NOT EXISTS conversation_summaries (
    conversation TEXT PRIMARY KEY,
    summary TEXT NOT NULL
);
"#;

/// Stored conversations.
pub struct ConversationStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// A conversation as stored: the summary of trimmed turns, then the kept turns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub summary: Option<String>,
    pub turns: Vec<ChatMessage>,
}

fn role_name(role: Role) -> &'static str {
    role.as_str()
}

fn parse_role(text: &str) -> Role {
    match text {
        "assistant" => Role::Assistant,
        "system" => Role::System,
        _ => Role::User,
    }
}

impl ConversationStore {
    pub fn open(path: &Path) -> Result<Self, ServeError> {
        let fail = |e: rusqlite::Error| {
            ServeError::Config(format!("conversation store {}: {e}", path.display()))
        };
        let conn = Connection::open(path).map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|_| conn.pragma_update(None, "busy_timeout", 5000))
            .and_then(|_| conn.execute_batch(SCHEMA))
            .map_err(fail)?;
        Ok(Self {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fail(&self, e: rusqlite::Error) -> ServeError {
        ServeError::Config(format!("conversation store {}: {e}", self.path.display()))
    }

    pub fn load(&self, id: &str) -> Result<History, ServeError> {
        let conn = self.conn();
        let summary = conn
            .query_row(
                "SELECT summary FROM conversation_summaries WHERE conversation = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.fail(e))?;
        let mut stmt = conn
            .prepare("SELECT role, content FROM conversation_turns WHERE conversation = ?1 ORDER BY position")
            .map_err(|e| self.fail(e))?;
        let turns = stmt
            .query_map([id], |r| {
                let role: String = r.get(0)?;
                let content: String = r.get(1)?;
                Ok(ChatMessage::new(parse_role(&role), content))
            })
            .map_err(|e| self.fail(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.fail(e))?;
        Ok(History { summary, turns })
    }

    /// Appends turns after the stored ones.
    pub fn append(&self, id: &str, turns: &[ChatMessage]) -> Result<(), ServeError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.fail(e))?;
        let next: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM conversation_turns WHERE conversation = ?1",
                [id],
                |r| r.get(0),
            )
            .map_err(|e| self.fail(e))?;
        for (i, t) in turns.iter().enumerate() {
            tx.execute(
                "INSERT INTO conversation_turns (conversation, position, role, content) VALUES (?1, ?2, ?3, ?4)",
                params![id, next + i as i64, role_name(t.role), t.content],
            )
            .map_err(|e| self.fail(e))?;
        }
        tx.commit().map_err(|e| self.fail(e))
    }

    /// Replaces the oldest `count` turns by `summary`.
    pub fn fold(&self, id: &str, count: usize, summary: &str) -> Result<(), ServeError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.fail(e))?;
        tx.execute(
            "DELETE FROM conversation_turns WHERE conversation = ?1 AND position IN (SELECT position FROM conversation_turns WHERE conversation = ?1 ORDER BY position LIMIT ?2)",
            params![id, count as i64],
        )
        .map_err(|e| self.fail(e))?;
        tx.execute(
            "INSERT INTO conversation_summaries (conversation, summary) VALUES (?1, ?2) ON CONFLICT(conversation) DO UPDATE SET summary = excluded.summary",
            params![id, summary],
        )
        .map_err(|e| self.fail(e))?;
        tx.commit().map_err(|e| self.fail(e))
    }
}

/// Summarises the oldest half of a stored conversation while it is over `budget` tokens.
pub async fn trim(
    backend: &dyn Backend,
    store: &ConversationStore,
    id: &str,
    model: &str,
    budget: usize,
) -> Result<(), ApiError> {
    let fail =
        |e: ServeError| ApiError::from(understudy_backend::BackendError::Inference(e.to_string()));
    let count = backend.token_counter(model).await.map_err(ApiError::from)?;
    let history = store.load(id).map_err(fail)?;
    let total: usize = history.turns.iter().map(|t| count(&t.content)).sum();
    if total <= budget || history.turns.len() < 2 {
        return Ok(());
    }
    let fold = history.turns.len() / 2;
    let transcript: Vec<String> = history.turns[..fold]
        .iter()
        .map(|t| format!("{}: {}", t.role.as_str(), t.content))
        .collect();
    let prompt = format!(
        "{}Summarise this conversation in a few sentences. Keep every name, number, fact, decision and open question.\n\n{}",
        history
            .summary
            .as_ref()
            .map(|s| format!("Summary so far: {s}\n\n"))
            .unwrap_or_default(),
        transcript.join("\n")
    );
    let request = ChatRequest {
        max_tokens: Some(200),
        temperature: Some(0.0),
        ..ChatRequest::new(model, vec![ChatMessage::user(prompt)])
    };
    let summary = backend
        .chat(
            request
                .validate()
                .map_err(|e| ApiError::invalid(e.to_string(), None))?,
        )
        .await
        .map_err(ApiError::from)?;
    store.fold(id, fold, summary.answer.trim()).map_err(fail)?;
    Ok(())
}
