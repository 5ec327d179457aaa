//! Backend for any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, TGI, OpenAI):
//! streaming and unary chat completions, model listing, reasoning kept apart, errors that carry
//! the server's status and message. Wire shapes live in `wire`.

mod stream_state;
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

use crate::http_api::{sse_reader, HttpEndpoint, KeyStyle};
use crate::{Backend, BackendError, EventStream, ModelInfo};
use stream_state::StreamState;
use wire::{WireCompletion, WireModelList, WireRequest};

/// Model id → what the server reports it stands for, if anything.
type ServedModels = HashMap<String, Option<String>>;

/// A client for one OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct OpenAiBackend {
    name: String,
    endpoint: HttpEndpoint,
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
        Ok(Self {
            name: name.into(),
            endpoint: HttpEndpoint::new(base_url, api_key, KeyStyle::Bearer, timeout_secs)?,
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
        let url = self.endpoint.url("models");
        let response = self.endpoint.send(&url, None).await?;
        let bytes = self.endpoint.read_body(&url, response).await?;
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
                    self.endpoint.base_url,
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

    /// One non-streaming completion (`"stream": false`). Its timing cannot see the first token,
    /// so `ttft_ms` equals `total_ms` and no decode rate is given.
    pub async fn chat_unary(
        &self,
        request: ValidChatRequest,
    ) -> Result<ChatResponse, BackendError> {
        self.ensure_served(&request.model).await?;
        let url = self.endpoint.url("chat/completions");
        let mut timing = TimingRecorder::start();
        let body = WireRequest::from_request(&request.model, &request, false);
        let response = self.endpoint.send_json(&url, &body).await?;
        let bytes = self.endpoint.read_body(&url, response).await?;
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
        let token_logprobs = match (&choice.logprobs, request.top_logprobs) {
            (Some(lps), Some(_)) => lps.tokens(),
            _ => Vec::new(),
        };
        let mut splitter = ThinkSplitter::default();
        let mut deltas = splitter.push(choice.message.content.as_deref().unwrap_or(""));
        deltas.extend(splitter.finish());
        let mut answer = String::new();
        let mut reasoning = choice.message.reasoning_content.unwrap_or_default();
        for delta in deltas {
            match delta {
                Delta::Answer(t) => answer.push_str(&t),
                Delta::Reasoning(t) => reasoning.push_str(&t),
                Delta::ToolCall(_) | Delta::Logprobs(_) => {}
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
            token_logprobs,
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
        let mut identity = format!("openai:{}:{model}", self.endpoint.base_url);
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
        let url = self.endpoint.url("chat/completions");
        let timing = TimingRecorder::start();
        let body = WireRequest::from_request(&request.model, &request, true);
        let response = self.endpoint.send_json(&url, &body).await?;
        let state = StreamState {
            model: request.model.clone(),
            splitter: ThinkSplitter::default(),
            timing,
            finish: None,
            usage: None,
            chunks: 0,
            done: false,
            confidence: ConfidenceAccumulator::default(),
            token_logprobs: request.top_logprobs.is_some(),
        };
        Ok(sse_reader::events(
            response,
            state,
            url,
            Duration::from_secs(self.endpoint.timeout_secs),
        ))
    }
}
