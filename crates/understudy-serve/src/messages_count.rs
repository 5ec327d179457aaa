//! `POST /v1/messages/count_tokens` (Anthropic): the prompt tokens a `/v1/messages` body would
//! take, after the profile's prompt program is applied — what serve would send — counted by the
//! backend (exact on the embedded engine; an estimate from the text on HTTP backends, said in the
//! `x-understudy-tokens-estimated: true` header).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::ApiError;
use crate::request_guard::RequestGuard;
use crate::turn::Turn;
use crate::{prepare, wire_messages, AppState};

pub async fn count_tokens(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    match count(&state, &headers, body).await {
        Ok(response) => response,
        Err(err) => err.into_anthropic_response(),
    }
}

async fn count(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = crate::body_read::read(headers, body, state.body_limit, state.body_idle).await?;
    let parsed = wire_messages::parse(&bytes, true)?;
    let mut turn = Turn::new(state.profiles.get(&parsed.request.model).cloned());
    // Not a request the model answers: nothing is logged or counted in the request metrics.
    let mut guard = RequestGuard::detached();
    let request = prepare::build_request(
        state,
        &mut turn,
        parsed.request,
        parsed.thinking,
        &mut guard,
    )
    .await?;
    let valid = request.validate().map_err(ApiError::from_request)?;
    let counted = state
        .backend
        .count_prompt_tokens(&valid)
        .await
        .map_err(ApiError::from)?;
    let body = Json(serde_json::json!({"input_tokens": counted.tokens}));
    if counted.estimated {
        return Ok(([("x-understudy-tokens-estimated", "true")], body).into_response());
    }
    Ok(body.into_response())
}
