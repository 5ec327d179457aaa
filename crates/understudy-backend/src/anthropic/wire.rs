//! A core request as an Anthropic Messages API body: system turns joined into `system`, tool
//! calls as `tool_use` blocks and tool results as `tool_result` blocks in a user turn (same-role
//! turns merged, as the API wants them alternating), tools with `input_schema`, `tool_choice`,
//! and the thinking switch as `thinking`. What the API cannot do is refused, never dropped.

use serde_json::{json, Map, Value};
use understudy_core::{ChatMessage, ResponseFormat, Role, ToolChoice, ValidChatRequest};

use crate::BackendError;

/// The smallest thinking budget the Messages API accepts.
const MIN_THINKING_BUDGET: u32 = 1024;

/// The body of `POST /v1/messages` for `request`.
pub(super) fn body(request: &ValidChatRequest, stream: bool) -> Result<Value, BackendError> {
    if !matches!(request.response_format, ResponseFormat::Text) {
        return Err(BackendError::InvalidRequest(
            "response_format: the anthropic backend cannot hold answers to JSON; ask for JSON in the prompt instead".into(),
        ));
    }
    if request.top_logprobs.is_some() {
        return Err(BackendError::InvalidRequest(
            "logprobs: the Messages API returns no log-probabilities; send the request without `logprobs`".into(),
        ));
    }
    let mut body = Map::new();
    body.insert("model".into(), request.model.clone().into());
    body.insert("max_tokens".into(), request.max_tokens.into());
    body.insert("stream".into(), stream.into());
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    if !system.is_empty() {
        body.insert("system".into(), system.join("\n\n").into());
    }
    body.insert("messages".into(), Value::Array(turns(&request.messages)));
    body.insert("temperature".into(), f64::from(request.temperature).into());
    // Sent only when it restricts sampling: newer Claude models refuse both at once.
    if request.top_p < 1.0 {
        body.insert("top_p".into(), f64::from(request.top_p).into());
    }
    if !request.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        let mut choice = match &request.tools.choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Function(name) => json!({"type": "tool", "name": name}),
        };
        if request.tools.parallel == Some(false) && request.tools.choice != ToolChoice::None {
            choice["disable_parallel_tool_use"] = true.into();
        }
        body.insert("tool_choice".into(), choice);
    }
    if let Some(thinking) = thinking(request)? {
        body.insert("thinking".into(), thinking);
    }
    Ok(Value::Object(body))
}

/// The thinking switch: on takes half the token budget for thinking (at least the API's
/// minimum, so `max_tokens` must leave room for it); off sends nothing.
fn thinking(request: &ValidChatRequest) -> Result<Option<Value>, BackendError> {
    if request.thinking != Some(true) {
        return Ok(None);
    }
    let budget = (request.max_tokens / 2).max(MIN_THINKING_BUDGET);
    if budget >= request.max_tokens {
        return Err(BackendError::InvalidRequest(format!(
            "thinking on an anthropic model needs max_tokens above {} (its thinking budget is at least {MIN_THINKING_BUDGET} tokens); got {}",
            2 * MIN_THINKING_BUDGET,
            request.max_tokens
        )));
    }
    Ok(Some(json!({"type": "enabled", "budget_tokens": budget})))
}

/// The non-system turns as alternating user / assistant messages of content blocks.
fn turns(messages: &[ChatMessage]) -> Vec<Value> {
    let mut out: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in messages {
        let (role, blocks) = match m.role {
            Role::System => continue,
            Role::User => ("user", vec![json!({"type": "text", "text": m.content})]),
            Role::Tool => (
                "user",
                vec![
                    json!({"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content}),
                ],
            ),
            Role::Assistant => {
                let mut blocks = Vec::new();
                if !m.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": m.content}));
                }
                for call in &m.tool_calls {
                    let input: Value =
                        serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
                    blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
                }
                ("assistant", blocks)
            }
        };
        match out.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => out.push((role, blocks)),
        }
    }
    out.into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_core::{ChatRequest, ToolCall, ToolDef, ToolUse};

    #[test]
    fn a_tool_loop_becomes_alternating_blocks() {
        let call = ToolCall {
            id: "toolu_1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris"}"#.into(),
        };
        let request = ChatRequest {
            max_tokens: Some(100),
            tools: ToolUse {
                tools: vec![ToolDef {
                    name: "get_weather".into(),
                    description: None,
                    parameters: json!({"type": "object"}),
                }],
                choice: ToolChoice::Required,
                parallel: Some(false),
            },
            ..ChatRequest::new(
                "claude",
                vec![
                    ChatMessage::system("Be brief."),
                    ChatMessage::user("Weather?"),
                    ChatMessage::assistant_calls("", vec![call]),
                    ChatMessage::tool_result("toolu_1", "18C"),
                    ChatMessage::user("And tomorrow?"),
                ],
            )
        }
        .validate()
        .unwrap();
        let b = body(&request, true).unwrap();
        assert_eq!(b["system"], "Be brief.");
        let m = b["messages"].as_array().unwrap();
        assert_eq!(m.len(), 3, "{b}");
        assert_eq!(m[1]["content"][0]["input"]["city"], "Paris");
        assert_eq!(m[2]["content"][0]["type"], "tool_result");
        assert_eq!(m[2]["content"][1]["text"], "And tomorrow?");
        assert_eq!(
            b["tool_choice"],
            json!({"type": "any", "disable_parallel_tool_use": true})
        );
    }
}
