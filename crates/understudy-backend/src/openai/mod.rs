//! Backend for any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, TGI, OpenAI):
//! streaming and unary chat completions, model listing, reasoning kept apart, errors that carry
//! the server's status and message. Wire shapes live in `wire`.

mod retry_after;
mod sse_reader;
mod stream_state;
mod transport;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use understudy_core::response::ConfidenceAccumulator;
use understudy_core::stream::Delta;
use understudy_core::think_tags::ThinkSplitter;
use understudy_core::thinking_switch::ThinkingControl;
use understudy_core::tools::ToolCallAssembler;
use understudy_core::{ChatResponse, FinishReason, TimingRecorder, Usage, ValidChatRequest};

use crate::{upstream, Backend, BackendError, EventStream, ModelInfo};
use stream_state::StreamState;
use transport::{SendError, Transport};
use wire::{error_message, WireCompletion, WireModelList, WireRequest};

/// Model id → what the server reports it stands for, if anything.
type ServedModels = HashMap<String, Option<String>>;

/// How long to wait for a TCP connection before calling the server unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client for one OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct OpenAiBackend {
    name: String,
    base_url: String,
    api_key: Option<String>,
    timeout_secs: u64,
    http: Transport,
    /// Model ids the server listed, each with what the server reports it stands for (a
    /// gateway's fingerprint, vLLM's weights path), fetched on first use and refreshed on a miss.
    served: Arc<Mutex<Option<ServedModels>>>,
    thinking_control: ThinkingControl,
    /// `[backends.X] revision`: the user's label for what the server serves now.
    revision: Option<String>,
}

impl OpenAiBackend {
    /// `base_url` is the API root, usually ending in `/v1`.
    pub fn new(
        name: impl Into<String>,
        base_url: &str,
        api_key: Option<String>,
        timeout_secs: u64,
    ) -> Result<Self, BackendError> {
        let http = Transport::new(CONNECT_TIMEOUT)
            .map_err(|e| BackendError::Inference(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            name: name.into(),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            timeout_secs,
            http,
            served: Arc::new(Mutex::new(None)),
            thinking_control: ThinkingControl::TemplateFlag,
            revision: None,
        })
    }

    /// Labels what the server serves now (`[backends.X] revision`); part of model identities.
    pub fn with_revision(mut self, revision: Option<String>) -> Self {
        self.revision = revision;
        self
    }

    /// What the server reports `model` stands for, when it reports anything.
    async fn reported_identity(&self, model: &str) -> Result<Option<String>, BackendError> {
        self.ensure_served(model).await?;
        let served = self.served.lock().await;
        Ok(served
            .as_ref()
            .and_then(|s| s.get(model).cloned())
            .flatten())
    }

    async fn fetch_models(&self) -> Result<Vec<wire::WireModel>, BackendError> {
        let url = self.url("models");
        let response = self.send(&url, None).await?;
        let bytes = self.read_body(&url, response).await?;
        let list: WireModelList = serde_json::from_slice(&bytes)
            .map_err(|e| BackendError::Protocol(format!("{url}: {e}")))?;
        Ok(list.data)
    }

    /// How this server's models switch reasoning (see `ThinkingControl`).
    pub fn with_thinking_control(mut self, control: ThinkingControl) -> Self {
        self.thinking_control = control;
        self
    }

    /// Fails with `UnknownModel` when the server lists its models and `model` is not among them.
    /// Some servers (llama-cpp-python, llama.cpp) answer any model name with whatever they have
    /// loaded; a measurement must never silently come from another model than the one named.
    async fn ensure_served(&self, model: &str) -> Result<(), BackendError> {
        let mut served = self.served.lock().await;
        if served.as_ref().is_some_and(|s| s.contains_key(model)) {
            return Ok(());
        }
        match self.fetch_models().await {
            Ok(list) => {
                let ids: ServedModels = list
                    .into_iter()
                    .map(|m| (m.id, m.fingerprint.or(m.root)))
                    .collect();
                let found = ids.contains_key(model);
                let mut names: Vec<&String> = ids.keys().collect();
                names.sort();
                let hint = format!(
                    "{} serves {}",
                    self.base_url,
                    names
                        .iter()
                        .map(|n| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                *served = Some(ids);
                if found {
                    Ok(())
                } else {
                    Err(BackendError::UnknownModel {
                        model: model.to_string(),
                        hint,
                    })
                }
            }
            // No model listing on this server: nothing to check against.
            Err(BackendError::Http { status, .. }) if status == 404 || status == 405 => Ok(()),
            Err(err) => Err(err),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url)
    }

    fn map_send_error(&self, url: &str, err: SendError) -> BackendError {
        match err {
            SendError::NoAnswer(reason) => BackendError::Unreachable {
                url: url.to_string(),
                reason,
            },
            SendError::Invalid(reason) => BackendError::Protocol(format!("{url}: {reason}")),
        }
    }

    /// Bounds one whole wait on the server (headers, a body, the next stream event) by the
    /// timeout: a timeout per read would restart on every frame, so a server that trickles a
    /// byte at a time (slow loris) would hold the caller forever.
    async fn within_deadline<T>(
        &self,
        url: &str,
        wait: impl std::future::Future<Output = T>,
    ) -> Result<T, BackendError> {
        tokio::time::timeout(Duration::from_secs(self.timeout_secs), wait)
            .await
            .map_err(|_| BackendError::Timeout {
                url: url.to_string(),
                secs: self.timeout_secs,
            })
    }

    /// Sends `body` to `url` and waits for the response headers, within the timeout.
    async fn send_json(
        &self,
        url: &str,
        body: &WireRequest<'_>,
    ) -> Result<transport::Response, BackendError> {
        // Serializing the body is the caller's work; the wait starts after it (see `send`).
        let body = serde_json::to_vec(body).map_err(|e| {
            BackendError::Protocol(format!("{url}: cannot encode the request: {e}"))
        })?;
        self.send(url, Some(body)).await
    }

    /// Sends a request (a POST of `json`, else a GET) and waits for a successful answer's head:
    /// upstream time from the request's bytes written to that head reaching the socket.
    async fn send(
        &self,
        url: &str,
        json: Option<Vec<u8>>,
    ) -> Result<transport::Response, BackendError> {
        let sent = self.http.send(url, self.api_key.as_deref(), json);
        let response = upstream::wait_received(
            upstream::current(),
            self.within_deadline(url, sent),
            |answer| match answer {
                Ok(Ok(response)) => transport::wire_stamps(response),
                _ => None,
            },
        )
        .await?
        .map_err(|e| self.map_send_error(url, e))?;
        self.check_status(url, response).await
    }

    /// Reads `response`'s whole body, within the timeout; upstream time up to the moment its
    /// last bytes reached the socket.
    async fn read_body(
        &self,
        url: &str,
        response: transport::Response,
    ) -> Result<bytes::Bytes, BackendError> {
        let wire = transport::wire_stamps(&response);
        let read = transport::read_body(response.into_body());
        upstream::wait_received(upstream::current(), self.within_deadline(url, read), |_| {
            wire.clone()
        })
        .await?
        .map_err(|reason| BackendError::Protocol(format!("{url}: {reason}")))
    }

    async fn check_status(
        &self,
        url: &str,
        response: transport::Response,
    ) -> Result<transport::Response, BackendError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after::from_headers(response.headers());
        let body = self
            .within_deadline(url, transport::read_body(response.into_body()))
            .await?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        Err(BackendError::Http {
            url: url.to_string(),
            status: status.as_u16(),
            message: error_message(&body),
            retry_after,
        })
    }

    /// One non-streaming completion (`"stream": false`). Its timing cannot see the first token,
    /// so `ttft_ms` equals `total_ms` and no decode rate is given.
    pub async fn chat_unary(
        &self,
        request: ValidChatRequest,
    ) -> Result<ChatResponse, BackendError> {
        self.ensure_served(&request.model).await?;
        let url = self.url("chat/completions");
        let mut timing = TimingRecorder::start();
        let body = WireRequest::from_request(&request.model, &request, false);
        let response = self.send_json(&url, &body).await?;
        let bytes = self.read_body(&url, response).await?;
        let completion: WireCompletion = serde_json::from_slice(&bytes)
            .map_err(|e| BackendError::Protocol(format!("{url}: {e}")))?;
        timing.mark_token();
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| BackendError::Protocol(format!("{url}: reply has no choices")))?;
        let mut confidence = ConfidenceAccumulator::default();
        for lp in choice.logprobs.iter().flat_map(|l| l.values()) {
            confidence.push(lp);
        }
        let mut splitter = ThinkSplitter::default();
        let mut deltas = splitter.push(choice.message.content.as_deref().unwrap_or(""));
        deltas.extend(splitter.finish());
        let mut answer = String::new();
        let mut reasoning = choice.message.reasoning_content.unwrap_or_default();
        for delta in deltas {
            match delta {
                Delta::Answer(t) => answer.push_str(&t),
                Delta::Reasoning(t) => reasoning.push_str(&t),
                Delta::ToolCall(_) => {}
            }
        }
        let mut calls = ToolCallAssembler::default();
        for (i, piece) in choice.message.tool_calls.into_iter().enumerate() {
            calls.push(piece.delta(i));
        }
        let usage = completion.usage.map(|u| u.usage());
        let usage = usage.unwrap_or(Usage {
            estimated: true,
            ..Usage::default()
        });
        let mut timing = timing.finish(None, Some(usage.completion_tokens));
        timing.decode_tokens_per_s = None;
        let reasoning = reasoning.trim().to_string();
        Ok(ChatResponse {
            model: completion.model.unwrap_or(request.model),
            answer,
            reasoning: (!reasoning.is_empty()).then_some(reasoning),
            finish_reason: parse_finish(choice.finish_reason.as_deref()),
            usage,
            timing,
            confidence: confidence.finish(),
            tool_calls: calls.finish(),
            unparsed_tool_calls: 0,
        })
    }
}

pub(super) fn parse_finish(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("length") => FinishReason::Length,
        Some("tool_calls" | "function_call") => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

#[async_trait::async_trait]
impl Backend for OpenAiBackend {
    fn name(&self) -> &str {
        &self.name
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, BackendError> {
        Ok(self
            .fetch_models()
            .await?
            .into_iter()
            .map(|m| ModelInfo {
                id: m.id,
                backend: self.name.clone(),
                detail: m.owned_by,
            })
            .collect())
    }

    async fn thinking_control(&self, _model: &str) -> Result<ThinkingControl, BackendError> {
        Ok(self.thinking_control)
    }

    async fn check_model(&self, model: &str) -> Result<(), BackendError> {
        self.ensure_served(model).await
    }

    /// The server's URL and the name, the user's `revision` label, and what the server reports
    /// the name stands for (understudy's gateway: the profile's fingerprint; vLLM: the weights
    /// path). This is the model part of every response-cache key and resume key.
    async fn model_identity(&self, model: &str) -> Result<String, BackendError> {
        let mut identity = format!("openai:{}:{model}", self.base_url);
        if let Some(revision) = &self.revision {
            identity.push_str(&format!(" revision={revision}"));
        }
        if let Some(reported) = self.reported_identity(model).await? {
            identity.push_str(&format!(" server={reported}"));
        }
        Ok(identity)
    }

    async fn chat_stream(&self, request: ValidChatRequest) -> Result<EventStream, BackendError> {
        self.ensure_served(&request.model).await?;
        let url = self.url("chat/completions");
        let timing = TimingRecorder::start();
        let body = WireRequest::from_request(&request.model, &request, true);
        let response = self.send_json(&url, &body).await?;
        let state = StreamState {
            model: request.model.clone(),
            splitter: ThinkSplitter::default(),
            timing,
            finish: None,
            usage: None,
            chunks: 0,
            done: false,
            confidence: ConfidenceAccumulator::default(),
        };
        Ok(sse_reader::events(
            response,
            state,
            url,
            Duration::from_secs(self.timeout_secs),
        ))
    }
}
