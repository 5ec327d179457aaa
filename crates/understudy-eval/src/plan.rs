//! The evaluation plan: which models, strategies, formats and tasks, how many items, the
//! reference. Built from command-line lists or an `[eval]` table in a TOML file (strict keys),
//! then resolved: tasks loaded and validated, names checked, before any model is called.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::examples::FoundExamples;
use crate::retrieval::Retrieved;
use understudy_tasks::find::PendingTask;
use understudy_tasks::strategy::{Format, Strategy, DEFAULT_ROLE_PROMPT};
use understudy_tasks::task::LoadedTask;
use understudy_tasks::EvalError;

/// The default suite: `understudy eval` with no arguments. Tasks where the reference is far
/// above the baseline and the ladder's models differ from it (ASDiv math, free-form; OpenBookQA,
/// four choices), cheap per item, at 30 items: on a 2-core laptop about 3.5 minutes, and enough
/// items that the models' gaps to the reference are settled in most runs (the power calculation
/// is in docs/benchmarks.md, "The default suite").
pub const DEFAULT_TASKS: &[&str] = &["math", "openbookqa"];
pub const DEFAULT_STRATEGIES: &[&str] = &["zero-shot", "few-shot:3"];
pub const DEFAULT_FORMATS: &[&str] = &["plain"];
pub const DEFAULT_LIMIT: usize = 30;
pub const DEFAULT_SEED: u64 = 42;

/// The `[eval]` table of a study file, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    pub models: Option<Vec<String>>,
    pub reference: Option<String>,
    pub strategies: Option<Vec<String>>,
    pub formats: Option<Vec<String>>,
    pub tasks: Option<Vec<String>>,
    pub limit: Option<usize>,
    pub seed: Option<u64>,
    pub concurrency: Option<usize>,
    pub role_prompt: Option<String>,
    pub db: Option<PathBuf>,
    /// Samples per item (pass@k); more than one samples at `sample_temperature`.
    pub samples: Option<usize>,
    pub sample_temperature: Option<f32>,
    /// Skip this many items per task before taking `limit` (held-back items).
    pub offset: Option<usize>,
    /// Ask every answer's token log-probabilities and record their mean (what `tune` calibrates
    /// cascades on). Off by default: computing them costs time inside the measured latency.
    pub confidence: Option<bool>,
    /// Adaptive stopping: a row stops taking items once its score's 95% interval is narrower
    /// than this many points (`limit` stays the most items a row takes).
    pub until_ci: Option<f64>,
}

impl EvalSection {
    /// Parses the `[eval]` table (already cut out of the file); errors name `eval.<key>`.
    pub fn parse(table: toml::Table, path: &Path) -> Result<Self, EvalError> {
        let value = toml::Value::Table(table);
        serde_path_to_error::deserialize(value).map_err(|err| {
            EvalError::Config(understudy_core::toml_error::describe(
                path,
                "eval",
                &err.path().to_string(),
                &err.inner().to_string(),
            ))
        })
    }

    /// Refuses an empty name or a name listed twice in `models`, `strategies`, `formats` or
    /// `tasks` (a repeated entry would otherwise collapse into one row without a word).
    pub fn check_lists(&self) -> Result<(), EvalError> {
        for (key, list) in [
            ("models", &self.models),
            ("strategies", &self.strategies),
            ("formats", &self.formats),
            ("tasks", &self.tasks),
        ] {
            let Some(list) = list else { continue };
            let mut seen = std::collections::BTreeSet::new();
            for name in list {
                let name = name.trim();
                if name.is_empty() {
                    return Err(EvalError::Config(format!(
                        "`{key}` (--{key} or [eval] {key}) has an empty name; list names separated by commas"
                    )));
                }
                if !seen.insert(name) {
                    return Err(EvalError::Config(format!(
                        "`{key}` (--{key} or [eval] {key}) lists {name:?} twice; name each once"
                    )));
                }
            }
        }
        Ok(())
    }

    /// `other` wins where it sets a value (command line over file).
    pub fn overlay(self, other: EvalSection) -> EvalSection {
        EvalSection {
            models: other.models.or(self.models),
            reference: other.reference.or(self.reference),
            strategies: other.strategies.or(self.strategies),
            formats: other.formats.or(self.formats),
            tasks: other.tasks.or(self.tasks),
            limit: other.limit.or(self.limit),
            seed: other.seed.or(self.seed),
            concurrency: other.concurrency.or(self.concurrency),
            role_prompt: other.role_prompt.or(self.role_prompt),
            db: other.db.or(self.db),
            samples: other.samples.or(self.samples),
            sample_temperature: other.sample_temperature.or(self.sample_temperature),
            offset: other.offset.or(self.offset),
            confidence: other.confidence.or(self.confidence),
            until_ci: other.until_ci.or(self.until_ci),
        }
    }
}

/// A task as the plan names it and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRef {
    pub name: String,
    pub source: String,
}

/// A resolved plan, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub models: Vec<String>,
    pub reference: Option<String>,
    pub strategies: Vec<Strategy>,
    pub formats: Vec<Format>,
    pub tasks: Vec<LoadedTask>,
    pub limit: usize,
    pub seed: u64,
    pub concurrency: Option<usize>,
    pub role_prompt: String,
    /// Answers per item: 1 is greedy; more are sampled at `sample_temperature` with seeds
    /// `seed + i`, stored as items `ID#i`.
    pub samples: usize,
    pub sample_temperature: f32,
    /// Items skipped per task before the scored ones.
    pub offset: usize,
    /// Passages for `memory:K` strategies (filled by `retrieval::prepare` before the run).
    pub retrieved: Retrieved,
    /// Examples for `knn-shot:K` strategies (filled by `examples::prepare` before the run).
    pub examples: FoundExamples,
    /// Every request asks for log-probabilities (see [`EvalSection::confidence`]); otherwise
    /// only the rows that need them (a cascade's `confidence:T` signal) do.
    pub confidence: bool,
    /// Adaptive stopping (see [`EvalSection::until_ci`]).
    pub until_ci: Option<crate::stopping::StopRule>,
}

/// Splits "a,b , c" into trimmed non-empty names.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Plan {
    /// The most passages any `memory:K` row puts into a prompt (None: no row retrieves).
    pub fn retrieval_depth(&self) -> Option<usize> {
        self.strategies.iter().filter_map(|s| s.memory()).max()
    }

    /// The most examples a `knn-shot:K` row finds per item, or `None` when no row does.
    pub fn knn_shot_depth(&self) -> Option<usize> {
        self.strategies.iter().filter_map(|s| s.knn_shot()).max()
    }

    /// A stable key for "the same command": rerunning a plan with this key resumes its run.
    pub fn key(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.describe().to_string());
        hex::encode(&h.finalize()[..12])
    }

    /// The plan as JSON, stored with the run.
    pub fn describe(&self) -> serde_json::Value {
        let mut plan = serde_json::json!({
            "models": self.models,
            "reference": self.reference,
            "strategies": self.strategies.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "formats": self.formats.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            "tasks": self.tasks.iter().map(|t| serde_json::json!({"name": t.def.name, "source": t.source, "items": t.items.len(), "definition": t.fingerprint()})).collect::<Vec<_>>(),
            "limit": self.limit,
            "seed": self.seed,
            "role_prompt": self.role_prompt,
        });
        // Only sampled plans say so, which keeps the keys of earlier greedy runs unchanged.
        if self.offset > 0 {
            plan["offset"] = self.offset.into();
        }
        if self.confidence {
            plan["confidence"] = true.into();
        }
        if let Some(rule) = &self.until_ci {
            plan["until_ci"] = rule.width_points.into();
        }
        if self.samples > 1 {
            plan["samples"] = self.samples.into();
            plan["sample_temperature"] = f64::from(self.sample_temperature).into();
        }
        plan
    }

    /// The plan as stored with the run: [`Plan::describe`] plus what each task's answers are
    /// (for baselines), which is derived from the definition and so stays out of the key.
    pub fn stored(&self) -> serde_json::Value {
        let mut plan = self.describe();
        if let Some(tasks) = plan["tasks"].as_array_mut() {
            for (entry, task) in tasks.iter_mut().zip(&self.tasks) {
                entry["answer"] = serde_json::to_value(task.answer_kind()).unwrap_or_default();
                // The golds of the few-shot pool, which is never scored: the majority baseline
                // is taken from them, not from the scored items.
                let mut unscored: std::collections::BTreeMap<String, usize> = Default::default();
                for item in &task.pool {
                    *unscored
                        .entry(item.target.trim().to_lowercase())
                        .or_default() += 1;
                }
                entry["unscored_golds"] = serde_json::to_value(unscored).unwrap_or_default();
                // Each multiple-choice item's own option count: chance is 1 / options per item.
                if matches!(
                    task.answer_kind(),
                    understudy_tasks::answer_kind::AnswerKind::Choice { .. }
                ) {
                    let options: std::collections::BTreeMap<&str, usize> = task
                        .items
                        .iter()
                        .map(|i| (i.id.as_str(), i.options.len()))
                        .collect();
                    entry["item_options"] = serde_json::to_value(options).unwrap_or_default();
                }
            }
        }
        plan
    }

    /// Resolves names into a plan; each pending task comes with the path of its data file
    /// (built-in data already fetched). Every row is read and checked here.
    pub fn resolve(
        section: &EvalSection,
        default_model: &str,
        tasks: Vec<(PendingTask, PathBuf)>,
    ) -> Result<Self, EvalError> {
        section.check_lists()?;
        let seed = section.seed.unwrap_or(DEFAULT_SEED);
        let limit = section.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 {
            return Err(EvalError::Config("`limit` must be at least 1".into()));
        }
        let samples = section.samples.unwrap_or(1);
        if samples == 0 {
            return Err(EvalError::Config("`samples` must be at least 1".into()));
        }
        let until_ci = section
            .until_ci
            .map(|points| crate::stopping::checked_rule(points, samples))
            .transpose()?;
        let sample_temperature = section.sample_temperature.unwrap_or(0.8);
        if !(0.0..=2.0).contains(&sample_temperature) {
            return Err(EvalError::Config(format!(
                "`sample_temperature` must be between 0 and 2, got {sample_temperature}"
            )));
        }
        let strategies = match &section.strategies {
            Some(list) => parse_all(list, Strategy::parse)?,
            None => parse_all(DEFAULT_STRATEGIES, Strategy::parse)?,
        };
        let formats = match &section.formats {
            Some(list) => parse_all(list, Format::parse)?,
            None => vec![Format::Plain],
        };
        let models = section
            .models
            .clone()
            .unwrap_or_else(|| vec![default_model.to_string()]);
        if models.is_empty() || strategies.is_empty() || formats.is_empty() {
            return Err(EvalError::Config(
                "models, strategies and formats must each name at least one".into(),
            ));
        }
        crate::technique::check_rows(&models, &strategies)?;
        let offset = section.offset.unwrap_or(0);
        let loaded = tasks
            .into_iter()
            .map(|(pending, data_path)| {
                let mut task = LoadedTask::load(pending.def, pending.source, &data_path, seed)?;
                let loaded = task.items.len();
                task.items = task.items.into_iter().skip(offset).take(limit).collect();
                check_task(&task, &strategies, loaded, offset)?;
                Ok(task)
            })
            .collect::<Result<Vec<_>, EvalError>>()?;
        Ok(Plan {
            models,
            reference: section.reference.clone(),
            strategies,
            formats,
            tasks: loaded,
            limit,
            seed,
            concurrency: section.concurrency,
            role_prompt: section
                .role_prompt
                .clone()
                .unwrap_or_else(|| DEFAULT_ROLE_PROMPT.to_string()),
            samples,
            sample_temperature,
            offset,
            retrieved: Retrieved::default(),
            examples: FoundExamples::default(),
            confidence: section.confidence.unwrap_or(false),
            until_ci,
        })
    }
}

fn parse_all<S: AsRef<str>, T, E>(
    names: &[S],
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, EvalError>
where
    EvalError: From<E>,
{
    names
        .iter()
        .map(|s| parse(s.as_ref()).map_err(EvalError::from))
        .collect()
}

/// A loaded task can run every strategy of the plan: enough pool rows for the largest
/// few-shot or knn-shot, a `[memory]` table for retrieval, and at least one item to score
/// (`loaded` items before `offset` skipped some).
fn check_task(
    task: &LoadedTask,
    strategies: &[Strategy],
    loaded: usize,
    offset: usize,
) -> Result<(), EvalError> {
    let problem = |message: String| EvalError::Task {
        path: task.source.clone(),
        line: None,
        message,
    };
    for (kind, wanted) in [
        ("few-shot", strategies.iter().map(Strategy::few_shot).max()),
        (
            "knn-shot",
            strategies.iter().filter_map(Strategy::knn_shot).max(),
        ),
    ] {
        let wanted = wanted.unwrap_or(0);
        if task.pool.len() < wanted {
            return Err(problem(format!(
                "{kind}:{wanted} needs {wanted} pool rows but the task has {} (`few_shot_pool` under [dataset])",
                task.pool.len()
            )));
        }
    }
    if let Some(s) = strategies.iter().find(|s| s.memory().is_some()) {
        if task.def.memory.is_none() {
            return Err(problem(format!(
                "strategy {s} retrieves from the task's documents, but task {} has no `[memory]` table",
                task.def.name
            )));
        }
    }
    if task.items.is_empty() {
        return Err(problem(if loaded == 0 {
            "no items to score: the dataset has no items".into()
        } else {
            format!(
                "no items to score: the dataset has {loaded} item{} and --offset skips {offset} (use an offset below {loaded})",
                if loaded == 1 { "" } else { "s" }
            )
        }));
    }
    Ok(())
}
