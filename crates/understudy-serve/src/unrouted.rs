//! Answers for requests no route takes: an unknown path (404) and a known path with the wrong
//! method (405), both in the OpenAI error shape clients parse, never an empty body.

use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// `404` for a path the gateway does not serve.
pub async fn not_found(method: Method, uri: Uri) -> Response {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: format!(
            "no such endpoint: {method} {}; this gateway serves POST /v1/chat/completions, \
             GET /v1/models, GET /v1/models/{{id}}, POST /v1/embeddings, GET /health and GET /metrics",
            uri.path()
        ),
        kind: "invalid_request_error",
        param: None,
        code: Some("unknown_url"),
        retry_after: None,
    }
    .into_response()
}

/// `405` for a served path asked with another method.
pub async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let allowed = match uri.path() {
        "/v1/chat/completions" | "/v1/embeddings" => "POST",
        _ => "GET",
    };
    let mut response = ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!("{method} is not allowed on {}; use {allowed}", uri.path()),
        kind: "invalid_request_error",
        param: None,
        code: Some("method_not_allowed"),
        retry_after: None,
    }
    .into_response();
    response.headers_mut().insert(
        axum::http::header::ALLOW,
        axum::http::HeaderValue::from_static(allowed),
    );
    response
}
