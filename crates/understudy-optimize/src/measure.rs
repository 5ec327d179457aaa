//! Measuring a candidate: one eval run per (model, candidate, items) through eval's runner and
//! store — resumable, answered from the response cache when the same request was made before,
//! every cell stored with the program it was sent — and each item's score, latency and answer
//! read back for the search.

use std::sync::Arc;

use understudy_backend::Backend;
use understudy_core::{ChatMessage, ChatRequest};
use understudy_eval::plan::Plan;
use understudy_eval::runner::{self, Quiet, RunOptions};
use understudy_prompt::Template;
use understudy_store::{Cell, Store};
use understudy_tasks::grade::Grader;
use understudy_tasks::strategy;
use understudy_tasks::task::{Item, LoadedTask};

use crate::budget::Spent;
use crate::candidate::Candidate;
use crate::error::OptimizeError;

/// What a measurement needs: the models, the store, the graders, and the plan the command
/// resolved (its one task with every item, the seed, the concurrency).
pub struct Bench<'a> {
    pub backend: Arc<dyn Backend>,
    pub store: &'a Store,
    pub options: &'a RunOptions,
    pub grader: &'a Grader,
    pub base: &'a Plan,
}

/// One item's result.
#[derive(Debug, Clone)]
pub struct Answer {
    pub item: Item,
    pub score: f64,
    pub ms: f64,
    pub answer: String,
    pub reasoning: Option<String>,
}

/// A candidate's results on a set of items.
#[derive(Debug, Clone)]
pub struct Measured {
    pub run_id: i64,
    /// In the order of the items asked.
    pub answers: Vec<Answer>,
    pub cells: Vec<Cell>,
}

impl Measured {
    pub fn scores(&self) -> Vec<f64> {
        self.answers.iter().map(|a| a.score).collect()
    }
    pub fn total(&self) -> f64 {
        self.answers.iter().map(|a| a.score).sum()
    }
    pub fn mean_ms(&self) -> f64 {
        self.answers.iter().map(|a| a.ms).sum::<f64>() / self.answers.len().max(1) as f64
    }
}

/// Candidates are compared item by item, so an item without a grade (its grader failed, or the
/// judge) can neither count as a 0 — the model's fault — nor be left out of one candidate only:
/// optimize stops and says which item and why. The answers so far are stored and come from
/// the response cache when it runs again.
fn refuse_ungraded(cell: &Cell) -> Result<(), OptimizeError> {
    if !understudy_report::metrics::ungraded(cell) {
        return Ok(());
    }
    let why = understudy_report::graded::GraderFailure::of(cell)
        .map(|f| f.render())
        .unwrap_or_else(|| format!("item {}: the judge gave no usable rating", cell.item_id));
    Err(OptimizeError::Config(format!(
        "task {}: {why}; optimize compares candidates on the same items and cannot score this one, \
         so it stops here — fix the grader and run it again (answers so far come from the cache)",
        cell.task
    )))
}

/// The worked reasoning a chain-of-thought reply shows (what a demonstration made from it
/// shows before its final-answer line): the text before the last final-answer marker; a reply
/// without the marker (the answer read from it) is worked reasoning as a whole, unless it holds
/// no word beyond the answer read from it ("90", "= D").
fn worked_reasoning(template: &Template, reply: &str, parsed: Option<&str>) -> Option<String> {
    let (reasoning, text) = template.split_reply(reply, true);
    reasoning.or_else(|| {
        let rest = parsed.map_or(text.clone(), |p| text.replacen(p, "", 1));
        rest.chars().any(char::is_alphanumeric).then_some(text)
    })
}

impl Bench<'_> {
    /// The task being optimized.
    pub fn task(&self) -> &LoadedTask {
        &self.base.tasks[0]
    }

    /// The plan that measures `candidate` on `items` with `model`.
    fn plan(&self, model: &str, candidate: &Candidate, items: &[Item]) -> Plan {
        Plan {
            models: vec![model.to_string()],
            reference: None,
            strategies: vec![candidate.strategy()],
            formats: vec![candidate.format],
            tasks: vec![candidate.task_for(self.task(), items)],
            limit: items.len(),
            role_prompt: candidate
                .instruction
                .clone()
                .unwrap_or_else(|| self.base.role_prompt.clone()),
            samples: 1,
            offset: 0,
            confidence: false,
            until_ci: None,
            ..self.base.clone()
        }
    }

    /// Runs (or resumes) `candidate` on `items` with `model`; counts the calls into `spent`.
    pub async fn measure(
        &self,
        model: &str,
        candidate: &Candidate,
        items: &[Item],
        spent: &mut Spent,
    ) -> Result<Measured, OptimizeError> {
        let plan = self.plan(model, candidate, items);
        let outcome = runner::run(
            &plan,
            self.backend.clone(),
            self.store,
            self.options,
            self.grader,
            &Quiet,
        )
        .await?;
        if outcome.interrupted {
            return Err(OptimizeError::Interrupted);
        }
        let cells = self.store.runs.cells(outcome.run_id).await?;
        let template = strategy::template(self.task(), candidate.format);
        let mut answers = Vec::with_capacity(items.len());
        for item in items {
            let cell = cells.iter().find(|c| c.item_id == item.id).ok_or_else(|| {
                OptimizeError::Config(format!(
                    "run {} has no cell for item {} after it finished",
                    outcome.run_id, item.id
                ))
            })?;
            refuse_ungraded(cell)?;
            answers.push(Answer {
                item: item.clone(),
                score: cell.score,
                ms: cell.total_ms,
                answer: cell.answer.clone(),
                reasoning: if candidate.cot {
                    worked_reasoning(&template, &cell.answer, cell.parsed.as_deref())
                } else {
                    cell.reasoning.clone()
                },
            });
        }
        let tokens = cells
            .iter()
            .map(|c| u64::from(c.prompt_tokens) + u64::from(c.completion_tokens))
            .sum();
        spent.add(cells.len(), tokens, outcome.fresh);
        Ok(Measured {
            run_id: outcome.run_id,
            answers,
            cells,
        })
    }

    /// One call to `model` (the teacher), from the response cache when it was made before.
    pub async fn ask(
        &self,
        model: &str,
        messages: Vec<ChatMessage>,
        spent: &mut Spent,
    ) -> Result<String, OptimizeError> {
        let identity = self.backend.model_identity(model).await.map_err(|source| {
            understudy_tasks::EvalError::Model {
                model: model.to_string(),
                source,
            }
        })?;
        let request = ChatRequest {
            max_tokens: Some(700),
            temperature: Some(0.0),
            seed: Some(self.base.seed),
            ..ChatRequest::new(model, messages)
        }
        .validate()
        .map_err(|e| OptimizeError::Config(format!("teacher request: {e}")))?;
        let (response, cached) = runner::call_cached(
            self.backend.as_ref(),
            self.store,
            &identity,
            request,
            self.options.no_cache,
        )
        .await?;
        spent.add(
            1,
            u64::from(response.usage.prompt_tokens) + u64::from(response.usage.completion_tokens),
            usize::from(!cached),
        );
        Ok(response.answer)
    }
}

#[cfg(test)]
mod tests {
    use understudy_prompt::{AnswerContract, Format};

    use super::*;

    fn plain() -> Template {
        Template {
            instruction: "Solve it.".into(),
            format: Format::Plain,
            answer: AnswerContract::Number,
        }
    }

    #[test]
    fn the_reasoning_is_what_comes_before_the_final_answer_line() {
        let reply = "9 bills of $10 each.\nFinal answer: 90";
        assert_eq!(
            worked_reasoning(&plain(), reply, Some("90")).as_deref(),
            Some("9 bills of $10 each.")
        );
    }

    #[test]
    fn a_reply_without_the_marker_is_reasoning_as_a_whole_unless_it_is_the_bare_answer() {
        let reply = "9 bills of $10 each make \\boxed{90}.";
        assert_eq!(
            worked_reasoning(&plain(), reply, Some("90")).as_deref(),
            Some(reply)
        );
        assert_eq!(worked_reasoning(&plain(), "90", Some("90")), None);
        assert_eq!(worked_reasoning(&plain(), "= 90.", Some("90")), None);
    }
}
