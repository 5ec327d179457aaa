//! Tasks and grading, the first stage of the eval pipeline: task definitions (TOML plus JSONL or
//! CSV data, the built-in tasks with their pinned data), the bridge from an item and a strategy to
//! the prompt program (`strategy`), and the graders that score an answer. No model is called
//! here except by the LLM judge.

pub mod answer_kind;
pub mod builtin;
pub mod error;
pub mod find;
pub mod grade;
pub mod ids;
pub mod reference_examples;
pub mod rules;
pub mod scorer;
pub mod strategy;
pub mod task;
pub mod tool_call_examples;

pub use error::EvalError;
