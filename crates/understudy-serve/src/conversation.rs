//! Conversation memory: for profiles with `conversation = true`, the gateway keeps each
//! conversation's turns (keyed by the `x-conversation-id` header or the request's `user` field)
//! in the store (SQLite, or PostgreSQL shared by replicas), so clients send only the new turn,
//! any replica can continue it, and a restart loses nothing. When the
//! history outgrows its token budget, the oldest half is summarised by the model (and the summary
//! kept), never dropped silently.

use understudy_backend::Backend;
use understudy_core::{ChatMessage, ChatRequest};
use understudy_store::ConversationStore;

use crate::error::ApiError;

/// Summarises the oldest half of a stored conversation while it is over `budget` tokens.
pub async fn trim(
    backend: &dyn Backend,
    store: &dyn ConversationStore,
    id: &str,
    model: &str,
    budget: usize,
) -> Result<(), ApiError> {
    let count = backend.token_counter(model).await.map_err(ApiError::from)?;
    let history = store.load(id).await.map_err(ApiError::from)?;
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
    store
        .fold(id, fold, summary.answer.trim())
        .await
        .map_err(ApiError::from)?;
    Ok(())
}
