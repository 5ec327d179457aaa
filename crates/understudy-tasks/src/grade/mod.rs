//! Grading: turns an item's answers into a score and a detail record. Label, choice, number,
//! exact and regex answers go through `scorer`; code runs in the sandbox, IFEval and ROUGE are
//! computed here, judged tasks ask the judge model, and command tasks ask the task's own grader.

mod bfcl_values;
pub mod code;
pub mod command;
pub mod confine;
pub mod ifeval;
pub mod judge;
mod judge_call;
pub mod pairwise;
pub mod reference;
pub mod rouge;
pub mod sandbox;
pub mod structured;
pub mod tool_calls;

use serde_json::{json, Value};

use crate::scorer;
use crate::task::{AnswerSpec, Item, LoadedTask};
use crate::EvalError;
use understudy_store::Store;

pub use command::{Asked, CommandGrader};
pub use judge::Judge;
pub use pairwise::PairwiseJudge;
pub use sandbox::Sandbox;

/// What grading one item produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Graded {
    pub parsed: Option<String>,
    /// In [0, 1].
    pub score: f64,
    pub format_failure: bool,
    pub detail: Option<Value>,
    /// No usable grade (every judge attempt unparsable, or the task's grader failed): left out
    /// of means, counted apart.
    pub ungraded: bool,
}

impl Graded {
    fn simple(parsed: Option<String>, correct: bool) -> Self {
        Self {
            format_failure: parsed.is_none(),
            parsed,
            score: if correct { 1.0 } else { 0.0 },
            detail: None,
            ungraded: false,
        }
    }
}

/// The tools graders need beyond the answer: the sandbox, the judges and the tasks' own graders
/// (by task name), when the plan has tasks that use them.
#[derive(Default)]
pub struct Grader {
    pub sandbox: Option<Sandbox>,
    pub judge: Option<Judge>,
    /// The judge that compares text answers with the reference's (reference tasks).
    pub pairwise: Option<PairwiseJudge>,
    pub commands: std::collections::BTreeMap<String, CommandGrader>,
}

fn field<'a>(item: &'a Item, name: &str) -> Result<&'a str, EvalError> {
    item.fields
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| EvalError::Config(format!("item {}: field `{name}` is missing", item.id)))
}

impl Grader {
    /// Grades `answers` (one per turn) for `item`, asked as `asked` says; `cot` answers are read
    /// after the marker.
    pub async fn grade(
        &self,
        store: &Store,
        task: &LoadedTask,
        item: &Item,
        answers: &[String],
        cot: bool,
        asked: &Asked<'_>,
    ) -> Result<Graded, EvalError> {
        let last = answers.last().map(String::as_str).unwrap_or("");
        let text = if cot {
            scorer::final_answer(last)
        } else {
            last
        };
        let mut graded = match &task.def.answer {
            AnswerSpec::Code {
                test_field,
                entry_point_field,
                timeout_ms,
            } => {
                let fields = (field(item, test_field)?, field(item, entry_point_field)?);
                self.grade_code(item, text, fields, *timeout_ms).await?
            }
            AnswerSpec::Ifeval => grade_ifeval(item, text)?,
            AnswerSpec::Rules { rules, .. } => grade_rules(rules, text),
            AnswerSpec::Rouge => grade_rouge(item, text),
            AnswerSpec::Structured(spec) => {
                let input = crate::strategy::input(item);
                let read = crate::strategy::contract(&task.def.answer)
                    .extract(text.trim(), &understudy_prompt::Input::parse(&input.text()));
                structured::grade(spec, &item.target, read.as_deref())
            }
            AnswerSpec::ToolCalls(spec) => grade_tool_calls(spec, item, last)?,
            AnswerSpec::Reference(spec) => {
                self.grade_reference(store, task, spec, item, (last, text))
                    .await?
            }
            AnswerSpec::Command(_) => {
                let grader = self.commands.get(&task.def.name).ok_or_else(|| {
                    EvalError::Config(format!(
                        "task {} is graded by its own command, which was not set up",
                        task.def.name
                    ))
                })?;
                let input = crate::strategy::input(item);
                let extracted = crate::strategy::contract(&task.def.answer)
                    .extract(text.trim(), &understudy_prompt::Input::parse(&input.text()));
                grader
                    .grade(item, answers, extracted.as_deref(), asked)
                    .await
            }
            AnswerSpec::Judge { category_field, .. } => {
                let category = match category_field {
                    Some(f) => field(item, f)?,
                    None => "",
                };
                self.grade_judged(store, task, item, category, answers)
                    .await?
            }
            spec => {
                let scored = scorer::score(spec, item, last, cot);
                Graded::simple(scored.parsed, scored.correct)
            }
        };
        if item.truncated {
            let detail = graded.detail.get_or_insert_with(|| json!({}));
            if let Value::Object(map) = detail {
                map.insert("truncated".into(), Value::Bool(true));
            }
        }
        if graded.ungraded {
            if let Some(Value::Object(map)) = graded.detail.as_mut() {
                map.insert("ungraded".into(), Value::Bool(true));
            }
        }
        Ok(graded)
    }

    /// Runs the answer's code against the item's tests in the sandbox.
    async fn grade_code(
        &self,
        item: &Item,
        text: &str,
        (tests, entry_point): (&str, &str),
        timeout_ms: u64,
    ) -> Result<Graded, EvalError> {
        let sandbox = self
            .sandbox
            .as_ref()
            .ok_or_else(|| EvalError::Config("code task without a sandbox".into()))?;
        let program = code::build_program(&item.question, text, tests, entry_point);
        let limits = sandbox::Limits {
            wall: std::time::Duration::from_millis(timeout_ms),
            ..sandbox::Limits::default()
        };
        let finished = sandbox.run(&program, &limits).await?;
        let passed = finished.outcome == sandbox::Outcome::Passed;
        Ok(Graded {
            parsed: Some(code::extract_code(text, entry_point)),
            score: if passed { 1.0 } else { 0.0 },
            format_failure: false,
            detail: Some(json!({"outcome": finished.outcome, "output": finished.output})),
            ungraded: false,
        })
    }

    /// The judge's mean rating over the conversation's turns; ungraded when no rating was read.
    async fn grade_judged(
        &self,
        store: &Store,
        task: &LoadedTask,
        item: &Item,
        category: &str,
        answers: &[String],
    ) -> Result<Graded, EvalError> {
        let judge = self.judge.as_ref().ok_or_else(|| {
            EvalError::Config(format!(
                "task {} needs a judge model: pass --judge MODEL (any configured model)",
                task.def.name
            ))
        })?;
        let questions: Vec<String> = std::iter::once(item.question.clone())
            .chain(item.follow_ups.iter().cloned())
            .collect();
        let ratings = judge
            .rate(store, &item.id, category, &questions, answers)
            .await?;
        let rated: Vec<f64> = ratings.iter().filter_map(|r| r.rating).collect();
        let ungraded = rated.is_empty();
        let mean = if ungraded {
            0.0
        } else {
            rated.iter().sum::<f64>() / rated.len() as f64
        };
        Ok(Graded {
            parsed: (!ungraded).then(|| format!("{mean:.2}")),
            score: mean / 10.0,
            format_failure: ungraded,
            detail: Some(json!({
                "judge": judge.model,
                "category": category,
                "ratings": ratings,
            })),
            ungraded,
        })
    }
}

/// IFEval: the score is prompt-level strict; the detail keeps all four accuracies.
fn grade_ifeval(item: &Item, text: &str) -> Result<Graded, EvalError> {
    let (ids, kwargs) =
        ifeval::parse_fields(field(item, "instruction_id_list")?, field(item, "kwargs")?)
            .map_err(|e| EvalError::Config(format!("item {}: {e}", item.id)))?;
    let result = ifeval::evaluate(&item.question, &ids, &kwargs, text);
    Ok(Graded {
        parsed: None,
        score: if result.prompt_strict { 1.0 } else { 0.0 },
        format_failure: false,
        detail: serde_json::to_value(&result).ok(),
        ungraded: false,
    })
}

/// The share of the task's reply rules kept.
fn grade_rules(rules: &[crate::rules::Rule], text: &str) -> Graded {
    let kept: Vec<bool> = rules.iter().map(|r| r.kept(text)).collect();
    let n = kept.iter().filter(|k| **k).count();
    Graded {
        parsed: Some(format!("{n}/{} rules", kept.len())),
        score: n as f64 / kept.len().max(1) as f64,
        format_failure: text.trim().is_empty(),
        detail: Some(json!({ "rules_kept": kept })),
        ungraded: false,
    }
}

/// ROUGE-L F against the reference summary, with ROUGE-1/2 and lengths in the detail.
fn grade_rouge(item: &Item, text: &str) -> Graded {
    let r = rouge::rouge(&item.target, text.trim());
    Graded {
        parsed: None,
        score: r.rouge_l.fmeasure,
        format_failure: text.trim().is_empty(),
        detail: Some(json!({
            "rouge1": r.rouge1.fmeasure,
            "rouge2": r.rouge2.fmeasure,
            "rougeL": r.rouge_l.fmeasure,
            "words": text.split_whitespace().count(),
            "reference_words": item.target.split_whitespace().count(),
        })),
        ungraded: false,
    }
}

/// A tool-call answer (as eval recorded it) checked as BFCL checks it; the detail keeps the
/// calls read, the reason, and the call-shaped outputs that did not parse.
fn grade_tool_calls(
    spec: &crate::task::ToolCallsSpec,
    item: &Item,
    recorded: &str,
) -> Result<Graded, EvalError> {
    let functions: Value = match &spec.functions_field {
        Some(f) => serde_json::from_str(field(item, f)?).map_err(|e| {
            EvalError::Config(format!("item {}: field `{f}` is not JSON: {e}", item.id))
        })?,
        None => tool_calls::functions_from_tools(field(item, &spec.tools_field)?),
    };
    let category = match &spec.category_field {
        Some(f) => field(item, f)?.to_string(),
        None => tool_calls::category_from_target(&item.target).to_string(),
    };
    let checked = tool_calls::check(recorded, &category, &functions, &item.target);
    let unparsed = serde_json::from_str::<Value>(recorded)
        .ok()
        .and_then(|v| v["unparsed"].as_u64())
        .unwrap_or(0);
    let parsed = Value::Array(checked.calls.clone()).to_string();
    let mut graded = Graded::simple(Some(parsed), checked.correct);
    // A call the model meant and wrote so that it did not parse is a format failure.
    graded.format_failure = unparsed > 0 && checked.calls.is_empty();
    graded.detail = Some(json!({
        "category": category,
        "calls": checked.calls,
        "error": checked.error,
        "unparsed_tool_calls": unparsed,
    }));
    Ok(graded)
}
