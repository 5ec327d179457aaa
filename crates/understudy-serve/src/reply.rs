//! What goes back to the client for an answer the gateway has whole: the profile's output
//! policies (chain of thought split and the template's contract, as eval reads answers;
//! reasoning strip; one JSON retry), the unary body, and a technique's finished answer sent
//! unary or as one streamed answer, in the API the request came in through.

use axum::response::{IntoResponse, Response};
use understudy_backend::Backend;
use understudy_core::stream::{Delta, StreamEnd};
use understudy_core::{ChatMessage, ChatResponse, StreamEvent, ToolCallDelta, ValidChatRequest};
use understudy_prompt::{AnswerContract, Input};

use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::request_guard::RequestGuard;
use crate::responses::Named;
use crate::stream::{self, AfterAnswer};
use crate::techniques::Finished;
use crate::turn::Turn;

/// How a finished answer goes back to the client: in which API's spelling, streamed or not,
/// under which id and name, the prompt to log beside it (when the profile logs content), and
/// what runs once the answer is complete (a stored response).
pub(crate) struct Reply {
    pub stream: bool,
    pub dialect: Dialect,
    pub id: String,
    pub named: Named,
    pub prompt_json: Option<String>,
    pub after: Option<AfterAnswer>,
}

/// Sends a finished answer (a technique's, a kept conversation's, or a unary one), unary or as
/// one streamed answer as the client asked, with the answering model in the
/// `x-understudy-model` header. `turn` applies its answer policies when the caller has not.
pub(crate) async fn respond_finished(
    finished: Finished,
    turn: Option<&Turn>,
    reply: Reply,
    guard: &mut RequestGuard,
) -> Result<Response, ApiError> {
    let Reply {
        stream,
        dialect,
        id,
        named,
        prompt_json,
        after,
    } = reply;
    guard.answered_by(finished.answered_by.clone());
    let header = (
        axum::http::HeaderName::from_static("x-understudy-model"),
        axum::http::HeaderValue::from_str(&finished.answered_by)
            .unwrap_or(axum::http::HeaderValue::from_static("unknown")),
    );
    let mut response = finished.response;
    if let Some(turn) = turn {
        response = apply_output_policies(response, turn);
    }
    guard.answered(&response.timing, &response.usage);
    if guard.captures() {
        guard.captured_answer(crate::capture::Answer {
            content: response.answer.clone(),
            tool_calls: response.tool_calls.clone(),
            finish_reason: Some(response.finish_reason),
        });
    }
    if let Some(prompt) = prompt_json {
        guard.keep_content(prompt, response.answer.clone());
    }
    if stream {
        let mut events = vec![Ok(StreamEvent::Delta(Delta::Answer(
            response.answer.clone(),
        )))];
        if !response.token_logprobs.is_empty() {
            let tokens = response.token_logprobs.clone();
            events.push(Ok(StreamEvent::Delta(Delta::Logprobs(tokens))));
        }
        for (i, call) in response.tool_calls.iter().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            events.push(Ok(StreamEvent::Delta(Delta::ToolCall(
                ToolCallDelta::whole(index, call),
            ))));
        }
        events.push(Ok(StreamEvent::End(StreamEnd {
            model: response.model.clone(),
            finish_reason: response.finish_reason,
            usage: response.usage,
            timing: response.timing,
            confidence: response.confidence,
            unparsed_tool_calls: response.unparsed_tool_calls,
        })));
        let events = futures::stream::iter(events);
        let owned = guard.hand_to_stream();
        // Policies were applied above; the stream passes the answer through unchanged.
        let encoder = dialect.encoder(id, named);
        let sse = stream::sse(Box::pin(events), encoder, None, owned, after);
        return Ok(([header], sse).into_response());
    }
    if let Some(after) = after {
        let answer =
            ChatMessage::assistant_calls(response.answer.clone(), response.tool_calls.clone());
        after(answer).await;
    }
    Ok(([header], dialect.body(&id, &named, &response)).into_response())
}

/// Streams the model's answer to the client as it is generated, read as the turn reads it; the
/// request's record moves into the stream, which logs it when it ends.
pub(crate) async fn respond_streaming(
    backend: &dyn Backend,
    request: ValidChatRequest,
    turn: Turn,
    reply: Reply,
    guard: &mut RequestGuard,
) -> Result<Response, ApiError> {
    let events = backend.chat_stream(request).await.map_err(ApiError::from)?;
    if let Some(prompt) = reply.prompt_json {
        guard.keep_content(prompt, String::new());
    }
    let owned = guard.hand_to_stream();
    let encoder = reply.dialect.encoder(reply.id, reply.named);
    let sse = stream::sse(events, encoder, Some(turn), owned, reply.after);
    Ok(sse.into_response())
}

/// Applies a profile's answer policies (CoT split and the template's contract, as eval reads
/// answers; reasoning strip) to a finished answer. An answer the contract cannot read is
/// returned as the model wrote it (past any chain of thought).
pub(crate) fn apply_output_policies(mut response: ChatResponse, turn: &Turn) -> ChatResponse {
    if turn.reads_answer() {
        let read = turn.read(&response.answer);
        response.answer = read.answer.unwrap_or(read.text);
        if let Some(r) = read.reasoning {
            response.reasoning = Some(match response.reasoning.take() {
                Some(prev) => format!("{prev}\n\n{r}"),
                None => r,
            });
        }
    }
    if turn.strips_reasoning() {
        response.reasoning = None;
    }
    response
}

/// Runs a unary request and applies the profile's output policies.
pub(crate) async fn complete(
    backend: &dyn Backend,
    request: ValidChatRequest,
    turn: &Turn,
) -> Result<ChatResponse, ApiError> {
    let mut response = backend
        .chat(request.clone())
        .await
        .map_err(ApiError::from)?;
    if turn.json() {
        // Read with the program's one JSON reader: a fenced document is unwrapped, anything else
        // gets one retry telling the model what was wrong.
        let json = |text: &str| AnswerContract::Json.extract(text, &Input::default());
        if json(&response.answer).is_none() {
            let why = serde_json::from_str::<serde_json::Value>(response.answer.trim())
                .err()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            let mut retry = request;
            retry
                .messages
                .push(ChatMessage::assistant(response.answer.clone()));
            retry.messages.push(ChatMessage::user(format!(
                "That was not valid JSON{why}. Reply with only valid JSON."
            )));
            response = backend.chat(retry).await.map_err(ApiError::from)?;
        }
        let Some(document) = json(&response.answer) else {
            return Err(ApiError {
                status: axum::http::StatusCode::BAD_GATEWAY,
                message: format!("profile {} requires JSON and the model did not produce valid JSON after one retry", turn.name()),
                kind: "server_error",
                param: None,
                code: Some("invalid_json_output"),
                retry_after: None,
            });
        };
        response.answer = document;
    }
    Ok(apply_output_policies(response, turn))
}
