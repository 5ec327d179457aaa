//! A capture record read back (for `understudy dataset from-log`): the body parsed by the same
//! parser the gateway answered it with, so the conversation, tools and response format are the
//! ones the gateway sent on, and the answer the client got.

use serde_json::Value;
use understudy_core::{ChatRequest, ToolCall};

use crate::api_kind::Api;

/// A captured request and its answer.
#[derive(Debug, Clone)]
pub struct Captured {
    /// `chat`, `messages` or `responses`.
    pub api: String,
    /// The conversation key the capture sampled by.
    pub conversation: String,
    pub request: ChatRequest,
    /// The answer's text and calls; `None` when the request got no answer.
    pub answer: Option<(String, Vec<ToolCall>)>,
    /// A Responses request continuing a stored response: its earlier turns are not in the body.
    pub continues_stored: bool,
}

/// Reads one record as `capture::Pending::record` wrote it; the error says what is wrong.
pub fn read(record: &str) -> Result<Captured, String> {
    let value: Value =
        serde_json::from_str(record).map_err(|e| format!("the record is not JSON: {e}"))?;
    let api_name = value["api"].as_str().unwrap_or_default();
    let api = match api_name {
        "chat" => Api::Chat,
        "messages" => Api::Messages,
        "responses" => Api::Responses,
        other => return Err(format!("unknown API {other:?} in the record")),
    };
    let body = value["request"].to_string();
    let parsed = api
        .parse(body.as_bytes())
        .map_err(|e| format!("the captured {api_name} body does not parse: {}", e.message))?;
    let continues_stored = api == Api::Responses
        && value["request"]["previous_response_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty());
    let answer = match &value["response"] {
        Value::Null => None,
        response => {
            let calls = response["tool_calls"]
                .as_array()
                .map(|calls| {
                    calls
                        .iter()
                        .map(|c| ToolCall {
                            id: c["id"].as_str().unwrap_or_default().to_string(),
                            name: c["name"].as_str().unwrap_or_default().to_string(),
                            arguments: c["arguments"].as_str().unwrap_or("{}").to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let text = response["content"].as_str().unwrap_or_default().to_string();
            Some((text, calls))
        }
    };
    Ok(Captured {
        api: api_name.to_string(),
        conversation: value["conversation"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        request: parsed.request,
        answer,
        continues_stored,
    })
}

/// An OpenAI chat request body (`model` may be left out) parsed as the gateway parses one, so
/// an imported line is read exactly as a live request would be; the error names the field.
pub fn parse_chat_body(mut body: Value) -> Result<ChatRequest, String> {
    if let Value::Object(map) = &mut body {
        map.entry("model")
            .or_insert_with(|| Value::from("imported"));
    }
    let bytes = body.to_string();
    crate::wire::parse(bytes.as_bytes())
        .map(|parsed| parsed.request)
        .map_err(|e| e.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_record_reads_back_with_its_answer_and_a_bad_one_is_named() {
        let record = r#"{"api":"chat","conversation":"c1","request":{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]},"response":{"content":"","tool_calls":[{"id":"x","name":"f","arguments":"{}"}],"finish_reason":"tool_calls"},"redacted":{}}"#;
        let read = read(record).unwrap();
        assert_eq!(read.request.messages.len(), 1);
        assert_eq!(read.request.tools.tools.len(), 1);
        assert_eq!(read.answer.unwrap().1[0].name, "f");
        assert!(!read.continues_stored);
        let bad = r#"{"api":"chat","conversation":"c","request":{"model":"m","messages":"x"},"response":null}"#;
        assert!(super::read(bad).unwrap_err().contains("messages"));
        let stored = r#"{"api":"responses","conversation":"c","request":{"model":"m","input":"more","previous_response_id":"resp_1"},"response":null}"#;
        assert!(super::read(stored).unwrap().continues_stored);
    }
}
