//! Chat requests: the permissive [`ChatRequest`] a caller builds, and the [`ValidChatRequest`]
//! that backends accept. Validation names the offending field; nothing else lives here.

use serde::{Deserialize, Serialize};

use crate::message::{ChatMessage, Role};

/// Largest `max_tokens` accepted; a guard against typos such as `--max-tokens 1000000000`.
pub const MAX_TOKENS_LIMIT: u32 = 131_072;
/// Most stop sequences a request may carry (the OpenAI API's limit).
pub const MAX_STOP_SEQUENCES: usize = 4;
/// `max_tokens` used when the caller gives none.
pub const DEFAULT_MAX_TOKENS: u32 = 512;

/// A hint about the shape the answer must take.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    #[default]
    Text,
    /// Any valid JSON object.
    JsonObject,
    /// JSON valid against the given JSON Schema.
    JsonSchema { schema: serde_json::Value },
}

/// A chat request as a caller assembles it; check it with [`ChatRequest::validate`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub seed: Option<u64>,
    #[serde(default)]
    pub stop: Vec<String>,
    #[serde(default)]
    pub response_format: ResponseFormat,
    /// `Some(true)`: ask for visible reasoning; `Some(false)`: ask the model not to think;
    /// `None`: the model's own default.
    pub thinking: Option<bool>,
    /// OpenAI-style reasoning effort (`minimal`, `low`, `medium`, `high`), sent to HTTP backends.
    #[serde(default)]
    pub reasoning_effort: Option<String>,
    /// Ask for token log-probabilities (summarised as `ChatResponse::confidence`).
    #[serde(default)]
    pub logprobs: bool,
}

/// What was wrong with a request, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    #[error("`model` is empty: name a model")]
    EmptyModel,
    #[error("`messages` is empty: a request needs at least one message")]
    NoMessages,
    #[error("`messages[{index}]` ({role}) is empty")]
    EmptyMessage { index: usize, role: Role },
    #[error("`messages` must end with a user message (the last one is {role})")]
    LastNotUser { role: Role },
    #[error("`max_tokens` must be between 1 and {MAX_TOKENS_LIMIT}, got {0}")]
    MaxTokens(u32),
    #[error("`temperature` must be between 0 and 2, got {0}")]
    Temperature(f32),
    #[error("`top_p` must be greater than 0 and at most 1, got {0}")]
    TopP(f32),
    #[error("`stop` has {0} sequences; at most {MAX_STOP_SEQUENCES} are allowed")]
    TooManyStops(usize),
    #[error("`stop[{0}]` is an empty string")]
    EmptyStop(usize),
}

/// A request whose fields have been checked; the only request type backends accept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    pub temperature: f32,
    pub top_p: f32,
    pub seed: Option<u64>,
    pub stop: Vec<String>,
    pub response_format: ResponseFormat,
    pub thinking: Option<bool>,
    /// OpenAI-style reasoning effort (`minimal`, `low`, `medium`, `high`), sent to HTTP backends.
    #[serde(default)]
    pub reasoning_effort: Option<String>,
    /// Ask for token log-probabilities (summarised as `ChatResponse::confidence`).
    #[serde(default)]
    pub logprobs: bool,
}

impl ChatRequest {
    /// A request for `model` with the given conversation and every option at its default.
    pub fn new(model: impl Into<String>, messages: Vec<ChatMessage>) -> Self {
        Self {
            model: model.into(),
            messages,
            ..Self::default()
        }
    }

    /// Checks every field and fills defaults (temperature 0, top_p 1, 512 new tokens).
    pub fn validate(self) -> Result<ValidChatRequest, RequestError> {
        if self.model.trim().is_empty() {
            return Err(RequestError::EmptyModel);
        }
        if self.messages.is_empty() {
            return Err(RequestError::NoMessages);
        }
        for (index, message) in self.messages.iter().enumerate() {
            // A system message may be empty on purpose only if it is dropped; reject instead.
            if message.content.is_empty() {
                return Err(RequestError::EmptyMessage {
                    index,
                    role: message.role,
                });
            }
        }
        if let Some(last) = self.messages.last() {
            if last.role != Role::User {
                return Err(RequestError::LastNotUser { role: last.role });
            }
        }
        let max_tokens = self.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
        if max_tokens == 0 || max_tokens > MAX_TOKENS_LIMIT {
            return Err(RequestError::MaxTokens(max_tokens));
        }
        let temperature = self.temperature.unwrap_or(0.0);
        if !(0.0..=2.0).contains(&temperature) {
            return Err(RequestError::Temperature(temperature));
        }
        let top_p = self.top_p.unwrap_or(1.0);
        if !(top_p > 0.0 && top_p <= 1.0) {
            return Err(RequestError::TopP(top_p));
        }
        if self.stop.len() > MAX_STOP_SEQUENCES {
            return Err(RequestError::TooManyStops(self.stop.len()));
        }
        if let Some(index) = self.stop.iter().position(String::is_empty) {
            return Err(RequestError::EmptyStop(index));
        }
        Ok(ValidChatRequest {
            model: self.model,
            messages: self.messages,
            max_tokens,
            temperature,
            top_p,
            seed: self.seed,
            stop: self.stop,
            response_format: self.response_format,
            thinking: self.thinking,
            reasoning_effort: self.reasoning_effort,
            logprobs: self.logprobs,
        })
    }
}

impl ValidChatRequest {
    /// The text of the last user message (validation guarantees there is one).
    pub fn last_user_text(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ChatRequest {
        ChatRequest::new("m", vec![ChatMessage::user("hi")])
    }

    #[test]
    fn defaults_are_filled() {
        let valid = base().validate().unwrap();
        assert_eq!(valid.max_tokens, DEFAULT_MAX_TOKENS);
        assert_eq!(valid.temperature, 0.0);
        assert_eq!(valid.top_p, 1.0);
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(ChatRequest, &str)> = vec![
            (
                ChatRequest {
                    model: " ".into(),
                    ..base()
                },
                "`model`",
            ),
            (
                ChatRequest {
                    messages: vec![],
                    ..base()
                },
                "`messages`",
            ),
            (
                ChatRequest {
                    max_tokens: Some(0),
                    ..base()
                },
                "`max_tokens`",
            ),
            (
                ChatRequest {
                    temperature: Some(3.0),
                    ..base()
                },
                "`temperature`",
            ),
            (
                ChatRequest {
                    top_p: Some(0.0),
                    ..base()
                },
                "`top_p`",
            ),
            (
                ChatRequest {
                    stop: vec!["".into()],
                    ..base()
                },
                "`stop[0]`",
            ),
            (
                ChatRequest {
                    stop: vec!["a".into(); 5],
                    ..base()
                },
                "`stop`",
            ),
            (
                ChatRequest {
                    messages: vec![ChatMessage::user("q"), ChatMessage::assistant("a")],
                    ..base()
                },
                "must end with a user message",
            ),
        ];
        for (request, needle) in cases {
            let message = request.validate().unwrap_err().to_string();
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
    }
}
