//! A row's whole conversation (`messages_field`): turns as understudy writes them
//! (`{role, content, tool_calls?, tool_call_id?}`), ending with a user turn or with the results
//! of the calls the answer follows, every call answered before the conversation goes on.

use serde_json::Value;
use understudy_core::{ChatMessage, Role};

/// The turns in `value` (the row's field `name`), or what is wrong with them.
pub(super) fn read(name: &str, value: Option<&Value>) -> Result<Vec<ChatMessage>, String> {
    let value = value.cloned().unwrap_or(Value::Null);
    let turns: Vec<ChatMessage> = serde_json::from_value(value).map_err(|e| {
        format!(
            "`{name}` (named in `messages_field`) must be a list of {{role, content}} turns: {e}"
        )
    })?;
    if !matches!(turns.last().map(|m| m.role), Some(Role::User | Role::Tool)) {
        return Err(format!(
            "`{name}` must end with a user or tool turn (what the answer follows)"
        ));
    }
    understudy_core::request::check_tool_turns(&turns).map_err(|e| format!("`{name}`: {e}"))?;
    Ok(turns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_conversation_must_end_where_an_answer_follows_and_keep_its_calls_answered() {
        let ok = json!([{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]);
        assert_eq!(read("messages", Some(&ok)).unwrap().len(), 2);
        let ends_answered =
            json!([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]);
        assert!(read("messages", Some(&ends_answered))
            .unwrap_err()
            .contains("must end with a user or tool turn"));
        assert!(read("messages", None)
            .unwrap_err()
            .contains("messages_field"));
        let unanswered = json!([
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "f", "arguments": "{}"}]},
            {"role": "user", "content": "and?"}
        ]);
        assert!(read("messages", Some(&unanswered))
            .unwrap_err()
            .contains("c1"));
    }
}
