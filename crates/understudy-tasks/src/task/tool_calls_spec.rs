//! A `kind = "tool_calls"` answer: the item offers tools (OpenAI `tools`, from a row field), the
//! model answers with calls, and the calls are scored as BFCL scores them (grade/tool_calls.rs)
//! against the possible answers in the gold (`[{"fn": {"arg": [values…]}}]`; `[]` = no call).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use understudy_core::{ToolDef, ToolUse};

/// Where a tool-call item's tools, typing and category come from.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ToolCallsSpec {
    /// Row field with the tools offered, as an OpenAI `tools` list.
    #[serde(default = "default_tools_field")]
    pub tools_field: String,
    /// Row field with BFCL-style function descriptions to type arguments against (`float`,
    /// `dict`, `tuple`, …); default: the tools' own JSON Schemas.
    #[serde(default)]
    pub functions_field: Option<String>,
    /// Row field naming the BFCL category (`simple`, `multiple`, `parallel`,
    /// `parallel_multiple`, `irrelevance`); default: from the gold (`[]` irrelevance, one call
    /// multiple, several parallel).
    #[serde(default)]
    pub category_field: Option<String>,
}

fn default_tools_field() -> String {
    "tools".into()
}

impl ToolCallsSpec {
    /// The row fields the item must carry.
    pub fn fields(&self) -> Vec<String> {
        std::iter::once(self.tools_field.clone())
            .chain(self.functions_field.clone())
            .chain(self.category_field.clone())
            .collect()
    }
}

/// The tools of an item's `tools` field (OpenAI form) as a request offers them.
pub fn tools_of(text: &str) -> Result<ToolUse, String> {
    let list: Vec<Value> =
        serde_json::from_str(text).map_err(|e| format!("is not a JSON list of tools: {e}"))?;
    let tools = list
        .iter()
        .enumerate()
        .map(|(i, tool)| ToolDef::from_openai(tool).map_err(|e| format!("[{i}] {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ToolUse {
        tools,
        ..ToolUse::default()
    })
}
