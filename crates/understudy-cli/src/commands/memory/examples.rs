//! `understudy memory add-examples`: solved examples into a collection for dynamic few-shot
//! (`knn-shot:K` rows in eval, `examples = { collection, k }` in a profile) — a task's few-shot
//! pool, stored where eval's `knn-shot:K` rows find it, or JSONL files of `{input, target}` lines
//! (`{input, calls}` for an example that answers with tool calls).

use std::path::Path;

use anyhow::{bail, Context, Result};
use understudy_eval::examples::{collection_name, pool_examples};
use understudy_memory::examples::{put_examples, StoredExample};

use crate::cli::MemoryAddExamplesArgs;
use crate::output;
use crate::setup::{self, file_section};

/// One line of an examples file: a text answer, or the calls the answer makes (with optional
/// text beside them).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleLine {
    id: Option<String>,
    input: String,
    target: Option<String>,
    calls: Option<Vec<ExampleCall>>,
}

/// A call an example makes, as the OpenAI API's `function_call` names it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleCall {
    name: String,
    #[serde(default)]
    arguments: serde_json::Map<String, serde_json::Value>,
}

const LINE_SHAPE: &str =
    "expected {\"input\": …, \"target\": …} (optional \"id\"; \"calls\": [{\"name\": …, \"arguments\": {…}}] for an answer that calls tools)";

/// Reads `path`: one `{"input": …, "target": …[, "id": …]}` per line (blank lines skipped),
/// ids `FILE:LINE` where a line has none. Errors name the file and line.
fn read_examples(path: &Path) -> Result<Vec<StoredExample>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut examples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), i + 1);
        let parsed: ExampleLine =
            serde_json::from_str(line).with_context(|| format!("{}: {LINE_SHAPE}", at()))?;
        if parsed.input.trim().is_empty() {
            bail!("{}: `input` is empty", at());
        }
        if parsed.target.is_none() && parsed.calls.is_none() {
            bail!("{}: {LINE_SHAPE}", at());
        }
        let calls = parsed.calls.unwrap_or_default();
        if calls.iter().any(|c| c.name.trim().is_empty()) {
            bail!("{}: a call has an empty `name`", at());
        }
        examples.push(StoredExample {
            id: parsed.id.unwrap_or_else(|| format!("{name}:{}", i + 1)),
            input: parsed.input,
            target: parsed.target.unwrap_or_default(),
            calls: calls
                .into_iter()
                .enumerate()
                .map(|(n, call)| understudy_core::ToolCall {
                    id: format!("call_{n}"),
                    name: call.name,
                    arguments: serde_json::Value::Object(call.arguments).to_string(),
                })
                .collect(),
        });
    }
    if examples.is_empty() {
        bail!("{}: no examples", path.display());
    }
    Ok(examples)
}

/// A task's name and its few-shot pool as examples, drawn with the seed eval uses (`--seed`, else
/// `[eval] seed`, else the default), so the collection holds what `knn-shot:K` rows search.
async fn task_pool(
    config: &understudy_core::config::Config,
    task: &str,
    seed: Option<u64>,
) -> Result<(String, Vec<StoredExample>)> {
    let mut section = file_section(config)?;
    section.tasks = Some(vec![task.to_string()]);
    // Only the pool is read: no other row's needs are checked.
    section.strategies = Some(vec!["zero-shot".into()]);
    section.seed = seed.or(section.seed);
    let resolved = crate::eval_setup::resolve_plan(config, &section).await?;
    let loaded = &resolved.plan().tasks[0];
    if loaded.pool.is_empty() {
        bail!(
            "task {}: it has no few-shot pool (set `few_shot_pool` under [dataset])",
            loaded.def.name
        );
    }
    Ok((loaded.def.name.clone(), pool_examples(loaded)))
}

/// `memory add-examples`: the examples checked first, then embedded by their inputs and stored
/// (a file or pool already stored unchanged is not embedded again).
pub async fn add_examples(config_path: Option<&Path>, args: &MemoryAddExamplesArgs) -> Result<()> {
    let config = setup::load_config(config_path)?;
    let mut documents: Vec<(String, Vec<StoredExample>)> = Vec::new();
    let collection = match (&args.task, &args.collection) {
        (Some(task), collection) => {
            let (name, examples) = task_pool(&config, task, args.seed).await?;
            documents.push(("pool".into(), examples));
            collection.clone().unwrap_or_else(|| collection_name(&name))
        }
        (None, Some(collection)) => {
            for path in &args.paths {
                documents.push((path.display().to_string(), read_examples(path)?));
            }
            collection.clone()
        }
        (None, None) => bail!("name the collection with --collection (or give --task)"),
    };
    if documents.is_empty() {
        bail!("give JSONL files of examples, or --task NAME for a task's few-shot pool");
    }
    let store = crate::embedder::vector_store(config_path, &args.store, true).await?;
    let embedder = crate::embedder::embedder(&args.embedder).await?;
    for (source, examples) in &documents {
        let embedded = put_examples(
            store.as_ref(),
            embedder.as_ref(),
            &collection,
            source,
            examples,
        )
        .await?;
        output::note(&format!(
            "{source}: {} examples in collection {collection:?} ({embedded} embedded now, {})",
            examples.len(),
            embedder.name()
        ));
    }
    Ok(())
}
