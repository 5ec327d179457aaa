//! The plan a run was made with, as the store keeps it (`runs.plan_json`), read as a type: what
//! the read side (summaries, reports, compare, the web UI) needs of it. Eval writes it
//! (`understudy_eval::runner::resume_key::stored`, checked against this type by a test there);
//! runs stored before a field existed read it as absent.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One task of a stored plan.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StoredTask {
    pub name: String,
    /// Items the plan took from the task.
    pub items: Option<usize>,
    /// What the task's answers are (the tasks crate's `AnswerKind`, as stored).
    pub answer: Option<serde_json::Value>,
    /// Golds of the few-shot pool (never scored), lower-cased, with their counts.
    pub unscored_golds: Option<BTreeMap<String, usize>>,
    /// Each multiple-choice item's option count, by item id.
    pub item_options: Option<BTreeMap<String, usize>>,
}

/// A stored plan: its lists, its reference, and how it was run.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StoredPlan {
    pub models: Vec<String>,
    pub reference: Option<String>,
    pub strategies: Vec<String>,
    pub formats: Vec<String>,
    pub tasks: Vec<StoredTask>,
    /// Items per task at most.
    pub limit: Option<usize>,
    /// Samples per item (absent: one).
    pub samples: Option<usize>,
    /// The `--until-ci` width in points, when the run stopped rows adaptively.
    pub until_ci: Option<f64>,
    /// Cells the plan asks for (runs stored before plans counted them: none).
    pub planned_cells: Option<i64>,
}

impl StoredPlan {
    /// The plan in `plan_json`; text that is not a stored plan reads as an empty one.
    pub fn parse(plan_json: &str) -> Self {
        serde_json::from_str(plan_json).unwrap_or_default()
    }

    /// Samples per item, at least one.
    pub fn samples(&self) -> usize {
        self.samples.unwrap_or(1).max(1)
    }

    /// The names of the plan's tasks.
    pub fn task_names(&self) -> Vec<String> {
        self.tasks.iter().map(|t| t.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_and_odd_plans_read_as_absent_fields() {
        let plan =
            StoredPlan::parse(r#"{"reference": "big", "strategies": ["zero-shot"], "extra": 1}"#);
        assert_eq!(plan.reference.as_deref(), Some("big"));
        assert_eq!(plan.samples(), 1);
        assert!(plan.planned_cells.is_none() && plan.tasks.is_empty());
        assert_eq!(StoredPlan::parse("not json"), StoredPlan::default());
        let plan = StoredPlan::parse(
            r#"{"samples": 3, "until_ci": 20.0, "planned_cells": 40, "tasks": [{"name": "t", "items": 5, "answer": {"kind": "number"}}]}"#,
        );
        assert_eq!(
            (plan.samples(), plan.until_ci, plan.planned_cells),
            (3, Some(20.0), Some(40))
        );
        assert_eq!(plan.tasks[0].items, Some(5));
    }
}
