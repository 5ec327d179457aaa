//! The Anthropic Messages API's request (`POST /v1/messages`) read into a core request:
//! `system`, text / `tool_use` / `tool_result` content blocks, `tools` with `input_schema`,
//! `tool_choice`, `stop_sequences`, `thinking`. A field or block this gateway does not serve is a
//! 400 naming it; `cache_control` is accepted and has no effect (there is no prompt cache to
//! steer beyond the engine's own prefix reuse).

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;
use understudy_core::thinking_switch::ThinkingMode;
use understudy_core::{ChatMessage, ChatRequest, ResponseFormat, ToolCall, ToolChoice, ToolUse};

use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::wire::{wire_error, Parsed};
use crate::wire_tools::{invalid, tool_def};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesRequest {
    pub model: String,
    /// Required by `/v1/messages`; not by `/v1/messages/count_tokens`.
    pub max_tokens: Option<u32>,
    pub messages: Vec<TurnIn>,
    pub system: Option<Text>,
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    pub stream: bool,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
    pub tools: Option<Vec<ToolIn>>,
    pub tool_choice: Option<ChoiceIn>,
    pub metadata: Option<Metadata>,
    pub thinking: Option<ThinkingIn>,
    /// Accepted and ignored: there is one tier here.
    #[serde(rename = "service_tier")]
    _service_tier: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Text {
    One(String),
    Blocks(Vec<Block>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnIn {
    pub role: RoleIn,
    pub content: Text,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleIn {
    User,
    Assistant,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        text: String,
        #[serde(rename = "cache_control")]
        _cache_control: Option<IgnoredAny>,
        #[serde(rename = "citations")]
        _citations: Option<IgnoredAny>,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
        #[serde(rename = "cache_control")]
        _cache_control: Option<IgnoredAny>,
    },
    ToolResult {
        tool_use_id: String,
        content: Option<Text>,
        is_error: Option<bool>,
        #[serde(rename = "cache_control")]
        _cache_control: Option<IgnoredAny>,
    },
    /// Earlier turns' reasoning: not sent back to the model (as Anthropic drops it outside a
    /// tool loop).
    Thinking(IgnoredAny),
    RedactedThinking(IgnoredAny),
    Image(IgnoredAny),
    Document(IgnoredAny),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolIn {
    pub name: String,
    pub description: Option<String>,
    pub input_schema: Option<Value>,
    /// `custom` or absent; server tools (web search, code execution…) are not served.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(rename = "cache_control")]
    _cache_control: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceIn {
    #[serde(rename = "type")]
    pub kind: ChoiceKind,
    pub name: Option<String>,
    pub disable_parallel_tool_use: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChoiceKind {
    Auto,
    Any,
    Tool,
    None,
}

#[derive(Debug, Deserialize)]
pub struct Metadata {
    pub user_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThinkingIn {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "budget_tokens")]
    _budget_tokens: Option<u32>,
}

/// Reads a `/v1/messages` body (`count_only`: a `count_tokens` body, where `max_tokens` is not
/// required).
pub fn parse(body: &[u8], count_only: bool) -> Result<Parsed, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let wire: MessagesRequest =
        serde_path_to_error::deserialize(&mut de).map_err(|err| wire_error(&err))?;
    if wire.top_k.is_some() {
        return Err(invalid(
            "top_k".into(),
            "top-k sampling is not applied by this gateway; send temperature or top_p",
        ));
    }
    if wire.max_tokens.is_none() && !count_only {
        return Err(invalid(
            "max_tokens".into(),
            "is required: the most tokens to generate",
        ));
    }
    let mut messages = Vec::new();
    if let Some(system) = wire.system {
        messages.push(ChatMessage::system(text_of("system", system)?));
    }
    for (i, turn) in wire.messages.into_iter().enumerate() {
        messages.extend(turn_messages(i, turn)?);
    }
    understudy_core::request::check_tool_turns(&messages).map_err(ApiError::from_request)?;
    let thinking = match wire.thinking {
        None => None,
        Some(t) => Some(match t.kind.as_str() {
            "enabled" => ThinkingMode::On,
            "disabled" => ThinkingMode::Off,
            other => {
                return Err(invalid(
                    "thinking.type".into(),
                    &format!("must be \"enabled\" or \"disabled\", got {other:?}"),
                ))
            }
        }),
    };
    Ok(Parsed {
        request: ChatRequest {
            model: wire.model,
            messages,
            max_tokens: wire.max_tokens,
            temperature: wire.temperature,
            top_p: wire.top_p,
            seed: None,
            stop: wire.stop_sequences.unwrap_or_default(),
            response_format: ResponseFormat::Text,
            thinking: None,
            reasoning_effort: None,
            logprobs: false,
            top_logprobs: None,
            tools: tools_of(wire.tools, wire.tool_choice)?,
        },
        stream: wire.stream,
        dialect: Dialect::Messages,
        thinking,
        user: wire.metadata.and_then(|m| m.user_id),
    })
}

/// A string or text blocks as one text; `field` names where, for errors.
fn text_of(field: &str, text: Text) -> Result<String, ApiError> {
    match text {
        Text::One(t) => Ok(t),
        Text::Blocks(blocks) => {
            let mut out = String::new();
            for (j, block) in blocks.into_iter().enumerate() {
                match block {
                    Block::Text { text, .. } => out.push_str(&text),
                    _ => {
                        return Err(invalid(
                            format!("{field}[{j}].type"),
                            "only text blocks are allowed here",
                        ))
                    }
                }
            }
            Ok(out)
        }
    }
}

/// One turn as core messages: a user turn's tool results become tool messages (before its text),
/// an assistant turn's `tool_use` blocks its calls.
fn turn_messages(i: usize, turn: TurnIn) -> Result<Vec<ChatMessage>, ApiError> {
    let blocks = match turn.content {
        Text::One(t) => vec![Block::Text {
            text: t,
            _cache_control: None,
            _citations: None,
        }],
        Text::Blocks(b) => b,
    };
    let mut out = Vec::new();
    let mut text = String::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
        let field = format!("messages[{i}].content[{j}]");
        match (block, turn.role) {
            (Block::Text { text: t, .. }, _) => text.push_str(&t),
            (
                Block::ToolUse {
                    id, name, input, ..
                },
                RoleIn::Assistant,
            ) => {
                if !input.is_object() {
                    return Err(invalid(format!("{field}.input"), "must be a JSON object"));
                }
                calls.push(ToolCall {
                    id,
                    name,
                    arguments: input.to_string(),
                });
            }
            (
                Block::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                    ..
                },
                RoleIn::User,
            ) => {
                let result = match content {
                    Some(c) => text_of(&format!("{field}.content"), c)?,
                    None => String::new(),
                };
                let result = if is_error == Some(true) {
                    format!("Error: {result}")
                } else {
                    result
                };
                out.push(ChatMessage::tool_result(tool_use_id, result));
            }
            (Block::Thinking(_) | Block::RedactedThinking(_), RoleIn::Assistant) => {}
            (Block::Image(_) | Block::Document(_), _) => return Err(invalid(
                format!("{field}.type"),
                "only text, tool_use and tool_result blocks are served (no images or documents)",
            )),
            (_, role) => {
                return Err(invalid(
                    format!("{field}.type"),
                    &format!("this block is not allowed in a {role:?} turn"),
                ))
            }
        }
    }
    match turn.role {
        RoleIn::User if !text.is_empty() || out.is_empty() => out.push(ChatMessage::user(text)),
        RoleIn::User => {}
        RoleIn::Assistant => out.push(ChatMessage::assistant_calls(text, calls)),
    }
    Ok(out)
}

/// `tools` and `tool_choice` as core tool use.
fn tools_of(tools: Option<Vec<ToolIn>>, choice: Option<ChoiceIn>) -> Result<ToolUse, ApiError> {
    let mut defs = Vec::new();
    for (i, tool) in tools.unwrap_or_default().into_iter().enumerate() {
        if let Some(kind) = tool.kind.as_deref().filter(|k| *k != "custom") {
            return Err(invalid(
                format!("tools[{i}].type"),
                &format!("only custom tools are served, got {kind:?}"),
            ));
        }
        defs.push(tool_def(
            &format!("tools[{i}].input_schema"),
            tool.name,
            tool.description,
            tool.input_schema,
        )?);
    }
    let (choice, parallel) = match choice {
        None => (ToolChoice::Auto, None),
        Some(c) => {
            let choice = match (c.kind, c.name) {
                (ChoiceKind::Auto, _) => ToolChoice::Auto,
                (ChoiceKind::Any, _) => ToolChoice::Required,
                (ChoiceKind::None, _) => ToolChoice::None,
                (ChoiceKind::Tool, Some(name)) => ToolChoice::Function(name),
                (ChoiceKind::Tool, None) => {
                    return Err(invalid(
                        "tool_choice.name".into(),
                        "is required when type is \"tool\"",
                    ))
                }
            };
            (choice, c.disable_parallel_tool_use.map(|d| !d))
        }
    };
    if defs.is_empty() && choice != ToolChoice::Auto && choice != ToolChoice::None {
        return Err(invalid(
            "tool_choice".into(),
            "asks for a tool call but `tools` offers none",
        ));
    }
    Ok(ToolUse {
        tools: defs,
        choice,
        parallel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(v: Value) -> Result<Parsed, ApiError> {
        parse(v.to_string().as_bytes(), false)
    }

    #[test]
    fn a_tool_loop_reads_as_core_turns() {
        let p = parsed(serde_json::json!({
            "model": "m", "max_tokens": 50, "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "tools": [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [{"type": "text", "text": "Checking."}, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}, {"type": "text", "text": "Thanks"}]}
            ]
        }))
        .unwrap_or_else(|e| panic!("{e:?}"));
        let m = &p.request.messages;
        assert_eq!(m.len(), 5);
        assert_eq!(m[0].content, "Be brief.");
        assert_eq!(m[2].tool_calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!(m[3].tool_call_id.as_deref(), Some("toolu_1"));
        assert_eq!(m[4].content, "Thanks");
        assert_eq!(p.request.tools.choice, ToolChoice::Required);
        assert_eq!(p.request.tools.parallel, Some(false));
    }

    #[test]
    fn what_is_not_served_is_named() {
        let base = |extra: Value| {
            let mut v = serde_json::json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
            if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            parsed(v).err().and_then(|e| e.param)
        };
        assert_eq!(
            base(serde_json::json!({"top_k": 5})).as_deref(),
            Some("top_k")
        );
        assert_eq!(
            base(serde_json::json!({"mcp_servers": []})).as_deref(),
            Some("mcp_servers")
        );
        let image = serde_json::json!({"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]});
        assert_eq!(base(image).as_deref(), Some("messages[0].content[0].type"));
        let no_max = parsed(serde_json::json!({"model": "m", "messages": []}));
        assert_eq!(
            no_max.err().and_then(|e| e.param).as_deref(),
            Some("max_tokens")
        );
    }
}
