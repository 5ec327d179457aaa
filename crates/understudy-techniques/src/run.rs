//! The one run-time technique dispatcher, used by eval's runner and the gateway alike: it runs a
//! program's technique on a request through the caller's model calls (eval's go through its
//! response cache, the gateway's straight to the backend) and returns the answer, the model that
//! gave it, and its route for the trace.

use std::future::Future;

use serde::Serialize;
use understudy_backend::{Backend, BackendError};
use understudy_core::{ChatResponse, ValidChatRequest};
use understudy_prompt::{Technique, Trace};

use crate::cascade::{self, Validator};
use crate::mapreduce::{self, Budget};
use crate::{plan_execute, Called};

/// The context map-reduce plans for when neither the program nor the backend says.
pub const DEFAULT_CONTEXT_TOKENS: u32 = 8192;

/// A technique's answer and how it got there.
pub struct Outcome {
    /// The answer, with the technique's total tokens and time.
    pub response: ChatResponse,
    /// Every call the technique made came from a cache.
    pub cached: bool,
    /// The model whose answer this is (a cascade's last step, the executor, the model itself).
    pub answered_by: String,
    pub route: Route,
}

/// How a technique served a request, for the request log and the cell's detail alike: its record
/// under the technique's key (`cascade`, `plan_execute`, `map_reduce`) and, for map-reduce, how
/// the budget's tokens were counted (`tokenizer`: the model's own; `estimated`: 4 characters per
/// token, for HTTP backends).
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub key: &'static str,
    pub record: serde_json::Value,
    pub token_counts: Option<&'static str>,
}

impl Route {
    fn of(key: &'static str, record: &impl Serialize) -> Self {
        Self {
            key,
            record: serde_json::to_value(record).unwrap_or_default(),
            token_counts: None,
        }
    }

    /// Writes the route into `trace`, under the technique's key.
    pub fn write_to(&self, trace: &mut Trace) {
        let record = Some(self.record.clone());
        match self.key {
            "cascade" => trace.cascade = record,
            "plan_execute" => trace.plan_execute = record,
            _ => trace.map_reduce = record,
        }
        if let Some(counts) = self.token_counts {
            trace.token_counts = Some(counts.to_string());
        }
    }
}

/// Runs `technique` on `request`. `backend` answers what map-reduce needs to know about the
/// model (context window, tokenizer); `format_ok` is the cascade's `format` signal (whether the
/// program's contract reads an answer).
pub async fn run<F, Fut>(
    technique: &Technique,
    caller: F,
    request: &ValidChatRequest,
    backend: &dyn Backend,
    format_ok: Validator<'_>,
) -> Result<Outcome, BackendError>
where
    F: Fn(ValidChatRequest) -> Fut,
    Fut: Future<Output = Called>,
{
    match technique {
        Technique::Cascade(spec) => {
            let outcome = cascade::run(spec, caller, request, format_ok).await?;
            Ok(Outcome {
                route: Route::of("cascade", &outcome),
                cached: outcome.cached,
                answered_by: outcome.answered_by,
                response: outcome.response,
            })
        }
        Technique::PlanExecute(spec) => {
            let outcome = plan_execute::run(spec, caller, request).await?;
            Ok(Outcome {
                route: Route::of("plan_execute", &outcome),
                cached: outcome.cached,
                answered_by: spec.executor.clone(),
                response: outcome.response,
            })
        }
        Technique::MapReduce(spec) => {
            let model = &request.model;
            let context = match spec.context_tokens {
                Some(tokens) => tokens,
                None => backend
                    .context_length(model)
                    .await?
                    .unwrap_or(DEFAULT_CONTEXT_TOKENS),
            };
            let count = backend.token_counter(model).await?;
            let budget = Budget::new(context as usize);
            let outcome = mapreduce::run(&budget, caller, request, &count).await?;
            let mut route = Route::of("map_reduce", &outcome);
            route.token_counts = Some(token_counts(backend, model).await);
            Ok(Outcome {
                route,
                cached: outcome.cached,
                answered_by: model.clone(),
                response: outcome.response,
            })
        }
    }
}

/// How a budget's tokens are counted on `model`, for the trace: `tokenizer` (the model's own, on
/// the embedded engine) or `estimated` (4 characters per token, for HTTP backends).
pub async fn token_counts(backend: &dyn Backend, model: &str) -> &'static str {
    if backend.tokens_estimated(model).await {
        "estimated"
    } else {
        "tokenizer"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_backend::fake::FakeBackend;
    use understudy_core::{ChatMessage, ChatRequest};

    fn request(model: &str, text: &str) -> ValidChatRequest {
        ChatRequest::new(model, vec![ChatMessage::user(text)])
            .validate()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn each_technique_answers_through_one_dispatcher() {
        let backend = FakeBackend::default();
        let accept = |_: &str| true;
        let cascade = Technique::from_model_spec("cascade:label:a>label:b@format")
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("a cascade"));
        let out = run(
            &cascade,
            crate::direct(&backend),
            &request("x", "hi"),
            &backend,
            &accept,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.answered_by, "label:a");
        assert_eq!(out.route.key, "cascade");
        assert!(out.route.token_counts.is_none() && !out.cached);

        let reject = |_: &str| false;
        let out = run(
            &cascade,
            crate::direct(&backend),
            &request("x", "hi"),
            &backend,
            &reject,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.answered_by, "label:b");

        let map = Technique::MapReduce(understudy_prompt::technique::MapReduce {
            context_tokens: Some(4096),
        });
        let out = run(
            &map,
            crate::direct(&backend),
            &request("echo", "short"),
            &backend,
            &accept,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.route.key, "map_reduce");
        let mut trace = Trace::default();
        out.route.write_to(&mut trace);
        assert!(trace.map_reduce.is_some() && trace.cascade.is_none());
        assert_eq!(trace.token_counts.as_deref(), Some("estimated"));
        assert_eq!(out.answered_by, "echo");
    }
}
