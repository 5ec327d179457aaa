//! From the `[eval]` section to a runnable plan, in two steps: `resolve` checks every name, row
//! and dataset (fetching built-in data into the local cache) before any model is called; then
//! `Resolved::complete` indexes retrieval documents and finds `knn-shot:K` examples, once, so the
//! plan the runner gets is final.

use std::path::Path;
use std::sync::Arc;

use understudy_core::config::Config;
use understudy_memory::Embedder;
use understudy_models::install::Progress;
use understudy_store::Store;
use understudy_tasks::builtin;
use understudy_tasks::find::{find_task, DataSource};
use understudy_tasks::strategy::{Format, Strategy};

use crate::examples;
use crate::plan::{EvalSection, Plan, DEFAULT_TASKS};
use crate::retrieval;
use crate::EvalError;

/// Where built-in data lives and comes from, and who hears about its download.
pub struct DataSources<'a> {
    pub home: &'a Path,
    pub index_url: &'a str,
    pub progress: &'a dyn Progress,
}

/// A plan whose names and datasets are checked, before its memory rows are prepared.
pub struct Resolved {
    plan: Plan,
    home: std::path::PathBuf,
}

/// What preparing memory rows did: documents indexed for `memory:K`, pools stored for `knn-shot:K`.
#[derive(Default)]
pub struct MemoryPrepared {
    pub indexed: Vec<retrieval::Indexed>,
    pub pools: Vec<examples::Prepared>,
}

/// The built-in datasets `section`'s tasks read (their data, extra answer data, memory documents).
fn builtin_names(pending: &[understudy_tasks::find::PendingTask]) -> Result<Vec<&str>, EvalError> {
    let mut names: Vec<&str> = pending
        .iter()
        .filter_map(|p| match &p.data {
            DataSource::Builtin(d) => Some(d.name),
            DataSource::File(_) => None,
        })
        .collect();
    for p in pending {
        let task_error = |message: String| EvalError::Task {
            path: p.source.clone(),
            line: None,
            message,
        };
        for extra in p.def.answer.extra_data() {
            if builtin::data_file(extra).is_none() {
                return Err(task_error(format!(
                    "`answer` names data {extra:?}, which is not a built-in dataset"
                )));
            }
            names.push(extra);
        }
        if let Some(docs) = p.def.memory.as_ref().and_then(|m| m.builtin_data()) {
            if builtin::data_file(docs).is_none() {
                return Err(task_error(format!(
                    "`memory.builtin` {docs:?} is not a built-in dataset"
                )));
            }
            names.push(docs);
        }
    }
    Ok(names)
}

/// Resolves every name and reads every dataset of `section` into a plan, before any model is
/// called (built-in data is fetched into the local cache if missing).
pub async fn resolve(
    config: &Config,
    section: &EvalSection,
    sources: &DataSources<'_>,
) -> Result<Resolved, EvalError> {
    section.check_lists()?;
    let task_names: Vec<String> = section
        .tasks
        .clone()
        .unwrap_or_else(|| DEFAULT_TASKS.iter().map(|s| s.to_string()).collect());
    let mut pending = Vec::new();
    for name in &task_names {
        pending.push(find_task(name)?);
    }
    for strategy in section.strategies.iter().flatten() {
        Strategy::parse(strategy)?;
    }
    for format in section.formats.iter().flatten() {
        Format::parse(format)?;
    }
    let names = builtin_names(&pending)?;
    if !names.is_empty() {
        builtin::ensure_data(&names, sources.home, sources.index_url, sources.progress).await?;
    }
    let with_data = pending
        .into_iter()
        .map(|p| {
            let path = match &p.data {
                DataSource::Builtin(d) => builtin::data_path(sources.home, d),
                DataSource::File(f) => f.clone(),
            };
            (p, path)
        })
        .collect();
    Ok(Resolved {
        plan: Plan::resolve(section, &config.default_model, with_data)?,
        home: sources.home.to_path_buf(),
    })
}

impl Resolved {
    /// The plan so far (its memory rows not yet prepared).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Whether preparing memory rows needs an embedder (a `memory:K` or `knn-shot:K` row).
    pub fn needs_embedder(&self) -> bool {
        self.plan.retrieval_depth().is_some() || self.plan.knn_shot_depth().is_some()
    }

    /// The final plan: retrieval documents indexed and each item's passages found, each task's
    /// few-shot pool stored and each item's nearest examples found (embedding only what changed).
    pub async fn complete(
        self,
        store: &Store,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Result<(Plan, MemoryPrepared), EvalError> {
        let mut done = MemoryPrepared::default();
        if !self.needs_embedder() {
            return Ok((self.plan, done));
        }
        let Some(embedder) = embedder else {
            return Err(EvalError::Config(
                "memory:K and knn-shot:K rows need an embedder".into(),
            ));
        };
        let mut plan = self.plan;
        let (retrieved, indexed) = retrieval::prepare(
            &plan.tasks,
            plan.retrieval_depth(),
            &self.home,
            store.vectors.as_ref(),
            embedder.as_ref(),
        )
        .await?;
        let (found, pools) = examples::prepare(
            &plan.tasks,
            plan.knn_shot_depth(),
            store.vectors.as_ref(),
            embedder.as_ref(),
        )
        .await?;
        plan.retrieved = retrieved;
        plan.examples = found;
        done.indexed = indexed;
        done.pools = pools;
        Ok((plan, done))
    }
}
