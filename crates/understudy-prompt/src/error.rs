//! What can be wrong with a strategy, a format or a program.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum PromptError {
    /// `spellings` is the list a strategy may be written as (`strategy::SPELLINGS`).
    #[error("unknown strategy {name:?}: use {spellings} (combine with +; each part once)")]
    UnknownStrategy {
        name: String,
        spellings: &'static str,
    },
    #[error("unknown format {name:?}: use plain, markdown, json, yaml or fields")]
    UnknownFormat { name: String },
    #[error("strategy {name:?}: {prefix}K needs K from 1 to {max}, got {got:?}")]
    BadCount {
        name: String,
        prefix: &'static str,
        max: usize,
        got: String,
    },
}
