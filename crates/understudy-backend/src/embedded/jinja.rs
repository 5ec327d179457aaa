//! The GGUF's own Jinja chat template, rendered with minijinja the way Hugging Face transformers
//! renders it (Python string methods, `raise_exception`, a `tojson` that writes `json.dumps`
//! spacing): used for requests that carry tools or tool turns, which llama.cpp's fixed built-in
//! templates cannot express. Tools arrive as OpenAI `{"type": "function", "function": …}`
//! objects and a call's arguments as an object, as transformers and vLLM pass them.

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, Value as JinjaValue};
use serde_json::{json, Value};
use understudy_core::{ChatMessage, ToolUse};

use crate::BackendError;

/// Whether a template source can render tool definitions itself.
pub(super) fn supports_tools(source: &str) -> bool {
    source.contains("tools")
}

/// The tools as the template receives them, keys in the order OpenAI clients write them (the
/// parameter schema's own keys come sorted: the request was read into a sorted map).
fn tools_value(tools: &ToolUse) -> Vec<JinjaValue> {
    tools
        .tools
        .iter()
        .map(|t| {
            let mut function: Vec<(&str, JinjaValue)> =
                vec![("name", JinjaValue::from(t.name.as_str()))];
            if let Some(d) = &t.description {
                function.push(("description", JinjaValue::from(d.as_str())));
            }
            function.push(("parameters", JinjaValue::from_serialize(&t.parameters)));
            JinjaValue::from_iter([
                ("type", JinjaValue::from("function")),
                ("function", JinjaValue::from_iter(function)),
            ])
        })
        .collect()
}

/// One message as the template receives it; a call's arguments as an object.
fn message_value(m: &ChatMessage) -> Value {
    let mut v = json!({"role": m.role.as_str(), "content": m.content});
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|c| {
                let args: Value = serde_json::from_str(&c.arguments).unwrap_or(json!({}));
                json!({"id": c.id, "type": "function",
                       "function": {"name": c.name, "arguments": args}})
            })
            .collect();
        v["tool_calls"] = json!(calls);
    }
    if let Some(id) = &m.tool_call_id {
        v["tool_call_id"] = json!(id);
    }
    v
}

/// Python's `json.dumps` with its default separators, as transformers' `tojson` writes it (no HTML
/// escaping, non-ASCII kept, keys in the map's own order); `indent` switches to the pretty form.
fn tojson(value: JinjaValue, indent: Option<usize>) -> Result<String, Error> {
    let mut out = String::new();
    dumps(&value, indent, 0, &mut out)?;
    Ok(out)
}

fn dumps(
    value: &JinjaValue,
    indent: Option<usize>,
    depth: usize,
    out: &mut String,
) -> Result<(), Error> {
    let (open_line, close_line) = match indent {
        Some(n) => (
            format!("\n{}", " ".repeat(n * (depth + 1))),
            format!("\n{}", " ".repeat(n * depth)),
        ),
        None => (String::new(), String::new()),
    };
    let comma = if indent.is_some() { "," } else { ", " };
    match value.kind() {
        ValueKind::Map => {
            out.push('{');
            for (i, key) in value.try_iter()?.enumerate() {
                out.push_str(if i == 0 { "" } else { comma });
                out.push_str(&open_line);
                let name = key.as_str().map_or_else(|| key.to_string(), str::to_string);
                out.push_str(&Value::String(name).to_string());
                out.push_str(": ");
                dumps(&value.get_item(&key)?, indent, depth + 1, out)?;
            }
            if value.len().unwrap_or(0) > 0 {
                out.push_str(&close_line);
            }
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            for (i, item) in value.try_iter()?.enumerate() {
                out.push_str(if i == 0 { "" } else { comma });
                out.push_str(&open_line);
                dumps(&item, indent, depth + 1, out)?;
            }
            if value.len().unwrap_or(0) > 0 {
                out.push_str(&close_line);
            }
            out.push(']');
        }
        ValueKind::String => out.push_str(&Value::String(value.to_string()).to_string()),
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        _ => {
            let plain: Value = serde_json::to_value(value)
                .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
            out.push_str(&plain.to_string());
        }
    }
    Ok(())
}

/// The GGUF's template parsed once, when its model loads, in an environment set up the way
/// transformers renders it.
pub(super) struct JinjaTemplate {
    env: Environment<'static>,
}

impl JinjaTemplate {
    pub(super) fn parse(source: &str) -> Result<Self, BackendError> {
        let mut env = Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_filter("tojson", tojson);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_function("strftime_now", |format: String| -> String {
            // Templates use it for a date line; the date is not part of what a request shapes.
            format
                .replace("%d", "01")
                .replace("%b", "Jan")
                .replace("%Y", "2026")
        });
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| {
                BackendError::ChatTemplate(format!(
                    "the GGUF's Jinja chat template does not parse: {e}"
                ))
            })?;
        Ok(Self { env })
    }

    /// Renders `messages` (contents already replaced by markers where wanted).
    pub(super) fn render(
        &self,
        messages: &[ChatMessage],
        tools: &ToolUse,
        special: (&str, &str),
    ) -> Result<String, BackendError> {
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| BackendError::ChatTemplate(e.to_string()))?;
        let messages: Vec<Value> = messages.iter().map(message_value).collect();
        let tools = tools_value(tools);
        let context = minijinja::context! {
            messages => JinjaValue::from_serialize(&messages),
            tools => if tools.is_empty() { JinjaValue::from(()) } else { JinjaValue::from(tools) },
            add_generation_prompt => true,
            bos_token => special.0,
            eos_token => special.1,
        };
        template.render(context).map_err(|e| {
            let detail = if e.kind() == ErrorKind::InvalidOperation {
                e.detail().unwrap_or("").to_string()
            } else {
                e.to_string()
            };
            BackendError::InvalidRequest(format!(
                "the model's chat template refused this conversation: {detail}"
            ))
        })
    }
}

/// The template a loaded model renders tool requests with: its GGUF template when that can
/// render tools (parsed once; a template that does not parse is the error each such request
/// gets), else none (the generic tool prompt).
pub(super) fn for_model(source: Option<&str>) -> Option<Result<JinjaTemplate, String>> {
    let source = source.filter(|s| supports_tools(s))?;
    Some(JinjaTemplate::parse(source).map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_core::{ToolCall, ToolDef};

    const QWEN_LIKE: &str = r#"{%- if tools %}<|im_start|>system
{{ messages[0]['content'] if messages[0]['role'] == 'system' else 'You are helpful.' }}
<tools>{% for tool in tools %}
{{ tool | tojson }}{% endfor %}
</tools><|im_end|>
{% endif %}{%- for message in messages %}{%- if message.role == "assistant" and message.tool_calls %}<|im_start|>assistant{% for c in message.tool_calls %}
<tool_call>
{"name": "{{ c.function.name }}", "arguments": {{ c.function.arguments | tojson }}}
</tool_call>{% endfor %}<|im_end|>
{% elif message.role == "tool" %}<|im_start|>user
<tool_response>
{{ message.content }}
</tool_response><|im_end|>
{% elif not (message.role == "system" and tools) %}<|im_start|>{{ message.role }}
{{ message.content.strip() }}<|im_end|>
{% endif %}{%- endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}"#;

    #[test]
    fn tools_and_tool_turns_render_as_transformers_would() {
        let tools = ToolUse {
            tools: vec![ToolDef {
                name: "add".into(),
                description: Some("Adds <numbers>".into()),
                parameters: json!({"type": "object", "properties": {"a": {"type": "integer"}}}),
            }],
            ..ToolUse::default()
        };
        let messages = [
            ChatMessage::user(" 1+2? "),
            ChatMessage::assistant_calls(
                "",
                vec![ToolCall {
                    id: "c".into(),
                    name: "add".into(),
                    arguments: "{\"a\":1}".into(),
                }],
            ),
            ChatMessage::tool_result("c", "3"),
        ];
        let text = JinjaTemplate::parse(QWEN_LIKE)
            .unwrap()
            .render(&messages, &tools, ("", "<|im_end|>"))
            .unwrap();
        assert!(text.contains("{\"type\": \"function\", \"function\": {\"name\": \"add\", \"description\": \"Adds <numbers>\", \"parameters\": {\"properties\": {\"a\": {\"type\": \"integer\"}}, \"type\": \"object\"}}}"), "{text}");
        assert!(text.contains("<|im_start|>user\n1+2?<|im_end|>"), "{text}");
        assert!(
            text.contains("{\"name\": \"add\", \"arguments\": {\"a\": 1}}"),
            "{text}"
        );
        assert!(
            text.contains("<tool_response>\n3\n</tool_response>"),
            "{text}"
        );
        assert!(text.ends_with("<|im_start|>assistant\n"));
    }

    #[test]
    fn a_template_that_raises_is_a_request_error() {
        let source = "{{ raise_exception('Conversation roles must alternate') }}";
        let err = JinjaTemplate::parse(source)
            .unwrap()
            .render(&[ChatMessage::user("x")], &ToolUse::default(), ("", ""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("Conversation roles must alternate"), "{err}");
    }
}
