//! `previous_response_id` and `store` for the Responses API, on the gateway's conversation store
//! (SQLite, or PostgreSQL shared by replicas): a kept response is its whole conversation — the
//! earlier turns, this request's input and the answer with its calls — under the response's
//! id, so the next request names it and sends only what is new. Instructions are not carried
//! over (as OpenAI does not).

use std::sync::Arc;

use understudy_core::{ChatMessage, Role};
use understudy_store::ConversationStore;

use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::stream::AfterAnswer;
use crate::wire::Parsed;

/// A response to keep once answered: the conversation before its answer.
pub(crate) struct Keep {
    store: Arc<dyn ConversationStore>,
    turns: Vec<ChatMessage>,
}

/// Puts the previous response's conversation before this request's input, and says what to keep
/// (`None` with `store: false`, or on the other APIs).
pub(crate) async fn with_previous(
    store: Option<&Arc<dyn ConversationStore>>,
    parsed: &mut Parsed,
) -> Result<Option<Keep>, ApiError> {
    let Dialect::Responses(echo) = &parsed.dialect else {
        return Ok(None);
    };
    let (previous, keep) = (echo.previous.clone(), echo.store);
    let Some(store) = store else {
        if previous.is_some() {
            return Err(ApiError::invalid(
                "previous_response_id: this gateway keeps no responses (it has no store)",
                Some("previous_response_id".into()),
            ));
        }
        check_calls(&parsed.request.messages)?;
        return Ok(None);
    };
    let mut earlier = Vec::new();
    if let Some(id) = previous {
        earlier = store.load(&key(&id)).await.map_err(ApiError::from)?.turns;
        if earlier.is_empty() {
            return Err(ApiError {
                code: Some("previous_response_not_found"),
                ..ApiError::invalid(
                    format!("previous_response_id: no stored response {id:?} (responses made with store: false are not kept)"),
                    Some("previous_response_id".into()),
                )
            });
        }
    }
    let messages = &mut parsed.request.messages;
    let system = messages
        .iter()
        .take_while(|m| m.role == Role::System)
        .count();
    let input: Vec<ChatMessage> = messages[system..].to_vec();
    messages.splice(system..system, earlier.iter().cloned());
    check_calls(messages)?;
    Ok(keep.then(|| Keep {
        store: store.clone(),
        turns: earlier.into_iter().chain(input).collect(),
    }))
}

/// Every function output answers a call made before it, in the previous response or the input,
/// and every call is answered before the conversation goes on.
fn check_calls(messages: &[ChatMessage]) -> Result<(), ApiError> {
    understudy_core::request::check_tool_turns(messages).map_err(|e| {
        let mut error = ApiError::from_request(e);
        error.message = format!(
            "input (after the previous response's turns and the instructions): {}",
            error.message
        );
        error
    })
}

/// The conversation store's key for a response id (kept apart from conversation keys).
fn key(response_id: &str) -> String {
    format!("response:{response_id}")
}

impl Keep {
    /// Stores the conversation with its answer under `response_id` once answered.
    pub(crate) fn after(self, response_id: String) -> AfterAnswer {
        Box::new(move |answer| {
            Box::pin(async move {
                let mut turns = self.turns;
                turns.push(answer);
                if let Err(e) = self.store.append(&key(&response_id), &turns).await {
                    tracing::warn!("response {response_id} was answered but not kept: {e}");
                }
            })
        })
    }
}
