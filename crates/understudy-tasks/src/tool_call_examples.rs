//! A tool-call item shown as a few-shot example: its gold (BFCL's possible answers) as the calls
//! the example's assistant turn makes, or a short decline when the right answer is no call.

use serde_json::{Map, Value};
use understudy_core::ToolCall;
use understudy_prompt::{Example, Input, Template};

/// What an example whose right answer is no call replies.
pub const DECLINE: &str = "None of the functions I can call does this.";

/// `item`'s gold as example `index` of a prompt: the calls it shows, or the decline.
pub fn example(
    template: &Template,
    input: &Input,
    target: &str,
    index: usize,
    cot: bool,
) -> Example {
    let (text, calls) = answer(target, index);
    if calls.is_empty() {
        return Example::solved(template, input, &text, cot);
    }
    Example {
        user: template.user_turn(input, cot),
        assistant: text,
        calls,
    }
}

/// What an example with this gold answers: no text and its calls, or the decline and none.
/// Fixed few-shot examples and examples found per input (`knn-shot`) both come from here.
pub fn answer(target: &str, index: usize) -> (String, Vec<ToolCall>) {
    let calls = calls_of(target, index);
    if calls.is_empty() {
        (DECLINE.to_string(), calls)
    } else {
        (String::new(), calls)
    }
}

/// The calls a gold shows, ids `call_ex{index}_{n}`: each function (its name as offered, `.`
/// written `_`) with, per argument, the first possible value that is not BFCL's `""` (an
/// optional argument left out). A gold that is not a list of calls shows none.
pub fn calls_of(target: &str, index: usize) -> Vec<ToolCall> {
    let Ok(Value::Array(gold)) = serde_json::from_str::<Value>(target) else {
        return Vec::new();
    };
    gold.iter()
        .filter_map(Value::as_object)
        .filter_map(|call| call.iter().next())
        .enumerate()
        .map(|(n, (name, possible))| ToolCall {
            id: format!("call_ex{index}_{n}"),
            name: name.replace('.', "_"),
            arguments: Value::Object(chosen_arguments(possible)).to_string(),
        })
        .collect()
}

/// Per argument, its first usable possible value.
fn chosen_arguments(possible: &Value) -> Map<String, Value> {
    let Some(arguments) = possible.as_object() else {
        return Map::new();
    };
    arguments
        .iter()
        .filter_map(|(name, values)| first_value(values).map(|v| (name.clone(), v)))
        .collect()
}

/// The first possible value that is not `""`, a nested dict's own possibilities resolved alike.
fn first_value(values: &Value) -> Option<Value> {
    let chosen = match values {
        Value::Array(list) => list.iter().find(|v| v.as_str() != Some(""))?,
        other => other,
    };
    Some(match chosen {
        Value::Array(items) => Value::Array(items.iter().map(resolved).collect()),
        other => resolved(other),
    })
}

/// A value as shown: a dict of possibilities (every value a list) resolved to its first usable
/// ones, anything else as it is.
fn resolved(value: &Value) -> Value {
    match value {
        Value::Object(map) if map.values().all(Value::is_array) => {
            Value::Object(chosen_arguments(value))
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gold_shows_its_first_possible_values_and_leaves_optional_ones_out() {
        let calls = calls_of(
            r#"[{"spotify.play": {"artist": ["Taylor Swift"], "duration": [20, 20.0], "unit": ["", "s"]}},
                {"spotify.play": {"artist": ["Maroon 5"], "duration": [15], "unit": [""]}}]"#,
            2,
        );
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].id, "call_ex2_0");
        assert_eq!(calls[1].name, "spotify_play");
        let first: Value = serde_json::from_str(&calls[0].arguments).unwrap_or_default();
        assert_eq!(
            first,
            serde_json::json!({"artist": "Taylor Swift", "duration": 20, "unit": "s"})
        );
        let second: Value = serde_json::from_str(&calls[1].arguments).unwrap_or_default();
        assert_eq!(
            second,
            serde_json::json!({"artist": "Maroon 5", "duration": 15})
        );
    }

    #[test]
    fn nested_dicts_resolve_their_own_possibilities_and_no_call_declines() {
        let calls = calls_of(
            r#"[{"book": {"where": [{"city": ["Paris", "paris"], "zip": [""]}], "ids": [[1, 2]]}}]"#,
            0,
        );
        let args: Value = serde_json::from_str(&calls[0].arguments).unwrap_or_default();
        assert_eq!(
            args,
            serde_json::json!({"where": {"city": "Paris"}, "ids": [1, 2]})
        );
        let template = Template {
            instruction: "Answer the request.".into(),
            format: understudy_prompt::Format::Plain,
            answer: understudy_prompt::AnswerContract::Free {
                describe: "calls".into(),
            },
        };
        let declined = example(&template, &Input::parse("Tell a joke."), "[]", 0, false);
        assert!(declined.calls.is_empty());
        assert!(declined.assistant.contains(DECLINE));
        let called = example(
            &template,
            &Input::parse("Play it."),
            r#"[{"play": {"x": [1]}}]"#,
            1,
            false,
        );
        assert_eq!(called.assistant, "");
        assert_eq!(called.calls[0].name, "play");
    }
}
