//! The eval crate's error type: every variant names the place (file, line, key, item, name).

use std::path::PathBuf;

/// What stopped an evaluation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Task {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("{}:{line}: item {item}: {message}", path.display())]
    Row {
        path: PathBuf,
        line: usize,
        item: String,
        message: String,
    },
    #[error(
        "unknown task {name:?}: built-in tasks are {known}, or give the path of a task .toml file"
    )]
    UnknownTask { name: String, known: String },
    #[error(transparent)]
    Prompt(#[from] understudy_prompt::PromptError),
    #[error("{0}")]
    Config(String),
    #[error("model {model}: {source}")]
    Model {
        model: String,
        source: understudy_backend::BackendError,
    },
    #[error(transparent)]
    Store(#[from] understudy_store::StoreError),
    #[error("{0}")]
    Data(String),
}
