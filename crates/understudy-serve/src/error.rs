//! The one mapping from failures to HTTP status and the OpenAI error body
//! `{"error":{"message","type","param","code"}}`. Logging happens in the handlers' callers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use understudy_backend::BackendError;

/// Errors setting the gateway up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Server(std::io::Error),
}

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    /// Seconds to send as `Retry-After`, when the cause said when to try again (an upstream's
    /// 429, an open circuit); a 429 without it says 1.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A request the core refused: a 400 whose `param` is the field its message names first.
    pub fn from_request(e: understudy_core::RequestError) -> Self {
        let text = e.to_string();
        let param = text.split('`').nth(1).map(str::to_string);
        Self::invalid(text, param)
    }

    pub fn invalid(message: impl Into<String>, param: Option<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param,
            code: None,
            retry_after: None,
        }
    }
    pub fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            message: "missing or invalid API key: send `Authorization: Bearer <key>`".into(),
            kind: "invalid_request_error",
            param: None,
            code: Some("invalid_api_key"),
            retry_after: None,
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            kind: "invalid_request_error",
            param: Some("model".into()),
            code: Some("model_not_found"),
            retry_after: None,
        }
    }
    pub fn overloaded(model: &str, limit: usize) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: format!("{model} is overloaded: {limit} requests are already answered or queued; retry shortly"),
            kind: "overloaded_error",
            param: None,
            code: Some("overloaded"),
            retry_after: None,
        }
    }
    pub fn too_large(limit: usize) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: format!("request body is larger than {limit} bytes"),
            kind: "invalid_request_error",
            param: None,
            code: Some("request_too_large"),
            retry_after: None,
        }
    }

    /// The gateway's own store failed (conversations, memory, the request log): a server error
    /// that names the store, never passed off as the model's.
    pub fn store(err: &understudy_store::StoreError) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("the gateway's store failed: {err}"),
            kind: "server_error",
            param: None,
            code: Some("store_error"),
            retry_after: None,
        }
    }

    /// The JSON body clients parse.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }

    /// Anthropic's error type for this error: by kind where Anthropic has one, else by status.
    pub fn anthropic_kind(&self) -> &'static str {
        match (self.kind, self.status.as_u16()) {
            ("overloaded_error", _) => "overloaded_error",
            (_, 400 | 405 | 408 | 415 | 422) => "invalid_request_error",
            (_, 401) => "authentication_error",
            (_, 403) => "permission_error",
            (_, 404) => "not_found_error",
            (_, 413) => "request_too_large",
            (_, 429) => "rate_limit_error",
            (_, 529) => "overloaded_error",
            _ => "api_error",
        }
    }

    /// The body Anthropic's SDKs parse: `{"type": "error", "error": {"type", "message"}}`.
    pub fn anthropic_body(&self) -> serde_json::Value {
        serde_json::json!({"type": "error", "error": {"type": self.anthropic_kind(), "message": self.message}})
    }

    /// The response for a client of the Messages API.
    pub fn into_anthropic_response(self) -> Response {
        let body = self.anthropic_body();
        let mut response = self.into_response();
        *response.body_mut() = axum::body::Body::from(body.to_string());
        response
    }
}

impl From<understudy_store::StoreError> for ApiError {
    fn from(err: understudy_store::StoreError) -> Self {
        Self::store(&err)
    }
}

impl From<BackendError> for ApiError {
    fn from(err: BackendError) -> Self {
        let status =
            StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match &err {
            BackendError::UnknownModel { .. } | BackendError::ModelFileMissing { .. } => {
                Self::not_found(err.to_string())
            }
            BackendError::InvalidRequest(_) => Self::invalid(err.to_string(), None),
            // OpenAI's code for a prompt that does not fit, which clients switch on.
            BackendError::ContextOverflow { .. } => Self {
                code: Some("context_length_exceeded"),
                ..Self::invalid(err.to_string(), Some("messages".into()))
            },
            _ => Self {
                status,
                message: err.to_string(),
                kind: match status.as_u16() {
                    429 => "rate_limit_error",
                    400..=499 => "invalid_request_error",
                    _ => "server_error",
                },
                param: None,
                code: match status.as_u16() {
                    504 => Some("timeout"),
                    502 => Some("upstream_error"),
                    429 => Some("rate_limit_exceeded"),
                    _ => None,
                },
                retry_after: match &err {
                    // Whole seconds, rounded up: a client waiting less would be refused again.
                    BackendError::Http {
                        retry_after: Some(wait),
                        ..
                    } => Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
                    _ => None,
                },
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        let retry_after = match (self.status, self.retry_after) {
            (_, Some(secs)) => Some(secs),
            (StatusCode::TOO_MANY_REQUESTS, None) => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        response
    }
}
