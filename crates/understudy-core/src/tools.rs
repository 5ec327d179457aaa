//! Tool calling as a request and an answer carry it: the functions offered, which one the model
//! must (or may) call, and the calls it made. Nothing about how a backend prompts or parses them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A function the model may call: its name, what it does, and a JSON Schema of its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema object (`{"type": "object", "properties": …}`).
    pub parameters: Value,
}

/// One call the model made: an id to answer it by, the function, and its arguments as JSON text
/// (the OpenAI API's form; a JSON object once parsed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// Whether, and which, a tool must be called.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides between answering and calling.
    #[default]
    Auto,
    /// No call: the tools are context only.
    None,
    /// At least one call.
    Required,
    /// A call to this function.
    Function(String),
}

/// The tools a request offers and how they may be used.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ToolUse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDef>,
    #[serde(default, skip_serializing_if = "is_auto")]
    pub choice: ToolChoice,
    /// `Some(false)`: at most one call per answer. `None`: the backend's default (several allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<bool>,
}

fn is_auto(choice: &ToolChoice) -> bool {
    *choice == ToolChoice::Auto
}

impl ToolUse {
    /// True when the request offers no tools (nothing changes how it is served).
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// True when the answer may be a call: tools offered and the choice is not `none`.
    pub fn may_call(&self) -> bool {
        !self.tools.is_empty() && self.choice != ToolChoice::None
    }

    /// The offered function named `name`, if any.
    pub fn find(&self, name: &str) -> Option<&ToolDef> {
        self.tools.iter().find(|t| t.name == name)
    }
}

/// A piece of a streamed tool call, in the shape the OpenAI SDKs reassemble: the first piece of
/// call `index` carries its id and name, later pieces append to its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: String,
}

impl ToolCallDelta {
    /// A whole call as one piece.
    pub fn whole(index: u32, call: &ToolCall) -> Self {
        Self {
            index,
            id: Some(call.id.clone()),
            name: Some(call.name.clone()),
            arguments: call.arguments.clone(),
        }
    }
}

/// Assembles streamed [`ToolCallDelta`]s into calls, in index order.
#[derive(Debug, Default, Clone)]
pub struct ToolCallAssembler {
    calls: Vec<(u32, ToolCall)>,
}

impl ToolCallAssembler {
    pub fn push(&mut self, delta: ToolCallDelta) {
        let slot = match self.calls.iter_mut().find(|(i, _)| *i == delta.index) {
            Some((_, call)) => call,
            None => {
                self.calls.push((
                    delta.index,
                    ToolCall {
                        id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    },
                ));
                let last = self.calls.len() - 1;
                &mut self.calls[last].1
            }
        };
        if let Some(id) = delta.id {
            slot.id = id;
        }
        if let Some(name) = delta.name {
            slot.name.push_str(&name);
        }
        slot.arguments.push_str(&delta.arguments);
    }

    pub fn finish(mut self) -> Vec<ToolCall> {
        self.calls.sort_by_key(|(i, _)| *i);
        self.calls.into_iter().map(|(_, c)| c).collect()
    }
}

/// A fresh call id in the OpenAI style (`call_` and 24 alphanumerics), unique within a process
/// and unlikely to repeat across processes.
pub fn new_call_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos ^ (n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) ^ u64::from(std::process::id());
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut id = String::from("call_");
    for _ in 0..24 {
        // xorshift keeps the characters from repeating the counter's pattern.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        id.push(char::from(ALPHABET[(x % ALPHABET.len() as u64) as usize]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_pieces_reassemble_in_index_order() {
        let mut a = ToolCallAssembler::default();
        let piece = |index, id: Option<&str>, name: Option<&str>, args: &str| ToolCallDelta {
            index,
            id: id.map(str::to_string),
            name: name.map(str::to_string),
            arguments: args.into(),
        };
        a.push(piece(1, Some("b"), Some("g"), ""));
        a.push(piece(0, Some("a"), Some("f"), "{\"x\":"));
        a.push(piece(0, None, None, " 1}"));
        a.push(piece(1, None, None, "{}"));
        let calls = a.finish();
        assert_eq!(calls.len(), 2);
        assert_eq!((calls[0].id.as_str(), calls[0].name.as_str()), ("a", "f"));
        assert_eq!(calls[0].arguments, "{\"x\": 1}");
        assert_eq!(calls[1].arguments, "{}");
    }

    #[test]
    fn call_ids_differ() {
        let a = new_call_id();
        let b = new_call_id();
        assert!(a.starts_with("call_") && a.len() == 29);
        assert_ne!(a, b);
    }

    #[test]
    fn an_empty_tool_use_serializes_to_nothing_that_would_move_a_cache_key() {
        let json = serde_json::to_string(&ToolUse::default()).unwrap();
        assert_eq!(json, "{}");
    }
}
