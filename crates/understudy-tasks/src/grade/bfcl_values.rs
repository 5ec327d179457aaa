//! Values as the Berkeley Function Calling Leaderboard's AST checker compares them: Python's
//! types and equality over JSON (`1 == 1.0`, `True == 1`), strings standardized (spaces and
//! `,./-_*^` dropped, lower case, `'` read as `"`), and the checks for strings, lists, dicts and
//! lists of dicts against a parameter's possible answers.

use serde_json::Value;

/// A JSON value's Python type after `json.loads`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Py {
    Str,
    Int,
    Float,
    Bool,
    List,
    Dict,
    None,
}

pub(super) fn py_type(v: &Value) -> Py {
    match v {
        Value::String(_) => Py::Str,
        Value::Number(n) if n.is_f64() => Py::Float,
        Value::Number(_) => Py::Int,
        Value::Bool(_) => Py::Bool,
        Value::Array(_) => Py::List,
        Value::Object(_) => Py::Dict,
        Value::Null => Py::None,
    }
}

/// BFCL's Python type for a parameter type in its function descriptions.
pub(super) fn py_of(gorilla: &str) -> Py {
    match gorilla {
        "integer" => Py::Int,
        // JSON Schema's names too, for a task's own tools.
        "float" | "number" => Py::Float,
        "boolean" => Py::Bool,
        "array" | "tuple" => Py::List,
        "dict" | "object" => Py::Dict,
        _ => Py::Str,
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// Python's `==` between two values from JSON.
pub(super) fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        (Value::Null, Value::Null) => true,
        _ => match (as_number(a), as_number(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// Python's `value in values`.
pub(super) fn py_in(value: &Value, values: &[Value]) -> bool {
    values.iter().any(|v| py_eq(value, v))
}

fn standardize(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, ' ' | ',' | '.' | '/' | '-' | '_' | '*' | '^'))
        .collect::<String>()
        .to_lowercase()
        .replace('\'', "\"")
}

/// A string value standardized; anything else as it is.
fn standardized(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(standardize(s)),
        other => other.clone(),
    }
}

/// The first possible answer that is not `""` (the optional marker): its type.
pub(super) fn answer_type(possible: &[Value]) -> Option<Py> {
    possible
        .iter()
        .find(|v| v.as_str() != Some(""))
        .map(py_type)
}

/// A string against its possible answers, both standardized.
pub(super) fn string_ok(value: &str, possible: &[Value]) -> bool {
    let value = standardize(value);
    possible
        .iter()
        .filter_map(Value::as_str)
        .any(|p| standardize(p) == value)
}

/// A list against its possible answers, string elements standardized at the top level. A
/// possible answer written as a string is read as Python iterates it (`""` is the empty list).
pub(super) fn list_ok(value: &[Value], possible: &[Value]) -> bool {
    let value = Value::Array(value.iter().map(standardized).collect());
    possible.iter().any(|p| {
        let candidate = match p {
            Value::Array(items) => Value::Array(items.iter().map(standardized).collect()),
            Value::String(s) => Value::Array(
                s.chars()
                    .map(|c| Value::String(standardize(&c.to_string())))
                    .collect(),
            ),
            _ => return false,
        };
        py_eq(&value, &candidate)
    })
}

/// A dict against its possible answers: every key it has is allowed with a matching value, and
/// every key it lacks is optional (`""` among its values).
pub(super) fn dict_ok(value: &Value, possible: &[Value]) -> bool {
    let Some(value) = value.as_object() else {
        return false;
    };
    possible.iter().any(|candidate| {
        let Some(candidate) = candidate.as_object() else {
            return false;
        };
        let keys_ok = value.iter().all(|(key, v)| {
            let Some(allowed) = candidate.get(key).and_then(Value::as_array) else {
                return false;
            };
            let allowed: Vec<Value> = allowed.iter().map(standardized).collect();
            py_in(&standardized(v), &allowed)
        });
        let missing_ok = candidate.iter().all(|(key, allowed)| {
            value.contains_key(key)
                || allowed
                    .as_array()
                    .is_some_and(|a| py_in(&Value::from(""), a))
        });
        keys_ok && missing_ok
    })
}

/// A list of dicts against possible lists of dicts, item by item in order.
pub(super) fn list_of_dicts_ok(value: &[Value], possible: &[Value]) -> bool {
    possible.iter().any(|candidate| {
        let items: Vec<Value> = match candidate {
            Value::Array(items) => items.clone(),
            _ => Vec::new(),
        };
        items.len() == value.len()
            && value
                .iter()
                .zip(&items)
                .all(|(v, c)| dict_ok(v, std::slice::from_ref(c)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_equality_and_standardized_strings() {
        assert!(py_eq(&json!(5), &json!(5.0)));
        assert!(py_eq(&json!(true), &json!(1)));
        assert!(py_eq(&json!([1, 2]), &json!([1.0, 2.0])));
        assert!(!py_eq(&json!("5"), &json!(5)));
        assert!(string_ok(
            "New York, NY",
            &[json!("new york ny"), json!("")]
        ));
        assert!(!string_ok("Boston", &[json!("New York")]));
        assert!(list_ok(&[json!("A b")], &[json!(["ab"])]));
        assert!(list_ok(&[], &[json!("")]));
        assert!(dict_ok(
            &json!({"a": "X"}),
            &[json!({"a": ["x"], "b": ["", 2]})]
        ));
        assert!(!dict_ok(
            &json!({"a": "X"}),
            &[json!({"a": ["x"], "b": [2]})]
        ));
        assert!(list_of_dicts_ok(&[json!({"a": 1})], &[json!([{"a": [1]}])]));
    }
}
