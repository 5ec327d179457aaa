//! How long a study's plan should take: each cell's prompt as its program renders it, at the
//! speeds this store measured on earlier runs (else the catalogue's, else a guess), and a line
//! that says where each model's speeds came from.

use understudy_eval::plan::Plan;
use understudy_store::{Store, StoreError};
use understudy_tasks::strategy::{self, Format, Strategy, COT_MAX_TOKENS};
use understudy_tasks::task::LoadedTask;

/// Characters per token for English prompt text (the count is an estimate, not the tokenizer's).
const CHARS_PER_TOKEN: f64 = 4.0;
/// Tokens a chat template adds around one message (role markers, separators).
const TEMPLATE_TOKENS_PER_MESSAGE: f64 = 5.0;

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
/// With `reuse` (the engine's prefix cache on), an item's prompt costs only what it does not
/// share with the previous item of its row, as the engine processes it.
pub async fn expected(plan: &Plan, store: &Store, reuse: bool) -> Result<Estimate, StoreError> {
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
                (vec![&plan.strategies[0]], &plan.formats[..1])
            } else {
                (plan.strategies.iter().collect(), &plan.formats[..])
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
                for format in formats {
                    let prompt = row_prompt_tokens(plan, task, strategy, *format, reuse);
                    let items = task.items.len() as f64;
                    estimate.seconds += plan.samples as f64
                        * (prompt / speeds.prompt.max(1.0) + items * out / speeds.decode.max(1.0));
                }
            }
        }
    }
    Ok(estimate)
}

/// Prompt tokens a row's items cost the engine: each item's prompt as the strategy's program
/// renders it (retrieved passages and found examples left out), less, with `reuse`, the prefix
/// it shares with the item before it.
fn row_prompt_tokens(
    plan: &Plan,
    task: &LoadedTask,
    strategy: &Strategy,
    format: Format,
    reuse: bool,
) -> f64 {
    let mut previous = String::new();
    let mut tokens = 0.0;
    for item in &task.items {
        let program = strategy::program(task, item, strategy, format, &plan.role_prompt);
        let messages = strategy::render(&program, item);
        let text: String = messages
            .iter()
            .map(|m| format!("{:?}\n{}\n", m.role, m.content))
            .collect();
        let shared = if reuse {
            common_prefix_chars(&previous, &text)
        } else {
            0
        };
        let new_chars = text.chars().count() - shared;
        let new_messages = if shared == 0 { messages.len() } else { 1 };
        tokens +=
            new_chars as f64 / CHARS_PER_TOKEN + new_messages as f64 * TEMPLATE_TOKENS_PER_MESSAGE;
        previous = text;
    }
    tokens
}

/// How many leading characters `a` and `b` share.
fn common_prefix_chars(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// "took 75 min; expected about 19 min (3.9x longer: ...)" — the estimate checked against the run.
pub fn duration_line(
    actual_secs: f64,
    expected_secs: Option<f64>,
    outcome: &understudy_eval::runner::RunOutcome,
    summary: &understudy_report::summary::Summary,
) -> String {
    let minutes = |s: f64| format!("{:.1} min", s / 60.0);
    let Some(expected) = expected_secs.filter(|e| *e > 0.0) else {
        return format!("  took {}", minutes(actual_secs));
    };
    // The estimate covers every planned cell; a resumed run answers only those left, so a
    // ratio of the two would say nothing about the estimate.
    let answered = outcome.fresh + outcome.cached;
    if outcome.resumed && answered < outcome.total {
        return format!(
            "  took {} for the {answered} of {} cells the resumed run had left; the estimate, about {}, was for all of them",
            minutes(actual_secs),
            outcome.total,
            minutes(expected)
        );
    }
    let ratio = actual_secs / expected;
    let why = if summary.rows.iter().any(|r| r.load.flagged()) {
        format!("; {}", summary.load_line())
    } else {
        String::new()
    };
    format!(
        "  took {}; expected about {} ({ratio:.1}x the estimate{why})",
        minutes(actual_secs),
        minutes(expected)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(resumed: bool, fresh: usize) -> understudy_eval::runner::RunOutcome {
        understudy_eval::runner::RunOutcome {
            run_id: 2,
            resumed,
            reused: false,
            interrupted: false,
            total: 810,
            stored: 810,
            fresh,
            cached: 0,
            skipped: 0,
            by_others: 0,
        }
    }

    #[test]
    fn a_resumed_run_is_not_held_against_the_whole_runs_estimate() {
        let info = understudy_store::RunInfo {
            id: 2,
            plan_key: "k".into(),
            created_at: "now".into(),
            finished_at: None,
            status: "finished".into(),
            plan_json: "{}".into(),
            cells: 0,
        };
        let summary = understudy_report::summary::summarise(info, &[]);
        let resumed = duration_line(234.0, Some(2442.0), &outcome(true, 90), &summary);
        assert_eq!(
            resumed,
            "  took 3.9 min for the 90 of 810 cells the resumed run had left; the estimate, about 40.7 min, was for all of them"
        );
        let whole = duration_line(1920.0, Some(2442.0), &outcome(false, 810), &summary);
        assert_eq!(
            whole,
            "  took 32.0 min; expected about 40.7 min (0.8x the estimate)"
        );
    }

    #[test]
    fn the_shared_prefix_is_counted_in_characters() {
        assert_eq!(
            common_prefix_chars("system: rules\nuser: a", "system: rules\nuser: b"),
            20
        );
        assert_eq!(common_prefix_chars("", "anything"), 0);
        assert_eq!(common_prefix_chars("é1", "é2"), 1);
    }

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
