//! Before the first call: every model of the plan checked and identified (the parts of a
//! cascade or planner/executor spec too), and its thinking control.

use std::collections::HashMap;

use understudy_backend::Backend;
use understudy_core::thinking_switch::ThinkingControl;
use understudy_prompt::Technique;

use super::resume_key::Ingredients;
use super::Combo;
use understudy_tasks::EvalError;

/// What the run knows about its models.
pub(super) struct Models {
    /// Model (and cascade part) → identity, for the response cache.
    pub identities: HashMap<String, String>,
    pub controls: HashMap<String, ThinkingControl>,
}

impl Models {
    pub async fn resolve(
        combos: &[Combo<'_>],
        backend: &dyn Backend,
        ingredients: &mut Ingredients,
    ) -> Result<Self, EvalError> {
        let mut identities = HashMap::new();
        let mut controls = HashMap::new();
        for (model, _, _) in combos {
            let parts = match Technique::from_model_spec(model)
                .map_err(|e| EvalError::Config(format!("model {model:?}: {e}")))?
            {
                Some(technique) => technique.models(),
                None => vec![model.clone()],
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

        Ok(Self {
            identities,
            controls,
        })
    }
}
