//! What can be wrong with a strategy, a format or a program.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum PromptError {
    #[error(
        "unknown strategy {name:?}: use {} (combine with +; each part once)",
        crate::strategy::SPELLINGS
    )]
    UnknownStrategy { name: String },
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
