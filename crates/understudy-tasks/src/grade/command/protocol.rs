//! The command grader's protocol, both directions: the one JSON object a grader reads for an
//! answer (the item, the gold target, the messages as sent, the answer and what the answer
//! contract read from it, the model, strategy and format), and the verdict it prints
//! (`score` in [0, 1], optional `parsed`, `reason` and `format_failure`; other keys are kept).
//! A verdict that breaks the promise is a grader failure, described in words.

use serde::Serialize;
use serde_json::{Map, Value};
use understudy_core::ChatMessage;

use crate::task::Item;

/// Who answered and how: what the grader is told besides the item and the answer.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub model: &'a str,
    pub strategy: &'a str,
    pub format: &'a str,
    /// The first turn's messages as sent.
    pub messages: &'a [ChatMessage],
}

/// The object written to the grader for one answer.
#[derive(Debug, Serialize)]
pub struct GradeRequest<'a> {
    pub task: &'a str,
    pub id: &'a str,
    pub question: &'a str,
    pub target: &'a str,
    /// The row fields the task names in `fields`.
    pub fields: &'a std::collections::BTreeMap<String, String>,
    pub messages: &'a [ChatMessage],
    /// The last turn's answer, whole.
    pub answer: &'a str,
    /// Every turn's answer, for multi-turn items.
    pub answers: &'a [String],
    /// What the answer contract read (after a chain of thought's marker); null when nothing.
    pub extracted: Option<&'a str>,
    pub model: &'a str,
    pub strategy: &'a str,
    pub format: &'a str,
}

impl<'a> GradeRequest<'a> {
    pub fn new(
        task: &'a str,
        item: &'a Item,
        answers: &'a [String],
        extracted: Option<&'a str>,
        asked: &Asked<'a>,
    ) -> Self {
        Self {
            task,
            id: &item.id,
            question: &item.question,
            target: &item.target,
            fields: &item.fields,
            messages: asked.messages,
            answer: answers.last().map(String::as_str).unwrap_or(""),
            answers,
            extracted,
            model: asked.model,
            strategy: asked.strategy,
            format: asked.format,
        }
    }
}

/// A grader's verdict on one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub score: f64,
    pub parsed: Option<String>,
    pub reason: Option<String>,
    /// The grader could not read the answer at all (a format failure, scored as printed).
    pub format_failure: bool,
    /// Keys the protocol does not name, kept for the cell's detail.
    pub extra: Map<String, Value>,
}

/// Reads a verdict from the grader's output (one JSON object, surrounding whitespace allowed).
pub fn read_verdict(output: &str) -> Result<Verdict, String> {
    let text = output.trim();
    if text.is_empty() {
        return Err("printed nothing; the protocol asks for one JSON object with `score`".into());
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "printed something other than one JSON object ({e}): {:?}",
            preview(text)
        )
    })?;
    let Value::Object(mut map) = value else {
        return Err(format!(
            "printed JSON that is not an object: {:?}",
            preview(text)
        ));
    };
    let score = match map.remove("score") {
        None => return Err("the verdict has no `score`".into()),
        Some(Value::Bool(b)) => f64::from(u8::from(b)),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(other) => return Err(format!("`score` is {other}, not a number in [0, 1]")),
    };
    if !(0.0..=1.0).contains(&score) {
        return Err(format!("`score` is {score}, outside [0, 1]"));
    }
    let text_of = |key: &str, value: Option<Value>| -> Result<Option<String>, String> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) if key == "parsed" => Ok(Some(other.to_string())),
            Some(other) => Err(format!("`{key}` is {other}, not a string")),
        }
    };
    let parsed = text_of("parsed", map.remove("parsed"))?;
    let reason = text_of("reason", map.remove("reason"))?;
    let format_failure = match map.remove("format_failure") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(format!("`format_failure` is {other}, not true or false")),
    };
    Ok(Verdict {
        score,
        parsed,
        reason,
        format_failure,
        extra: map,
    })
}

/// The first 200 characters of a bad output, for the error.
fn preview(text: &str) -> String {
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_read_strictly() {
        let v =
            read_verdict("  {\"score\": 0.5, \"reason\": \"2 of 4\", \"rules\": [1,0]}\n").unwrap();
        assert_eq!(v.score, 0.5);
        assert_eq!(v.reason.as_deref(), Some("2 of 4"));
        assert!(v.extra.contains_key("rules") && !v.format_failure);
        assert_eq!(read_verdict("{\"score\": true}").unwrap().score, 1.0);
        let parsed =
            read_verdict("{\"score\": 0, \"parsed\": [1, 2], \"format_failure\": true}").unwrap();
        assert_eq!(parsed.parsed.as_deref(), Some("[1,2]"));
        assert!(parsed.format_failure);
        for (bad, says) in [
            ("", "printed nothing"),
            ("score: 1", "other than one JSON object"),
            ("[1]", "not an object"),
            ("{\"reason\": \"x\"}", "no `score`"),
            ("{\"score\": 1.5}", "outside [0, 1]"),
            ("{\"score\": -0.1}", "outside [0, 1]"),
            ("{\"score\": \"1\"}", "not a number"),
            ("{\"score\": 1, \"reason\": 3}", "`reason` is 3"),
            (
                "{\"score\": 1}\n{\"score\": 0}",
                "other than one JSON object",
            ),
        ] {
            let err = read_verdict(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }
}
