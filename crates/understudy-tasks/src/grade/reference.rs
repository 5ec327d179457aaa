//! Grading a reference task's item against what the reference answered: calls by the BFCL
//! checker with the reference's calls as the only right answer (every argument its value),
//! JSON answers field by field, text by the pairwise judge. An answer of the wrong kind (calls
//! where the reference wrote text, or text where it called) loses without asking a judge.

use serde_json::{json, Value};
use understudy_store::Store;

use super::{pairwise::Outcome, structured, tool_calls, Graded, Grader};
use crate::task::{
    as_bfcl_gold, reference_calls, reference_format, Item, LoadedTask, ReferenceKind,
    ReferenceSpec, StructuredSpec,
};
use crate::EvalError;

/// What a reference task's answer was recorded as: calls and content (the tool-call encoding)
/// when the item offers tools or the reference called, else the text.
pub fn records_calls(spec: &ReferenceSpec, item: &Item) -> bool {
    kind(spec, item).ok() == Some(ReferenceKind::Calls)
        || spec
            .tools_field
            .as_ref()
            .and_then(|f| item.fields.get(f))
            .is_some_and(|t| !matches!(t.trim(), "" | "null" | "[]"))
}

/// The item's reference kind, from its `kind_field`.
pub fn kind(spec: &ReferenceSpec, item: &Item) -> Result<ReferenceKind, EvalError> {
    let text = item.fields.get(&spec.kind_field).ok_or_else(|| {
        EvalError::Config(format!(
            "item {}: field `{}` (answer.kind_field) is missing; list it in the task's `fields`",
            item.id, spec.kind_field
        ))
    })?;
    ReferenceKind::parse(text).map_err(|why| EvalError::Config(format!("item {}: {why}", item.id)))
}

/// The calls and text of a recorded answer (text alone when it is not the call encoding).
fn recorded(spec: &ReferenceSpec, item: &Item, answer: &str) -> (Vec<Value>, String) {
    if !records_calls(spec, item) {
        return (Vec::new(), answer.to_string());
    }
    let value: Value = serde_json::from_str(answer).unwrap_or(Value::Null);
    let calls = value["tool_calls"].as_array().cloned().unwrap_or_default();
    let text = value["content"].as_str().unwrap_or(answer).to_string();
    (calls, text)
}

fn lost(why: &str, kind: ReferenceKind) -> Graded {
    Graded {
        parsed: None,
        score: 0.0,
        format_failure: false,
        detail: Some(json!({"reference_kind": kind.as_str(), "vs_reference": "loss", "why": why})),
        ungraded: false,
    }
}

impl Grader {
    /// Grades the last answer of `item` against its reference (`item.target`): `last` as
    /// recorded, `text` as read (after the final-answer marker under chain of thought).
    pub(super) async fn grade_reference(
        &self,
        store: &Store,
        task: &LoadedTask,
        spec: &ReferenceSpec,
        item: &Item,
        (last, text): (&str, &str),
    ) -> Result<Graded, EvalError> {
        let answer = if records_calls(spec, item) {
            last
        } else {
            text
        };
        let kind = kind(spec, item)?;
        let (calls, text) = recorded(spec, item, answer);
        match kind {
            ReferenceKind::Calls => Ok(grade_calls(spec, item, answer, &calls)?),
            ReferenceKind::Json if calls.is_empty() => grade_json(spec, item, &text),
            ReferenceKind::Text if calls.is_empty() => {
                self.grade_pairwise(store, task, item, &text).await
            }
            _ => Ok(lost(
                "the answer called a tool where the reference answered without one",
                kind,
            )),
        }
    }

    async fn grade_pairwise(
        &self,
        store: &Store,
        task: &LoadedTask,
        item: &Item,
        text: &str,
    ) -> Result<Graded, EvalError> {
        let judge = self.pairwise.as_ref().ok_or_else(|| {
            EvalError::Config(format!(
                "task {} compares text answers with the reference: pass --judge MODEL, or name the reference model",
                task.def.name
            ))
        })?;
        let conversation = if item.conversation.is_empty() {
            vec![understudy_core::ChatMessage::user(item.question.clone())]
        } else {
            item.conversation.clone()
        };
        let compared = judge
            .compare(store, &conversation, text, &item.target)
            .await?;
        let ungraded = compared.outcome.is_none();
        Ok(Graded {
            parsed: compared.outcome.map(|o| format!("{o:?}").to_lowercase()),
            score: compared.outcome.map_or(0.0, Outcome::score),
            format_failure: false,
            detail: Some(json!({
                "reference_kind": "text",
                "judge": judge.model,
                "vs_reference": compared.outcome,
                "position_flip": compared.position_flip,
                "candidate_chars": text.trim().chars().count(),
                "reference_chars": item.target.trim().chars().count(),
                "orders": compared.orders,
            })),
            ungraded,
        })
    }
}

/// The answer's calls against the reference's: right only when the checker finds the same
/// calls with the same argument values (in any order when there are several).
fn grade_calls(
    spec: &ReferenceSpec,
    item: &Item,
    answer: &str,
    calls: &[Value],
) -> Result<Graded, EvalError> {
    let reference = reference_calls(&item.target)
        .map_err(|why| EvalError::Config(format!("item {}: {why}", item.id)))?;
    let gold = as_bfcl_gold(&reference).to_string();
    let tools = spec
        .tools_field
        .as_ref()
        .and_then(|f| item.fields.get(f))
        .map(String::as_str)
        .unwrap_or("[]");
    let functions = tool_calls::functions_from_tools(tools);
    let category = tool_calls::category_from_target(&gold);
    let checked = tool_calls::check(answer, category, &functions, &gold);
    let mut graded = Graded {
        parsed: Some(Value::Array(checked.calls.clone()).to_string()),
        score: if checked.correct { 1.0 } else { 0.0 },
        format_failure: false,
        detail: None,
        ungraded: false,
    };
    graded.detail = Some(json!({
        "reference_kind": "calls",
        "vs_reference": if checked.correct { "win" } else { "loss" },
        "calls": calls,
        "reference_calls": reference.iter().map(|c| json!({"name": c.name, "arguments": c.arguments})).collect::<Vec<_>>(),
        "error": checked.error,
    }));
    Ok(graded)
}

/// A JSON answer field by field against the reference's, and against the request's schema.
fn grade_json(spec: &ReferenceSpec, item: &Item, text: &str) -> Result<Graded, EvalError> {
    let schema = spec
        .schema_field
        .as_ref()
        .and_then(|f| item.fields.get(f))
        .map(String::as_str);
    let schema_json = match reference_format(schema)
        .map_err(|why| EvalError::Config(format!("item {}: {why}", item.id)))?
    {
        understudy_core::ResponseFormat::JsonSchema { schema } => Some(schema),
        _ => None,
    };
    let structured = StructuredSpec {
        schema: None,
        tolerance: 1e-6,
        schema_json,
    };
    let read = understudy_prompt::AnswerContract::Json.extract(
        text.trim(),
        &understudy_prompt::Input::parse(&item.question),
    );
    let mut graded = structured::grade(&structured, &item.target, read.as_deref());
    if let Some(Value::Object(map)) = graded.detail.as_mut() {
        map.insert("reference_kind".into(), json!("json"));
    }
    Ok(graded)
}
