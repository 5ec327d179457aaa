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

/// Why a JSON tool definition cannot be read, naming the key (relative to the tool).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolDefError {
    #[error("must be a JSON object")]
    NotObject,
    #[error("`type`: only \"function\" tools are served, got {0:?}")]
    NotFunction(String),
    #[error("`{0}` is required and must be a string")]
    NoName(&'static str),
    #[error("`{0}` must be a JSON Schema object")]
    BadParameters(&'static str),
}

impl ToolDef {
    /// The parameter schema of a function that takes no arguments (what a tool without
    /// `parameters` gets).
    pub fn no_arguments() -> Value {
        serde_json::json!({"type": "object", "properties": {}})
    }

    /// A tool as OpenAI's chat API writes it (`{"type": "function", "function": {"name",
    /// "description", "parameters"}}`) or flat (`{"type": "function", "name", …}`, the Responses
    /// API's and BFCL's form; `type` may be absent). No `parameters`: a function without
    /// arguments. The one reader of such JSON, for requests and task files alike.
    pub fn from_openai(tool: &Value) -> Result<Self, ToolDefError> {
        let object = tool.as_object().ok_or(ToolDefError::NotObject)?;
        if let Some(kind) = object.get("type") {
            if kind.as_str() != Some("function") {
                let shown = kind
                    .as_str()
                    .map_or_else(|| kind.to_string(), str::to_string);
                return Err(ToolDefError::NotFunction(shown));
            }
        }
        let (function, prefix) = match object.get("function") {
            Some(nested) => (nested, true),
            None => (tool, false),
        };
        let field = |flat: &'static str, nested: &'static str| if prefix { nested } else { flat };
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or(ToolDefError::NoName(field("name", "function.name")))?;
        let parameters = match function.get("parameters") {
            None | Some(Value::Null) => Self::no_arguments(),
            Some(p) if p.is_object() => p.clone(),
            Some(_) => {
                return Err(ToolDefError::BadParameters(field(
                    "parameters",
                    "function.parameters",
                )))
            }
        };
        Ok(Self {
            name: name.to_string(),
            description: function
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            parameters,
        })
    }
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

#[cfg(test)]
mod from_openai_tests {
    use super::*;

    #[test]
    fn nested_and_flat_tools_read_alike_and_faults_are_named() {
        let nested = serde_json::json!({"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}});
        let flat = serde_json::json!({"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}});
        let bfcl =
            serde_json::json!({"name": "f", "description": "d", "parameters": {"type": "object"}});
        let read = ToolDef::from_openai(&nested);
        assert_eq!(read, ToolDef::from_openai(&flat));
        assert_eq!(read, ToolDef::from_openai(&bfcl));
        assert_eq!(read.map(|t| t.name), Ok("f".to_string()));
        let bad = |v: Value| ToolDef::from_openai(&v).err();
        assert_eq!(
            bad(serde_json::json!({"type": "web_search"})),
            Some(ToolDefError::NotFunction("web_search".into()))
        );
        assert_eq!(
            bad(serde_json::json!({"type": "function", "function": {}})),
            Some(ToolDefError::NoName("function.name"))
        );
        assert_eq!(
            bad(serde_json::json!({"name": "f", "parameters": 3})),
            Some(ToolDefError::BadParameters("parameters"))
        );
    }
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
