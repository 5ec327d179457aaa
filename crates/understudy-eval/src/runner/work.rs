//! The cells a run still has to produce: for each one the prompt program (the same one the
//! gateway would serve), the request built from it, and what the cell records about it.

use std::borrow::Cow;
use std::collections::HashSet;

use understudy_core::{thinking_switch, ChatMessage, ChatRequest, ValidChatRequest};
use understudy_memory::prompt;
use understudy_prompt::{ExamplesTrace, Program, RetrievalTrace, Technique, ThinkingTrace};

use super::models::Models;
use super::Combo;
use crate::plan::Plan;
use understudy_store::cell_key;
use understudy_tasks::strategy::{self, Format, Strategy};
use understudy_tasks::task::{Item, LoadedTask};
use understudy_tasks::EvalError;

/// One cell to produce.
pub(super) struct Work<'p> {
    pub model: String,
    pub strategy: &'p Strategy,
    pub format: Format,
    pub task: &'p LoadedTask,
    pub item: &'p Item,
    /// The stored item id (`ID#i` for sample i when sampling).
    pub item_id: String,
    /// Read the answer after the final-answer marker (CoT, or thinking through the CoT fallback).
    pub cot: bool,
    /// What the thinking switch did, for the cell's detail.
    pub thinking: Option<ThinkingTrace>,
    pub request: ValidChatRequest,
    pub prompt_json: String,
    /// The passages put into the prompt, under `memory:K`.
    pub retrieved: Option<RetrievalTrace>,
    /// The examples found for the item, under `knn-shot:K`.
    pub examples: Option<ExamplesTrace>,
    /// What was sent, as the gateway would serve it (stored with the cell).
    pub program: Program,
}

/// The whole program for one item: the strategy's prompt, the retrieval it asks for and the
/// technique.
fn program_for(
    plan: &Plan,
    task: &LoadedTask,
    item: &Item,
    strategy: &Strategy,
    format: Format,
    technique: Option<Technique>,
) -> Program {
    let mut program = strategy::program(task, item, strategy, format, &plan.role_prompt);
    program.memory = strategy
        .memory()
        .and_then(|k| plan.retrieved.retrieval(&task.def.name, k));
    program.examples = strategy
        .knn_shot()
        .and_then(|k| plan.examples.search(&task.def.name, k));
    program.technique = technique;
    program
}

/// Every cell of the plan not yet stored, as work: its program, request and notes.
pub(super) fn plan_work<'p>(
    plan: &'p Plan,
    combos: &'p [Combo<'p>],
    models: &'p Models,
    done: &HashSet<String>,
) -> Result<(Vec<Work<'p>>, usize), EvalError> {
    let mut work = Vec::new();
    let mut total = 0;
    for (model, strategies, formats) in combos {
        for strategy in strategies {
            for format in formats {
                for task in &plan.tasks {
                    for item in &task.items {
                        for sample in 0..plan.samples {
                            total += 1;
                            let item_id =
                                understudy_tasks::ids::sample_id(&item.id, sample, plan.samples);
                            let key = cell_key(
                                model,
                                &strategy.to_string(),
                                format.as_str(),
                                &task.def.name,
                                &item_id,
                            );
                            if done.contains(&key) {
                                continue;
                            }
                            let cell = Cell {
                                model,
                                strategy,
                                format: *format,
                                task,
                                item,
                                sample,
                            };
                            work.push(cell_work(plan, models, cell, item_id)?);
                        }
                    }
                }
            }
        }
    }
    Ok((work, total))
}

/// Which cell: the coordinates `plan_work` loops over.
struct Cell<'p> {
    model: &'p str,
    strategy: &'p Strategy,
    format: Format,
    task: &'p LoadedTask,
    item: &'p Item,
    sample: usize,
}

/// One cell's work: its program, the request built from it (retrieval and the thinking switch
/// applied) and the notes its cell records.
fn cell_work<'p>(
    plan: &'p Plan,
    models: &'p Models,
    cell: Cell<'p>,
    item_id: String,
) -> Result<Work<'p>, EvalError> {
    let Cell {
        model,
        strategy,
        format,
        task,
        item,
        sample,
    } = cell;
    let format = &format;
    // Map-reduce reads the whole input; other strategies the (maybe cut) one.
    let shown = shown_item(item, strategy.map_reduce());
    let shown = shown.as_ref();
    let program = program_for(
        plan,
        task,
        shown,
        strategy,
        *format,
        crate::technique::for_row(model, strategy)?,
    );
    let (found, examples) = found_examples(plan, task, item, strategy)?;
    let mut messages = strategy::render(&program.with_found(&found), shown);
    let retrieved = retrieve(plan, task, item, strategy, &mut messages)?;
    let (tools, response_format) = offered_tools(task, item)?;
    let mut request = ChatRequest {
        max_tokens: program.max_tokens,
        tools,
        response_format,
        ..sampled_request(plan, model, messages, sample)
    };
    let switched = strategy
        .thinking()
        .map(|mode| thinking_switch::apply(&mut request, mode, models.controls[model]));
    let cot = strategy.cot() || switched.is_some_and(|s| s.split_cot);
    let request = request
        .validate()
        .map_err(|e| EvalError::Config(format!("task {}: {e}", task.def.name)))?;
    let prompt_json = serde_json::to_string(&request.messages).unwrap_or_default();
    Ok(Work {
        model: model.to_string(),
        strategy,
        format: *format,
        task,
        item,
        item_id,
        cot,
        thinking: strategy
            .thinking()
            .zip(switched)
            .map(|(mode, s)| ThinkingTrace::new(mode, models.controls[model], s)),
        request,
        prompt_json,
        retrieved,
        examples,
        program,
    })
}

/// The tools a tool-call or reference task's item offers (none for other tasks), and the
/// response format a reference item's request asked for; the error names the item.
fn offered_tools(
    task: &LoadedTask,
    item: &Item,
) -> Result<(understudy_core::ToolUse, understudy_core::ResponseFormat), EvalError> {
    use understudy_tasks::task::{self as t, AnswerSpec};
    let bad = |field: &str, why: String| {
        EvalError::Config(format!(
            "task {}: item {}: `{field}` {why}",
            task.def.name, item.id
        ))
    };
    match &task.def.answer {
        AnswerSpec::ToolCalls(spec) => {
            let text = item.fields.get(&spec.tools_field).ok_or_else(|| {
                EvalError::Config(format!(
                    "task {}: item {} has no `{}` field with its tools",
                    task.def.name, item.id, spec.tools_field
                ))
            })?;
            let tools = t::tools_of(text).map_err(|why| bad(&spec.tools_field, why))?;
            Ok((tools, Default::default()))
        }
        AnswerSpec::Reference(spec) => {
            let field = |name: &Option<String>| {
                name.as_ref()
                    .and_then(|f| item.fields.get(f))
                    .map(String::as_str)
            };
            let tools = t::reference_tools(field(&spec.tools_field))
                .map_err(|why| bad(spec.tools_field.as_deref().unwrap_or(""), why))?;
            let format = t::reference_format(field(&spec.schema_field))
                .map_err(|why| bad(spec.schema_field.as_deref().unwrap_or(""), why))?;
            Ok((tools, format))
        }
        _ => Ok(Default::default()),
    }
}

/// For `knn-shot:K`: the examples found for the item (best first) and their trace.
fn found_examples(
    plan: &Plan,
    task: &LoadedTask,
    item: &Item,
    strategy: &Strategy,
) -> Result<(Vec<understudy_prompt::Solved>, Option<ExamplesTrace>), EvalError> {
    let Some(k) = strategy.knn_shot() else {
        return Ok((Vec::new(), None));
    };
    let (found, trace) = plan
        .examples
        .for_item(&task.def.name, &item.id, k)
        .ok_or_else(|| {
            EvalError::Config(format!(
                "task {}: no examples found for item {} (strategy {strategy})",
                task.def.name, item.id
            ))
        })?;
    Ok((found, Some(trace)))
}

/// The item as the strategy reads it: map-reduce gets the whole input when it was cut.
fn shown_item(item: &Item, map_reduce: bool) -> Cow<'_, Item> {
    match (&item.full_question, map_reduce) {
        (Some(full), true) => Cow::Owned(Item {
            question: full.clone(),
            ..item.clone()
        }),
        _ => Cow::Borrowed(item),
    }
}

/// For `memory:K`: the retrieved passages put into the system prompt, and their trace.
fn retrieve(
    plan: &Plan,
    task: &LoadedTask,
    item: &Item,
    strategy: &Strategy,
    messages: &mut Vec<ChatMessage>,
) -> Result<Option<RetrievalTrace>, EvalError> {
    let Some(k) = strategy.memory() else {
        return Ok(None);
    };
    let (block, trace) = plan
        .retrieved
        .block(&task.def.name, &item.id, k)
        .ok_or_else(|| {
            EvalError::Config(format!(
                "task {}: nothing retrieved for item {} (strategy {strategy})",
                task.def.name, item.id
            ))
        })?;
    prompt::put_in_system(messages, block);
    Ok(Some(trace))
}

/// The request with the plan's sampling: greedy for one sample, the sample temperature and a
/// seed per sample for several.
fn sampled_request(
    plan: &Plan,
    model: &str,
    messages: Vec<ChatMessage>,
    sample: usize,
) -> ChatRequest {
    let (temperature, seed) = if plan.samples > 1 {
        (plan.sample_temperature, plan.seed + sample as u64)
    } else {
        (0.0, plan.seed)
    };
    ChatRequest {
        // Only when asked (tune's cascade calibration): on the embedded engine it costs time
        // inside the measured latency. A cascade's confidence signal asks for its own.
        logprobs: plan.confidence,
        temperature: Some(temperature),
        seed: Some(seed),
        ..ChatRequest::new(model, messages)
    }
}
