//! Request handlers: `/health`, `/v1/models`, `/v1/embeddings`, and the three chat APIs —
//! `/v1/chat/completions`, `/v1/messages`, `/v1/responses` — through one path (unary and
//! streaming); technique answers live in `techniques`, stored conversations in `conversation`.
//! What a request sends is built in `prepare`, whole answers go back through `reply`; wire
//! parsing, errors and SSE framing live in their own modules.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use understudy_core::{ChatMessage, ChatRequest, ValidChatRequest};

use crate::api_kind::Api;
use crate::conversation;
use crate::error::ApiError;
use crate::fingerprint::fingerprint;
use crate::profile::Profile;
use crate::reply::{complete, respond_finished, respond_streaming, Reply};
use crate::request_guard::RequestGuard;
use crate::responses::now_secs;
use crate::responses::{ModelEntry, ModelList, Named};
use crate::techniques::{run_technique, Finished};
use crate::turn::Turn;
use crate::{overhead, prepare, responses_store, AppState};

pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
}

pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// `GET /v1/models/{id}`: one entry of the list, or 404 `model_not_found`.
pub async fn model(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<ModelEntry>, ApiError> {
    let Json(list) = models(State(state)).await?;
    list.data
        .into_iter()
        .find(|m| m.id == id)
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "model {id:?} is not served here; GET /v1/models lists the models and profiles that are"
            ))
        })
}

pub async fn models(State(state): State<Arc<AppState>>) -> Result<Json<ModelList>, ApiError> {
    let mut data = Vec::new();
    for p in state.profiles.values() {
        let fp = served_fingerprint(&state, Some(p), &p.name).await;
        let owner = format!("profile of {}", p.model);
        data.push(ModelEntry::new(p.name.clone(), owner, fp));
    }
    for m in state.backend.list_models().await.map_err(ApiError::from)? {
        let fp = served_fingerprint(&state, None, &m.id).await;
        data.push(ModelEntry::new(m.id, m.backend, fp));
    }
    Ok(Json(ModelList {
        object: "list",
        data,
    }))
}

/// `POST /v1/embeddings` (OpenAI shape), with the gateway's embedder (see embeddings.rs).
pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    match crate::embeddings::embed(state, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// The profile a model name refers to, if any.
fn profile_for<'s>(state: &'s AppState, model: &str) -> Option<&'s Profile> {
    state.profiles.get(model)
}

fn validate(request: ChatRequest) -> Result<ValidChatRequest, ApiError> {
    request.validate().map_err(ApiError::from_request)
}

/// `POST /v1/chat/completions` (OpenAI).
pub async fn chat_completions(
    state: State<Arc<AppState>>,
    arrival: Option<axum::Extension<overhead::Arrival>>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    handle(Api::Chat, state, arrival, headers, body).await
}

/// `POST /v1/messages` (Anthropic).
pub async fn messages(
    state: State<Arc<AppState>>,
    arrival: Option<axum::Extension<overhead::Arrival>>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    handle(Api::Messages, state, arrival, headers, body).await
}

/// `POST /v1/responses` (OpenAI).
pub async fn responses(
    state: State<Arc<AppState>>,
    arrival: Option<axum::Extension<overhead::Arrival>>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    handle(Api::Responses, state, arrival, headers, body).await
}

/// One path for every API: read the body as `api` reads it, answer, and spell the answer (or
/// the error) as `api` does.
async fn handle(
    api: Api,
    State(state): State<Arc<AppState>>,
    arrival: Option<axum::Extension<overhead::Arrival>>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    let conversation = headers
        .get("x-conversation-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match chat(
        api,
        state,
        &headers,
        body,
        conversation,
        arrival.map(|a| a.0),
    )
    .await
    {
        Ok(response) => response,
        Err(err) => {
            tracing::warn!(status = err.status.as_u16(), "{}", err.message);
            api.error(err)
        }
    }
}

async fn chat(
    api: Api,
    state: Arc<AppState>,
    headers: &axum::http::HeaderMap,
    body: Body,
    conversation: Option<String>,
    arrival: Option<overhead::Arrival>,
) -> Result<Response, ApiError> {
    // Counted from its arrival: a body that is too large or not valid JSON is a request too.
    let mut guard = RequestGuard::new(state.metrics.clone())
        .arrived(arrival)
        .logs_to(state.log.clone());
    let clock = guard.upstream();
    let result = clock
        .scope(parse_and_answer(
            api,
            &state,
            headers,
            body,
            conversation,
            &mut guard,
        ))
        .await;
    if let Err(err) = &result {
        guard.fail(err.status.as_u16(), err.kind);
    }
    // A unary answer or an error is logged before the client gets it (a stream took the guard
    // along and logs before its last event).
    guard.log_committed().await;
    let (own, upstream) = guard.settle();
    let queue = guard.queue();
    result.map(|mut response| {
        let headers = response.headers_mut();
        headers.insert(overhead::GATEWAY_HEADER, overhead::header_ms(own));
        headers.insert(overhead::UPSTREAM_HEADER, overhead::header_ms(upstream));
        if let Some(queue) = queue {
            headers.insert(overhead::QUEUE_HEADER, overhead::header_ms(queue));
        }
        response
    })
}

async fn parse_and_answer(
    api: Api,
    state: &Arc<AppState>,
    headers: &axum::http::HeaderMap,
    body: Body,
    conversation: Option<String>,
    guard: &mut RequestGuard,
) -> Result<Response, ApiError> {
    let bytes = crate::body_read::read(headers, body, state.body_limit, state.body_idle).await?;
    let mut parsed = api.parse(&bytes)?;
    if conversation.is_some() {
        parsed.user = conversation;
    }
    let named = parsed.request.model.clone();
    // The key is hashed only for a canary's requests.
    let arm = state
        .canaries
        .configured(&named)
        .map(|_| crate::capture::conversation_key(&parsed.request, parsed.user.as_deref()))
        .and_then(|key| state.canaries.route(&named, &key));
    let client_model = arm.clone().unwrap_or_else(|| named.clone());
    guard.admit(&client_model, &state.served.label(&client_model));
    if let Some(arm) = arm {
        // Answered as if the client had named the arm; logged under the canary's name.
        state.metrics.canary(&named, &arm);
        guard.named_as(&named);
        parsed.request.model = arm;
    }
    guard.streams(parsed.stream);
    if let Some(capture) = profile_for(state, &client_model).and_then(|p| p.capture.as_ref()) {
        let conversation =
            crate::capture::conversation_key(&parsed.request, parsed.user.as_deref());
        if capture.samples(&conversation) {
            guard.capture(crate::capture::Pending {
                capture: capture.clone(),
                api: api.name(),
                conversation,
                body: bytes.to_vec(),
                answer: None,
            });
        }
    }
    let shadowed = profile_for(state, &client_model)
        .and_then(|p| p.shadow.clone().map(|shadow| (p.model.clone(), shadow)));
    if let (Some((reference_model, shadow)), Some(queue)) = (shadowed, state.shadow_queue.clone()) {
        let conversation =
            crate::capture::conversation_key(&parsed.request, parsed.user.as_deref());
        if shadow.samples(&conversation) {
            let job = crate::shadow::Job {
                shadow,
                profile: client_model.clone(),
                conversation,
                request: parsed.request.clone(),
                reference_model,
                reference: Default::default(),
                reference_ms: 0.0,
                reference_tokens: None,
            };
            guard.shadow(queue, job);
        }
    }
    answer(state, parsed, &client_model, guard).await
}

async fn answer(
    state: &Arc<AppState>,
    mut parsed: crate::wire::Parsed,
    client_model: &str,
    guard: &mut RequestGuard,
) -> Result<Response, ApiError> {
    // The count this request was admitted at, not a fresh read: requests admitted together
    // must not all see each other and all be turned away.
    if guard.position() > state.max_queue as i64 {
        return Err(ApiError::overloaded(client_model, state.max_queue));
    }
    let mut turn = Turn::new(profile_for(state, client_model).cloned());
    let keep = responses_store::with_previous(state.conversations.as_ref(), &mut parsed).await?;
    let kept = prepare::with_history(state, turn.profile(), &mut parsed, guard).await?;
    let request =
        prepare::build_request(state, &mut turn, parsed.request, parsed.thinking, guard).await?;
    let valid = validate(request)?;
    let profile = turn.profile();
    guard.served(profile.map(|p| p.name.clone()), valid.model.clone());
    let log_content = profile.is_some_and(|p| p.log_content);
    let prompt_json =
        log_content.then(|| serde_json::to_string(&valid.messages).unwrap_or_default());
    let id = format!(
        "{}{:x}{:06x}",
        parsed.dialect.id_prefix(),
        now_secs(),
        state.next_id.fetch_add(1, Ordering::Relaxed)
    );
    let reply = Reply {
        stream: parsed.stream,
        dialect: parsed.dialect,
        after: keep.map(|k| k.after(id.clone())),
        id,
        named: named(state, profile, client_model).await,
        prompt_json,
    };
    if let Some(kept) = kept {
        return answer_in_conversation(state, kept, valid, &turn, reply, guard).await;
    }
    if let Some(finished) = run_technique(state, &turn, &valid, guard).await? {
        return respond_finished(finished, Some(&turn), reply, guard).await;
    }
    if parsed.stream {
        let backend = state.backend.as_ref();
        return respond_streaming(backend, valid, turn, reply, guard).await;
    }
    let answered_by = valid.model.clone();
    let response = complete(state.backend.as_ref(), valid, &turn).await?;
    // `complete` applied the turn's answer policies.
    let finished = Finished {
        response,
        answered_by,
    };
    respond_finished(finished, None, reply, guard).await
}

/// Answers within a kept conversation: the new turns and the answer are stored, and the oldest
/// turns summarised past the profile's budget.
async fn answer_in_conversation(
    state: &Arc<AppState>,
    kept: prepare::Kept,
    valid: ValidChatRequest,
    turn: &Turn,
    reply: Reply,
    guard: &mut RequestGuard,
) -> Result<Response, ApiError> {
    let prepare::Kept {
        budget,
        id: conversation,
        store,
        mut new_turns,
    } = kept;
    let response = complete(state.backend.as_ref(), valid.clone(), turn).await?;
    new_turns.push(ChatMessage::assistant(response.answer.clone()));
    store
        .append(&conversation, &new_turns)
        .await
        .map_err(ApiError::from)?;
    conversation::trim(
        state.backend.as_ref(),
        store.as_ref(),
        &conversation,
        &valid.model,
        budget,
    )
    .await?;
    let counts = understudy_techniques::run::token_counts(state.backend.as_ref(), &valid.model);
    guard.trace_mut().token_counts = Some(counts.await.to_string());
    let finished = Finished {
        answered_by: valid.model.clone(),
        response,
    };
    respond_finished(finished, None, reply, guard).await
}

/// The name a response answers under, with its fingerprint.
pub(crate) async fn named(state: &AppState, profile: Option<&Profile>, model: &str) -> Named {
    Named {
        model: model.to_string(),
        fingerprint: served_fingerprint(state, profile, model).await,
    }
}

/// The fingerprint of a served name (see fingerprint.rs), cached for the life of the gateway.
pub(crate) async fn served_fingerprint(
    state: &AppState,
    profile: Option<&Profile>,
    model: &str,
) -> String {
    let key = format!("{}\u{1f}{model}", u8::from(profile.is_some()));
    if let Some(known) = state
        .fingerprints
        .lock()
        .ok()
        .and_then(|f| f.get(&key).cloned())
    {
        return known;
    }
    let (computed, resolved) = fingerprint(state.backend.as_ref(), profile, model).await;
    if resolved {
        if let Ok(mut known) = state.fingerprints.lock() {
            known.insert(key, computed.clone());
        }
    }
    computed
}
