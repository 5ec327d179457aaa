//! IFEval (Zhou et al., 2023): each prompt carries verifiable instructions; a response follows an
//! instruction strictly when the check passes on it, loosely when it passes on any of the paper's
//! eight relaxed variants (without the first line, the last line, both, and with `*` removed).
//! Prompt-level: all instructions followed. Instruction types we cannot check are reported as
//! unsupported and counted as not followed — never passed silently.

mod checks;
mod text;

use serde::Serialize;
use serde_json::{Map, Value};

pub use checks::{check, Verdict};

/// One instruction's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstructionResult {
    pub id: String,
    pub strict: bool,
    pub loose: bool,
    /// Why the instruction could not be checked (counted as not followed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
}

/// A response's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptResult {
    pub prompt_strict: bool,
    pub prompt_loose: bool,
    pub instructions: Vec<InstructionResult>,
}

/// The eight responses the loose criterion tries.
fn loose_variants(response: &str) -> Vec<String> {
    let lines: Vec<&str> = response.split('\n').collect();
    let join = |from: usize, to: usize| -> String {
        if from >= to {
            String::new()
        } else {
            lines[from..to].join("\n").trim().to_string()
        }
    };
    let n = lines.len();
    let remove_first = join(1, n);
    let remove_last = join(0, n.saturating_sub(1));
    let remove_both = join(1, n.saturating_sub(1));
    vec![
        response.to_string(),
        response.replace('*', ""),
        remove_first.clone(),
        remove_last.clone(),
        remove_both.clone(),
        remove_first.replace('*', ""),
        remove_last.replace('*', ""),
        remove_both.replace('*', ""),
    ]
}

fn passes(id: &str, kwargs: &Map<String, Value>, prompt: &str, response: &str) -> Verdict {
    if response.trim().is_empty() {
        return Verdict::Fail;
    }
    check(id, kwargs, prompt, response)
}

/// Checks `response` against the prompt's instructions (`ids[i]` with `kwargs[i]`).
pub fn evaluate(
    prompt: &str,
    ids: &[String],
    kwargs: &[Map<String, Value>],
    response: &str,
) -> PromptResult {
    let variants = loose_variants(response);
    let empty = Map::new();
    let instructions: Vec<InstructionResult> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let args = kwargs.get(i).unwrap_or(&empty);
            match passes(id, args, prompt, response) {
                Verdict::Unsupported(reason) => InstructionResult {
                    id: id.clone(),
                    strict: false,
                    loose: false,
                    unsupported: Some(reason),
                },
                strict => {
                    let strict = strict == Verdict::Pass;
                    let loose = strict
                        || variants
                            .iter()
                            .any(|v| passes(id, args, prompt, v) == Verdict::Pass);
                    InstructionResult {
                        id: id.clone(),
                        strict,
                        loose,
                        unsupported: None,
                    }
                }
            }
        })
        .collect();
    PromptResult {
        prompt_strict: instructions.iter().all(|r| r.strict),
        prompt_loose: instructions.iter().all(|r| r.loose),
        instructions,
    }
}

/// One instruction's arguments.
pub type Kwargs = Map<String, Value>;

/// Reads an item's `instruction_id_list` and `kwargs` fields (JSON text).
pub fn parse_fields(
    ids_json: &str,
    kwargs_json: &str,
) -> Result<(Vec<String>, Vec<Kwargs>), String> {
    let ids: Vec<String> = serde_json::from_str(ids_json)
        .map_err(|e| format!("`instruction_id_list` is not a list of strings: {e}"))?;
    let kwargs: Vec<Value> =
        serde_json::from_str(kwargs_json).map_err(|e| format!("`kwargs` is not a list: {e}"))?;
    if kwargs.len() != ids.len() {
        return Err(format!(
            "{} instructions but {} kwargs",
            ids.len(),
            kwargs.len()
        ));
    }
    let kwargs = kwargs
        .into_iter()
        .map(|v| match v {
            Value::Object(m) => Ok(m),
            Value::Null => Ok(Map::new()),
            other => Err(format!("kwargs entry {other} is not an object")),
        })
        .collect::<Result<_, _>>()?;
    Ok((ids, kwargs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn loose_forgives_a_preamble_line_and_markdown() {
        let ids = vec!["startend:quotation".to_string()];
        let kwargs = vec![Map::new()];
        let response = "Sure, here it is:\n\"All quoted.\"";
        let r = evaluate("p", &ids, &kwargs, response);
        assert!(!r.prompt_strict && r.prompt_loose);
    }

    #[test]
    fn unsupported_types_are_reported_not_passed() {
        let ids = vec!["made:up".to_string(), "punctuation:no_comma".to_string()];
        let kwargs = vec![Map::new(), Map::new()];
        let r = evaluate("p", &ids, &kwargs, "no commas here");
        assert!(!r.prompt_strict && !r.prompt_loose);
        assert!(r.instructions[0].unsupported.is_some());
        assert!(r.instructions[1].strict);
        let (ids, kwargs) =
            parse_fields(r#"["keywords:existence"]"#, r#"[{"keywords": ["tea"]}]"#).unwrap();
        let r = evaluate("p", &ids, &kwargs, "I like TEA.");
        assert!(r.prompt_strict);
        assert_eq!(kwargs[0], obj(json!({"keywords": ["tea"]})));
        assert!(parse_fields("[\"a\"]", "[]").is_err());
    }
}
