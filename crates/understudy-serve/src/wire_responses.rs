//! The OpenAI Responses API's request (`POST /v1/responses`) read into a core request: `input`
//! as a string or items (messages, `function_call`, `function_call_output`), `instructions`,
//! function `tools`, `tool_choice`, `text.format`, `previous_response_id`, `store`. Anything
//! outside that subset is a 400 naming the field.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};
use understudy_core::thinking_switch::ThinkingMode;
use understudy_core::{ChatMessage, ChatRequest, ResponseFormat, Role, ToolCall};

use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::responses_body::ResponsesEcho;
use crate::wire::{wire_error, Parsed};
use crate::wire_tools::{invalid, tool_use};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponsesRequest {
    pub model: String,
    pub input: Value,
    pub instructions: Option<String>,
    pub tools: Option<Vec<Value>>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    pub text: Option<TextIn>,
    #[serde(default)]
    pub stream: bool,
    pub max_output_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub previous_response_id: Option<String>,
    pub store: Option<bool>,
    pub metadata: Option<Map<String, Value>>,
    pub user: Option<String>,
    pub reasoning: Option<ReasoningIn>,
    /// Only `"disabled"` (the default): a prompt that does not fit is an error, never cut.
    pub truncation: Option<String>,
    /// Accepted and ignored: there is one tier here, and nothing to obfuscate.
    #[serde(rename = "service_tier")]
    _service_tier: Option<IgnoredAny>,
    #[serde(rename = "stream_options")]
    _stream_options: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextIn {
    pub format: Option<FormatIn>,
    #[serde(rename = "verbosity")]
    _verbosity: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FormatIn {
    Text,
    JsonObject,
    JsonSchema {
        name: Option<String>,
        schema: Value,
        description: Option<String>,
        strict: Option<bool>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasoningIn {
    pub effort: Option<String>,
    #[serde(rename = "summary")]
    _summary: Option<IgnoredAny>,
}

/// Reads a `/v1/responses` body.
pub fn parse(body: &[u8]) -> Result<Parsed, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let wire: ResponsesRequest =
        serde_path_to_error::deserialize(&mut de).map_err(|err| wire_error(&err))?;
    if let Some(t) = wire.truncation.as_deref().filter(|t| *t != "disabled") {
        return Err(invalid(
            "truncation".into(),
            &format!(
                "only \"disabled\" is served (a prompt that does not fit is an error), got {t:?}"
            ),
        ));
    }
    let echo = echo_of(&wire);
    let mut messages = Vec::new();
    if let Some(instructions) = wire.instructions {
        messages.push(ChatMessage::system(instructions));
    }
    messages.extend(input_messages(wire.input)?);
    let tools = tools_of(wire.tools, wire.tool_choice, wire.parallel_tool_calls)?;
    let thinking = match wire.reasoning.and_then(|r| r.effort) {
        None => None,
        Some(effort) => Some(ThinkingMode::parse(&effort).ok_or_else(|| {
            invalid(
                "reasoning.effort".into(),
                &format!("must be minimal, low, medium or high, got {effort:?}"),
            )
        })?),
    };
    let response_format = match wire.text.and_then(|t| t.format) {
        None | Some(FormatIn::Text) => ResponseFormat::Text,
        Some(FormatIn::JsonObject) => ResponseFormat::JsonObject,
        Some(FormatIn::JsonSchema { schema, .. }) => ResponseFormat::JsonSchema { schema },
    };
    Ok(Parsed {
        request: ChatRequest {
            model: wire.model,
            messages,
            max_tokens: wire.max_output_tokens,
            temperature: wire.temperature,
            top_p: wire.top_p,
            seed: None,
            stop: Vec::new(),
            response_format,
            thinking: None,
            reasoning_effort: None,
            logprobs: false,
            top_logprobs: None,
            tools,
        },
        stream: wire.stream,
        dialect: Dialect::Responses(Box::new(echo)),
        thinking,
        user: None,
    })
}

/// The request's settings the response object repeats, and how it is kept.
fn echo_of(wire: &ResponsesRequest) -> ResponsesEcho {
    let mut fields = Map::new();
    let mut put = |k: &str, v: Value| {
        fields.insert(k.to_string(), v);
    };
    put("instructions", wire.instructions.clone().into());
    put("max_output_tokens", wire.max_output_tokens.into());
    put(
        "metadata",
        Value::Object(wire.metadata.clone().unwrap_or_default()),
    );
    put(
        "parallel_tool_calls",
        wire.parallel_tool_calls.unwrap_or(true).into(),
    );
    put(
        "previous_response_id",
        wire.previous_response_id.clone().into(),
    );
    put("store", wire.store.unwrap_or(true).into());
    put("temperature", wire.temperature.map(f64::from).into());
    put("top_p", wire.top_p.map(f64::from).into());
    put(
        "tool_choice",
        wire.tool_choice.clone().unwrap_or_else(|| "auto".into()),
    );
    put("truncation", "disabled".into());
    put(
        "tools",
        Value::Array(wire.tools.clone().unwrap_or_default()),
    );
    let format = match wire.text.as_ref().and_then(|t| t.format.as_ref()) {
        Some(FormatIn::JsonObject) => serde_json::json!({"type": "json_object"}),
        Some(FormatIn::JsonSchema {
            name,
            schema,
            description,
            strict,
        }) => serde_json::json!({
            "type": "json_schema", "name": name, "schema": schema,
            "description": description, "strict": strict,
        }),
        _ => serde_json::json!({"type": "text"}),
    };
    put("text", serde_json::json!({"format": format}));
    put("user", wire.user.clone().into());
    ResponsesEcho {
        fields,
        previous: wire.previous_response_id.clone(),
        store: wire.store.unwrap_or(true),
    }
}

/// `input`: a string (one user message) or a list of items.
fn input_messages(input: Value) -> Result<Vec<ChatMessage>, ApiError> {
    let items = match input {
        Value::String(text) => return Ok(vec![ChatMessage::user(text)]),
        Value::Array(items) => items,
        _ => {
            return Err(invalid(
                "input".into(),
                "must be a string or a list of input items",
            ))
        }
    };
    let mut out: Vec<ChatMessage> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let field = format!("input[{i}]");
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message");
        match kind {
            "message" => out.push(message_item(&field, &item)?),
            "function_call" => {
                let call = ToolCall {
                    id: string_field(&field, &item, "call_id")?,
                    name: string_field(&field, &item, "name")?,
                    arguments: string_field(&field, &item, "arguments")?,
                };
                // Consecutive calls belong to one assistant turn, as chat completions has them.
                match out.last_mut() {
                    Some(last) if last.role == Role::Assistant && !last.tool_calls.is_empty() => {
                        last.tool_calls.push(call);
                    }
                    _ => out.push(ChatMessage::assistant_calls(String::new(), vec![call])),
                }
            }
            "function_call_output" => {
                let output = match item.get("output") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(parts)) => parts_text(&format!("{field}.output"), parts)?,
                    _ => {
                        return Err(invalid(
                            format!("{field}.output"),
                            "is required: the function's result as a string",
                        ))
                    }
                };
                out.push(ChatMessage::tool_result(
                    string_field(&field, &item, "call_id")?,
                    output,
                ));
            }
            // Earlier reasoning handed back: not sent to the model again.
            "reasoning" => {}
            other => {
                return Err(invalid(
                    format!("{field}.type"),
                    &format!("only message, function_call and function_call_output items are served, got {other:?}"),
                ))
            }
        }
    }
    // Calls and their outputs are checked once the previous response's turns are in place
    // (responses_store.rs): an output may answer a call made there.
    Ok(out)
}

fn string_field(field: &str, item: &Value, key: &str) -> Result<String, ApiError> {
    item.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| invalid(format!("{field}.{key}"), "is required and must be a string"))
}

/// A message item: a role and text (a string, or `input_text` / `output_text` parts).
fn message_item(field: &str, item: &Value) -> Result<ChatMessage, ApiError> {
    let role = match item.get("role").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("system" | "developer") => Role::System,
        _ => {
            return Err(invalid(
                format!("{field}.role"),
                "must be user, assistant, system or developer",
            ))
        }
    };
    let text = match item.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts_text(&format!("{field}.content"), parts)?,
        _ => {
            return Err(invalid(
                format!("{field}.content"),
                "is required: a string or a list of text parts",
            ))
        }
    };
    Ok(ChatMessage::new(role, text))
}

/// Text parts joined; any other part is named.
fn parts_text(field: &str, parts: &[Value]) -> Result<String, ApiError> {
    let mut text = String::new();
    for (j, part) in parts.iter().enumerate() {
        let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
        match (kind, part.get("text").and_then(Value::as_str)) {
            ("input_text" | "output_text" | "text", Some(t)) => text.push_str(t),
            _ => {
                return Err(invalid(
                    format!("{field}[{j}].type"),
                    &format!("only text parts are served, got {kind:?}"),
                ))
            }
        }
    }
    Ok(text)
}

/// Function tools (flat: `{"type": "function", "name", "parameters"}`) and the choice; the
/// Responses API names a function to force flat too (`{"type": "function", "name"}`).
fn tools_of(
    tools: Option<Vec<Value>>,
    choice: Option<Value>,
    parallel: Option<bool>,
) -> Result<understudy_core::ToolUse, ApiError> {
    let choice = choice.map(|c| match c.get("name") {
        Some(name) if c.get("type").and_then(Value::as_str) == Some("function") => {
            serde_json::json!({"type": "function", "function": {"name": name}})
        }
        _ => c,
    });
    tool_use(tools, choice, parallel)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(v: Value) -> Result<Parsed, ApiError> {
        parse(v.to_string().as_bytes())
    }

    #[test]
    fn items_read_as_core_turns() {
        let p = parsed(serde_json::json!({
            "model": "m", "instructions": "Be brief.",
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "18C"}
            ]
        }))
        .unwrap_or_else(|e| panic!("{e:?}"));
        let m = &p.request.messages;
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].role, Role::System);
        assert_eq!(m[2].tool_calls[0].id, "call_1");
        assert_eq!(m[3].tool_call_id.as_deref(), Some("call_1"));
        assert_eq!(
            p.request.tools.choice,
            understudy_core::ToolChoice::Function("get_weather".into())
        );
    }

    #[test]
    fn what_is_not_served_is_named() {
        let param = |v: Value| parsed(v).err().and_then(|e| e.param);
        assert_eq!(
            param(serde_json::json!({"model": "m", "input": "hi", "background": true})).as_deref(),
            Some("background")
        );
        assert_eq!(
            param(serde_json::json!({"model": "m", "input": [{"type": "web_search_call"}]}))
                .as_deref(),
            Some("input[0].type")
        );
        assert_eq!(
            param(
                serde_json::json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}]})
            )
            .as_deref(),
            Some("tools[0].type")
        );
        assert_eq!(
            param(serde_json::json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]})).as_deref(),
            Some("input[0].content[0].type")
        );
    }
}
