//! What a task's answers are, as far as a chance or constant-answer baseline needs to know.

use serde::{Deserialize, Serialize};

/// What a task's answers are, as far as a baseline needs to know (stored in the run's plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnswerKind {
    /// One of a fixed set of labels.
    Label { labels: Vec<String> },
    /// A multiple-choice letter; `options` is the most options an item offers (None: unknown,
    /// for runs stored before the plan recorded it).
    Choice { options: Option<usize> },
    /// A number or an exact string: a constant answer is the only baseline.
    Constant,
    /// Open-ended scoring (code, instructions, ROUGE, a judge, rules, regex): no baseline.
    Open,
}
