//! The resume key: a rerun resumes an unfinished run only when it is the same command on the same
//! things — the plan, what every model name points at (alias, `[backends.X]`, weights file), how
//! each model's thinking is switched, the judge, the code sandbox's interpreter and harness, the
//! tasks' own graders (their arguments and files) and the passages retrieved for memory
//! strategies. Anything else starts a new run, so grades made
//! under different conditions are never mixed in one run.

use std::collections::BTreeMap;

use serde::Serialize;
use understudy_core::thinking_switch::ThinkingControl;

use crate::digest::digest;
use crate::plan::Plan;

/// What a run depends on besides its plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ingredients {
    /// Every model the run calls (parts of cascades and planners included) → its identity.
    pub models: BTreeMap<String, String>,
    /// Every model → how its thinking is switched.
    pub thinking: BTreeMap<String, ThinkingControl>,
    /// The judge model's name and identity, when a task is judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judge: Option<String>,
    /// The interpreter and harness that run code, when a task runs code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// Each command-graded task → its grader's identity (arguments and file hashes).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub graders: BTreeMap<String, String>,
    /// A digest of the passages retrieved for memory strategies (documents and embedder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrieved: Option<String>,
    /// A digest of the examples found for `knn-shot:K` strategies (pool and embedder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub examples: Option<String>,
}

impl Ingredients {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The key a run is stored and resumed under.
pub fn resume_key(plan: &Plan, ingredients: &Ingredients) -> String {
    let mut described = plan.describe();
    described["resume"] = ingredients.to_json();
    digest(&described)
}

/// The plan as stored with its run: [`Plan::stored`] plus the ingredients and how many cells
/// it plans (for progress shown by readers of the store, such as `understudy view`).
pub fn stored(plan: &Plan, ingredients: &Ingredients, planned_cells: usize) -> serde_json::Value {
    let mut stored = plan.stored();
    stored["resume"] = ingredients.to_json();
    stored["planned_cells"] = planned_cells.into();
    stored
}

/// The key of the plan alone, read back from a stored plan (whatever else was stored with it):
/// equal to [`Plan::key`] of the plan that made the run.
pub fn plan_key_of_stored(plan_json: &str) -> Option<String> {
    let mut plan: serde_json::Value = serde_json::from_str(plan_json).ok()?;
    let object = plan.as_object_mut()?;
    object.remove("resume");
    object.remove("planned_cells");
    if let Some(tasks) = object.get_mut("tasks").and_then(|t| t.as_array_mut()) {
        for task in tasks {
            if let Some(task) = task.as_object_mut() {
                task.remove("answer");
            }
        }
    }
    Some(digest(&plan))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            models: vec!["m".into()],
            reference: None,
            strategies: vec![],
            formats: vec![],
            tasks: vec![],
            limit: 5,
            seed: 1,
            concurrency: None,
            role_prompt: String::new(),
            samples: 1,
            sample_temperature: 0.8,
            offset: 0,
            retrieved: Default::default(),
            examples: Default::default(),
            confidence: false,
            until_ci: None,
        }
    }

    fn base() -> Ingredients {
        Ingredients {
            models: [("m".to_string(), "openai:http://a/v1:m".to_string())].into(),
            thinking: [("m".to_string(), ThinkingControl::CotInstruction)].into(),
            judge: None,
            sandbox: None,
            graders: BTreeMap::new(),
            retrieved: None,
            examples: None,
        }
    }

    /// One ingredient changed at a time: each must change the key.
    #[test]
    fn every_ingredient_is_part_of_the_key() {
        let plan = plan();
        let key = resume_key(&plan, &base());
        assert_eq!(key, resume_key(&plan, &base()), "the key is stable");
        type Change = Box<dyn Fn(&mut Ingredients)>;
        let changes: Vec<(&str, Change)> = vec![
            (
                "what the name points at",
                Box::new(|i| {
                    i.models.insert("m".into(), "openai:http://b/v1:m".into());
                }),
            ),
            (
                "thinking control",
                Box::new(|i| {
                    i.thinking.insert("m".into(), ThinkingControl::TemplateFlag);
                }),
            ),
            (
                "judge",
                Box::new(|i| i.judge = Some("gpt=openai:http://j/v1:gpt".into())),
            ),
            (
                "python",
                Box::new(|i| i.sandbox = Some("python 3.12.1 at /usr/bin/python3".into())),
            ),
            (
                "the task's own grader",
                Box::new(|i| {
                    i.graders.insert(
                        "sql".into(),
                        "command [\"python3\",\"g.py\"]; g.py sha256:ab".into(),
                    );
                }),
            ),
            (
                "memory documents",
                Box::new(|i| i.retrieved = Some("abc".into())),
            ),
            (
                "examples found",
                Box::new(|i| i.examples = Some("abc".into())),
            ),
        ];
        for (name, change) in changes {
            let mut changed = base();
            change(&mut changed);
            assert_ne!(
                resume_key(&plan, &changed),
                key,
                "{name} left the key unchanged"
            );
        }
    }

    #[test]
    fn the_plan_key_reads_back_from_what_is_stored() {
        let plan = plan();
        let stored = stored(&plan, &base(), 12).to_string();
        assert_eq!(plan_key_of_stored(&stored).unwrap(), plan.key());
        assert_ne!(resume_key(&plan, &base()), plan.key());
    }

    /// The read side reads what this writes as `understudy_store::stored_plan::StoredPlan`: the
    /// two agree by type, not by convention.
    #[test]
    fn the_stored_plan_reads_back_as_the_stores_type() {
        let mut plan = plan();
        plan.reference = Some("big".into());
        plan.samples = 3;
        plan.strategies =
            vec![understudy_tasks::strategy::Strategy::parse("cot")
                .unwrap_or_else(|e| panic!("{e}"))];
        plan.formats = vec![understudy_tasks::strategy::Format::Plain];
        plan.until_ci = Some(crate::stopping::StopRule { width_points: 20.0 });
        let json = stored(&plan, &base(), 12).to_string();
        let read = understudy_store::stored_plan::StoredPlan::parse(&json);
        assert_eq!(read.models, ["m"]);
        assert_eq!(read.reference.as_deref(), Some("big"));
        assert_eq!(read.strategies, ["cot"]);
        assert_eq!(read.formats, ["plain"]);
        assert_eq!(read.samples(), 3);
        assert_eq!(read.until_ci, Some(20.0));
        assert_eq!(read.planned_cells, Some(12));
        assert_eq!(read.limit, Some(5));
    }
}
