//! OpenAI chat-completions wire types as the gateway reads and writes them, and the conversion
//! of a request body into a core request with errors that name the field.

use serde::Deserialize;
use serde_json::Value;
use understudy_core::thinking_switch::ThinkingMode;
use understudy_core::{ChatMessage, ChatRequest, ResponseFormat, Role};

use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::wire_legacy::{self, WireFunctionCall};
use crate::wire_tools::{calls, tool_use, WireCall};
use crate::wire_words::{json_words, without_position};

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
    pub tools: Option<Vec<Value>>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    /// Legacy function calling, read onto the tools path (see wire_legacy.rs).
    pub functions: Option<Value>,
    pub function_call: Option<Value>,
    /// Read with `logprobs`. The fields after it are refused with a clear error rather than
    /// silently ignored (see `unserved`).
    pub top_logprobs: Option<Value>,
    pub logit_bias: Option<Value>,
    pub audio: Option<Value>,
    pub prediction: Option<Value>,
    pub web_search_options: Option<Value>,
}

/// The first field the request sets that this gateway does not serve, with why: a 400 naming
/// it, never a 200 that quietly dropped it.
fn unserved(wire: &WireRequest) -> Option<(&'static str, &'static str)> {
    let set = |v: &Option<Value>| {
        v.as_ref().is_some_and(|v| {
            !(v.is_null()
                || v.as_object().is_some_and(|o| o.is_empty())
                || v.as_array().is_some_and(|a| a.is_empty()))
        })
    };
    let fields: [(&'static str, bool, &'static str); 4] = [
        (
            "logit_bias",
            set(&wire.logit_bias),
            "token biases are not applied by this gateway",
        ),
        ("audio", set(&wire.audio), "audio output is not served"),
        (
            "prediction",
            set(&wire.prediction),
            "predicted outputs are not served",
        ),
        (
            "web_search_options",
            set(&wire.web_search_options),
            "web search is not served",
        ),
    ];
    fields
        .into_iter()
        .find(|(_, on, _)| *on)
        .map(|(field, _, why)| (field, why))
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
    /// An assistant turn's tool calls.
    pub tool_calls: Option<Vec<WireCall>>,
    /// A tool turn's answer to this call.
    pub tool_call_id: Option<String>,
    /// Legacy function calling: an assistant turn's one call.
    pub function_call: Option<WireFunctionCall>,
    /// Legacy function calling: the function a `function` turn answers.
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireRole {
    System,
    Developer,
    User,
    Assistant,
    /// A tool result.
    Tool,
    /// A legacy function result.
    Function,
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
    /// The API the request came in through, which spells the answer.
    pub(crate) dialect: Dialect,
    /// The thinking switch the client asked for, if any.
    pub thinking: Option<ThinkingMode>,
    /// OpenAI's `user` field (a conversation key for `conversation = true` profiles).
    pub user: Option<String>,
}

/// What the client sent wrong, in the client's terms: the field as a JSON path, what was expected
/// in JSON words (never a Rust type), and no parser positions.
pub(crate) fn wire_error(err: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = err.inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::invalid(
            format!(
                "request body is not valid JSON ({})",
                without_position(&inner.to_string())
            ),
            None,
        );
    }
    let text = without_position(&inner.to_string());
    let path = err.path().to_string();
    // A missing field is reported at its parent; name the field itself.
    if let Some(field) = text
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        let param = if path == "." {
            field.to_string()
        } else {
            format!("{path}.{field}")
        };
        let hint = match field {
            "messages" => ": a list of {\"role\", \"content\"} objects",
            "model" => ": the model or profile to answer with (GET /v1/models lists them)",
            _ => "",
        };
        return ApiError::invalid(format!("{param} is required{hint}"), Some(param));
    }
    if let Some(field) = text
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        // The path already ends at the unknown field.
        let param = if path == "." {
            field.to_string()
        } else {
            path.clone()
        };
        return ApiError::invalid(
            format!("{param}: this field is not served by this gateway"),
            Some(param),
        );
    }
    if path == "." {
        return ApiError::invalid(
            format!("request body must be a JSON object: {}", json_words(&text)),
            None,
        );
    }
    ApiError::invalid(format!("{path}: {}", json_words(&text)), Some(path))
}

/// Parses a request body, naming the offending field in errors (`messages[2].role: …`).
pub fn parse(body: &[u8]) -> Result<Parsed, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let wire: WireRequest =
        serde_path_to_error::deserialize(&mut de).map_err(|err| wire_error(&err))?;
    if let Some((field, why)) = unserved(&wire) {
        return Err(ApiError::invalid(
            format!("{field}: {why}"),
            Some(field.into()),
        ));
    }
    if wire.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid(
            "n: only n = 1 is supported",
            Some("n".into()),
        ));
    }
    let names: Vec<Option<String>> = wire.messages.iter().map(|m| m.name.clone()).collect();
    let mut messages = wire
        .messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| message(i, m))
        .collect::<Result<Vec<_>, _>>()?;
    wire_legacy::link_results(&mut messages, &names)?;
    // Checked on the client's own messages, so the index in an error is the client's (a
    // profile may put a system turn first).
    understudy_core::request::check_tool_turns(&messages).map_err(ApiError::from_request)?;
    let legacy = wire_legacy::as_tools(wire.functions, wire.function_call, wire.tools.is_some())?;
    let mut tools = match &legacy {
        // One legacy call per answer: its shape holds no more.
        Some((functions, choice)) => {
            tool_use(Some(functions.clone()), choice.clone(), Some(false))?
        }
        None => tool_use(wire.tools, wire.tool_choice, wire.parallel_tool_calls)?,
    };
    if legacy.is_some() {
        tools.parallel = Some(false);
    }
    let stop = match wire.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    let response_format = response_format_of(wire.response_format);
    let thinking = thinking_of(
        wire.understudy,
        wire.chat_template_kwargs,
        wire.reasoning_effort.as_deref(),
    )?;
    let user = wire.user.clone();
    let top_logprobs = top_logprobs_of(wire.logprobs, wire.top_logprobs)?;
    let _ = (wire.user, wire.frequency_penalty, wire.presence_penalty);
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
            top_logprobs,
            tools,
        },
        stream: wire.stream,
        dialect: Dialect::Chat {
            include_usage: wire.stream_options.is_some_and(|o| o.include_usage),
            legacy_functions: legacy.is_some(),
        },
        thinking,
        user,
    })
}

/// One message: text content (string or text parts) and a role this gateway serves.
fn message(i: usize, m: WireMessage) -> Result<ChatMessage, ApiError> {
    let mut tool_calls = calls(i, m.tool_calls)?;
    tool_calls.extend(m.function_call.map(|c| wire_legacy::call_of(i, c)));
    if !tool_calls.is_empty() && !matches!(m.role, WireRole::Assistant) {
        return Err(ApiError::invalid(
            format!("messages[{i}].tool_calls: only assistant messages carry tool calls"),
            Some(format!("messages[{i}].tool_calls")),
        ));
    }
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
        WireRole::Tool | WireRole::Function => Role::Tool,
    };
    Ok(ChatMessage {
        tool_calls,
        tool_call_id: m.tool_call_id,
        ..ChatMessage::new(role, text)
    })
}

/// `logprobs: true` (with `top_logprobs: N` alternatives, default 0) asks for each token's
/// log-probability; `top_logprobs` alone is refused, as OpenAI refuses it.
fn top_logprobs_of(logprobs: Option<bool>, top: Option<Value>) -> Result<Option<u8>, ApiError> {
    let top = match top {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n <= u64::from(understudy_core::request::MAX_TOP_LOGPROBS))
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| {
                    ApiError::invalid(
                        format!("top_logprobs: must be an integer from 0 to 20, got {v}"),
                        Some("top_logprobs".into()),
                    )
                })?,
        ),
    };
    match (logprobs == Some(true), top) {
        (true, top) => Ok(Some(top.unwrap_or(0))),
        (false, None) => Ok(None),
        (false, Some(_)) => Err(ApiError::invalid(
            "top_logprobs: only allowed with `logprobs: true`",
            Some("top_logprobs".into()),
        )),
    }
}

/// The thinking switch: understudy's own field, else `chat_template_kwargs.enable_thinking`,
/// else `reasoning_effort`.
fn thinking_of(
    understudy: Option<Extension>,
    kwargs: Option<TemplateKwargs>,
    reasoning_effort: Option<&str>,
) -> Result<Option<ThinkingMode>, ApiError> {
    Ok(match understudy.and_then(|e| e.thinking) {
        Some(text) => Some(ThinkingMode::parse(&text).ok_or_else(|| {
            ApiError::invalid(
                format!("`understudy.thinking` must be on, off or auto, got {text:?}"),
                Some("understudy.thinking".into()),
            )
        })?),
        None => match kwargs.and_then(|k| k.enable_thinking) {
            Some(true) => Some(ThinkingMode::On),
            Some(false) => Some(ThinkingMode::Off),
            None => match reasoning_effort {
                Some(effort) => Some(ThinkingMode::parse(effort).ok_or_else(|| {
                    ApiError::invalid(
                        format!("`reasoning_effort` must be minimal, low, medium or high, got {effort:?}"),
                        Some("reasoning_effort".into()),
                    )
                })?),
                None => None,
            },
        },
    })
}

fn response_format_of(format: Option<WireResponseFormat>) -> ResponseFormat {
    match format {
        None | Some(WireResponseFormat::Text) => ResponseFormat::Text,
        Some(WireResponseFormat::JsonObject) => ResponseFormat::JsonObject,
        Some(WireResponseFormat::JsonSchema { json_schema }) => match json_schema.schema {
            Some(schema) => ResponseFormat::JsonSchema { schema },
            None => ResponseFormat::JsonObject,
        },
    }
}
