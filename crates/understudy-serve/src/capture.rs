//! Traffic capture: a profile's `capture = { rate, redact, patterns, fields }` keeps the request
//! body a client sent and the answer it got, redacted before anything is written, in the
//! request's log row (`capture`, JSON). Whole conversations are sampled together: a request is
//! kept when the hash of its conversation key falls under the rate, so every turn of a kept
//! conversation is kept and `understudy dataset from-log` can keep one conversation in one split.

use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use understudy_core::{ChatRequest, FinishReason, Role, ToolCall};

use crate::redact::{Counts, RedactError, Redactor, BUILT_IN};

/// A profile's capture settings as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapture {
    /// Share of conversations kept, 0 to 1 (default 1).
    #[serde(default = "all")]
    pub rate: f64,
    /// Built-in rules (default: all of email, phone, api_key, card; `[]` for none).
    pub redact: Option<Vec<String>>,
    /// Regular expressions whose matches are replaced by `[REDACTED]`.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Field paths of the request body whose values are replaced (`metadata.user_id`,
    /// `messages[*].name`).
    #[serde(default)]
    pub fields: Vec<String>,
}

fn all() -> f64 {
    1.0
}

/// A profile's capture, ready to use.
#[derive(Debug)]
pub struct Capture {
    pub rate: f64,
    redactor: std::sync::Arc<Redactor>,
    /// The settings as written (for comparing profiles).
    spec: String,
}

impl PartialEq for Capture {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

/// What is wrong with a capture setting.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("`rate` must be between 0 and 1, got {0}")]
    Rate(f64),
    #[error(transparent)]
    Redact(#[from] RedactError),
}

impl Capture {
    pub fn new(raw: &RawCapture) -> Result<Self, CaptureError> {
        if !(0.0..=1.0).contains(&raw.rate) {
            return Err(CaptureError::Rate(raw.rate));
        }
        let built_in = raw
            .redact
            .clone()
            .unwrap_or_else(|| BUILT_IN.iter().map(|s| s.to_string()).collect());
        let redactor = std::sync::Arc::new(Redactor::new(&built_in, &raw.patterns, &raw.fields)?);
        Ok(Self {
            rate: raw.rate,
            redactor,
            spec: format!(
                "{}\u{1f}{built_in:?}\u{1f}{:?}\u{1f}{:?}",
                raw.rate, raw.patterns, raw.fields
            ),
        })
    }

    /// Whether the conversation `key` is sampled.
    pub fn samples(&self, key: &str) -> bool {
        sampled(key, self.rate)
    }

    /// The redaction this capture applies (shadow mode stores its pairs through it too).
    pub fn redactor(&self) -> std::sync::Arc<Redactor> {
        self.redactor.clone()
    }
}

/// Whether the conversation `key` falls under `rate`: by a hash of the key, so every turn of a
/// conversation is sampled alike.
pub fn sampled(key: &str, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    let digest = Sha256::digest(key.as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(head) as f64 / u64::MAX as f64) < rate
}

/// The key a request's conversation is sampled and split by: the client's conversation id
/// (`x-conversation-id` or `user`) when it sends one, else a hash of the system prompt and the
/// first user turn, which every later turn of the conversation repeats.
pub fn conversation_key(request: &ChatRequest, client_id: Option<&str>) -> String {
    if let Some(id) = client_id.filter(|id| !id.is_empty()) {
        return hex::encode(&Sha256::digest(format!("id\u{1f}{id}").as_bytes())[..8]);
    }
    let mut hasher = Sha256::new();
    for role in [Role::System, Role::User] {
        if let Some(m) = request.messages.iter().find(|m| m.role == role) {
            hasher.update(m.content.as_bytes());
        }
        hasher.update([0x1f]);
    }
    hex::encode(&hasher.finalize()[..8])
}

/// A captured request while it is being answered.
#[derive(Debug)]
pub struct Pending {
    pub capture: std::sync::Arc<Capture>,
    pub api: &'static str,
    pub conversation: String,
    pub body: Vec<u8>,
    pub answer: Option<Answer>,
}

/// The answer a captured request got.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: Option<FinishReason>,
}

impl Pending {
    /// The stored record, redacted: `{api, conversation, request, response, redacted}`, with
    /// `response` null when the request got no answer. A body that nothing could redact is kept
    /// as the client wrote it (it parsed as JSON before it was captured), unparsed.
    pub fn record(self) -> String {
        let mut counts = Counts::new();
        let redactor = &self.capture.redactor;
        let request = match std::str::from_utf8(&self.body) {
            Ok(raw) if !redactor.may_change(raw) => raw.trim().to_string(),
            _ => {
                let mut request =
                    serde_json::from_slice::<Value>(&self.body).unwrap_or_else(|_| {
                        Value::String(String::from_utf8_lossy(&self.body).into_owned())
                    });
                redactor.apply(&mut request, &mut counts);
                request.to_string()
            }
        };
        let response = self.answer.map(|a| {
            let calls: Vec<Value> = a
                .tool_calls
                .iter()
                .map(|c| {
                    json!({"id": c.id, "name": c.name,
                           "arguments": redactor.text(&c.arguments, &mut counts)})
                })
                .collect();
            json!({
                "content": redactor.text(&a.content, &mut counts),
                "tool_calls": calls,
                "finish_reason": a.finish_reason,
            })
        });
        format!(
            r#"{{"api":{},"conversation":{},"request":{request},"response":{},"redacted":{}}}"#,
            Value::from(self.api),
            Value::from(self.conversation),
            response.unwrap_or(Value::Null),
            json!(counts),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_core::ChatMessage;

    fn capture(rate: f64) -> Capture {
        Capture::new(&RawCapture {
            rate,
            redact: None,
            patterns: Vec::new(),
            fields: vec!["user".into()],
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn conversations_are_sampled_whole_at_about_the_rate() {
        let c = capture(0.25);
        let kept = (0..4000)
            .filter(|i| c.samples(&format!("conversation-{i}")))
            .count();
        assert!((800..1200).contains(&kept), "{kept} of 4000 at 0.25");
        let first = ChatRequest {
            messages: vec![ChatMessage::system("S"), ChatMessage::user("Hi")],
            ..ChatRequest::default()
        };
        let mut later = first.clone();
        later.messages.push(ChatMessage::assistant("Hello"));
        later.messages.push(ChatMessage::user("More"));
        assert_eq!(
            conversation_key(&first, None),
            conversation_key(&later, None)
        );
        assert_ne!(
            conversation_key(&first, Some("a")),
            conversation_key(&first, None)
        );
        assert!(Capture::new(&RawCapture {
            rate: 1.5,
            redact: None,
            patterns: Vec::new(),
            fields: Vec::new()
        })
        .is_err());
    }

    #[test]
    fn a_record_is_redacted_request_and_answer_alike() {
        let pending = Pending {
            capture: std::sync::Arc::new(capture(1.0)),
            api: "chat",
            conversation: "k".into(),
            body: br#"{"model":"m","user":"u-17","messages":[{"role":"user","content":"I am bob@example.com"}]}"#.to_vec(),
            answer: Some(Answer {
                content: "Write to bob@example.com".into(),
                tool_calls: vec![ToolCall {
                    id: "c1".into(),
                    name: "mail".into(),
                    arguments: r#"{"to":"bob@example.com"}"#.into(),
                }],
                finish_reason: Some(FinishReason::ToolCalls),
            }),
        };
        let record: Value =
            serde_json::from_str(&pending.record()).unwrap_or_else(|e| panic!("{e}"));
        let text = record.to_string();
        assert!(!text.contains("bob@example.com"), "{text}");
        assert_eq!(record["request"]["user"], "[REDACTED]");
        assert_eq!(record["response"]["finish_reason"], "tool_calls");
        assert_eq!(record["response"]["tool_calls"][0]["name"], "mail");
        assert_eq!(record["redacted"]["email"], 3);
        assert_eq!(record["redacted"]["field"], 1);

        // A body with nothing to redact is kept as written.
        let plain = Pending {
            capture: std::sync::Arc::new(
                Capture::new(&RawCapture {
                    rate: 1.0,
                    redact: None,
                    patterns: Vec::new(),
                    fields: Vec::new(),
                })
                .unwrap_or_else(|e| panic!("{e}")),
            ),
            api: "chat",
            conversation: "k".into(),
            body: br#"{"model":"m","messages":[{"role":"user","content":"Hello there"}]}"#.to_vec(),
            answer: None,
        };
        let text = plain.record();
        assert!(
            text.contains(r#""request":{"model":"m","messages""#),
            "{text}"
        );
        let record: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert!(record["response"].is_null());
        assert_eq!(record["redacted"], json!({}));
    }
}
