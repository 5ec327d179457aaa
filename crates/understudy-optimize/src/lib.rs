//! `understudy optimize`: the reference model teaches the local model's prompt. The task's items
//! are split into train, validation and test; a search over the instruction (the teacher's
//! reflective rewrites from the local model's failures, GEPA-style), bootstrapped
//! demonstrations (DSPy-style) and the strategy knobs (role prompt, few-shot, the prompt format,
//! chain of thought switched) keeps a per-item Pareto set on validation under a budget of calls and
//! tokens; the winner is then measured on the test split against the baseline, the best
//! hand-written strategy and the reference, paired. Every measurement is an eval run through
//! the same runner and store (resumable, cached), and the winner's cells carry the program a
//! profile serves.

mod bootstrap;
mod budget;
mod candidate;
mod children;
mod demo_shape;
mod demos;
mod error;
mod export;
mod measure;
mod page;
mod pareto;
mod reflect;
mod search;
mod split;
mod start;
mod verdict;

pub use budget::{Budget, Spent};
pub use candidate::{Candidate, Origin};
pub use error::OptimizeError;
pub use export::split_jsonl;
pub use measure::{Answer, Bench, Measured};
pub use page::{render, Header};
pub use search::{search, Evaluated, Search, Settings, Step};
pub use split::{part_of, Part, Split};
pub use verdict::{prove, Row, Verdict, Versus};

/// The hand-written strategies the search starts from, by default: what `eval` and `tune`
/// compare (zero-shot first: it is the baseline).
pub const DEFAULT_SEEDS: &[&str] = &["zero-shot", "role", "few-shot:3", "cot", "role+cot"];

/// The winner's test cells as a gateway profile named `name` (the program they were sent).
pub fn profile(verdict: &Verdict, task: &str, name: &str) -> Option<String> {
    let w = verdict.rows.first()?;
    understudy_tune::row_profile(
        &w.test.cells,
        task,
        (
            &w.model,
            &w.candidate.strategy().to_string(),
            w.candidate.format.as_str(),
        ),
        name,
    )
}
