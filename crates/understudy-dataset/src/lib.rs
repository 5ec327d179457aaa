//! Traffic made into a task: requests the gateway captured (`from_log`) or an OpenAI chat JSONL
//! (`import`) read into items that keep the whole conversation and the reference's answer,
//! near-duplicates removed by embedding (`select`), a sample drawn, each conversation put in one
//! split (`split`), and the task file and its data written (`write`).

pub mod from_log;
pub mod import;
pub mod item;
pub mod select;
pub mod split;
pub mod write;

pub use item::{Reference, Skipped, TrafficItem};

/// What stops a dataset from being made; each names the file, line or filter at fault.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}:{line}: {message}")]
    Line {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{0}")]
    Empty(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("embedding for near-duplicate removal failed: {0}")]
    Embed(String),
}
