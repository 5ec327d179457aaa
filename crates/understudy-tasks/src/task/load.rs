//! Reading a task's dataset into validated items: rows from JSONL or CSV with their line numbers,
//! the templates rendered per row, ids checked for repeats, gold answers checked against the
//! answer kind, then the seeded shuffle and the few-shot pool split. The types live in the parent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::{Map, Value};

use super::{parse_options, AnswerSpec, Item, LoadedTask, TaskDef};
use crate::EvalError;

/// A raw row with the line it came from.
struct Row {
    line: usize,
    fields: Map<String, Value>,
}

fn read_rows(path: &Path) -> Result<Vec<Row>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::Task {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot read dataset: {e}"),
    })?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let mut rows = Vec::new();
    if is_csv {
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| EvalError::Task {
                path: path.to_path_buf(),
                line: Some(1),
                message: format!("bad CSV header: {e}"),
            })?
            .clone();
        for record in reader.records() {
            let record = record.map_err(|e| EvalError::Task {
                path: path.to_path_buf(),
                line: e.position().map(|p| p.line() as usize),
                message: format!("bad CSV row: {e}"),
            })?;
            let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
            let fields = headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
                .collect();
            rows.push(Row { line, fields });
        }
    } else {
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(line).map_err(|e| EvalError::Task {
                path: path.to_path_buf(),
                line: Some(index + 1),
                message: format!("not a JSON object: {e}"),
            })?;
            let Value::Object(fields) = value else {
                return Err(EvalError::Task {
                    path: path.to_path_buf(),
                    line: Some(index + 1),
                    message: "each line must be a JSON object".into(),
                });
            };
            rows.push(Row {
                line: index + 1,
                fields,
            });
        }
    }
    Ok(rows)
}

impl LoadedTask {
    /// Reads the dataset at `data_path`, validates every row, shuffles with `seed` and splits off
    /// the few-shot pool.
    pub fn load(
        def: TaskDef,
        source: PathBuf,
        data_path: &Path,
        seed: u64,
    ) -> Result<Self, EvalError> {
        let rows = read_rows(data_path)?;
        let reader = RowReader {
            env: templates(&def, &source)?,
            def: &def,
            data_path,
        };
        let mut items = Vec::new();
        let mut marked = Vec::new();
        let mut skipped = 0;
        let mut seen_ids: std::collections::HashMap<String, usize> = Default::default();
        for row in &rows {
            let id = reader.id(row)?;
            if let Some(first) = seen_ids.insert(id.clone(), row.line) {
                return Err(reader.error(
                    row,
                    &id,
                    format!(
                    "id {id:?} is used again (first on line {first}); every item needs its own id, \
                     or results of one would overwrite the other"
                ),
                ));
            }
            let in_pool = reader.marked_for_pool(row, &id)?;
            match reader.item(row, id)? {
                Some(item) if in_pool => marked.push(item),
                Some(item) => items.push(item),
                None => skipped += 1,
            }
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ fnv(&def.name));
        items.shuffle(&mut rng);
        let declared = def.dataset.few_shot_pool;
        let (scored, pool, pool_capped) = if def.dataset.few_shot_field.is_some() {
            // The pool is the marked rows (shuffled after the scored ones, so marking rows
            // leaves the scored order as it was); every other row is scored.
            marked.shuffle(&mut rng);
            marked.truncate(declared);
            (items, marked, None)
        } else {
            // At most half the rows go to the pool, so that something is left to score; a
            // smaller pool than declared is reported, and pool rows are never scored.
            let pool_size = declared.min(items.len() / 2);
            let pool_capped = (pool_size < declared).then_some((declared, pool_size));
            let scored = items.split_off(pool_size);
            (scored, items, pool_capped)
        };
        Ok(Self {
            def,
            source,
            items: scored,
            pool,
            skipped,
            pool_capped,
        })
    }
}

/// The task's question, target and (for choice tasks) options templates, strict about
/// undefined fields.
fn templates<'d>(def: &'d TaskDef, source: &Path) -> Result<minijinja::Environment<'d>, EvalError> {
    let task_error = |message: String| EvalError::Task {
        path: source.to_path_buf(),
        line: None,
        message,
    };
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template("question", &def.question)
        .and_then(|_| env.add_template("target", &def.target))
        .map_err(|e| task_error(e.to_string()))?;
    if let AnswerSpec::Choice { options } = &def.answer {
        env.add_template("options", options)
            .map_err(|e| task_error(format!("`answer.options`: {e}")))?;
    }
    Ok(env)
}

/// Turns data rows into items under one task definition.
struct RowReader<'d> {
    def: &'d TaskDef,
    env: minijinja::Environment<'d>,
    data_path: &'d Path,
}

impl RowReader<'_> {
    fn error(&self, row: &Row, id: &str, message: String) -> EvalError {
        EvalError::Row {
            path: self.data_path.to_path_buf(),
            line: row.line,
            item: id.to_string(),
            message,
        }
    }

    /// Whether the row is marked for the few-shot pool by `dataset.few_shot_field`.
    fn marked_for_pool(&self, row: &Row, id: &str) -> Result<bool, EvalError> {
        let Some(field) = &self.def.dataset.few_shot_field else {
            return Ok(false);
        };
        match row.fields.get(field) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(false),
            Some(Value::Bool(true)) => Ok(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.is_empty() || s.eq_ignore_ascii_case("false") => Ok(false),
            Some(other) => Err(self.error(
                row,
                id,
                format!("`{field}` (dataset.few_shot_field) must be true or false, got {other}"),
            )),
        }
    }

    /// The row's id: its `dataset.id_field`, or `L<line>`.
    fn id(&self, row: &Row) -> Result<String, EvalError> {
        let Some(field) = &self.def.dataset.id_field else {
            return Ok(format!("L{}", row.line));
        };
        match row.fields.get(field).map(value_text) {
            Some(id) if !id.trim().is_empty() => Ok(id),
            _ => Err(self.error(
                row,
                &format!("L{}", row.line),
                format!("no id: field `{field}` (named by `dataset.id_field`) is missing or empty"),
            )),
        }
    }

    fn render(&self, name: &str, row: &Row, id: &str) -> Result<String, EvalError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| self.error(row, id, format!("`{name}` template: {}", describe(&e))))?;
        template.render(&row.fields).map_err(|e| {
            self.error(
                row,
                id,
                format!(
                    "`{name}` template: {}",
                    missing_fields(&template, &row.fields).unwrap_or_else(|| describe(&e))
                ),
            )
        })
    }

    /// The item a row makes; None when its target is invalid and the dataset skips such rows.
    fn item(&self, row: &Row, id: String) -> Result<Option<Item>, EvalError> {
        let def = self.def;
        let mut question = self.render("question", row, &id)?;
        let mut full_question = None;
        if let Some(limit) = def.max_input_chars {
            if question.chars().count() > limit {
                full_question = Some(question.clone());
                question = question.chars().take(limit).collect();
            }
        }
        let mut fields = BTreeMap::new();
        for name in &def.fields {
            let value = row.fields.get(name).ok_or_else(|| {
                self.error(
                    row,
                    &id,
                    format!("missing field `{name}` (named in `fields`)"),
                )
            })?;
            fields.insert(name.clone(), value_text(value));
        }
        let follow_ups = self.follow_ups(row, &id)?;
        let conversation = match &def.messages_field {
            Some(name) => super::conversation_field::read(name, row.fields.get(name))
                .map_err(|message| self.error(row, &id, message))?,
            None => Vec::new(),
        };
        let raw_target = self.render("target", row, &id)?.trim().to_string();
        let options = match &def.answer {
            AnswerSpec::Choice { .. } => parse_options(&self.render("options", row, &id)?),
            _ => Vec::new(),
        };
        let target = match check_target(&def.answer, &raw_target, &options) {
            Ok(t) => t,
            Err(message) if def.dataset.skip_invalid => {
                tracing::debug!(
                    "{}:{}: skipped: {message}",
                    self.data_path.display(),
                    row.line
                );
                return Ok(None);
            }
            Err(message) => return Err(self.error(row, &id, message)),
        };
        Ok(Some(Item {
            id,
            line: row.line,
            question,
            target,
            options,
            fields,
            follow_ups,
            conversation,
            truncated: full_question.is_some(),
            full_question,
            rationale: None,
        }))
    }

    /// The user turns after the first, from the task's `turns_field`.
    fn follow_ups(&self, row: &Row, id: &str) -> Result<Vec<String>, EvalError> {
        let Some(name) = &self.def.turns_field else {
            return Ok(Vec::new());
        };
        let not_strings = || {
            self.error(
                row,
                id,
                format!("`{name}` must be a list of strings (named in `turns_field`)"),
            )
        };
        let Some(Value::Array(turns)) = row.fields.get(name) else {
            return Err(not_strings());
        };
        turns
            .iter()
            .skip(1)
            .map(|t| match t {
                Value::String(s) => Ok(s.clone()),
                _ => Err(self.error(row, id, format!("`{name}` must be a list of strings"))),
            })
            .collect()
    }
}

/// "field `team` is missing from the row (it has: body, id, subject)" when the template uses
/// fields the row lacks; `None` when the failure is something else.
fn missing_fields(
    template: &minijinja::Template<'_, '_>,
    fields: &Map<String, Value>,
) -> Option<String> {
    let mut missing: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !fields.contains_key(v))
        .collect();
    if missing.is_empty() {
        return None;
    }
    missing.sort();
    let names: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
    let present: Vec<&str> = fields.keys().map(String::as_str).collect();
    Some(format!(
        "field{} {} missing from the row (it has: {})",
        if missing.len() == 1 { "" } else { "s" },
        names.join(", ") + if missing.len() == 1 { " is" } else { " are" },
        present.join(", ")
    ))
}

fn describe(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{} ({detail})", err.kind()),
        None => err.to_string(),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks and normalises a gold answer for the answer kind.
fn check_target(
    spec: &AnswerSpec,
    raw: &str,
    options: &[(char, String)],
) -> Result<String, String> {
    match spec {
        AnswerSpec::Label {
            labels, target_map, ..
        } => {
            let mapped = target_map
                .get(raw)
                .cloned()
                .unwrap_or_else(|| raw.to_string());
            if labels.contains(&mapped) {
                Ok(mapped)
            } else {
                Err(format!("label {raw:?} is not one of {labels:?}"))
            }
        }
        AnswerSpec::Choice { .. } => {
            let letter = raw.chars().next().filter(|c| c.is_ascii_uppercase());
            match letter {
                Some(l) if options.iter().any(|(o, _)| *o == l) => Ok(l.to_string()),
                _ => Err(format!(
                    "answer {raw:?} is not the letter of one of the options"
                )),
            }
        }
        AnswerSpec::Number { .. } => understudy_prompt::contract::first_number(raw)
            .map(|n| n.to_string())
            .ok_or_else(|| format!("answer {raw:?} contains no number")),
        AnswerSpec::Reference(_) if raw.is_empty() => Err("the reference answer is empty".into()),
        AnswerSpec::Ifeval
        | AnswerSpec::Reference(_)
        | AnswerSpec::Judge { .. }
        | AnswerSpec::Rules { .. }
        | AnswerSpec::Command(_) => Ok(raw.to_string()),
        AnswerSpec::Json => serde_json::from_str::<Value>(raw)
            .map(|_| raw.to_string())
            .map_err(|e| format!("the gold answer is not JSON: {e}")),
        AnswerSpec::ToolCalls(_) => match serde_json::from_str::<Value>(raw) {
            Ok(Value::Array(calls)) => Ok(Value::Array(calls).to_string()),
            _ => Err(format!(
                "the gold answer must be a JSON list of possible calls ([] for no call), got {raw:?}"
            )),
        },
        AnswerSpec::Structured(spec) => {
            let gold = serde_json::from_str::<Value>(raw)
                .map_err(|e| format!("the gold answer is not JSON: {e}"))?;
            match spec.schema_errors(&gold, 1).first() {
                Some(why) => Err(format!("the gold answer breaks the task's schema: {why}")),
                // Written as serde writes it: a template's HTML-safe escapes (`\u0026` from
                // `tojson`) do not reach the few-shot turns.
                None => Ok(gold.to_string()),
            }
        }
        AnswerSpec::Exact
        | AnswerSpec::Regex { .. }
        | AnswerSpec::Code { .. }
        | AnswerSpec::Rouge => {
            if raw.is_empty() {
                Err("the gold answer is empty".into())
            } else {
                Ok(raw.to_string())
            }
        }
    }
}

/// A small stable hash for seeding per-task shuffles.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
