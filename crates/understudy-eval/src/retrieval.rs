//! Retrieval-QA: a task's `[memory]` documents are chunked and embedded into a collection of the
//! store (unchanged documents are not embedded again), each item's question is searched once
//! before the run, and the `memory:K` strategy puts the K best passages (within the token
//! budget) into the system prompt, laid out as the gateway does it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use understudy_memory::chunk::{self, collect_files, read_documents};
use understudy_memory::embed::embed_batched;
use understudy_memory::{prompt, Embedder, Hit, VectorStore};

use understudy_tasks::builtin;
use understudy_tasks::task::{LoadedTask, MemorySpec};
use understudy_tasks::EvalError;

/// Passages found for each item, ready to be put into prompts.
#[derive(Debug, Clone, Default)]
pub struct Retrieved {
    /// (task, item id) → hits, best first.
    passages: HashMap<(String, String), Vec<Hit>>,
    /// task → (collection, budget in tokens).
    collections: HashMap<String, (String, usize)>,
    /// chunk id → tokens (as the embedder counts them).
    tokens: HashMap<String, usize>,
}

/// What preparing one task's collection did.
#[derive(Debug, Clone, PartialEq)]
pub struct Indexed {
    pub task: String,
    pub collection: String,
    pub documents: usize,
    /// Chunks embedded now (documents that were new or changed).
    pub embedded: usize,
    /// Documents already stored unchanged.
    pub unchanged: usize,
    pub questions: usize,
}

impl Retrieved {
    /// A digest of everything retrieved (passages, their token counts, collections and budgets),
    /// or `None` when nothing was: changed documents or a different embedder change it.
    pub fn digest(&self) -> Option<String> {
        if self.passages.is_empty() && self.collections.is_empty() {
            return None;
        }
        let passages: std::collections::BTreeMap<String, Vec<(&str, &str, usize, &str)>> = self
            .passages
            .iter()
            .map(|((task, item), hits)| {
                let hits = hits
                    .iter()
                    .map(|h| {
                        (
                            h.id.as_str(),
                            h.source.as_str(),
                            h.position,
                            h.text.as_str(),
                        )
                    })
                    .collect();
                (format!("{task}\u{1f}{item}"), hits)
            })
            .collect();
        let collections: std::collections::BTreeMap<_, _> = self.collections.iter().collect();
        let tokens: std::collections::BTreeMap<_, _> = self.tokens.iter().collect();
        let value = serde_json::json!({
            "passages": passages,
            "collections": collections,
            "tokens": tokens,
        });
        Some(crate::digest::digest(&value))
    }

    /// The retrieval a `memory:k` program of `task` records: its collection and budget.
    pub fn retrieval(&self, task: &str, k: usize) -> Option<understudy_prompt::Retrieval> {
        let (collection, budget) = self.collections.get(task)?;
        Some(understudy_prompt::Retrieval {
            collection: collection.clone(),
            k,
            budget_tokens: *budget,
        })
    }

    /// The passage block for `item` under `memory:k` and the trace of the passages in it, or
    /// `None` when nothing was retrieved for it.
    pub fn block(
        &self,
        task: &str,
        item: &str,
        k: usize,
    ) -> Option<(String, understudy_prompt::RetrievalTrace)> {
        let hits = self.passages.get(&(task.to_string(), item.to_string()))?;
        let (collection, budget) = self.collections.get(task)?;
        let count = |h: &Hit| self.tokens.get(&h.id).copied().unwrap_or(0);
        let kept = prompt::within_budget(&hits[..k.min(hits.len())], *budget, &count);
        if kept.is_empty() {
            return None;
        }
        let trace = prompt::trace(collection, kept);
        Some((prompt::passages_block(collection, kept), trace))
    }
}

fn collection_name(task: &LoadedTask, spec: &MemorySpec) -> String {
    spec.collection
        .clone()
        .unwrap_or_else(|| format!("task:{}", task.def.name))
}

fn documents_root(task: &LoadedTask, spec: &MemorySpec, home: &Path) -> Option<PathBuf> {
    if let Some(name) = &spec.builtin {
        return builtin::data_file(name).map(|f| builtin::data_path(home, f));
    }
    spec.path.as_ref().map(|p| {
        if p.is_absolute() {
            p.clone()
        } else {
            task.source.parent().unwrap_or(Path::new(".")).join(p)
        }
    })
}

/// Stores the documents under `root` in `collection`, embedding only those that changed.
async fn index(
    root: &Path,
    collection: &str,
    spec: &MemorySpec,
    store: &dyn VectorStore,
    embedder: &dyn Embedder,
) -> Result<(usize, usize, usize), EvalError> {
    let memory = |e: understudy_memory::MemoryError| EvalError::Data(e.to_string());
    let stored = |e: understudy_store::StoreError| EvalError::Data(e.to_string());
    let files = collect_files(root).map_err(memory)?;
    if files.is_empty() {
        return Err(EvalError::Data(format!(
            "{}: no .txt, .md or .jsonl documents",
            root.display()
        )));
    }
    // Sources are named relative to the root, so prompts (and cache keys) do not depend on
    // where the documents sit on this machine.
    let base = if root.is_dir() {
        root.to_path_buf()
    } else {
        root.parent().unwrap_or(Path::new("")).to_path_buf()
    };
    let prefix = format!("{}/", base.display());
    let (mut documents, mut embedded, mut unchanged) = (0, 0, 0);
    for file in files {
        for doc in read_documents(&file).map_err(memory)? {
            let source = doc
                .source
                .strip_prefix(&prefix)
                .unwrap_or(&doc.source)
                .to_string();
            let pieces = chunk::chunk(&doc.text, embedder, spec.chunk_tokens, spec.overlap)
                .map_err(memory)?;
            documents += 1;
            if store
                .chunk_texts(collection, &source)
                .await
                .map_err(stored)?
                == pieces
                && store
                    .collection_embedder(collection)
                    .await
                    .map_err(stored)?
                    .as_deref()
                    == Some(embedder.name())
            {
                unchanged += 1;
                continue;
            }
            let vectors = embedder.embed(&pieces).map_err(memory)?;
            store
                .put_document(collection, embedder.name(), &source, &pieces, &vectors)
                .await
                .map_err(stored)?;
            embedded += pieces.len();
        }
    }
    Ok((documents, embedded, unchanged))
}

/// Indexes the documents of every task with a `[memory]` table and retrieves the `depth` best
/// passages for each of its items (nothing when no row retrieves: see `Plan::retrieval_depth`).
/// Embedding runs on the calling thread.
pub async fn prepare(
    tasks: &[LoadedTask],
    depth: Option<usize>,
    home: &Path,
    store: &dyn VectorStore,
    embedder: &dyn Embedder,
) -> Result<(Retrieved, Vec<Indexed>), EvalError> {
    let memory = |e: understudy_memory::MemoryError| EvalError::Data(e.to_string());
    let stored = |e: understudy_store::StoreError| EvalError::Data(e.to_string());
    let Some(k) = depth else {
        return Ok((Retrieved::default(), Vec::new()));
    };
    let mut retrieved = Retrieved::default();
    let mut report = Vec::new();
    for task in tasks {
        let Some(spec) = &task.def.memory else {
            continue;
        };
        let collection = collection_name(task, spec);
        let (documents, embedded, unchanged) = match documents_root(task, spec, home) {
            Some(root) => index(&root, &collection, spec, store, embedder).await?,
            None => (0, 0, 0),
        };
        match store
            .collection_embedder(&collection)
            .await
            .map_err(stored)?
        {
            Some(name) if name == embedder.name() => {}
            Some(name) => {
                return Err(EvalError::Data(format!(
                    "task {}: collection {collection:?} was embedded with {name}, this run uses {}",
                    task.def.name,
                    embedder.name()
                )))
            }
            None => {
                return Err(EvalError::Data(format!(
                    "task {}: no memory collection {collection:?} (add documents with `understudy memory add`)",
                    task.def.name
                )))
            }
        }
        let questions: Vec<String> = task.items.iter().map(|i| i.question.clone()).collect();
        let vectors = embed_batched(embedder, &questions).map_err(memory)?;
        for (item, vector) in task.items.iter().zip(&vectors) {
            let hits = store.search(&collection, vector, k).await.map_err(stored)?;
            for hit in &hits {
                retrieved
                    .tokens
                    .entry(hit.id.clone())
                    .or_insert_with(|| embedder.count_tokens(&hit.text));
            }
            retrieved
                .passages
                .insert((task.def.name.clone(), item.id.clone()), hits);
        }
        retrieved.collections.insert(
            task.def.name.clone(),
            (collection.clone(), spec.budget_tokens),
        );
        report.push(Indexed {
            task: task.def.name.clone(),
            collection,
            documents,
            embedded,
            unchanged,
            questions: questions.len(),
        });
    }
    Ok((retrieved, report))
}
