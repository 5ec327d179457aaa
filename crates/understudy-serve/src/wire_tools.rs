//! The tool-calling fields of a chat-completions request: `tools`, `tool_choice`,
//! `parallel_tool_calls`, and an assistant turn's `tool_calls`, read into core values with
//! errors that name the field. A parameter schema that does not compile is refused here, before
//! any model sees it.

use serde::Deserialize;
use serde_json::Value;
use understudy_core::tools::ToolDefError;
use understudy_core::{ToolCall, ToolChoice, ToolDef, ToolUse};

use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct WireCall {
    pub id: String,
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    pub function: WireCallFunction,
}

fn function_kind() -> String {
    "function".into()
}

#[derive(Debug, Deserialize)]
pub struct WireCallFunction {
    pub name: String,
    pub arguments: String,
}

pub(crate) fn invalid(field: String, why: &str) -> ApiError {
    ApiError::invalid(format!("{field}: {why}"), Some(field))
}

/// The request's tools (OpenAI's JSON, nested or flat), choice and parallel switch.
pub fn tool_use(
    tools: Option<Vec<Value>>,
    choice: Option<Value>,
    parallel: Option<bool>,
) -> Result<ToolUse, ApiError> {
    let mut defs = Vec::new();
    for (i, tool) in tools.unwrap_or_default().iter().enumerate() {
        let def = ToolDef::from_openai(tool).map_err(|e| {
            let key = match &e {
                ToolDefError::NotFunction(_) => "type",
                ToolDefError::NoName(k) | ToolDefError::BadParameters(k) => k,
                _ => "",
            };
            let field = [format!("tools[{i}]"), key.to_string()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(".");
            invalid(field, &e.to_string())
        })?;
        let nested = tool.get("function").is_some();
        let schema = if nested {
            "function.parameters"
        } else {
            "parameters"
        };
        defs.push(checked(&format!("tools[{i}].{schema}"), def)?);
    }
    if defs.is_empty() && choice.as_ref().is_some_and(|c| !c.is_null()) {
        return Err(invalid(
            "tool_choice".into(),
            "is only allowed when `tools` offers functions",
        ));
    }
    Ok(ToolUse {
        tools: defs,
        choice: tool_choice(choice)?,
        parallel,
    })
}

/// One offered function, whichever API it came through; `schema_field` names where its
/// parameter schema was, for the 400 a schema that does not compile gets. No schema: no
/// arguments.
pub(crate) fn tool_def(
    schema_field: &str,
    name: String,
    description: Option<String>,
    parameters: Option<Value>,
) -> Result<ToolDef, ApiError> {
    let parameters = parameters.unwrap_or_else(ToolDef::no_arguments);
    let def = ToolDef {
        name,
        description,
        parameters,
    };
    checked(schema_field, def)
}

/// `def` once its parameter schema compiles (a 400 naming `schema_field` otherwise).
fn checked(schema_field: &str, def: ToolDef) -> Result<ToolDef, ApiError> {
    if let Err(e) = jsonschema::validator_for(&def.parameters) {
        return Err(invalid(
            schema_field.to_string(),
            &format!("not a JSON Schema that compiles: {e}"),
        ));
    }
    Ok(def)
}

/// `"auto" | "none" | "required" | {"type": "function", "function": {"name"}}`.
pub(crate) fn tool_choice(choice: Option<Value>) -> Result<ToolChoice, ApiError> {
    let bad = || {
        invalid(
            "tool_choice".into(),
            "must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": …}}",
        )
    };
    Ok(match choice {
        None | Some(Value::Null) => ToolChoice::Auto,
        Some(Value::String(s)) => match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => return Err(bad()),
        },
        Some(v) => match v.pointer("/function/name").and_then(Value::as_str) {
            Some(name) if v.get("type").and_then(Value::as_str) == Some("function") => {
                ToolChoice::Function(name.to_string())
            }
            _ => return Err(bad()),
        },
    })
}

/// An assistant turn's calls.
pub fn calls(i: usize, calls: Option<Vec<WireCall>>) -> Result<Vec<ToolCall>, ApiError> {
    calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(j, c)| {
            if c.kind != "function" {
                return Err(invalid(
                    format!("messages[{i}].tool_calls[{j}].type"),
                    &format!("only \"function\" calls are served, got {:?}", c.kind),
                ));
            }
            Ok(ToolCall {
                id: c.id,
                name: c.function.name,
                arguments: c.function.arguments,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_tools_and_choices_are_named() {
        let tool = |v: Value| -> Vec<Value> { serde_json::from_value(v).unwrap() };
        let e = tool_use(
            Some(tool(serde_json::json!([{"type": "function", "function": {"name": "f", "parameters": {"type": 5}}}]))),
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tools[0].function.parameters"));
        let e = tool_use(
            Some(tool(serde_json::json!([{"type": "code_interpreter"}]))),
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tools[0].type"));
        let e = tool_use(None, Some(Value::from("auto")), None).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tool_choice"));
        let one = || {
            Some(tool(
                serde_json::json!([{"type": "function", "function": {"name": "f"}}]),
            ))
        };
        let e = tool_use(one(), Some(Value::from("always")), None).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tool_choice"));
        let named = tool_use(
            one(),
            Some(serde_json::json!({"type": "function", "function": {"name": "f"}})),
            Some(false),
        )
        .unwrap();
        assert_eq!(named.choice, ToolChoice::Function("f".into()));
        assert_eq!(named.parallel, Some(false));
    }
}
