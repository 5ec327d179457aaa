//! Tool calls scored as the Berkeley Function Calling Leaderboard's AST checker scores them: the
//! function's name, each argument typed against the function's description and matched against
//! the possible answers (optional parameters marked by `""`), several calls matched as a set,
//! and "no call" the right answer for irrelevant requests. The answer is what eval recorded
//! from the response (see [`encode_answer`]): only calls the backend returned as `tool_calls`
//! count, never call-shaped text.

use serde_json::{json, Map, Value};
use understudy_core::ChatResponse;

use super::bfcl_values::{
    answer_type, dict_ok, list_of_dicts_ok, list_ok, py_in, py_of, py_type, string_ok, Py,
};

/// A response as a tool-call task records it: the calls (arguments as JSON text), the text, and
/// how many call-shaped outputs did not parse.
pub fn encode_answer(response: &ChatResponse) -> String {
    let calls: Vec<Value> = response
        .tool_calls
        .iter()
        .map(|c| json!({"name": c.name, "arguments": c.arguments}))
        .collect();
    json!({
        "tool_calls": calls,
        "content": response.answer,
        "unparsed": response.unparsed_tool_calls,
    })
    .to_string()
}

/// BFCL-style descriptions from OpenAI tools: JSON Schema types read as BFCL reads its own
/// (`number` as float, `object` as dict).
pub fn functions_from_tools(tools: &str) -> Value {
    let list: Vec<Value> = serde_json::from_str(tools).unwrap_or_default();
    Value::Array(
        list.iter()
            .map(|t| t.get("function").unwrap_or(t).clone())
            .collect(),
    )
}

/// The category a gold implies: no call is irrelevance, one call is checked as BFCL's
/// `multiple` (found by name among the tools), several as `parallel` (a set).
pub fn category_from_target(target: &str) -> &'static str {
    match serde_json::from_str::<Vec<Value>>(target).map(|v| v.len()) {
        Ok(0) => "irrelevance",
        Ok(1) => "multiple",
        _ => "parallel",
    }
}

/// What the checker decided for one answer.
#[derive(Debug, PartialEq)]
pub struct Checked {
    pub correct: bool,
    /// Why not, in BFCL's words where it has them.
    pub error: Option<String>,
    /// The calls read from the answer (name → arguments), for the cell's detail.
    pub calls: Vec<Value>,
}

fn fail(why: impl Into<String>, calls: Vec<Value>) -> Checked {
    Checked {
        correct: false,
        error: Some(why.into()),
        calls,
    }
}

/// Scores the recorded `answer` for a category (`simple`, `multiple`, `parallel`,
/// `parallel_multiple`, `irrelevance`) against `functions` (BFCL's descriptions) and `target`
/// (the possible answers, JSON text).
pub fn check(answer: &str, category: &str, functions: &Value, target: &str) -> Checked {
    let recorded: Value = serde_json::from_str(answer).unwrap_or(Value::Null);
    let mut calls = Vec::new();
    for call in recorded["tool_calls"].as_array().into_iter().flatten() {
        let name = call["name"].as_str().unwrap_or("").to_string();
        let args = call["arguments"].as_str().unwrap_or("");
        match serde_json::from_str::<Value>(args) {
            Ok(Value::Object(args)) => {
                let mut one = Map::new();
                one.insert(name, Value::Object(args));
                calls.push(Value::Object(one));
            }
            _ => return fail(format!("arguments of {name} are not a JSON object"), calls),
        }
    }
    if category == "irrelevance" {
        return if calls.is_empty() {
            Checked {
                correct: true,
                error: None,
                calls,
            }
        } else {
            fail("a function was called for an irrelevant request", calls)
        };
    }
    let possible: Vec<Value> = match serde_json::from_str(target) {
        Ok(Value::Array(p)) => p,
        _ => return fail("the item's possible answers are not a JSON list", calls),
    };
    let descriptions = functions.as_array().cloned().unwrap_or_default();
    let verdict = match category {
        "parallel" | "parallel_multiple" => parallel(&descriptions, &calls, &possible),
        _ => single(&descriptions, &calls, &possible, category == "multiple"),
    };
    match verdict {
        Ok(()) => Checked {
            correct: true,
            error: None,
            calls,
        },
        Err(why) => fail(why, calls),
    }
}

fn described<'a>(descriptions: &'a [Value], name: &str) -> Option<&'a Value> {
    descriptions.iter().find(|d| d["name"] == name)
}

fn expected_name(possible: &Value) -> &str {
    possible
        .as_object()
        .and_then(|o| o.keys().next())
        .map_or("", String::as_str)
}

/// `simple` and `multiple`: exactly one call, checked against the one expected.
fn single(
    descriptions: &[Value],
    calls: &[Value],
    possible: &[Value],
    multiple: bool,
) -> Result<(), String> {
    if calls.len() != possible.len() || calls.len() != 1 {
        return Err("Wrong number of functions.".into());
    }
    let description = if multiple {
        described(descriptions, expected_name(&possible[0]))
    } else {
        descriptions.first()
    }
    .ok_or("the expected function is not described")?;
    call_ok(description, &calls[0], &possible[0])
}

/// `parallel`: as many calls as expected, each expected call matched by a different one.
fn parallel(descriptions: &[Value], calls: &[Value], possible: &[Value]) -> Result<(), String> {
    if calls.len() != possible.len() {
        return Err("Wrong number of functions.".into());
    }
    let mut matched = vec![false; calls.len()];
    for (i, expected) in possible.iter().enumerate() {
        let description = described(descriptions, expected_name(expected))
            .ok_or("the expected function is not described")?;
        let found = (0..calls.len())
            .find(|&j| !matched[j] && call_ok(description, &calls[j], expected).is_ok());
        match found {
            Some(j) => matched[j] = true,
            None => {
                return Err(format!(
                    "Could not find a matching function for index {i} of possible answers."
                ))
            }
        }
    }
    Ok(())
}

/// One call (`{name: args}`) against one possible answer (`{name: {param: [values]}}`).
fn call_ok(description: &Value, call: &Value, possible: &Value) -> Result<(), String> {
    // BFCL offers `a.b` to function-calling models as `a_b`; a task's own tools may keep the dot.
    let name = description["name"].as_str().unwrap_or("");
    let offered = name.replace('.', "_");
    let params = call
        .get(&offered)
        .or_else(|| call.get(name))
        .and_then(Value::as_object)
        .ok_or_else(|| format!("Function name '{offered}' not found in model output."))?;
    let possible = possible
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(Value::as_object)
        .ok_or("the possible answer is not an object of parameters")?;
    let details = &description["parameters"]["properties"];
    for required in description["parameters"]["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !params.contains_key(required) {
            return Err(format!("Missing required parameter: '{required}'."));
        }
    }
    for (param, value) in params {
        let (Some(detail), Some(allowed)) = (
            details.get(param),
            possible.get(param).and_then(Value::as_array),
        ) else {
            return Err(format!("Unexpected parameter: '{param}'."));
        };
        param_ok(param, value, detail, allowed)?;
    }
    for (param, allowed) in possible {
        let optional = allowed
            .as_array()
            .is_some_and(|a| py_in(&Value::from(""), a));
        if !params.contains_key(param) && !optional {
            return Err(format!(
                "Optional parameter '{param}' not provided and not marked as optional."
            ));
        }
    }
    Ok(())
}

/// One argument: typed against its description (a value of the possible answers' own type is
/// taken as a variable name), then matched against the possible answers.
fn param_ok(param: &str, value: &Value, detail: &Value, allowed: &[Value]) -> Result<(), String> {
    let described = detail["type"].as_str().unwrap_or("string");
    let expected = py_of(described);
    let nested = matches!(described, "array" | "tuple")
        .then(|| py_of(detail["items"]["type"].as_str().unwrap_or("string")));
    let value = match value {
        // Python converts an int to float where a float is described.
        Value::Number(n) if matches!(described, "float" | "number") && !n.is_f64() => {
            json!(n.as_f64().unwrap_or(0.0))
        }
        other => other.clone(),
    };
    let variable = type_ok(&value, allowed, expected, nested).map_err(|()| {
        format!("Incorrect type for parameter '{param}'. Expected type {described}, got {value}.")
    })?;
    let matches = match (variable, expected, &value) {
        (false, Py::Dict, v) => dict_ok(v, allowed),
        (false, Py::List, Value::Array(items)) if nested == Some(Py::Dict) => {
            list_of_dicts_ok(items, allowed)
        }
        (false, Py::Str, Value::String(s)) => string_ok(s, allowed),
        (false, Py::List, Value::Array(items)) => list_ok(items, allowed),
        _ => py_in(&value, allowed),
    };
    if matches {
        Ok(())
    } else {
        Err(format!(
            "Invalid value for parameter '{param}': {value}. Expected one of {}.",
            Value::Array(allowed.to_vec())
        ))
    }
}

/// BFCL's type check: `Ok(true)` when the value is taken as a variable (the possible answers
/// are of another type than described, and the value is of theirs).
fn type_ok(value: &Value, allowed: &[Value], expected: Py, nested: Option<Py>) -> Result<bool, ()> {
    let answers = answer_type(allowed);
    let variable = answers.is_some_and(|t| t != expected);
    if py_type(value) == expected {
        let Some(inner) = nested else {
            return Ok(variable);
        };
        let items = value.as_array().cloned().unwrap_or_default();
        let any_fits = allowed.iter().any(|candidate| match candidate {
            Value::Array(inner_allowed) => items
                .iter()
                .all(|item| type_ok(item, inner_allowed, inner, None).is_ok()),
            _ => true,
        });
        if any_fits {
            return Ok(variable);
        }
        return Err(());
    }
    match answers {
        Some(t) if py_type(value) == t => Ok(true),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(calls: &[(&str, &str)]) -> String {
        let calls: Vec<Value> = calls
            .iter()
            .map(|(n, a)| json!({"name": n, "arguments": a}))
            .collect();
        json!({"tool_calls": calls, "content": "", "unparsed": 0}).to_string()
    }

    fn triangle() -> Value {
        json!([{"name": "calc.area", "parameters": {"type": "dict", "properties": {
            "base": {"type": "integer"}, "height": {"type": "float"},
            "unit": {"type": "string"}}, "required": ["base", "height"]}}])
    }

    const TARGET: &str =
        r#"[{"calc.area": {"base": [10], "height": [5.0], "unit": ["units", ""]}}]"#;

    #[test]
    fn a_simple_call_is_checked_by_name_type_and_value() {
        let f = triangle();
        let ok = check(
            &answer(&[("calc_area", r#"{"base": 10, "height": 5}"#)]),
            "simple",
            &f,
            TARGET,
        );
        assert!(ok.correct, "{ok:?}");
        let optional = check(
            &answer(&[("calc_area", r#"{"base": 10, "height": 5, "unit": "Units"}"#)]),
            "simple",
            &f,
            TARGET,
        );
        assert!(optional.correct, "{optional:?}");
        for (args, why) in [
            (r#"{"base": 10}"#, "Missing required"),
            (r#"{"base": "10", "height": 5}"#, "Incorrect type"),
            (r#"{"base": 11, "height": 5}"#, "Invalid value"),
            (
                r#"{"base": 10, "height": 5, "color": "red"}"#,
                "Unexpected parameter",
            ),
        ] {
            let c = check(&answer(&[("calc_area", args)]), "simple", &f, TARGET);
            assert!(
                !c.correct && c.error.as_deref().unwrap_or("").contains(why),
                "{args}: {c:?}"
            );
        }
        let wrong = check(&answer(&[("other", "{}")]), "simple", &f, TARGET);
        assert!(wrong.error.unwrap_or_default().contains("not found"));
        let none = check(&answer(&[]), "simple", &f, TARGET);
        assert!(!none.correct);
    }

    #[test]
    fn parallel_calls_match_as_a_set_and_irrelevance_wants_no_call() {
        let f = triangle();
        let target = r#"[{"calc.area": {"base": [1], "height": [2.0]}}, {"calc.area": {"base": [3], "height": [4.0]}}]"#;
        let swapped = answer(&[
            ("calc_area", r#"{"base": 3, "height": 4}"#),
            ("calc_area", r#"{"base": 1, "height": 2}"#),
        ]);
        assert!(check(&swapped, "parallel", &f, target).correct);
        let one = answer(&[("calc_area", r#"{"base": 3, "height": 4}"#)]);
        assert!(!check(&one, "parallel", &f, target).correct);
        assert!(check(&answer(&[]), "irrelevance", &f, "[]").correct);
        assert!(!check(&one, "irrelevance", &f, "[]").correct);
    }
}
