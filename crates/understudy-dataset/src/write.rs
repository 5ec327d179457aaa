//! The task a dataset is: `NAME.toml` (a `kind = "reference"` task whose items are whole
//! conversations, the pool rows its few-shot pool) beside `NAME.jsonl` (one row per item, with
//! its split). Both written whole to a temporary name first, so an interrupted run leaves no
//! half-written task.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::item::TrafficItem;
use crate::split::{split_of, Shares};
use crate::DatasetError;

/// What was written, for the summary line.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub task: PathBuf,
    pub data: PathBuf,
    /// Items per split (`pool`, `validation`, `test`).
    pub per_split: BTreeMap<&'static str, usize>,
    pub conversations: usize,
}

/// One JSONL row.
fn row(item: &TrafficItem, split: &str) -> Value {
    json!({
        "id": item.id,
        "conversation": item.conversation,
        "split": split,
        "pool": split == "pool",
        "input": item.input(),
        "messages": item.messages,
        "reference_kind": item.reference.kind(),
        "reference": item.reference.gold(),
        "tools": item.tools,
        "schema": item.schema,
        "source": item.source,
    })
}

/// The task file for `name`, reading `data_file` (a name beside it).
fn task_toml(
    name: &str,
    description: &str,
    data_file: &str,
    pool: usize,
    max_tokens: u32,
) -> String {
    let quoted = |s: &str| Value::from(s).to_string();
    format!(
        r#"# Made by understudy dataset: each item is a conversation sent to the reference model, and
# the reference's answer is the gold. Text answers are compared with it by a pairwise judge
# (--judge MODEL, default the run's reference); calls and JSON answers are matched against it.
name = {name}
description = {description}
instruction = ""
question = "{{{{ input }}}}"
target = "{{{{ reference }}}}"
messages_field = "messages"
fields = ["reference_kind", "tools", "schema", "conversation", "split"]
max_tokens = {max_tokens}

[dataset]
path = {data}
id_field = "id"
few_shot_field = "pool"
few_shot_pool = {pool}

[answer]
kind = "reference"
tools_field = "tools"
schema_field = "schema"
"#,
        name = quoted(name),
        description = quoted(description),
        data = quoted(data_file),
    )
}

/// Tokens to allow an answer: room for the longest reference (about four characters a token),
/// at least 256 and at most 2048.
fn max_tokens(items: &[TrafficItem]) -> u32 {
    let longest = items
        .iter()
        .map(|i| i.reference.gold().chars().count())
        .max()
        .unwrap_or(0);
    ((longest / 4 + 64) as u32).clamp(256, 2048)
}

fn write_whole(path: &Path, text: &str) -> Result<(), DatasetError> {
    let error = |source| DatasetError::Write {
        path: path.display().to_string(),
        source,
    };
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).map_err(error)?;
    std::fs::rename(&partial, path).map_err(error)
}

/// Writes `items` as task `name` into `dir`.
pub fn write(
    dir: &Path,
    name: &str,
    description: &str,
    items: &[TrafficItem],
    shares: Shares,
) -> Result<Written, DatasetError> {
    if items.is_empty() {
        return Err(DatasetError::Empty(
            "no items are left to write (see the counts above)".into(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|source| DatasetError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let mut per_split: BTreeMap<&'static str, usize> =
        [("pool", 0), ("validation", 0), ("test", 0)].into();
    let mut lines = String::new();
    let mut conversations = std::collections::HashSet::new();
    for item in items {
        let split = split_of(&item.conversation, shares);
        *per_split.entry(split).or_default() += 1;
        conversations.insert(item.conversation.as_str());
        lines.push_str(&row(item, split).to_string());
        lines.push('\n');
    }
    let data_file = format!("{name}.jsonl");
    let data = dir.join(&data_file);
    let task = dir.join(format!("{name}.toml"));
    write_whole(&data, &lines)?;
    let toml = task_toml(
        name,
        description,
        &data_file,
        per_split["pool"],
        max_tokens(items),
    );
    write_whole(&task, &toml)?;
    Ok(Written {
        task,
        data,
        per_split,
        conversations: conversations.len(),
    })
}
