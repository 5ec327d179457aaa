//! Answering one cell: each turn from the response cache or the backend, through the program's
//! run-time technique when it has one (`understudy_techniques::run`, as the gateway runs it), and the notes
//! (confidence, route, thinking decision) that go into the cell's detail record.

use std::collections::HashMap;

use understudy_backend::{Backend, BackendError};
use understudy_core::{ChatMessage, ChatResponse, ValidChatRequest};
use understudy_techniques::run;

use super::Work;
use understudy_store::{cache_key, Store};
use understudy_tasks::EvalError;

/// The answers to every turn of an item, and whether each came from the cache.
pub(super) struct Answered {
    pub responses: Vec<(ChatResponse, bool)>,
    /// How each turn was served by a technique (`cascade`, `plan_execute`, `map_reduce`, and
    /// `token_counts` for a map-reduce budget), when one was used.
    pub routes: Vec<run::Route>,
}

impl Answered {
    pub fn all_cached(&self) -> bool {
        self.responses.iter().all(|(_, cached)| *cached)
    }
}

/// One call, answered from the response cache when it can be.
pub async fn call_cached(
    backend: &dyn Backend,
    store: &Store,
    identity: &str,
    request: ValidChatRequest,
    no_cache: bool,
) -> Result<(ChatResponse, bool), EvalError> {
    let key = cache_key(identity, &request);
    if !no_cache {
        if let Some(r) = store
            .cache
            .cache_get(&key)
            .await?
            .and_then(|json| serde_json::from_str::<ChatResponse>(&json).ok())
        {
            return Ok((r, true));
        }
    }
    let model = request.model.clone();
    let r = backend
        .chat(request)
        .await
        .map_err(|source| EvalError::Model { model, source })?;
    if let Ok(json) = serde_json::to_string(&r) {
        store.cache.cache_put(&key, &json).await?;
    }
    Ok((r, false))
}

/// Asks for the item's first turn, then each follow-up with the conversation so far; each call
/// is answered from the cache when it can be. A cascade model runs its cascade per turn.
pub(super) async fn answer(
    backend: &dyn Backend,
    store: &Store,
    identities: &HashMap<String, String>,
    work: &Work<'_>,
    no_cache: bool,
) -> Result<Answered, EvalError> {
    let mut request = work.request.clone();
    let mut responses = Vec::new();
    let mut routes = Vec::new();
    // Calls made by a technique go through the cache too, each under its own model's identity.
    // A fault of the store (the cache) is kept aside and reported as the store's, not passed
    // off as the model's through the technique's model-error type.
    let store_fault: std::sync::Mutex<Option<EvalError>> = std::sync::Mutex::new(None);
    let caller = |r: ValidChatRequest| {
        let store_fault = &store_fault;
        async move {
            let identity = identities.get(&r.model).map(String::as_str).unwrap_or("");
            call_cached(backend, store, identity, r, no_cache)
                .await
                .map_err(|e| match e {
                    EvalError::Model { source, .. } => source,
                    other => {
                        let message = format!("the response cache failed: {other}");
                        if let Ok(mut kept) = store_fault.lock() {
                            kept.get_or_insert(other);
                        }
                        BackendError::Inference(message)
                    }
                })
        }
    };
    // The cascade's `format` signal: the program's contract reads nothing (as the gateway's
    // reads it for a served profile).
    let input = understudy_tasks::strategy::input(work.item).text();
    let format_ok = |text: &str| work.program.read(text, &input, work.cot).answer.is_some();
    let follow_ups = work.item.follow_ups.iter().map(Some);
    for turn in std::iter::once(None).chain(follow_ups) {
        if let Some(text) = turn {
            request.messages.push(ChatMessage::user(text.clone()));
        }
        let (response, was_cached) = match &work.program.technique {
            Some(technique) => {
                let outcome = run::run(technique, &caller, &request, backend, &format_ok)
                    .await
                    .map_err(|source| {
                        let kept = store_fault.lock().ok().and_then(|mut k| k.take());
                        kept.unwrap_or_else(|| technique_error(work)(source))
                    })?;
                routes.push(outcome.route);
                (outcome.response, outcome.cached)
            }
            None => {
                let identity = identities
                    .get(&work.model)
                    .map(String::as_str)
                    .unwrap_or("");
                call_cached(backend, store, identity, request.clone(), no_cache).await?
            }
        };
        request
            .messages
            .push(ChatMessage::assistant(response.answer.clone()));
        responses.push((response, was_cached));
    }
    Ok(Answered { responses, routes })
}

/// A technique's failure as the cell's model's error.
fn technique_error<'w>(work: &'w Work<'_>) -> impl Fn(BackendError) -> EvalError + 'w {
    move |source| EvalError::Model {
        model: work.model.clone(),
        source,
    }
}
