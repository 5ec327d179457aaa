//! The cascade (FrugalGPT, AutoMix, RouteLLM): the cheapest model answers first and the request
//! goes to the next model only when a signal says the answer is not good enough. Signals:
//! `format` (the caller's validator rejects the answer, or its tool calls are unusable: one did
//! not parse, names a function not offered, or has arguments that do not fit the schema — see
//! `call_check`), `confidence:T` (mean token
//! log-probability below T), `self_check` (the same model, asked whether its answer is correct,
//! does not say yes), `agreement:K` (fewer than half of K sampled answers agree with the greedy
//! one). The latency reported is the whole cascade's, checks included (the sum of its calls).
//!
//! The spec (`Cascade`, `Signal`) is the prompt program's (`understudy_prompt::technique`);
//! model names write it `cascade:LIGHT>HEAVY[>…][@signal+signal…]`, e.g.
//! `cascade:smollm2-135m>qwen2.5-coder-1.5b@format+confidence:-0.3`.

use serde::Serialize;
use understudy_backend::BackendError;
use understudy_core::{ChatMessage, ChatRequest, ChatResponse, ValidChatRequest};

use std::future::Future;

pub use understudy_prompt::technique::{Cascade, Signal};

use crate::{Called, Meter};

/// What happened at one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub model: String,
    /// Signals that fired (empty: the answer was accepted).
    pub fired: Vec<String>,
    pub mean_logprob: Option<f64>,
    pub total_ms: f64,
}

/// The cascade's answer and how it got there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    #[serde(skip)]
    pub response: ChatResponse,
    pub answered_by: String,
    pub escalated: bool,
    pub steps: Vec<Step>,
    /// Every underlying call came from a cache.
    pub cached: bool,
}

/// Checks an answer's format (the caller decides: JSON parses, a label is readable, …).
pub type Validator<'a> = &'a (dyn Fn(&str) -> bool + Send + Sync);

fn normalise(text: &str) -> String {
    text.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(['.', '!'])
        .to_string()
}

fn with_model(request: &ValidChatRequest, model: &str) -> ValidChatRequest {
    let mut r = request.clone();
    r.model = model.to_string();
    r
}

fn follow_up(
    request: &ValidChatRequest,
    answer: &str,
    question: &str,
) -> Result<ValidChatRequest, BackendError> {
    let mut messages = request.messages.clone();
    messages.push(ChatMessage::assistant(answer));
    messages.push(ChatMessage::user(question));
    ChatRequest {
        max_tokens: Some(4),
        temperature: Some(0.0),
        seed: request.seed,
        ..ChatRequest::new(request.model.clone(), messages)
    }
    .validate()
    .map_err(|e| BackendError::Inference(format!("cascade self-check request: {e}")))
}

/// Which signals fire on `response` from `model`.
async fn fired<F, Fut>(
    cascade: &Cascade,
    caller: &F,
    request: &ValidChatRequest,
    response: &ChatResponse,
    validator: Validator<'_>,
    meter: &mut Meter,
) -> Result<Vec<String>, BackendError>
where
    F: Fn(ValidChatRequest) -> Fut,
    Fut: Future<Output = Called>,
{
    let mut out = Vec::new();
    for signal in &cascade.signals {
        let fires = match signal {
            Signal::Format => {
                !validator(&response.answer)
                    || crate::call_check::call_problem(&request.tools, response).is_some()
            }
            Signal::Confidence { min_mean_logprob } => response
                .confidence
                .is_none_or(|c| c.mean_logprob < *min_mean_logprob),
            Signal::SelfCheck => {
                let check = follow_up(
                    request,
                    &response.answer,
                    "Is the answer above correct and complete? Reply with only yes or no.",
                )?;
                let (verdict, cached) = caller(check).await?;
                meter.add(&verdict, cached);
                !verdict.answer.trim().to_lowercase().starts_with("yes")
            }
            Signal::Agreement { samples } => {
                let greedy = normalise(&response.answer);
                let mut agree = 0;
                for i in 0..*samples {
                    let mut sample = request.clone();
                    sample.temperature = 0.7;
                    sample.seed = Some(request.seed.unwrap_or(0).wrapping_add(1 + i as u64));
                    sample.logprobs = false;
                    let (answer, cached) = caller(sample).await?;
                    meter.add(&answer, cached);
                    agree += usize::from(normalise(&answer.answer) == greedy);
                }
                agree * 2 < *samples
            }
        };
        if fires {
            out.push(signal.name());
        }
    }
    Ok(out)
}

/// Runs `request` through the cascade: each model in turn until one's answer passes every
/// signal (the last model's answer is taken as is).
pub async fn run<F, Fut>(
    cascade: &Cascade,
    caller: F,
    request: &ValidChatRequest,
    validator: Validator<'_>,
) -> Result<Outcome, BackendError>
where
    F: Fn(ValidChatRequest) -> Fut,
    Fut: Future<Output = Called>,
{
    let mut meter = Meter::default();
    let mut steps = Vec::new();
    let last = cascade.models.len() - 1;
    for (i, model) in cascade.models.iter().enumerate() {
        let mut r = with_model(request, model);
        r.logprobs = r.logprobs || cascade.wants_logprobs();
        let (response, cached) = caller(r.clone()).await?;
        meter.add(&response, cached);
        let checks = if i < last {
            fired(cascade, &caller, &r, &response, validator, &mut meter).await?
        } else {
            Vec::new()
        };
        steps.push(Step {
            model: model.clone(),
            fired: checks.clone(),
            mean_logprob: response.confidence.map(|c| c.mean_logprob),
            total_ms: response.timing.total_ms,
        });
        if checks.is_empty() {
            return Ok(Outcome {
                answered_by: model.clone(),
                escalated: i > 0,
                steps,
                cached: meter.all_cached,
                response: meter.settle(response),
            });
        }
    }
    Err(BackendError::Inference(
        "cascade ended without an answer".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direct;
    use understudy_backend::fake::{CountingBackend, FakeBackend};

    fn request(model: &str) -> ValidChatRequest {
        ChatRequest::new(model, vec![ChatMessage::user("Classify: great film")])
            .validate()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn is_label(text: &str) -> bool {
        matches!(text.trim(), "positive" | "negative")
    }

    #[test]
    fn specs_parse_and_bad_ones_are_named() {
        let c = Cascade::parse("cascade:a>b@format+confidence:-0.4+self_check+agreement:3")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.models, vec!["a", "b"]);
        assert_eq!(c.signals.len(), 4);
        assert_eq!(
            Cascade::parse("cascade:a>b").map(|c| c.signals),
            Ok(vec![Signal::Format])
        );
        assert!(Cascade::parse("cascade:a").is_err());
        assert!(Cascade::parse("cascade:a>b@confidence:0.5").is_err());
        assert!(Cascade::parse("cascade:a>b@vibes")
            .unwrap_err()
            .contains("vibes"));
    }

    #[tokio::test]
    async fn format_failures_escalate_and_good_answers_stay_light() {
        let backend = CountingBackend::new(FakeBackend::new());
        let cascade =
            Cascade::parse("label:meh>label:positive@format").unwrap_or_else(|e| panic!("{e}"));
        let out = run(&cascade, direct(&backend), &request("x"), &is_label)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.escalated);
        assert_eq!(out.answered_by, "label:positive");
        assert_eq!(out.response.answer, "positive");
        assert_eq!(out.steps[0].fired, vec!["format"]);
        assert_eq!(backend.calls(), 2);

        let cascade = Cascade::parse("label:negative>label:positive@format")
            .unwrap_or_else(|e| panic!("{e}"));
        let out = run(&cascade, direct(&backend), &request("x"), &is_label)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.escalated && out.response.answer == "negative");
        assert_eq!(backend.calls(), 3);
    }

    #[tokio::test]
    async fn self_check_and_missing_confidence_escalate() {
        let backend = FakeBackend::new();
        // The light model answers "negative" to the self-check too, which is not "yes".
        let cascade = Cascade::parse("label:negative>label:positive@self_check")
            .unwrap_or_else(|e| panic!("{e}"));
        let out = run(&cascade, direct(&backend), &request("x"), &is_label)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.escalated, "{:?}", out.steps);
        let cascade =
            Cascade::parse("label:yes>label:positive@self_check").unwrap_or_else(|e| panic!("{e}"));
        let out = run(&cascade, direct(&backend), &request("x"), &|_: &str| true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.escalated);
        // The fake reports no log-probabilities: a confidence signal cannot vouch, so it escalates.
        let cascade = Cascade::parse("label:negative>label:positive@confidence:-1")
            .unwrap_or_else(|e| panic!("{e}"));
        let out = run(&cascade, direct(&backend), &request("x"), &is_label)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.escalated);
        // Deterministic samples agree with the greedy answer: no escalation, 1 + 3 calls.
        let counting = CountingBackend::new(FakeBackend::new());
        let cascade = Cascade::parse("label:negative>label:positive@agreement:3")
            .unwrap_or_else(|e| panic!("{e}"));
        let out = run(&cascade, direct(&counting), &request("x"), &is_label)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.escalated && counting.calls() == 4);
    }
}
