//! An LLM judge with FastChat's MT-Bench single-answer prompts: each turn of an answer gets a 1-10
//! rating (turn two judged in the context of the whole conversation; math, reasoning and coding
//! compared with the GPT-4 reference answer). A rating that cannot be parsed is asked for once
//! more (sampled, so the retry can differ); if that fails too, the turn counts as a judge failure,
//! never as a zero.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use regex::Regex;
use serde::{Deserialize, Serialize};
use understudy_backend::Backend;

use crate::EvalError;
use understudy_store::Store;

/// One of FastChat's judge prompts.
#[derive(Debug, Clone, Deserialize)]
pub struct JudgePrompt {
    pub name: String,
    pub system_prompt: String,
    pub prompt_template: String,
}

/// The judge model and everything it grades with.
pub struct Judge {
    pub backend: Arc<dyn Backend>,
    pub model: String,
    identity: String,
    prompts: HashMap<String, JudgePrompt>,
    references: HashMap<String, Vec<String>>,
    reference_categories: Vec<String>,
}

/// One turn's rating, or the judge's unparsable output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnRating {
    pub rating: Option<f64>,
    pub attempts: u32,
    /// The judge's explanation (its full answer) for the last attempt.
    pub judgment: String,
}

fn rating_res() -> &'static [Regex; 2] {
    static RES: OnceLock<[Regex; 2]> = OnceLock::new();
    RES.get_or_init(|| {
        [
            Regex::new(r"\[\[(\d+\.?\d*)\]\]").unwrap_or_else(|_| unreachable!()),
            Regex::new(r"\[(\d+\.?\d*)\]").unwrap_or_else(|_| unreachable!()),
        ]
    })
}

/// FastChat's rule: the first `[[n]]` rating, else the first `[n]`; outside 1..=10 does not count.
pub fn parse_rating(judgment: &str) -> Option<f64> {
    rating_res()
        .iter()
        .find_map(|re| re.captures(judgment))
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse::<f64>().ok())
        .filter(|r| (1.0..=10.0).contains(r))
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, EvalError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EvalError::Data(format!("cannot read {}: {e}", path.display())))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| EvalError::Task {
                path: path.to_path_buf(),
                line: Some(i + 1),
                message: e.to_string(),
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct ReferenceRow {
    question_id: serde_json::Value,
    choices: Vec<ReferenceChoice>,
}

#[derive(Deserialize)]
struct ReferenceChoice {
    turns: Vec<String>,
}

impl Judge {
    /// The judge's name and what it points at (part of a run's resume key).
    pub fn identity(&self) -> String {
        format!("{}={}", self.model, self.identity)
    }

    /// Loads the judge prompts and reference answers; checks the judge model answers.
    pub async fn load(
        backend: Arc<dyn Backend>,
        model: &str,
        prompts_path: &Path,
        references_path: Option<&Path>,
        reference_categories: Vec<String>,
    ) -> Result<Self, EvalError> {
        let prompts: Vec<JudgePrompt> = read_jsonl(prompts_path)?;
        let prompts = prompts.into_iter().map(|p| (p.name.clone(), p)).collect();
        let mut references = HashMap::new();
        if let Some(path) = references_path {
            for row in read_jsonl::<ReferenceRow>(path)? {
                let id = match &row.question_id {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if let Some(choice) = row.choices.into_iter().next() {
                    references.insert(id, choice.turns);
                }
            }
        }
        let identity = super::judge_call::identity_of(backend.as_ref(), model).await?;
        Ok(Self {
            backend,
            model: model.to_string(),
            identity,
            prompts,
            references,
            reference_categories,
        })
    }

    fn prompt(&self, name: &str) -> Result<&JudgePrompt, EvalError> {
        self.prompts
            .get(name)
            .ok_or_else(|| EvalError::Data(format!("judge prompt {name:?} is missing")))
    }

    /// Rates every turn of a conversation (`questions[i]` answered by `answers[i]`).
    pub async fn rate(
        &self,
        store: &Store,
        question_id: &str,
        category: &str,
        questions: &[String],
        answers: &[String],
    ) -> Result<Vec<TurnRating>, EvalError> {
        let reference = self
            .reference_categories
            .iter()
            .any(|c| c == category)
            .then(|| self.references.get(question_id))
            .flatten();
        let mut ratings = Vec::new();
        for turn in 0..answers.len().min(questions.len()) {
            let (name, mut vars) = if turn == 0 {
                let name = if reference.is_some() {
                    "single-math-v1"
                } else {
                    "single-v1"
                };
                let mut vars = vec![
                    ("question", questions[0].clone()),
                    ("answer", answers[0].clone()),
                ];
                if let Some(r) = reference {
                    vars.push(("ref_answer_1", r.first().cloned().unwrap_or_default()));
                }
                (name, vars)
            } else {
                let name = if reference.is_some() {
                    "single-math-v1-multi-turn"
                } else {
                    "single-v1-multi-turn"
                };
                (
                    name,
                    vec![
                        ("question_1", questions[0].clone()),
                        ("question_2", questions[turn].clone()),
                        ("answer_1", answers[0].clone()),
                        ("answer_2", answers[turn].clone()),
                    ],
                )
            };
            if let Some(r) = reference {
                if turn > 0 {
                    vars.push(("ref_answer_1", r.first().cloned().unwrap_or_default()));
                    vars.push(("ref_answer_2", r.get(turn).cloned().unwrap_or_default()));
                }
            }
            let prompt = self.prompt(name)?;
            let mut user = prompt.prompt_template.clone();
            for (key, value) in &vars {
                user = user.replace(&format!("{{{key}}}"), value);
            }
            ratings.push(self.ask(store, &prompt.system_prompt, &user).await?);
        }
        Ok(ratings)
    }

    async fn ask(&self, store: &Store, system: &str, user: &str) -> Result<TurnRating, EvalError> {
        let judge = super::judge_call::JudgeModel {
            backend: self.backend.as_ref(),
            model: &self.model,
            identity: &self.identity,
        };
        let asked = judge.ask(store, system, user, parse_rating).await?;
        Ok(TurnRating {
            rating: asked.verdict,
            attempts: asked.attempts,
            judgment: asked.judgment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_follow_fastchats_patterns() {
        assert_eq!(parse_rating("Good. Rating: [[7]]"), Some(7.0));
        assert_eq!(parse_rating("Rating: [8.5]"), Some(8.5));
        assert_eq!(parse_rating("[[3]] then [[9]]"), Some(3.0));
        assert_eq!(parse_rating("I rate it 7/10"), None);
        assert_eq!(parse_rating("Rating: [[0]]"), None);
    }
}
