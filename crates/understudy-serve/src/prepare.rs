//! Builds what a chat completion sends: a kept conversation's stored turns (and the summary of
//! older ones) before the new ones, the profile's prompt program with the solved examples found
//! for the input, retrieved passages, and the thinking switch mapped to the model's own control.
//! Each step notes itself in the request's trace.

use std::sync::Arc;

use understudy_core::thinking_switch::{self, ThinkingMode};
use understudy_core::{ChatMessage, ChatRequest};
use understudy_store::ConversationStore;

use crate::error::ApiError;
use crate::profile::Profile;
use crate::request_guard::RequestGuard;
use crate::turn::Turn;
use crate::{wire, AppState};

/// A conversation the gateway keeps for this request.
pub(crate) struct Kept {
    /// Tokens of history before the oldest turns are summarised.
    pub budget: usize,
    pub id: String,
    pub store: Arc<dyn ConversationStore>,
    /// The client's new turns (stored with the answer).
    pub new_turns: Vec<ChatMessage>,
}

/// For a `conversation = true` profile and a request naming its conversation: puts the stored
/// turns before the new ones.
pub(crate) async fn with_history(
    state: &AppState,
    profile: Option<&Profile>,
    parsed: &mut wire::Parsed,
    guard: &mut RequestGuard,
) -> Result<Option<Kept>, ApiError> {
    let (Some(budget), Some(id), Some(store)) = (
        profile.and_then(|p| p.conversation),
        parsed.user.clone(),
        state.conversations.clone(),
    ) else {
        return Ok(None);
    };
    let history = store.load(&id).await.map_err(ApiError::from)?;
    let (system, new_turns): (Vec<ChatMessage>, Vec<ChatMessage>) = parsed
        .request
        .messages
        .drain(..)
        .partition(|m| m.role == understudy_core::Role::System);
    let mut messages = system;
    if let Some(summary) = &history.summary {
        messages.push(ChatMessage::system(format!(
            "Summary of the earlier part of this conversation: {summary}"
        )));
    }
    messages.extend(history.turns);
    messages.extend(new_turns.iter().cloned());
    parsed.request.messages = messages;
    guard.trace_mut().conversation = Some(understudy_prompt::ConversationTrace { id: id.clone() });
    Ok(Some(Kept {
        budget,
        id,
        store,
        new_turns,
    }))
}

/// The gateway's memory, or the error a profile that needs it gets without one.
fn memory_of(state: &AppState) -> Result<&crate::memory::MemoryRuntime, ApiError> {
    state.memory.as_deref().ok_or_else(|| ApiError {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        message: "this profile uses memory but the gateway has no memory store".into(),
        kind: "server_error",
        param: None,
        code: Some("embeddings_unavailable"),
        retry_after: None,
    })
}

/// For a profile with `examples`: the solved examples nearest the client's last user turn,
/// added to this request's copy of the program after its fixed few-shot turns (as eval adds
/// them for `knn-shot:K`), and noted in the trace.
async fn with_found_examples(
    state: &AppState,
    turn: &mut Turn,
    request: &ChatRequest,
    guard: &mut RequestGuard,
) -> Result<(), ApiError> {
    let Some(spec) = turn.program.examples.clone() else {
        return Ok(());
    };
    let Some(input) = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == understudy_core::Role::User)
    else {
        return Ok(());
    };
    let found = memory_of(state)?
        .find_examples(&spec, input.content.clone())
        .await?;
    turn.program = turn
        .program
        .with_found(&understudy_memory::examples::solved(&found));
    guard.trace_mut().examples = Some(understudy_memory::examples::trace(&spec.collection, &found));
    Ok(())
}

/// The request sent for `request`: the profile's program applied, passages retrieved into the
/// system prompt, and the thinking switch (the request's choice, else the profile's).
pub(crate) async fn build_request(
    state: &AppState,
    turn: &mut Turn,
    request: ChatRequest,
    thinking: Option<ThinkingMode>,
    guard: &mut RequestGuard,
) -> Result<ChatRequest, ApiError> {
    with_found_examples(state, turn, &request, guard).await?;
    let mut request = turn.apply(request);
    if let Some(spec) = turn.program.memory.clone() {
        let memory = memory_of(state)?;
        let query = turn.retrieval_query();
        let hits = memory.retrieve_into(&spec, query, &mut request).await?;
        guard.trace_mut().retrieval =
            Some(understudy_memory::prompt::trace(&spec.collection, &hits));
    }
    // Mapped to the model's own control (template flag, /no_think, reasoning_effort, or the
    // CoT fallback).
    let mode = thinking.or(turn.program.thinking);
    if let Some(mode) = mode {
        let control = state
            .backend
            .thinking_control(&request.model)
            .await
            .map_err(ApiError::from)?;
        let switched = thinking_switch::apply(&mut request, mode, control);
        guard.trace_mut().thinking = Some(understudy_prompt::ThinkingTrace::new(
            mode, control, switched,
        ));
        if switched.split_cot {
            // The CoT fallback: the answer is read after the marker, reasoning kept apart.
            turn.program.cot = true;
        }
    }
    Ok(request)
}
