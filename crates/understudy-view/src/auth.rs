//! Access to the view: open when no keys are configured (then it only listens on loopback),
//! else the gateway's API keys — as a Bearer token, or as the password of HTTP Basic auth so a
//! browser can ask for it. Keys are compared by the gateway's constant-time check.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::ViewState;

/// The key a request presents: `Bearer KEY`, or `Basic base64(user:KEY)`.
fn presented(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    if let Some(key) = value.strip_prefix("Bearer ") {
        return Some(key.to_string());
    }
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':').map(|(_, key)| key.to_string())
}

pub async fn require_key(
    State(state): State<Arc<ViewState>>,
    request: Request,
    next: Next,
) -> Response {
    if state.keys.is_empty() {
        return next.run(request).await;
    }
    let ok = presented(&request)
        .is_some_and(|key| understudy_core::keys::key_matches(&state.keys, &key));
    if ok {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"understudy\", charset=\"UTF-8\"",
            )],
            "an API key is required: the user name is ignored, the password is one of [serve] api_keys",
        )
            .into_response()
    }
}
