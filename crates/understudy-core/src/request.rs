//! Chat requests: the permissive [`ChatRequest`] a caller builds, and the [`ValidChatRequest`]
//! that backends accept. Validation names the offending field; nothing else lives here.

use serde::{Deserialize, Serialize};

use crate::message::{ChatMessage, Role};
use crate::tools::{ToolChoice, ToolUse};

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
    /// Functions the model may call, and how.
    #[serde(default)]
    pub tools: ToolUse,
    /// Return each generated token's log-probability with this many alternatives (at most
    /// [`MAX_TOP_LOGPROBS`]); `None`: return none.
    #[serde(default)]
    pub top_logprobs: Option<u8>,
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
    #[error("`messages` must end with a user or tool message (the last one is {role})")]
    LastNotUser { role: Role },
    #[error("`messages[{index}].tool_call_id`: {why}")]
    ToolResult { index: usize, why: String },
    #[error("`messages[{index}].tool_calls`: {why}")]
    Unanswered { index: usize, why: String },
    #[error(
        "`messages[{index}].tool_calls[{call}].function.arguments` is not a JSON object: {why}"
    )]
    CallArguments {
        index: usize,
        call: usize,
        why: String,
    },
    #[error("`tools[{index}]`: {why}")]
    Tool { index: usize, why: String },
    #[error("`tool_choice`: {0}")]
    ToolChoice(String),
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
    #[error("`top_logprobs` must be 0 to 20, got {0}")]
    TopLogprobs(u8),
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
    /// Functions the model may call, and how.
    #[serde(default, skip_serializing_if = "ToolUse::is_empty")]
    pub tools: ToolUse,
    /// Return each generated token's log-probability with this many alternatives (0 to
    /// [`MAX_TOP_LOGPROBS`]) as `ChatResponse::token_logprobs`; `None`: return none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u8>,
}

/// The most alternatives a token's log-probability may come with (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: u8 = 20;

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
            // An assistant turn that called tools may say nothing besides.
            if message.content.is_empty() && message.tool_calls.is_empty() {
                return Err(RequestError::EmptyMessage {
                    index,
                    role: message.role,
                });
            }
        }
        check_tool_turns(&self.messages)?;
        check_tools(&self.tools)?;
        if let Some(last) = self.messages.last() {
            if !matches!(last.role, Role::User | Role::Tool) {
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
        if let Some(n) = self.top_logprobs.filter(|n| *n > MAX_TOP_LOGPROBS) {
            return Err(RequestError::TopLogprobs(n));
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
            logprobs: self.logprobs || self.top_logprobs.is_some(),
            tools: self.tools,
            top_logprobs: self.top_logprobs,
        })
    }
}

/// Every tool result answers a call made earlier, every call is answered by tool messages before
/// the conversation goes on (as the OpenAI API requires), and every call's arguments are a JSON
/// object.
pub fn check_tool_turns(messages: &[ChatMessage]) -> Result<(), RequestError> {
    let mut called: Vec<&str> = Vec::new();
    // The calls of the last assistant turn still waiting for their results: (turn, id).
    let mut waiting: Vec<(usize, &str)> = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        if message.role != Role::Tool {
            if let Some((turn, id)) = waiting.first() {
                return Err(RequestError::Unanswered {
                    index: *turn,
                    why: format!(
                        "call {id:?} has no tool message answering it before messages[{index}]"
                    ),
                });
            }
        }
        for (call, c) in message.tool_calls.iter().enumerate() {
            check_arguments(index, call, &c.arguments)?;
            called.push(&c.id);
            waiting.push((index, &c.id));
        }
        if message.role == Role::Tool {
            let why = match message.tool_call_id.as_deref() {
                None => "a tool message must say which call it answers".to_string(),
                Some(id) if !called.contains(&id) => {
                    format!("{id:?} answers no call made by an earlier assistant message")
                }
                Some(id) => {
                    waiting.retain(|(_, w)| *w != id);
                    continue;
                }
            };
            return Err(RequestError::ToolResult { index, why });
        }
    }
    Ok(())
}

fn check_arguments(index: usize, call: usize, arguments: &str) -> Result<(), RequestError> {
    let why = match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(v) if v.is_object() => return Ok(()),
        Ok(_) => "it is JSON but not an object".to_string(),
        Err(e) => e.to_string(),
    };
    Err(RequestError::CallArguments { index, call, why })
}

/// Tool names are present and distinct, parameters are schema objects, and the choice names an
/// offered tool.
fn check_tools(tools: &ToolUse) -> Result<(), RequestError> {
    for (index, tool) in tools.tools.iter().enumerate() {
        let name_ok = !tool.name.is_empty()
            && tool
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !name_ok {
            return Err(RequestError::Tool {
                index,
                why: format!(
                    "function.name {:?} must be letters, digits, '_', '-' or '.'",
                    tool.name
                ),
            });
        }
        if tools.tools[..index].iter().any(|t| t.name == tool.name) {
            return Err(RequestError::Tool {
                index,
                why: format!("function.name {:?} is offered twice", tool.name),
            });
        }
        if !tool.parameters.is_object() {
            return Err(RequestError::Tool {
                index,
                why: "function.parameters must be a JSON Schema object".into(),
            });
        }
    }
    match &tools.choice {
        ToolChoice::Required if tools.tools.is_empty() => Err(RequestError::ToolChoice(
            "\"required\" needs `tools` to choose from".into(),
        )),
        ToolChoice::Function(name) if tools.find(name).is_none() => Err(RequestError::ToolChoice(
            format!("names function {name:?}, which `tools` does not offer"),
        )),
        _ => Ok(()),
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
                "must end with a user or tool message",
            ),
        ];
        for (request, needle) in cases {
            let message = request.validate().unwrap_err().to_string();
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
    }

    #[test]
    fn tool_turns_and_tools_are_checked_by_field() {
        use crate::tools::{ToolCall, ToolDef};
        let call = ToolCall {
            id: "c1".into(),
            name: "f".into(),
            arguments: "{\"x\": 1}".into(),
        };
        let tool = ToolDef {
            name: "f".into(),
            description: None,
            parameters: serde_json::json!({"type": "object"}),
        };
        let loop_ok = ChatRequest {
            messages: vec![
                ChatMessage::user("q"),
                ChatMessage::assistant_calls("", vec![call.clone()]),
                ChatMessage::tool_result("c1", "42"),
            ],
            tools: ToolUse {
                tools: vec![tool.clone()],
                ..ToolUse::default()
            },
            ..base()
        };
        assert!(loop_ok.clone().validate().is_ok());
        let mut unknown = loop_ok.clone();
        unknown.messages[2].tool_call_id = Some("nope".into());
        let e = unknown.validate().unwrap_err().to_string();
        assert!(
            e.contains("`messages[2].tool_call_id`") && e.contains("\"nope\""),
            "{e}"
        );
        let mut bad_args = loop_ok.clone();
        bad_args.messages[1].tool_calls[0].arguments = "{x".into();
        let e = bad_args.validate().unwrap_err().to_string();
        assert!(
            e.contains("`messages[1].tool_calls[0].function.arguments`"),
            "{e}"
        );
        let mut unanswered = loop_ok.clone();
        unanswered.messages[2] = ChatMessage::user("go on");
        let e = unanswered.validate().unwrap_err().to_string();
        assert!(
            e.contains("`messages[1].tool_calls`") && e.contains("\"c1\""),
            "{e}"
        );
        let mut named = loop_ok.clone();
        named.tools.choice = ToolChoice::Function("g".into());
        let e = named.validate().unwrap_err().to_string();
        assert!(e.contains("`tool_choice`") && e.contains("\"g\""), "{e}");
        let mut twice = loop_ok;
        twice.tools.tools.push(tool);
        let e = twice.validate().unwrap_err().to_string();
        assert!(e.contains("`tools[1]`") && e.contains("twice"), "{e}");
    }
}
