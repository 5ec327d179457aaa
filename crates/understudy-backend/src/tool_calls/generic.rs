//! The generic tool prompt, for a chat template that cannot render tools (SmolLM2's, the named
//! llama.cpp templates): the tools go into the system message in the Hermes form that Qwen's
//! own template uses, earlier calls become `<tool_call>` blocks in the assistant's text, and tool
//! results become a user turn of `<tool_response>` blocks. llama.cpp's server does the same for
//! templates without tool support; the form is the one most open models were tuned on.

use serde_json::Value;
use understudy_core::{ChatMessage, Role, ToolUse};

/// The instruction and tool list added to the system message.
fn tools_preamble(tools: &ToolUse) -> String {
    let mut text = String::from(
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>",
    );
    for tool in &tools.tools {
        let description = tool
            .description
            .as_ref()
            .map(|d| format!(", \"description\": {}", Value::String(d.clone())))
            .unwrap_or_default();
        text.push_str(&format!(
            "\n{{\"type\": \"function\", \"function\": {{\"name\": {}{description}, \"parameters\": {}}}}}",
            Value::String(tool.name.clone()),
            tool.parameters
        ));
    }
    text.push_str("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
    text
}

/// `messages` rewritten into system, user and assistant turns that any template renders; the
/// tools are offered only when `tools` may be called.
pub fn generic_tool_turns(messages: &[ChatMessage], tools: &ToolUse) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::with_capacity(messages.len() + 1);
    if tools.may_call() {
        let preamble = tools_preamble(tools);
        match messages.first() {
            Some(first) if first.role == Role::System => {
                out.push(ChatMessage::system(format!(
                    "{}\n\n{preamble}",
                    first.content
                )));
            }
            _ => out.push(ChatMessage::system(preamble)),
        }
    } else if let Some(first) = messages.first().filter(|m| m.role == Role::System) {
        out.push(first.clone());
    }
    let skip = usize::from(messages.first().is_some_and(|m| m.role == Role::System));
    for message in &messages[skip..] {
        match message.role {
            Role::Assistant if !message.tool_calls.is_empty() => {
                let mut text = message.content.clone();
                for call in &message.tool_calls {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&format!(
                        "<tool_call>\n{{\"name\": {}, \"arguments\": {}}}\n</tool_call>",
                        Value::String(call.name.clone()),
                        call.arguments
                    ));
                }
                out.push(ChatMessage::assistant(text));
            }
            Role::Tool => {
                let block = format!("<tool_response>\n{}\n</tool_response>", message.content);
                match out.last_mut() {
                    Some(last)
                        if last.role == Role::User
                            && last.content.ends_with("</tool_response>") =>
                    {
                        last.content.push('\n');
                        last.content.push_str(&block);
                    }
                    _ => out.push(ChatMessage::user(block)),
                }
            }
            _ => out.push(ChatMessage::new(message.role, message.content.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_core::{ToolCall, ToolDef};

    #[test]
    fn tools_go_into_the_system_turn_and_tool_turns_become_plain_turns() {
        let tools = ToolUse {
            tools: vec![ToolDef {
                name: "add".into(),
                description: Some("Adds".into()),
                parameters: serde_json::json!({"type": "object"}),
            }],
            ..ToolUse::default()
        };
        let call = |id: &str| ToolCall {
            id: id.into(),
            name: "add".into(),
            arguments: "{\"a\":1}".into(),
        };
        let messages = [
            ChatMessage::system("Be brief."),
            ChatMessage::user("1+1 and 1+2?"),
            ChatMessage::assistant_calls("", vec![call("x"), call("y")]),
            ChatMessage::tool_result("x", "2"),
            ChatMessage::tool_result("y", "3"),
        ];
        let out = generic_tool_turns(&messages, &tools);
        let roles: Vec<Role> = out.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [Role::System, Role::User, Role::Assistant, Role::User]
        );
        assert!(out[0].content.starts_with("Be brief.\n\n# Tools"));
        assert!(out[0].content.contains("{\"type\": \"function\", \"function\": {\"name\": \"add\", \"description\": \"Adds\", \"parameters\": {\"type\":\"object\"}}}"));
        assert_eq!(out[2].content.matches("<tool_call>").count(), 2);
        assert_eq!(
            out[3].content,
            "<tool_response>\n2\n</tool_response>\n<tool_response>\n3\n</tool_response>"
        );
        // tool_choice none: no tools offered, history still rendered.
        let none = ToolUse {
            choice: understudy_core::ToolChoice::None,
            ..tools
        };
        assert_eq!(generic_tool_turns(&messages, &none)[0].content, "Be brief.");
    }
}
