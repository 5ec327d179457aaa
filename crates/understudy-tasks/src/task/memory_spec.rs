//! A task's `[memory]` table: the documents a retrieval task searches.

use std::path::PathBuf;

use serde::Deserialize;

/// A task's `[memory]` table: where its documents are.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemorySpec {
    /// A built-in JSONL document set (see `builtin::DATA`).
    pub builtin: Option<String>,
    /// A file or folder of .txt, .md or .jsonl documents, relative to the task file.
    pub path: Option<PathBuf>,
    /// The collection to keep them in (default `task:<name>`), or, alone, an existing collection
    /// filled with `understudy memory add`.
    pub collection: Option<String>,
    #[serde(default = "default_chunk_tokens")]
    pub chunk_tokens: usize,
    #[serde(default = "default_overlap")]
    pub overlap: usize,
    /// Most tokens of passages put into one prompt.
    #[serde(default = "default_budget")]
    pub budget_tokens: usize,
}

fn default_chunk_tokens() -> usize {
    200
}
fn default_overlap() -> usize {
    32
}
fn default_budget() -> usize {
    600
}

impl MemorySpec {
    pub fn check(&self) -> Result<(), String> {
        match (&self.builtin, &self.path, &self.collection) {
            (Some(_), Some(_), _) => Err("give `builtin` or `path`, not both".into()),
            (None, None, None) => Err("needs `builtin`, `path` or `collection`".into()),
            _ if self.chunk_tokens < 16 => Err("`chunk_tokens` must be at least 16".into()),
            _ if self.overlap >= self.chunk_tokens => {
                Err("`overlap` must be less than `chunk_tokens`".into())
            }
            _ if self.budget_tokens == 0 => Err("`budget_tokens` must be at least 1".into()),
            _ => Ok(()),
        }
    }

    /// The built-in data file to fetch before the run, if any.
    pub fn builtin_data(&self) -> Option<&str> {
        self.builtin.as_deref()
    }
}
