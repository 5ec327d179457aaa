//! How long a study's plan should take: speeds this store measured on earlier runs, or the
//! catalogue's where it has none, and a line that says which of the two each model's came from.

use anyhow::Result;
use understudy_eval::plan::Plan;
use understudy_store::Store;
use understudy_tasks::strategy::COT_MAX_TOKENS;

/// Speeds for a model neither measured nor in the catalogue (tokens per second).
const UNKNOWN_SPEEDS: Speeds = Speeds {
    decode: 30.0,
    prompt: 60.0,
};

#[derive(Debug, Clone, Copy, PartialEq)]
struct Speeds {
    decode: f64,
    prompt: f64,
}

/// The expected duration and where its speeds came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Estimate {
    pub seconds: f64,
    /// Models no cell in this store measured, timed with the catalogue's speeds.
    pub from_catalogue: Vec<String>,
    /// Models neither measured nor in the catalogue, timed with a guess.
    pub guessed: Vec<String>,
}

impl Estimate {
    /// "  expected duration about 24 min (…)": the printed estimate, saying whose speeds this
    /// store measured and whose were assumed.
    pub fn line(&self) -> String {
        let mut assumed = Vec::new();
        if !self.from_catalogue.is_empty() {
            assumed.push(format!(
                "speeds of {} are the catalogue's, measured on understudy's 2-core development machine",
                self.from_catalogue.join(", ")
            ));
        }
        if !self.guessed.is_empty() {
            assumed.push(format!(
                "speeds of {} are a guess ({} tokens/s decoding, {} processing the prompt)",
                self.guessed.join(", "),
                UNKNOWN_SPEEDS.decode,
                UNKNOWN_SPEEDS.prompt
            ));
        }
        let source = if assumed.is_empty() {
            "from speeds this store's earlier runs measured".to_string()
        } else {
            format!(
                "{}: no earlier run in this store measured them, so this figure can be off several times over",
                assumed.join("; ")
            )
        };
        format!(
            "  expected duration about {:.0} min ({source}; cached cells are faster)",
            (self.seconds / 60.0).ceil()
        )
    }
}

/// A model's speeds: measured in this store, else the catalogue's, else the guess (noted in
/// `estimate`).
fn speeds_of(model: &str, measured: &[(String, f64, f64)], estimate: &mut Estimate) -> Speeds {
    if let Some((_, decode, prompt)) = measured.iter().find(|(m, _, _)| m == model) {
        return Speeds {
            decode: *decode,
            prompt: *prompt,
        };
    }
    match understudy_models::catalog::find(model) {
        Some(known) => {
            estimate.from_catalogue.push(model.to_string());
            Speeds {
                decode: known.decode_tps,
                prompt: known.prompt_tps,
            }
        }
        None => {
            estimate.guessed.push(model.to_string());
            UNKNOWN_SPEEDS
        }
    }
}

/// Seconds the plan should take, from speeds measured in the store (else the catalogue's).
pub async fn expected(plan: &Plan, store: &Store) -> Result<Estimate> {
    let measured = store.runs.measured_speeds().await?;
    let outputs = store.runs.measured_output_tokens().await?;
    let mut estimate = Estimate::default();
    let mut models = plan.models.clone();
    if let Some(r) = &plan.reference {
        if !models.contains(r) {
            models.push(r.clone());
        }
    }
    for model in &models {
        let speeds = speeds_of(model, &measured, &mut estimate);
        let (strategies, formats) =
            if Some(model) == plan.reference.as_ref() && !plan.models.contains(model) {
                (vec![&plan.strategies[0]], 1)
            } else {
                (plan.strategies.iter().collect(), plan.formats.len())
            };
        for task in &plan.tasks {
            for strategy in &strategies {
                // Output length as measured for this model and strategy (a cot answer runs to
                // hundreds of tokens, a label to one or two), else the strategy's ceiling.
                let name = strategy.to_string();
                let out = outputs
                    .iter()
                    .find(|(m, s, _)| m == model && *s == name)
                    .map(|(_, _, tokens)| *tokens)
                    .unwrap_or(if strategy.cot() {
                        f64::from(COT_MAX_TOKENS)
                    } else {
                        f64::from(task.def.max_tokens.min(256))
                    });
                let shots = strategy.few_shot() as f64 + 1.0;
                for item in &task.items {
                    let prompt_tokens = (item.question.len() as f64 / 4.0 + 60.0) * shots;
                    estimate.seconds += formats as f64
                        * plan.samples as f64
                        * (prompt_tokens / speeds.prompt.max(1.0) + out / speeds.decode.max(1.0));
                }
            }
        }
    }
    Ok(estimate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_models_whose_speeds_were_assumed() {
        let measured = Estimate {
            seconds: 1381.0,
            ..Estimate::default()
        };
        assert_eq!(
            measured.line(),
            "  expected duration about 24 min (from speeds this store's earlier runs measured; cached cells are faster)"
        );
        let assumed = Estimate {
            seconds: 61.0,
            from_catalogue: vec!["smollm2-135m".into(), "qwen2.5-coder-0.5b".into()],
            guessed: vec!["openai/m".into()],
        };
        assert_eq!(
            assumed.line(),
            "  expected duration about 2 min (speeds of smollm2-135m, qwen2.5-coder-0.5b are the catalogue's, measured on understudy's 2-core development machine; speeds of openai/m are a guess (30 tokens/s decoding, 60 processing the prompt): no earlier run in this store measured them, so this figure can be off several times over; cached cells are faster)"
        );
    }
}
