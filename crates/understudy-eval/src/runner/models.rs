//! Before the first call: every model of the plan checked and identified (the parts of a
//! cascade or planner/executor spec too), its thinking control, and for map-reduce its context
//! window and tokenizer.

use std::collections::HashMap;

use understudy_backend::{Backend, TokenCounter};
use understudy_core::thinking::ThinkingControl;
use understudy_techniques::cascade::Cascade;
use understudy_techniques::mapreduce::MapReduce;
use understudy_techniques::plan_execute::PlanExecute;

use super::resume_key::Ingredients;
use super::Combo;
use crate::plan::Plan;
use understudy_tasks::strategy::Strategy;
use understudy_tasks::EvalError;

/// What the run knows about its models.
pub(super) struct Models {
    /// Model (and cascade part) → identity, for the response cache.
    pub identities: HashMap<String, String>,
    pub controls: HashMap<String, ThinkingControl>,
    pub cascades: HashMap<String, Cascade>,
    pub plans: HashMap<String, PlanExecute>,
    /// Under map-reduce: each model's budget and token counter.
    pub budgets: HashMap<String, (MapReduce, TokenCounter)>,
}

impl Models {
    pub async fn resolve(
        plan: &Plan,
        combos: &[Combo<'_>],
        backend: &dyn Backend,
        ingredients: &mut Ingredients,
    ) -> Result<Self, EvalError> {
        let mut identities = HashMap::new();
        let mut controls = HashMap::new();
        let mut cascades: HashMap<String, Cascade> = HashMap::new();
        let mut plans: HashMap<String, PlanExecute> = HashMap::new();
        for (model, _, _) in combos {
            let parts = if Cascade::is_spec(model) {
                let cascade = Cascade::parse(model)
                    .map_err(|e| EvalError::Config(format!("model {model:?}: {e}")))?;
                let parts = cascade.models.clone();
                cascades.insert(model.clone(), cascade);
                parts
            } else if PlanExecute::is_spec(model) {
                let pe = PlanExecute::parse(model)
                    .map_err(|e| EvalError::Config(format!("model {model:?}: {e}")))?;
                let parts = vec![pe.planner.clone(), pe.executor.clone()];
                plans.insert(model.clone(), pe);
                parts
            } else {
                vec![model.clone()]
            };
            let mut part_ids = Vec::new();
            for part in &parts {
                let err = |source| EvalError::Model {
                    model: part.clone(),
                    source,
                };
                backend.check_model(part).await.map_err(err)?;
                let identity = backend.model_identity(part).await.map_err(err)?;
                let control = backend.thinking_control(part).await.map_err(err)?;
                identities.insert(part.clone(), identity.clone());
                controls.entry(model.clone()).or_insert(control);
                ingredients.models.insert(part.clone(), identity.clone());
                ingredients.thinking.insert(part.clone(), control);
                part_ids.push(identity);
            }
            if parts.len() > 1 || parts[0] != *model {
                identities.insert(model.clone(), format!("{model}={}", part_ids.join(">")));
            }
        }

        // Map-reduce needs each model's context window and tokenizer.
        let mut budgets: HashMap<String, (MapReduce, TokenCounter)> = HashMap::new();
        if plan.strategies.iter().any(Strategy::map_reduce) {
            for (model, _, _) in combos {
                let err = |source| EvalError::Model {
                    model: model.clone(),
                    source,
                };
                let context = backend
                    .context_length(model)
                    .await
                    .map_err(err)?
                    .unwrap_or(8192);
                let count = backend.token_counter(model).await.map_err(err)?;
                budgets.insert(model.clone(), (MapReduce::new(context as usize), count));
            }
        }

        Ok(Self {
            identities,
            controls,
            cascades,
            plans,
            budgets,
        })
    }
}
