//! A `kind = "reference"` answer: the gold is what the reference model answered to the same
//! conversation (a task made from traffic). The row says which kind of answer that was: calls
//! (matched call by call), a JSON answer to a schema (matched field by field), or text (compared
//! by a pairwise judge). The row may carry the tools and the schema the request was sent with.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use understudy_core::{ResponseFormat, ToolCall, ToolUse};

/// Where a reference item's answer kind, tools and schema come from.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    /// Row field naming the reference's answer kind: `text`, `calls` or `json`.
    #[serde(default = "default_kind_field")]
    pub kind_field: String,
    /// Row field with the tools the request offered (an OpenAI `tools` list; `[]` or null: none).
    #[serde(default)]
    pub tools_field: Option<String>,
    /// Row field with the JSON Schema the request asked the answer to keep (null: none).
    #[serde(default)]
    pub schema_field: Option<String>,
}

fn default_kind_field() -> String {
    "reference_kind".into()
}

/// What the reference answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    /// Free text: judged pairwise.
    Text,
    /// Tool calls, as a JSON list of `{"name", "arguments"}`: matched call by call.
    Calls,
    /// A JSON document (a schema was asked for): matched field by field.
    Json,
}

impl ReferenceKind {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "text" => Ok(Self::Text),
            "calls" => Ok(Self::Calls),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "reference kind {other:?} is not one of text, calls, json"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Calls => "calls",
            Self::Json => "json",
        }
    }
}

/// A reference's calls as written in a row: `[{"name": "f", "arguments": {...}}]`.
pub fn calls_of(target: &str) -> Result<Vec<ToolCall>, String> {
    let list: Vec<Value> = serde_json::from_str(target)
        .map_err(|e| format!("the reference calls are not a JSON list: {e}"))?;
    list.iter()
        .enumerate()
        .map(|(i, call)| {
            let name = call["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| format!("reference call [{i}] has no `name`"))?;
            let arguments = match &call["arguments"] {
                Value::String(text) => serde_json::from_str::<Value>(text)
                    .map_err(|e| format!("reference call [{i}]: `arguments` is not JSON: {e}"))?,
                Value::Null => Value::Object(Default::default()),
                other => other.clone(),
            };
            if !arguments.is_object() {
                return Err(format!(
                    "reference call [{i}]: `arguments` is not an object"
                ));
            }
            Ok(ToolCall {
                id: format!("call_ref{i}"),
                name: name.to_string(),
                arguments: arguments.to_string(),
            })
        })
        .collect()
}

/// The calls as BFCL's possible answers (each argument's one allowed value), for the checker.
pub fn as_bfcl_gold(calls: &[ToolCall]) -> Value {
    Value::Array(
        calls
            .iter()
            .map(|call| {
                let arguments: serde_json::Map<String, Value> =
                    serde_json::from_str(&call.arguments).unwrap_or_default();
                let possible: serde_json::Map<String, Value> = arguments
                    .into_iter()
                    .map(|(k, v)| (k, Value::Array(vec![v])))
                    .collect();
                serde_json::json!({ call.name.clone(): possible })
            })
            .collect(),
    )
}

/// The tools a row's `tools_field` text offers (none for `[]`, null or empty).
pub fn offered_tools(text: Option<&str>) -> Result<ToolUse, String> {
    match text.map(str::trim) {
        None | Some("") | Some("null") | Some("[]") => Ok(ToolUse::default()),
        Some(text) => super::tools_of(text),
    }
}

/// The response format a row's `schema_field` text asks for (text for null or empty).
pub fn response_format(text: Option<&str>) -> Result<ResponseFormat, String> {
    match text.map(str::trim) {
        None | Some("") | Some("null") => Ok(ResponseFormat::Text),
        Some(text) => {
            let schema: Value =
                serde_json::from_str(text).map_err(|e| format!("the schema is not JSON: {e}"))?;
            if schema == Value::Object(Default::default()) {
                return Ok(ResponseFormat::JsonObject);
            }
            Ok(ResponseFormat::JsonSchema { schema })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_calls_read_with_text_or_object_arguments_and_faults_are_named() {
        let calls = calls_of(
            r#"[{"name":"f","arguments":{"a":1}},{"name":"g","arguments":"{\"b\":\"x\"}"}]"#,
        )
        .unwrap();
        assert_eq!(calls[0].arguments, r#"{"a":1}"#);
        assert_eq!(calls[1].arguments, r#"{"b":"x"}"#);
        assert_eq!(
            as_bfcl_gold(&calls),
            serde_json::json!([{"f": {"a": [1]}}, {"g": {"b": ["x"]}}])
        );
        assert!(calls_of(r#"[{"arguments":{}}]"#)
            .unwrap_err()
            .contains("[0] has no `name`"));
        assert!(calls_of(r#"[{"name":"f","arguments":3}]"#)
            .unwrap_err()
            .contains("not an object"));
        assert_eq!(ReferenceKind::parse("calls"), Ok(ReferenceKind::Calls));
        assert!(ReferenceKind::parse("prose").is_err());
    }

    #[test]
    fn no_tools_and_no_schema_are_spelled_several_ways() {
        for none in [None, Some(""), Some("null"), Some("[]")] {
            assert!(offered_tools(none).unwrap().is_empty());
        }
        assert_eq!(response_format(Some("null")), Ok(ResponseFormat::Text));
        assert_eq!(response_format(Some("{}")), Ok(ResponseFormat::JsonObject));
        assert!(matches!(
            response_format(Some(r#"{"type":"object"}"#)),
            Ok(ResponseFormat::JsonSchema { .. })
        ));
    }
}
