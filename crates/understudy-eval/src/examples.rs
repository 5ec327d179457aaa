//! Dynamic few-shot for `knn-shot:K` rows: each task's few-shot pool is stored as a collection of
//! solved examples (`examples:TASK`, embedded again only when it changed), and the examples
//! nearest each item's input are found once before the run, with the code the gateway runs for
//! a profile's `examples = { collection, k }` (`understudy_memory::examples`). A tool-call
//! task's examples are stored as the calls they make, so both show them as calls.

use std::collections::{BTreeMap, HashMap};

use understudy_memory::embed::embed_batched;
use understudy_memory::examples::{self, Found, StoredExample};
use understudy_memory::{Embedder, VectorStore};
use understudy_prompt::{ExampleSearch, ExamplesTrace, Solved};
use understudy_tasks::strategy::input;
use understudy_tasks::task::{AnswerSpec, LoadedTask};
use understudy_tasks::tool_call_examples;
use understudy_tasks::EvalError;

/// Examples found for each item, ready to be put into prompts.
#[derive(Debug, Clone, Default)]
pub struct FoundExamples {
    /// (task, item id) → examples, best first.
    found: HashMap<(String, String), Vec<Found>>,
    /// task → collection.
    collections: HashMap<String, String>,
}

/// What preparing one task's examples did.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub task: String,
    pub collection: String,
    /// Examples in the collection (the task's few-shot pool).
    pub examples: usize,
    /// Examples embedded now (none when the stored pool was unchanged).
    pub embedded: usize,
    pub items: usize,
}

/// The collection a task's pool is stored in; the profile `tune` writes for a `knn-shot:K` row
/// names it, so the gateway finds the same examples in the same store.
pub fn collection_name(task: &str) -> String {
    format!("examples:{task}")
}

/// A task's few-shot pool as solved examples: each input as a client sends it; a tool-call
/// task's gold as the calls its fixed few-shot examples show (or their decline), a reference
/// task's calls as calls.
pub fn pool_examples(task: &LoadedTask) -> Vec<StoredExample> {
    task.pool
        .iter()
        .map(|e| {
            let (target, calls) = match &task.def.answer {
                AnswerSpec::ToolCalls(_) => tool_call_examples::answer(&e.target, 0),
                // A reference that called: its calls, as a fixed few-shot example shows them.
                AnswerSpec::Reference(spec)
                    if understudy_tasks::grade::reference::kind(spec, e).ok()
                        == Some(understudy_tasks::task::ReferenceKind::Calls) =>
                {
                    (
                        String::new(),
                        understudy_tasks::task::reference_calls(&e.target).unwrap_or_default(),
                    )
                }
                _ => (e.target.clone(), Vec::new()),
            };
            StoredExample {
                id: e.id.clone(),
                input: input(e).text(),
                target,
                calls,
            }
        })
        .collect()
}

impl FoundExamples {
    /// A digest of every example found (ids, inputs, targets) and the collections, or `None`
    /// when nothing was: a changed pool or another embedder changes it.
    pub fn digest(&self) -> Option<String> {
        if self.collections.is_empty() {
            return None;
        }
        let found: BTreeMap<String, Vec<&StoredExample>> = self
            .found
            .iter()
            .map(|((task, item), f)| {
                (
                    format!("{task}\u{1f}{item}"),
                    f.iter().map(|f| &f.example).collect(),
                )
            })
            .collect();
        let collections: BTreeMap<_, _> = self.collections.iter().collect();
        Some(crate::digest::digest(
            &serde_json::json!({"found": found, "collections": collections}),
        ))
    }

    /// What a `knn-shot:k` program of `task` records: its collection and `k`.
    pub fn search(&self, task: &str, k: usize) -> Option<ExampleSearch> {
        Some(ExampleSearch {
            collection: self.collections.get(task)?.clone(),
            k,
        })
    }

    /// The `k` examples nearest `item` (best first) and their trace.
    pub fn for_item(
        &self,
        task: &str,
        item: &str,
        k: usize,
    ) -> Option<(Vec<Solved>, ExamplesTrace)> {
        let found = self.found.get(&(task.to_string(), item.to_string()))?;
        let collection = self.collections.get(task)?;
        let kept = &found[..k.min(found.len())];
        Some((examples::solved(kept), examples::trace(collection, kept)))
    }
}

/// Stores the few-shot pool of every task as its example collection and finds the `depth`
/// nearest examples for each of its items (nothing when no row asks: see
/// `Plan::knn_shot_depth`); the plan has checked that each task's pool holds K. Embedding runs
/// on the calling thread.
pub async fn prepare(
    tasks: &[LoadedTask],
    depth: Option<usize>,
    store: &dyn VectorStore,
    embedder: &dyn Embedder,
) -> Result<(FoundExamples, Vec<Prepared>), EvalError> {
    let memory = |e: understudy_memory::MemoryError| EvalError::Data(e.to_string());
    let Some(k) = depth else {
        return Ok((FoundExamples::default(), Vec::new()));
    };
    let mut prepared = FoundExamples::default();
    let mut report = Vec::new();
    for task in tasks {
        let name = &task.def.name;
        let collection = collection_name(name);
        let pool = pool_examples(task);
        let embedded = examples::put_examples(store, embedder, &collection, "pool", &pool)
            .await
            .map_err(memory)?;
        let inputs: Vec<String> = task.items.iter().map(|i| input(i).text()).collect();
        let vectors = embed_batched(embedder, &inputs).map_err(memory)?;
        for ((item, text), vector) in task.items.iter().zip(&inputs).zip(&vectors) {
            let found = examples::nearest(store, &collection, vector, text, k)
                .await
                .map_err(memory)?;
            prepared
                .found
                .insert((name.clone(), item.id.clone()), found);
        }
        prepared
            .collections
            .insert(name.clone(), collection.clone());
        report.push(Prepared {
            task: name.clone(),
            collection,
            examples: pool.len(),
            embedded,
            items: inputs.len(),
        });
    }
    Ok((prepared, report))
}
