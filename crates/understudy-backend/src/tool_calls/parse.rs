//! Reads tool calls out of a model's text, in the forms open models write them: Hermes/Qwen
//! `<tool_call>{…}</tool_call>` blocks, Llama 3.x bare `{"name", "parameters"}` JSON (after an
//! optional `<|python_tag|>`), Mistral `[TOOL_CALLS] [{…}]`, and the common slips of small
//! models: bare or fenced JSON, several calls in one block or on one line, comma-separated.
//! Untagged JSON counts as a call only when it names an offered tool; a call-shaped output that
//! does not parse (a tagged block that is not JSON, an unknown tool, arguments that are not an
//! object) is counted as unparsed and its text stays in the answer, never dropped.

use serde_json::{Map, Value};
use understudy_core::ToolUse;

/// The calls found in a text and what is left of it.
#[derive(Debug, Default, PartialEq)]
pub struct Found {
    /// The text that is not a call, trimmed.
    pub content: String,
    /// (function name, arguments object), in the order written.
    pub calls: Vec<(String, Map<String, Value>)>,
    /// Call-shaped outputs that did not parse; their text is in `content`.
    pub unparsed: u32,
}

/// Openers after which the rest of an answer is a call (only at its start).
pub(super) const PREFIX_MARKERS: [&str; 2] = ["<|python_tag|>", "[TOOL_CALLS]"];
const OPEN_TAG: &str = "<tool_call>";
const CLOSE_TAG: &str = "</tool_call>";
const FENCE: &str = "```";

/// What one JSON value turned out to be.
enum Reading {
    Calls(Vec<(String, Map<String, Value>)>),
    /// Looked like a call and was not a good one.
    Broken,
    /// Not a call at all (ordinary JSON content).
    NotACall,
}

/// The calls in `text` for the tools `tools` offers.
pub fn find_calls(text: &str, tools: &ToolUse) -> Found {
    let mut found = Found::default();
    let mut content = String::new();
    let mut rest = text.trim_start();
    for marker in PREFIX_MARKERS {
        if let Some(after) = rest.strip_prefix(marker) {
            rest = after.trim_start();
        }
    }
    if rest.starts_with('{') || rest.starts_with('[') {
        let (reading, used) = read_values(rest, tools);
        match reading {
            Reading::Calls(calls) => {
                found.calls.extend(calls);
                rest = &rest[used..];
            }
            Reading::Broken => found.unparsed += 1,
            Reading::NotACall => {}
        }
    }
    while !rest.is_empty() {
        let tag = rest.find(OPEN_TAG);
        let fence = rest.find(FENCE);
        let (at, tagged) = match (tag, fence) {
            (Some(t), Some(f)) if f < t => (f, false),
            (Some(t), _) => (t, true),
            (None, Some(f)) => (f, false),
            (None, None) => {
                content.push_str(rest);
                break;
            }
        };
        content.push_str(&rest[..at]);
        let block = &rest[at..];
        let (inner, whole) = if tagged {
            enclosed(block, OPEN_TAG, CLOSE_TAG)
        } else {
            fenced(block)
        };
        match read_block(inner, tools) {
            Reading::Calls(calls) if !calls.is_empty() => found.calls.extend(calls),
            Reading::NotACall if !tagged => content.push_str(&block[..whole]),
            _ => {
                found.unparsed += 1;
                content.push_str(&block[..whole]);
            }
        }
        rest = &block[whole..];
    }
    found.content = content.trim().to_string();
    found
}

/// `block` opened by `open`: its inside and the length of the whole block (to `close`, or to the
/// end when the model stopped before closing it).
fn enclosed<'a>(block: &'a str, open: &str, close: &str) -> (&'a str, usize) {
    let body = &block[open.len()..];
    match body.find(close) {
        Some(end) => (&body[..end], open.len() + end + close.len()),
        None => (body, block.len()),
    }
}

/// A fenced block (```json … ```): its inside and its whole length.
fn fenced(block: &str) -> (&str, usize) {
    let body = &block[FENCE.len()..];
    // The info string (`json`, `python`, …) runs to the end of the line.
    let start = body
        .find('\n')
        .filter(|&n| !body[..n].contains(FENCE))
        .map_or(0, |n| n + 1);
    match body[start..].find(FENCE) {
        Some(end) => (
            &body[start..start + end],
            FENCE.len() + start + end + FENCE.len(),
        ),
        None => (&body[start..], block.len()),
    }
}

/// The calls inside one tagged or fenced block: it must hold nothing but JSON values.
fn read_block(inner: &str, tools: &ToolUse) -> Reading {
    let inner = inner.trim();
    if inner.is_empty() {
        return Reading::Broken;
    }
    let (reading, used) = read_values(inner, tools);
    if inner[used..].trim().is_empty() {
        reading
    } else if matches!(reading, Reading::NotACall) {
        Reading::NotACall
    } else {
        Reading::Broken
    }
}

/// Reads JSON values from the start of `text` (separated by whitespace or commas) for as long as
/// they parse: what they are, and how many bytes they took.
fn read_values(text: &str, tools: &ToolUse) -> (Reading, usize) {
    let mut calls = Vec::new();
    let mut used = 0;
    let mut broken = false;
    let mut any = false;
    loop {
        let rest = &text[used..];
        let skipped = rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n', ',']).len();
        let rest = &rest[skipped..];
        if !(rest.starts_with('{') || rest.starts_with('[')) {
            break;
        }
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let Some(Ok(value)) = values.next() else {
            // A value that starts like JSON and does not parse.
            if any || looks_like_call_text(rest) {
                broken = true;
            }
            break;
        };
        used += skipped + values.byte_offset();
        any = true;
        match read_value(value, tools) {
            Reading::Calls(c) => calls.extend(c),
            Reading::Broken => broken = true,
            Reading::NotACall => return (Reading::NotACall, used),
        }
    }
    let reading = if broken {
        Reading::Broken
    } else if calls.is_empty() {
        Reading::NotACall
    } else {
        Reading::Calls(calls)
    };
    (reading, used)
}

/// Broken JSON that still reads like a call (`{"name": …`).
fn looks_like_call_text(text: &str) -> bool {
    let head: String = text.chars().take(40).collect();
    head.contains("\"name\"") || head.contains("\"function\"")
}

fn read_value(value: Value, tools: &ToolUse) -> Reading {
    match value {
        Value::Array(items) if !items.is_empty() => {
            let mut calls = Vec::new();
            for item in items {
                match read_value(item, tools) {
                    Reading::Calls(c) => calls.extend(c),
                    other => return other,
                }
            }
            Reading::Calls(calls)
        }
        Value::Object(object) => read_object(object, tools),
        _ => Reading::NotACall,
    }
}

/// `{"name", "arguments" | "parameters"}`, or OpenAI's `{"type": "function", "function": {…}}`.
fn read_object(mut object: Map<String, Value>, tools: &ToolUse) -> Reading {
    if let Some(Value::Object(inner)) = object.remove("function") {
        return read_object(inner, tools);
    }
    let Some(Value::String(name)) = object.remove("name") else {
        return Reading::NotACall;
    };
    let args = object
        .remove("arguments")
        .or_else(|| object.remove("parameters"));
    let args = match args {
        None if object.is_empty() => Value::Object(Map::new()),
        None => return Reading::NotACall,
        Some(Value::String(text)) => match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(_) => return Reading::Broken,
        },
        Some(v) => v,
    };
    match (tools.find(&name), args) {
        (Some(_), Value::Object(args)) => Reading::Calls(vec![(name, args)]),
        _ => Reading::Broken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_core::ToolDef;

    fn tools() -> ToolUse {
        let def = |name: &str| ToolDef {
            name: name.into(),
            description: None,
            parameters: serde_json::json!({"type": "object"}),
        };
        ToolUse {
            tools: vec![def("get_weather"), def("add")],
            ..ToolUse::default()
        }
    }

    fn names(found: &Found) -> Vec<&str> {
        found.calls.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn hermes_blocks_one_or_several() {
        let text = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1}}\n</tool_call>";
        let found = find_calls(text, &tools());
        assert_eq!(names(&found), ["get_weather", "add"]);
        assert_eq!(found.calls[0].1["city"], "Paris");
        assert_eq!((found.content.as_str(), found.unparsed), ("", 0));
        // Two calls in one block, on one line, comma-separated; and an unclosed block.
        let one_block = "<tool_call>{\"name\": \"add\", \"arguments\": {}}, {\"name\": \"get_weather\", \"arguments\": {}}</tool_call>";
        assert_eq!(
            names(&find_calls(one_block, &tools())),
            ["add", "get_weather"]
        );
        let unclosed = "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 2}}";
        assert_eq!(names(&find_calls(unclosed, &tools())), ["add"]);
    }

    #[test]
    fn prose_around_a_call_stays_content() {
        let text = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>";
        let found = find_calls(text, &tools());
        assert_eq!(found.content, "Let me check.");
        assert_eq!(names(&found), ["get_weather"]);
    }

    #[test]
    fn bare_fenced_llama_and_mistral_forms() {
        let bare = "{\"name\": \"add\", \"arguments\": \"{\\\"a\\\": 1}\"}";
        let found = find_calls(bare, &tools());
        assert_eq!(names(&found), ["add"]);
        assert_eq!(found.calls[0].1["a"], 1);
        let fenced =
            "```json\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n```";
        assert_eq!(names(&find_calls(fenced, &tools())), ["get_weather"]);
        let llama = "<|python_tag|>{\"name\": \"add\", \"parameters\": {\"a\": 3}}";
        assert_eq!(find_calls(llama, &tools()).calls[0].1["a"], 3);
        let mistral = "[TOOL_CALLS] [{\"name\": \"add\", \"arguments\": {}}, {\"name\": \"add\", \"arguments\": {\"a\": 1}}]";
        assert_eq!(names(&find_calls(mistral, &tools())), ["add", "add"]);
        let openai =
            "{\"type\": \"function\", \"function\": {\"name\": \"add\", \"arguments\": {}}}";
        assert_eq!(names(&find_calls(openai, &tools())), ["add"]);
    }

    #[test]
    fn json_and_code_that_are_not_calls_are_plain_content() {
        for text in [
            "{\"answer\": 4}",
            "Here:\n```python\nprint(1)\n```\nDone.",
            "[1, 2, 3]",
            "The weather is fine.",
        ] {
            let found = find_calls(text, &tools());
            assert!(found.calls.is_empty(), "{text}");
            assert_eq!(found.unparsed, 0, "{text}");
            assert_eq!(found.content, text.trim());
        }
    }

    #[test]
    fn call_shaped_output_that_does_not_parse_is_counted_and_kept() {
        for text in [
            "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1}\n</tool_call>",
            "<tool_call>\nadd(a=1)\n</tool_call>",
            "{\"name\": \"delete_everything\", \"arguments\": {}}",
            "```json\n{\"name\": \"add\", \"arguments\": [1, 2]}\n```",
            "{\"name\": \"add\", \"arguments\": {\"a\": 1",
        ] {
            let found = find_calls(text, &tools());
            assert!(found.calls.is_empty(), "{text}");
            assert_eq!(found.unparsed, 1, "{text}");
            assert_eq!(found.content, text.trim(), "{text}");
        }
    }
}
