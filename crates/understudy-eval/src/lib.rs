//! The runner stage of the eval pipeline: the plan (which tasks, models, strategies and formats),
//! the resumable runner that answers and grades every cell into the store, retrieval indexes for
//! `memory:K` rows, the examples `knn-shot:K` rows find, and the machine conditions each cell records. Tasks and grading live in
//! `understudy-tasks`; what is made of stored cells (summaries, reports, studies) in
//! `understudy-report`; `tune` in `understudy-tune`.

pub mod conditions;
pub mod digest;
pub mod examples;
pub mod load;
pub mod plan;
pub mod retrieval;
pub mod runner;
pub mod stopping;
pub mod technique;

pub use understudy_tasks::EvalError;
