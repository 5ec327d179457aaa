//! OpenAI chat-completions wire types as the gateway reads and writes them, and the conversion
//! of a request body into a core request with errors that name the field.

use serde::Deserialize;
use serde_json::Value;
use understudy_core::thinking::ThinkingMode;
use understudy_core::{ChatMessage, ChatRequest, ResponseFormat, Role};

use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct WireRequest {
    pub model: String,
    pub messages: Vec<WireMessage>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub seed: Option<u64>,
    pub stop: Option<Stop>,
    pub response_format: Option<WireResponseFormat>,
    pub n: Option<u32>,
    pub chat_template_kwargs: Option<TemplateKwargs>,
    pub reasoning_effort: Option<String>,
    /// understudy's extension: `{"thinking": "on" | "off" | "auto"}`.
    pub understudy: Option<Extension>,
    // Accepted and ignored, as OpenAI-compatible servers do.
    pub user: Option<String>,
    pub frequency_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub logprobs: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    pub thinking: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TemplateKwargs {
    pub enable_thinking: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
pub struct WireMessage {
    pub role: WireRole,
    pub content: Option<Content>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireRole {
    System,
    Developer,
    User,
    Assistant,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
pub struct Part {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WireResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaSpec },
}

#[derive(Debug, Deserialize)]
pub struct JsonSchemaSpec {
    pub schema: Option<Value>,
}

/// A parsed request plus the options that do not travel to the backend.
pub struct Parsed {
    pub request: ChatRequest,
    pub stream: bool,
    pub include_usage: bool,
    /// The thinking switch the client asked for, if any.
    pub thinking: Option<ThinkingMode>,
    /// OpenAI's `user` field (a conversation key for `conversation = true` profiles).
    pub user: Option<String>,
}

/// Parses a request body, naming the offending field in errors (`messages[2].role: …`).
pub fn parse(body: &[u8]) -> Result<Parsed, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let wire: WireRequest = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::invalid(format!("request body is not valid JSON: {inner}"), None)
        } else {
            let param = (path != ".").then_some(path.clone());
            ApiError::invalid(format!("{path}: {inner}"), param)
        }
    })?;
    if wire.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid(
            "n: only n = 1 is supported",
            Some("n".into()),
        ));
    }
    let mut messages = Vec::new();
    for (i, m) in wire.messages.into_iter().enumerate() {
        let text = match m.content {
            Some(Content::Text(t)) => t,
            Some(Content::Parts(parts)) => {
                let mut text = String::new();
                for (j, part) in parts.into_iter().enumerate() {
                    match (part.kind.as_str(), part.text) {
                        ("text", Some(t)) => text.push_str(&t),
                        (kind, _) => {
                            return Err(ApiError::invalid(
                                format!("messages[{i}].content[{j}].type: only text parts are supported, got {kind:?}"),
                                Some(format!("messages[{i}].content[{j}].type")),
                            ))
                        }
                    }
                }
                text
            }
            None => String::new(),
        };
        let role = match m.role {
            WireRole::System | WireRole::Developer => Role::System,
            WireRole::User => Role::User,
            WireRole::Assistant => Role::Assistant,
        };
        messages.push(ChatMessage::new(role, text));
    }
    let stop = match wire.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    let response_format = match wire.response_format {
        None | Some(WireResponseFormat::Text) => ResponseFormat::Text,
        Some(WireResponseFormat::JsonObject) => ResponseFormat::JsonObject,
        Some(WireResponseFormat::JsonSchema { json_schema }) => match json_schema.schema {
            Some(schema) => ResponseFormat::JsonSchema { schema },
            None => ResponseFormat::JsonObject,
        },
    };
    let thinking = match wire.understudy.and_then(|e| e.thinking) {
        Some(text) => Some(ThinkingMode::parse(&text).ok_or_else(|| {
            ApiError::invalid(
                format!("`understudy.thinking` must be on, off or auto, got {text:?}"),
                Some("understudy.thinking".into()),
            )
        })?),
        None => match wire.chat_template_kwargs.and_then(|k| k.enable_thinking) {
            Some(true) => Some(ThinkingMode::On),
            Some(false) => Some(ThinkingMode::Off),
            None => match wire.reasoning_effort.as_deref() {
                Some(effort) => Some(ThinkingMode::parse(effort).ok_or_else(|| {
                    ApiError::invalid(
                        format!("`reasoning_effort` must be minimal, low, medium or high, got {effort:?}"),
                        Some("reasoning_effort".into()),
                    )
                })?),
                None => None,
            },
        },
    };
    let user = wire.user.clone();
    let _ = (
        wire.user,
        wire.frequency_penalty,
        wire.presence_penalty,
        wire.logprobs,
    );
    Ok(Parsed {
        request: ChatRequest {
            model: wire.model,
            messages,
            max_tokens: wire.max_completion_tokens.or(wire.max_tokens),
            temperature: wire.temperature,
            top_p: wire.top_p,
            seed: wire.seed,
            stop,
            response_format,
            thinking: None,
            reasoning_effort: None,
            logprobs: false,
        },
        stream: wire.stream,
        include_usage: wire.stream_options.is_some_and(|o| o.include_usage),
        thinking,
        user,
    })
}
