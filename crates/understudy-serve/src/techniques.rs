//! Answers produced by the run-time techniques (cascade, planner/executor, map-reduce over long
//! inputs): each runs to a finished answer (sent back by `reply::respond_finished`) and notes
//! its route in the request's trace.

use std::sync::Arc;

use understudy_backend::Backend;
use understudy_core::{ChatResponse, ValidChatRequest};
use understudy_techniques::cascade::{self, Cascade};
use understudy_techniques::direct;
use understudy_techniques::mapreduce::{self, MapReduce};
use understudy_techniques::plan_execute::{self, PlanExecute};

use crate::error::ApiError;
use crate::profile::Profile;
use crate::request_guard::RequestGuard;
use crate::AppState;

/// The context map-reduce plans for when neither the profile nor the backend says.
const DEFAULT_CONTEXT_TOKENS: u32 = 8192;

/// An answer produced by a technique, and the model that gave it.
pub(crate) struct Finished {
    pub response: ChatResponse,
    pub answered_by: String,
}

/// Runs the profile's run-time technique, if it has one (a profile runs at most one).
pub(crate) async fn run_technique(
    state: &Arc<AppState>,
    profile: Option<&Profile>,
    valid: &ValidChatRequest,
    guard: &mut RequestGuard,
) -> Result<Option<Finished>, ApiError> {
    let Some(profile) = profile else {
        return Ok(None);
    };
    let finished = if let Some(context) = profile.long_input() {
        map_reduce(state, context, valid, guard).await?
    } else if let Some(plan) = profile.plan_execute() {
        run_plan(state, &plan, valid, guard).await?
    } else if let Some(cascade) = profile.cascade() {
        run_cascade(state, &cascade, valid, Some(profile), guard).await?
    } else {
        return Ok(None);
    };
    Ok(Some(finished))
}

/// Runs the profile's cascade (light model first); the answering model and the signals that
/// fired go to the request log.
pub(crate) async fn run_cascade(
    state: &Arc<AppState>,
    cascade: &Cascade,
    valid: &ValidChatRequest,
    profile: Option<&Profile>,
    guard: &mut RequestGuard,
) -> Result<Finished, ApiError> {
    // The `format` signal: a JSON profile's answer must parse; a template's contract must read
    // an answer (as eval's cascade checks it).
    let json = profile.is_some_and(|p| p.json);
    let validator = move |text: &str| {
        !text.trim().is_empty()
            && (!json
                || understudy_prompt::AnswerContract::Json
                    .extract(text, &understudy_prompt::Input::default())
                    .is_some())
            && profile.is_none_or(|p| p.read(text).answer.is_some())
    };
    let outcome = cascade::run(cascade, direct(state.backend.as_ref()), valid, &validator)
        .await
        .map_err(ApiError::from)?;
    guard.route.insert(
        "cascade".into(),
        serde_json::to_value(&outcome).unwrap_or_default(),
    );
    Ok(Finished {
        answered_by: outcome.answered_by.clone(),
        response: outcome.response,
    })
}

/// Plans with one model, executes the steps with another, composes the answer; the plan and
/// step results go to the request log, not to the client.
pub(crate) async fn run_plan(
    state: &Arc<AppState>,
    plan: &PlanExecute,
    valid: &ValidChatRequest,
    guard: &mut RequestGuard,
) -> Result<Finished, ApiError> {
    let outcome = plan_execute::run(plan, direct(state.backend.as_ref()), valid)
        .await
        .map_err(ApiError::from)?;
    guard.route.insert(
        "plan_execute".into(),
        serde_json::to_value(&outcome).unwrap_or_default(),
    );
    Ok(Finished {
        answered_by: plan.executor.clone(),
        response: outcome.response,
    })
}

/// Answers through map-reduce when the request does not fit the model's context (`context`
/// from the profile, else the backend's window); chunk counts go to the request log.
pub(crate) async fn map_reduce(
    state: &Arc<AppState>,
    context: Option<u32>,
    valid: &ValidChatRequest,
    guard: &mut RequestGuard,
) -> Result<Finished, ApiError> {
    let backend = state.backend.as_ref();
    let context = match context {
        Some(c) => c,
        None => backend
            .context_length(&valid.model)
            .await
            .map_err(ApiError::from)?
            .unwrap_or(DEFAULT_CONTEXT_TOKENS),
    };
    let count = backend
        .token_counter(&valid.model)
        .await
        .map_err(ApiError::from)?;
    let budget = MapReduce::new(context as usize);
    let outcome = mapreduce::run(&budget, direct(backend), valid, &count)
        .await
        .map_err(ApiError::from)?;
    guard.route.insert(
        "map_reduce".into(),
        serde_json::to_value(&outcome).unwrap_or_default(),
    );
    guard.route.insert(
        "token_counts".into(),
        token_counts(backend, &valid.model).await.into(),
    );
    Ok(Finished {
        answered_by: valid.model.clone(),
        response: outcome.response,
    })
}

/// How a budget's tokens were counted, for the request log: `tokenizer` (the model's own, on
/// the embedded engine) or `estimated` (4 characters per token, for HTTP backends).
pub(crate) async fn token_counts(backend: &dyn Backend, model: &str) -> &'static str {
    if backend.tokens_estimated(model).await {
        "estimated"
    } else {
        "tokenizer"
    }
}
