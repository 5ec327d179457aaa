//! API-key authentication (`Authorization: Bearer`, or Anthropic's `x-api-key`) for `/v1/*` and `/metrics`, compared in constant time; keys are
//! never logged, and refused requests are counted, not logged one row each.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use understudy_core::keys::key_matches;

use crate::error::ApiError;
use crate::request_guard::RequestGuard;
use crate::AppState;

pub async fn require_key(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if state.api_keys.is_empty() {
        return next.run(request).await;
    }
    // A bearer token (OpenAI clients), or `x-api-key` (Anthropic clients).
    let headers = request.headers();
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .unwrap_or("");
    if key_matches(&state.api_keys, presented) {
        next.run(request).await
    } else {
        let error = ApiError::unauthorized();
        // Refused requests are counted in the metrics (status 401), not logged a row each: a
        // flood of wrong keys would otherwise grow the request log without bound.
        let arrival = request
            .extensions()
            .get::<crate::overhead::Arrival>()
            .cloned();
        let mut guard = RequestGuard::new(state.metrics.clone()).arrived(arrival);
        guard.fail(error.status.as_u16(), error.kind);
        guard.log_committed().await;
        crate::api_kind::Api::of_path(request.uri().path()).error(error)
    }
}
