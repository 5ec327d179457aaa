//! The endpoint a request came to, before its body is read: which parser reads it and how an
//! error before the answer is spelled (Anthropic's shape on `/v1/messages`, OpenAI's elsewhere).

use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The chat API a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Chat,
    Messages,
    Responses,
}

impl Api {
    pub fn parse(self, body: &[u8]) -> Result<crate::wire::Parsed, ApiError> {
        match self {
            Api::Chat => crate::wire::parse(body),
            Api::Messages => crate::wire_messages::parse(body, false),
            Api::Responses => crate::wire_responses::parse(body),
        }
    }

    /// The API's name in a capture record.
    pub fn name(self) -> &'static str {
        match self {
            Api::Chat => "chat",
            Api::Messages => "messages",
            Api::Responses => "responses",
        }
    }

    pub fn error(self, error: ApiError) -> Response {
        match self {
            Api::Messages => error.into_anthropic_response(),
            _ => error.into_response(),
        }
    }

    /// The API a path belongs to (for errors answered before a handler runs).
    pub fn of_path(path: &str) -> Self {
        if path.starts_with("/v1/messages") {
            Api::Messages
        } else if path.starts_with("/v1/responses") {
            Api::Responses
        } else {
            Api::Chat
        }
    }
}
