//! Tasks: a dataset (JSONL or CSV), minijinja templates that build the question and the gold
//! answer from a row, and the answer kind that picks the scorer. Loading validates every row and
//! reports a bad one with file and line before any model is called.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::EvalError;

mod command_spec;
mod conversation_field;
mod load;
mod memory_spec;
mod reference_spec;
mod structured_spec;
mod tool_calls_spec;

pub use command_spec::CommandSpec;
pub use memory_spec::MemorySpec;
pub use reference_spec::{
    as_bfcl_gold, calls_of as reference_calls, offered_tools as reference_tools,
    response_format as reference_format, ReferenceKind, ReferenceSpec,
};
pub use structured_spec::StructuredSpec;
pub use tool_calls_spec::{tools_of, ToolCallsSpec};

/// How answers are read and scored.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AnswerSpec {
    /// One label from a fixed set; gold values may be mapped (`target_map`), answers may use synonyms.
    Label {
        labels: Vec<String>,
        #[serde(default)]
        target_map: BTreeMap<String, String>,
        #[serde(default)]
        synonyms: BTreeMap<String, Vec<String>>,
    },
    /// A multiple-choice letter; `options` is a template giving "A. text" lines.
    Choice { options: String },
    /// A number; the last number in the answer is compared with the first in the gold value.
    Number {
        #[serde(default = "default_tolerance")]
        tolerance: f64,
    },
    /// The whole answer equals the gold value (case- and whitespace-insensitive).
    Exact,
    /// A JSON document equal to the gold one as a value (key order and spacing ignored).
    Json,
    /// The answer matches a regular expression (the gold value is not used).
    Regex {
        pattern: String,
        /// What the answer should look like, in words, for the prompt (default: only the answer).
        #[serde(default)]
        format: Option<String>,
    },
    /// A Python completion run against the item's tests in a sandbox (HumanEval); pass@1.
    Code {
        /// Row field holding the test code (defines `check`).
        test_field: String,
        /// Row field holding the name of the function under test.
        entry_point_field: String,
        /// Wall-clock limit per sample.
        #[serde(default = "default_code_timeout_ms")]
        timeout_ms: u64,
    },
    /// IFEval's verifiable instructions, checked in Rust; the score is prompt-level strict accuracy.
    Ifeval,
    /// Rules a reply must keep (e.g. a system prompt's); the score is the share kept.
    Rules {
        rules: Vec<crate::rules::Rule>,
        /// What the reply should look like, in words, for the prompt.
        #[serde(default)]
        format: Option<String>,
    },
    /// ROUGE-1/2/L F-measure against the gold summary; the score is ROUGE-L.
    Rouge,
    /// The task's own grader: a program run in the sandbox that prints a score in [0, 1].
    Command(CommandSpec),
    /// A JSON object scored field by field against the gold object (the share of its fields
    /// matched), and checked against a JSON Schema when one is named.
    Structured(StructuredSpec),
    /// Tool calls, scored as the Berkeley Function Calling Leaderboard scores them.
    ToolCalls(ToolCallsSpec),
    /// The reference model's answer is the gold (traffic made into a task): calls and JSON
    /// answers are matched against it, text answers compared with it by a pairwise judge.
    Reference(ReferenceSpec),
    /// A judge model grades each answer 1-10 with the MT-Bench single-answer prompts.
    Judge {
        /// Built-in data file with the judge prompts.
        prompts: String,
        /// Built-in data file with reference answers (used for `reference_categories`).
        references: Option<String>,
        /// Categories graded against the reference answer.
        #[serde(default)]
        reference_categories: Vec<String>,
        /// Row field with the item's category.
        #[serde(default)]
        category_field: Option<String>,
    },
}

fn default_code_timeout_ms() -> u64 {
    10_000
}

impl AnswerSpec {
    /// Built-in data files the scorer needs besides the dataset.
    pub fn extra_data(&self) -> Vec<&str> {
        match self {
            AnswerSpec::Judge {
                prompts,
                references,
                ..
            } => std::iter::once(prompts.as_str())
                .chain(references.as_deref())
                .collect(),
            _ => Vec::new(),
        }
    }
}

fn default_tolerance() -> f64 {
    1e-6
}

/// Where the rows come from.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// A built-in data file (see `builtin::DATA`).
    pub builtin: Option<String>,
    /// A JSONL or CSV file, relative to the task file.
    pub path: Option<PathBuf>,
    /// Field holding a stable item id (default: the row's line number).
    pub id_field: Option<String>,
    /// Rows reserved as the few-shot pool; scored items never come from it.
    #[serde(default = "default_pool")]
    pub few_shot_pool: usize,
    /// A row field that marks pool rows (`true`, or `"true"` in CSV): the pool is drawn from
    /// the marked rows only (at most `few_shot_pool` of them) and every other row is scored,
    /// like lm-eval's `fewshot_split`. Without it the pool is split off the shuffled rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub few_shot_field: Option<String>,
    /// Drop rows whose gold answer is unusable (counted and reported) instead of failing.
    #[serde(default)]
    pub skip_invalid: bool,
}

fn default_pool() -> usize {
    16
}

/// A task file as written.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A system prompt every strategy sends first (e.g. rules to keep, under study).
    #[serde(default)]
    pub system: Option<String>,
    /// What the model must do, in words; rendered in every prompt format.
    pub instruction: String,
    /// Template over a row that gives the input shown to the model.
    pub question: String,
    /// Template over a row that gives the gold answer.
    pub target: String,
    pub dataset: DatasetSpec,
    pub answer: AnswerSpec,
    /// Tokens allowed for a direct answer (chain-of-thought gets more).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Row fields the scorer reads (tests, instruction lists, categories), copied into each item.
    #[serde(default)]
    pub fields: Vec<String>,
    /// Row field holding a list of user turns: the first is the question (through `question`),
    /// the rest are sent one by one after the model's previous answer.
    #[serde(default)]
    pub turns_field: Option<String>,
    /// Row field holding a whole conversation to send as a client would (a list of
    /// `{role, content, tool_calls?, tool_call_id?}` turns ending with the user's): the
    /// strategy's system text and examples go before it, and no template wraps it. `question`
    /// still names the input (for display and example search).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages_field: Option<String>,
    /// Inputs longer than this many characters are cut and the item is marked truncated
    /// (reported in the summary), never cut silently.
    #[serde(default)]
    pub max_input_chars: Option<usize>,
    /// Documents the questions are answered from; the `memory:K` strategy retrieves from them.
    #[serde(default)]
    pub memory: Option<MemorySpec>,
}

fn default_max_tokens() -> u32 {
    24
}

/// One scored (or few-shot) item.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Item {
    pub id: String,
    pub line: usize,
    pub question: String,
    pub target: String,
    /// Multiple-choice options as (letter, text).
    pub options: Vec<(char, String)>,
    /// The row fields named by the task's `fields` (non-strings as JSON text).
    pub fields: BTreeMap<String, String>,
    /// User turns sent after the first answer, in order.
    pub follow_ups: Vec<String>,
    /// The whole conversation sent in place of the question (`messages_field`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conversation: Vec<understudy_core::ChatMessage>,
    /// The question was cut to the task's `max_input_chars`.
    pub truncated: bool,
    /// The whole question when it was cut (the map-reduce strategy reads it all).
    pub full_question: Option<String>,
    /// Worked reasoning for a few-shot example, shown before the final-answer marker under
    /// chain of thought (`optimize` bootstraps it from an answer that scored right). Data rows
    /// have none, and then it stays out of the task's fingerprint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
}

/// A task ready to run: definition plus validated items.
#[derive(Debug, Clone)]
pub struct LoadedTask {
    pub def: TaskDef,
    pub source: PathBuf,
    pub items: Vec<Item>,
    pub pool: Vec<Item>,
    /// Rows dropped by `skip_invalid`.
    pub skipped: usize,
    /// `(declared, kept)` when `few_shot_pool` asked for more than half the rows.
    pub pool_capped: Option<(usize, usize)>,
}

impl LoadedTask {
    /// A digest of everything that decides what a cell asks and how it is graded — the task's
    /// definition, its items and its few-shot pool — so that a run resumes only while they are
    /// unchanged (editing the answer kind must not mix two gradings in one run).
    /// What the answers are, as far as a baseline needs to know.
    pub fn answer_kind(&self) -> crate::answer_kind::AnswerKind {
        use crate::answer_kind::AnswerKind;
        match &self.def.answer {
            AnswerSpec::Label { labels, .. } => AnswerKind::Label {
                labels: labels.clone(),
            },
            AnswerSpec::Choice { .. } => AnswerKind::Choice {
                options: self.items.iter().map(|i| i.options.len()).max(),
            },
            AnswerSpec::Number { .. } | AnswerSpec::Exact | AnswerSpec::Json => {
                AnswerKind::Constant
            }
            _ => AnswerKind::Open,
        }
    }

    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        // A canonical serialisation (JSON, maps sorted), not `Debug`, which may change between
        // toolchains and would silently stop runs from resuming.
        let value =
            serde_json::json!({"definition": self.def, "items": self.items, "pool": self.pool});
        h.update(value.to_string());
        hex::encode(&h.finalize()[..12])
    }
}

/// Deserialises a TOML file strictly; errors name the file, line and key.
pub fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, EvalError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let key = err.path().to_string();
        let inner = err.into_inner();
        let line = inner
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        EvalError::Task {
            path: path.to_path_buf(),
            line,
            message: format!(
                "{}: {}",
                understudy_core::toml_error::place("", &key),
                understudy_core::toml_error::in_words(inner.message())
            ),
        }
    })
}

impl TaskDef {
    /// Parses a task TOML; errors name the file, line and key.
    pub fn parse(text: &str, path: &Path) -> Result<Self, EvalError> {
        let mut def: TaskDef = parse_toml(text, path)?;
        if let AnswerSpec::Structured(spec) = &mut def.answer {
            spec.load_schema(path).map_err(|message| EvalError::Task {
                path: path.to_path_buf(),
                line: None,
                message,
            })?;
        }
        def.check(path)?;
        Ok(def)
    }

    fn check(&self, path: &Path) -> Result<(), EvalError> {
        let bad = |message: String| EvalError::Task {
            path: path.to_path_buf(),
            line: None,
            message,
        };
        match (&self.dataset.builtin, &self.dataset.path) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return Err(bad(
                    "`dataset` needs exactly one of `builtin` or `path`".into()
                ))
            }
        }
        if let Some(memory) = &self.memory {
            memory.check().map_err(|m| bad(format!("`memory`: {m}")))?;
        }
        if let AnswerSpec::Label {
            labels, target_map, ..
        } = &self.answer
        {
            if labels.len() < 2 {
                return Err(bad("`answer.labels` needs at least two labels".into()));
            }
            for (from, to) in target_map {
                if !labels.contains(to) {
                    return Err(bad(format!("`answer.target_map.{from}` maps to {to:?}, which is not in `answer.labels`")));
                }
            }
        }
        if let AnswerSpec::Rules { rules, .. } = &self.answer {
            if rules.is_empty() {
                return Err(bad("`answer.rules` needs at least one rule".into()));
            }
            for (i, rule) in rules.iter().enumerate() {
                rule.check()
                    .map_err(|m| bad(format!("`answer.rules[{i}]`: {m}")))?;
            }
        }
        if let AnswerSpec::Command(spec) = &self.answer {
            spec.check().map_err(bad)?;
        }
        if let AnswerSpec::Regex { pattern, .. } = &self.answer {
            regex::Regex::new(pattern).map_err(|e| bad(format!("`answer.pattern`: {e}")))?;
        }
        let env = minijinja::Environment::new();
        for (key, template) in [("question", &self.question), ("target", &self.target)] {
            env.template_from_str(template)
                .map_err(|e| bad(format!("`{key}` template: {e}")))?;
        }
        Ok(())
    }
}

/// Parses "A. text\nB. text" into (letter, text) pairs.
pub fn parse_options(text: &str) -> Vec<(char, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let mut chars = line.chars();
            let letter = chars.next()?;
            let rest = chars.as_str();
            if letter.is_ascii_uppercase() && (rest.starts_with('.') || rest.starts_with(')')) {
                Some((letter, rest[1..].trim().to_string()))
            } else {
                None
            }
        })
        .collect()
}
