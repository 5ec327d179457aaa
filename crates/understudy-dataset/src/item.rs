//! One item of a traffic task: a conversation as the reference model was sent it, and what the
//! reference answered, with the tools and response format of the request.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use understudy_core::{ChatMessage, ChatRequest, ResponseFormat, Role, ToolCall};

/// What the reference answered: text, calls, or a JSON document (a JSON format was asked for).
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    Text(String),
    Calls(Vec<ToolCall>),
    Json(String),
}

impl Reference {
    /// The kind's name as the task's `reference_kind` field spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Reference::Text(_) => "text",
            Reference::Calls(_) => "calls",
            Reference::Json(_) => "json",
        }
    }

    /// The gold text: the answer, or the calls as `[{"name", "arguments": {…}}]`.
    pub fn gold(&self) -> String {
        match self {
            Reference::Text(t) | Reference::Json(t) => t.clone(),
            Reference::Calls(calls) => Value::Array(
                calls
                    .iter()
                    .map(|c| {
                        let arguments: Value =
                            serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
                        json!({"name": c.name, "arguments": arguments})
                    })
                    .collect(),
            )
            .to_string(),
        }
    }
}

/// A captured or imported request with the reference's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficItem {
    /// Stable: a hash of the conversation key and the turns sent.
    pub id: String,
    /// Turns of one conversation share it; a conversation is never split across splits.
    pub conversation: String,
    pub messages: Vec<ChatMessage>,
    /// The tools offered, in OpenAI's form (empty: none).
    pub tools: Vec<Value>,
    /// The JSON Schema asked for (`{}` for any JSON object); `None`: free text.
    pub schema: Option<Value>,
    pub reference: Reference,
    /// Where it came from: the log row's time, or the file and line.
    pub source: String,
}

/// Items left out, counted by reason (shown, never dropped silently).
pub type Skipped = BTreeMap<String, usize>;

impl TrafficItem {
    /// The item a request and its answer make, or why it cannot be one.
    pub fn new(
        conversation: String,
        request: &ChatRequest,
        answer_text: &str,
        answer_calls: Vec<ToolCall>,
        source: String,
    ) -> Result<Self, &'static str> {
        let messages = request.messages.clone();
        if !matches!(
            messages.last().map(|m| m.role),
            Some(Role::User) | Some(Role::Tool)
        ) {
            return Err("the request does not end with a user or tool turn");
        }
        let schema = match &request.response_format {
            ResponseFormat::Text => None,
            ResponseFormat::JsonObject => Some(json!({})),
            ResponseFormat::JsonSchema { schema } => Some(schema.clone()),
        };
        let reference = if !answer_calls.is_empty() {
            Reference::Calls(answer_calls)
        } else if answer_text.trim().is_empty() {
            return Err("the reference's answer is empty");
        } else if schema.is_some() {
            if serde_json::from_str::<Value>(answer_text.trim()).is_err() {
                return Err("a JSON answer was asked for and the reference's is not JSON");
            }
            Reference::Json(answer_text.trim().to_string())
        } else {
            Reference::Text(answer_text.to_string())
        };
        let tools = request
            .tools
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters}})
            })
            .collect();
        let mut hasher = Sha256::new();
        hasher.update(conversation.as_bytes());
        hasher.update(serde_json::to_string(&messages).unwrap_or_default());
        let id = hex::encode(&hasher.finalize()[..8]);
        Ok(Self {
            id,
            conversation,
            messages,
            tools,
            schema,
            reference,
            source,
        })
    }

    /// The last user turn: the item's input as a task shows and searches it.
    pub fn input(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .unwrap_or("")
    }

    /// The conversation as text, for near-duplicate search: its latest part.
    pub fn text_for_similarity(&self) -> String {
        let whole: Vec<String> = self
            .messages
            .iter()
            .map(|m| format!("{}: {}", m.role, m.content))
            .collect();
        let whole = whole.join("\n");
        let cut = whole.len().saturating_sub(1500);
        let start = (cut..=whole.len())
            .find(|i| whole.is_char_boundary(*i))
            .unwrap_or(0);
        whole[start..].to_string()
    }
}

/// The conversation key of an imported conversation: as the gateway keys one without a client
/// id (its system prompt and first user turn), so that its turns stay together.
pub fn conversation_key(messages: &[ChatMessage]) -> String {
    let mut hasher = Sha256::new();
    for role in [Role::System, Role::User] {
        if let Some(m) = messages.iter().find(|m| m.role == role) {
            hasher.update(m.content.as_bytes());
        }
        hasher.update([0x1f]);
    }
    hex::encode(&hasher.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(format: ResponseFormat) -> ChatRequest {
        ChatRequest {
            response_format: format,
            ..ChatRequest::new("m", vec![ChatMessage::user("hi")])
        }
    }

    #[test]
    fn the_reference_kind_follows_the_answer_and_the_format_asked() {
        let text = TrafficItem::new(
            "c".into(),
            &request(ResponseFormat::Text),
            "hello",
            vec![],
            "s".into(),
        );
        assert_eq!(text.unwrap().reference.kind(), "text");
        let json = TrafficItem::new(
            "c".into(),
            &request(ResponseFormat::JsonObject),
            " {\"a\":1} ",
            vec![],
            "s".into(),
        );
        assert_eq!(json.unwrap().reference, Reference::Json("{\"a\":1}".into()));
        let not_json = TrafficItem::new(
            "c".into(),
            &request(ResponseFormat::JsonObject),
            "sure",
            vec![],
            "s".into(),
        );
        assert!(not_json.is_err());
        let call = ToolCall {
            id: "1".into(),
            name: "f".into(),
            arguments: "{\"x\":2}".into(),
        };
        let calls = TrafficItem::new(
            "c".into(),
            &request(ResponseFormat::Text),
            "",
            vec![call],
            "s".into(),
        )
        .unwrap();
        assert_eq!(
            calls.reference.gold(),
            r#"[{"arguments":{"x":2},"name":"f"}]"#
        );
        assert!(TrafficItem::new(
            "c".into(),
            &request(ResponseFormat::Text),
            " ",
            vec![],
            "s".into()
        )
        .is_err());
    }
}
