//! Tool calls for models that write them as text (the embedded engine): how a call is asked
//! for when the template cannot render tools, how a forced call is started, and how the answer
//! is read back into calls, streamed or not.

mod generic;
mod parse;
mod split;
mod stream;

pub use generic::generic_tool_turns;
pub use parse::{find_calls, Found};
pub use split::{CallSplitter, Tail};
pub use stream::split_calls;

use understudy_core::{ToolChoice, ToolUse};

/// How a model writes a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallForm {
    /// `<tool_call>{"name": …, "arguments": …}</tool_call>` (Hermes, Qwen, and the generic
    /// tool prompt for templates without tools).
    Tagged,
    /// A bare JSON object (Llama 3.x, Mistral after its marker, other native templates).
    Bare,
}

impl CallForm {
    /// The form a template's source asks for; `None` (no source, or a named llama.cpp
    /// template) means the generic prompt, which asks for the tagged form.
    pub fn of_template(source: Option<&str>) -> Self {
        match source {
            Some(s) if s.contains("tools") && !s.contains("<tool_call>") => Self::Bare,
            _ => Self::Tagged,
        }
    }
}

/// Text that opens the answer when a call is forced (`tool_choice` `required` or a named
/// function): the model continues from inside the call, so it cannot answer in prose.
pub fn forced_call_opening(tools: &ToolUse, form: CallForm) -> Option<String> {
    let open = match form {
        CallForm::Tagged => "<tool_call>\n",
        CallForm::Bare => "",
    };
    match &tools.choice {
        ToolChoice::Required => Some(format!("{open}{{\"name\": \"")),
        // The arguments' brace is opened too: a small model left at `"arguments": ` may write a
        // bare value instead of an object.
        ToolChoice::Function(name) => Some(format!(
            "{open}{{\"name\": {}, \"arguments\": {{",
            serde_json::Value::String(name.clone())
        )),
        ToolChoice::Auto | ToolChoice::None => None,
    }
}
