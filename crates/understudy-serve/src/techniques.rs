//! Answers produced by the profile's run-time technique (cascade, planner/executor, map-reduce
//! over long inputs) through the one dispatcher eval uses too (`understudy_techniques::run`):
//! each runs to a finished answer (sent back by `reply::respond_finished`) and notes its route
//! in the request's trace.

use std::sync::Arc;

use understudy_core::{ChatResponse, ValidChatRequest};
use understudy_techniques::{direct, run};

use crate::error::ApiError;
use crate::request_guard::RequestGuard;
use crate::turn::Turn;
use crate::AppState;

/// An answer produced by a technique, and the model that gave it.
pub(crate) struct Finished {
    pub response: ChatResponse,
    pub answered_by: String,
}

/// Runs the profile's run-time technique, if it has one (a profile runs at most one).
pub(crate) async fn run_technique(
    state: &Arc<AppState>,
    turn: &Turn,
    valid: &ValidChatRequest,
    guard: &mut RequestGuard,
) -> Result<Option<Finished>, ApiError> {
    let Some(technique) = &turn.program.technique else {
        return Ok(None);
    };
    // The cascade's `format` signal: a JSON profile's answer must parse; a template's contract
    // must read an answer (as eval's cascade checks it).
    let json = turn.json();
    let format_ok = move |text: &str| {
        !text.trim().is_empty()
            && (!json
                || understudy_prompt::AnswerContract::Json
                    .extract(text, &understudy_prompt::Input::default())
                    .is_some())
            && turn.read(text).answer.is_some()
    };
    let backend = state.backend.as_ref();
    let outcome = run::run(technique, direct(backend), valid, backend, &format_ok)
        .await
        .map_err(ApiError::from)?;
    outcome.route.write_to(guard.trace_mut());
    Ok(Some(Finished {
        response: outcome.response,
        answered_by: outcome.answered_by,
    }))
}
