//! OpenAI's legacy function calling read onto the tools path: `functions` as function tools,
//! `function_call` as the tool choice, an assistant turn's `function_call` as its one call, a
//! `function` turn as the result of the call before it. Legacy calls carry no ids, so each gets
//! one from its turn's position. Answers go back in the legacy shape (see responses.rs and
//! stream_chat.rs): one `function_call`, `finish_reason: "function_call"`.

use serde::Deserialize;
use serde_json::Value;
use understudy_core::{ChatMessage, Role, ToolCall};

use crate::error::ApiError;
use crate::wire_tools::invalid;

/// An assistant turn's legacy call.
#[derive(Debug, Deserialize)]
pub struct WireFunctionCall {
    pub name: String,
    pub arguments: String,
}

/// Legacy functions as `tools` JSON, with the `tool_choice` JSON `function_call` stands for.
pub type AsTools = (Vec<Value>, Option<Value>);

/// `functions` and `function_call` as `tools` and `tool_choice`; `None` when the request uses
/// neither. Both forms at once is a 400.
pub fn as_tools(
    functions: Option<Value>,
    function_call: Option<Value>,
    tools_given: bool,
) -> Result<Option<AsTools>, ApiError> {
    let set = |v: &Option<Value>| v.as_ref().is_some_and(|v| !v.is_null());
    if !set(&functions) && !set(&function_call) {
        return Ok(None);
    }
    if tools_given {
        return Err(invalid(
            "functions".into(),
            "send `functions` or `tools`, not both",
        ));
    }
    let list = match functions {
        Some(Value::Array(list)) => list,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(invalid("functions".into(), "must be a list of functions")),
    };
    let tools = list
        .into_iter()
        .map(|f| serde_json::json!({"type": "function", "function": f}))
        .collect();
    let choice = match function_call {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "auto" || s == "none" => Some(Value::String(s)),
        Some(v) => match v.get("name").and_then(Value::as_str) {
            Some(name) => Some(serde_json::json!({"type": "function", "function": {"name": name}})),
            None => {
                return Err(invalid(
                    "function_call".into(),
                    "must be \"auto\", \"none\" or {\"name\": …}",
                ))
            }
        },
    };
    Ok(Some((tools, choice)))
}

/// An assistant turn's legacy call, with the id its turn's position gives it.
pub fn call_of(index: usize, call: WireFunctionCall) -> ToolCall {
    ToolCall {
        id: legacy_id(index),
        name: call.name,
        arguments: call.arguments,
    }
}

fn legacy_id(index: usize) -> String {
    format!("call_legacy_{index}")
}

/// Points each `function` turn (read as a tool result without an id) at the legacy call it
/// answers: the last call before it to a function of its name.
pub fn link_results(
    messages: &mut [ChatMessage],
    names: &[Option<String>],
) -> Result<(), ApiError> {
    for i in 0..messages.len() {
        if messages[i].role != Role::Tool || messages[i].tool_call_id.is_some() {
            continue;
        }
        let name = names.get(i).cloned().flatten();
        let answered = messages[..i].iter().rev().find_map(|m| {
            m.tool_calls
                .iter()
                .find(|c| c.id.starts_with("call_legacy_") && Some(&c.name) == name.as_ref())
                .map(|c| c.id.clone())
        });
        match answered {
            Some(id) => messages[i].tool_call_id = Some(id),
            None => {
                return Err(invalid(
                    format!("messages[{i}].name"),
                    "a function message must name a function an earlier assistant message called",
                ))
            }
        }
    }
    Ok(())
}
