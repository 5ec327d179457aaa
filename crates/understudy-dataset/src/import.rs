//! An OpenAI chat JSONL (a fine-tuning file, or an exported log) made into items: each line's
//! `messages` end with the assistant's answer, which becomes the reference; the turns before
//! it, with the line's `tools` and `response_format`, are read by the gateway's own request
//! parser, so a line is accepted exactly when the gateway would accept it as a request.

use std::path::Path;

use serde_json::Value;
use understudy_core::ToolCall;

use crate::item::{conversation_key, TrafficItem};
use crate::DatasetError;

/// The items of the JSONL file at `path`; the first bad line stops it, named with its line.
pub fn items(path: &Path) -> Result<Vec<TrafficItem>, DatasetError> {
    let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut items = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| DatasetError::Line {
            path: path.display().to_string(),
            line: index + 1,
            message,
        };
        let item = item(line, &format!("{}:{}", path.display(), index + 1)).map_err(bad)?;
        if seen.insert(item.id.clone()) {
            items.push(item);
        }
    }
    if items.is_empty() {
        return Err(DatasetError::Empty(format!(
            "{} has no conversations",
            path.display()
        )));
    }
    Ok(items)
}

/// One line: `{"messages": [..., {"role": "assistant", ...}], "tools"?, "response_format"?}`.
fn item(line: &str, source: &str) -> Result<TrafficItem, String> {
    let mut body: Value =
        serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let Some(Value::Array(messages)) = body.get_mut("messages") else {
        return Err("`messages` is missing or not a list".into());
    };
    // Fine-tuning files may weigh assistant turns; the weight is not part of a request.
    for m in messages.iter_mut() {
        if let Value::Object(map) = m {
            map.remove("weight");
        }
    }
    let last = messages.pop().filter(|m| m["role"] == "assistant").ok_or(
        "the last of `messages` must be the assistant's answer (the reference)".to_string(),
    )?;
    let index = messages.len();
    let (text, calls) = answer(&last).map_err(|why| format!("messages[{index}]: {why}"))?;
    // Only the request's own keys go to the parser (a fine-tuning line has no others).
    let request = understudy_serve::capture_read::parse_chat_body(body)?;
    let conversation = conversation_key(&request.messages);
    TrafficItem::new(conversation, &request, &text, calls, source.to_string()).map_err(String::from)
}

/// The assistant turn's text (a string or text parts) and calls.
fn answer(turn: &Value) -> Result<(String, Vec<ToolCall>), String> {
    let text = match &turn["content"] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => return Err("`content` must be a string or a list of text parts".into()),
    };
    let calls = match &turn["tool_calls"] {
        Value::Null => Vec::new(),
        Value::Array(calls) => calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let function = &c["function"];
                let name = function["name"]
                    .as_str()
                    .ok_or(format!("`tool_calls[{i}].function.name` is missing"))?;
                let arguments = match &function["arguments"] {
                    Value::String(s) => s.clone(),
                    Value::Null => "{}".into(),
                    other => other.to_string(),
                };
                Ok(ToolCall {
                    id: c["id"].as_str().unwrap_or_default().to_string(),
                    name: name.to_string(),
                    arguments,
                })
            })
            .collect::<Result<_, String>>()?,
        _ => return Err("`tool_calls` must be a list".into()),
    };
    Ok((text, calls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fine_tuning_line_becomes_a_conversation_and_its_answer() {
        let line = r#"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Capital of France?"},{"role":"assistant","content":"Paris.","weight":1}]}"#;
        let item = item(line, "f:1").unwrap();
        assert_eq!(item.messages.len(), 2);
        assert_eq!(item.reference.gold(), "Paris.");
        assert_eq!(item.input(), "Capital of France?");
        let calls = r#"{"messages":[{"role":"user","content":"Weather in Oslo?"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]}],"tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}"#;
        let item = super::item(calls, "f:2").unwrap();
        assert_eq!(item.reference.kind(), "calls");
        assert_eq!(item.tools.len(), 1);
    }

    #[test]
    fn a_line_without_an_answer_or_with_a_bad_turn_is_named() {
        let no_answer = r#"{"messages":[{"role":"user","content":"hi"}]}"#;
        assert!(item(no_answer, "f:1")
            .unwrap_err()
            .contains("assistant's answer"));
        let bad_role =
            r#"{"messages":[{"role":"robot","content":"hi"},{"role":"assistant","content":"x"}]}"#;
        assert!(item(bad_role, "f:1")
            .unwrap_err()
            .contains("messages[0].role"));
    }
}
