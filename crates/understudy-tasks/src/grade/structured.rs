//! Field-level scoring of a JSON answer against the gold object: every leaf of the gold value
//! (a string, number, boolean or null, or an empty object or array), found by its path, is
//! matched in the answer — numbers within the task's relative tolerance, strings ignoring case
//! and spacing, other values exactly, and never across types ("12" is not 12). Arrays are
//! compared position by position. The score is the share of gold fields matched; fields the
//! answer adds are counted, not scored (a schema with `additionalProperties: false` refuses
//! them). An answer that breaks the task's schema scores 0, with the schema's reasons.

use serde_json::{json, Value};

use super::Graded;
use crate::task::StructuredSpec;

/// Most paths listed per kind of mismatch in the detail record.
const LISTED: usize = 10;

/// Every leaf of `value` with its JSON pointer.
fn leaves<'v>(value: &'v Value, at: String, out: &mut Vec<(String, &'v Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                let key = key.replace('~', "~0").replace('/', "~1");
                leaves(v, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, format!("{at}/{i}"), out);
            }
        }
        leaf => out.push((at, leaf)),
    }
}

fn words(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether an answer's leaf matches the gold one.
fn same(answer: &Value, gold: &Value, tolerance: f64) -> bool {
    match (answer, gold) {
        (Value::Number(a), Value::Number(g)) => match (a.as_f64(), g.as_f64()) {
            (Some(a), Some(g)) => (a - g).abs() <= tolerance * g.abs().max(1.0),
            _ => false,
        },
        (Value::String(a), Value::String(g)) => words(a) == words(g),
        (a, g) => a == g,
    }
}

/// Grades `text` (the answer as the JSON contract read it; `None`: no JSON document) against
/// the gold JSON `target`.
pub fn grade(spec: &StructuredSpec, target: &str, read: Option<&str>) -> Graded {
    let gold: Value = serde_json::from_str(target).unwrap_or(Value::Null);
    let mut gold_leaves = Vec::new();
    leaves(&gold, String::new(), &mut gold_leaves);
    let answer = read.and_then(|r| serde_json::from_str::<Value>(r).ok());
    let Some(answer) = answer else {
        return Graded {
            parsed: None,
            score: 0.0,
            format_failure: true,
            detail: Some(json!({"structured": {
                "json": false,
                "schema": spec.schema_json.is_some(),
                "fields": gold_leaves.len(),
                "fields_matched": 0,
            }})),
            ungraded: false,
        };
    };
    let mut answer_leaves = Vec::new();
    leaves(&answer, String::new(), &mut answer_leaves);
    let (mut missing, mut wrong) = (Vec::new(), Vec::new());
    for (path, g) in &gold_leaves {
        match answer.pointer(path) {
            None => missing.push(path.clone()),
            Some(a) if !same(a, g, spec.tolerance) => wrong.push(path.clone()),
            Some(_) => {}
        }
    }
    let extra = answer_leaves
        .iter()
        .filter(|(path, _)| {
            gold.pointer(path).is_none()
                && !gold_leaves
                    .iter()
                    .any(|(g, _)| path.starts_with(&format!("{g}/")))
        })
        .count();
    let matched = gold_leaves.len() - missing.len() - wrong.len();
    let schema_errors = spec.schema_errors(&answer, 3);
    let field_share = matched as f64 / gold_leaves.len().max(1) as f64;
    let score = if schema_errors.is_empty() {
        field_share
    } else {
        0.0
    };
    Graded {
        parsed: Some(answer.to_string()),
        score,
        format_failure: false,
        detail: Some(json!({"structured": {
            "json": true,
            "schema": spec.schema_json.is_some(),
            "fields": gold_leaves.len(),
            "fields_matched": matched,
            "missing": missing.iter().take(LISTED).collect::<Vec<_>>(),
            "wrong": wrong.iter().take(LISTED).collect::<Vec<_>>(),
            "extra_fields": extra,
            "schema_valid": schema_errors.is_empty(),
            "schema_errors": schema_errors,
        }})),
        ungraded: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(schema: Option<Value>) -> StructuredSpec {
        StructuredSpec {
            schema: None,
            tolerance: 1e-6,
            schema_json: schema,
        }
    }

    const GOLD: &str = r#"{"vendor": "Acme Ltd", "total": 120.5, "paid": false,
        "lines": [{"item": "bolts", "qty": 10}, {"item": "nuts", "qty": 20}], "notes": null}"#;

    #[test]
    fn fields_are_matched_by_path_type_and_value() {
        let right = r#"{"vendor": " acme  LTD", "total": 120.50000001, "paid": false,
            "lines": [{"item": "Bolts", "qty": 10}, {"item": "nuts", "qty": 20}], "notes": null}"#;
        let g = grade(&spec(None), GOLD, Some(right));
        assert_eq!(g.score, 1.0, "{g:?}");
        // Three of eight fields off: a number given as a string, a missing line; one extra field.
        let partly = r#"{"vendor": "Acme Ltd", "total": "120.5", "paid": false,
            "lines": [{"item": "bolts", "qty": 10}], "notes": null, "currency": "EUR"}"#;
        let g = grade(&spec(None), GOLD, Some(partly));
        assert!((g.score - 5.0 / 8.0).abs() < 1e-12, "{g:?}");
        let d = &g.detail.unwrap()["structured"];
        assert_eq!(d["wrong"], json!(["/total"]));
        assert_eq!(d["missing"], json!(["/lines/1/item", "/lines/1/qty"]));
        assert_eq!(d["extra_fields"], 1);
    }

    #[test]
    fn no_json_is_a_format_failure_and_a_schema_breach_scores_zero() {
        let none = grade(&spec(None), GOLD, None);
        assert!(none.format_failure && none.score == 0.0);
        let schema = json!({"type": "object", "required": ["vendor", "total"],
            "properties": {"total": {"type": "number"}}});
        let g = grade(
            &spec(Some(schema.clone())),
            GOLD,
            Some(r#"{"vendor": "Acme Ltd"}"#),
        );
        assert_eq!(g.score, 0.0);
        let d = &g.detail.unwrap()["structured"];
        assert_eq!(d["schema_valid"], false);
        assert!(
            d["schema_errors"][0].as_str().unwrap().contains("total"),
            "{d}"
        );
        let g = grade(
            &spec(Some(schema)),
            GOLD,
            Some(r#"{"vendor": "Acme Ltd", "total": 120.5}"#),
        );
        assert!((g.score - 2.0 / 8.0).abs() < 1e-12, "{g:?}");
    }
}
