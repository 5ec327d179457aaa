//! Backend for Anthropic's Messages API (Claude, or any server speaking it — understudy's own
//! gateway among them): streamed answers with thinking, tool calls and usage, model listing,
//! errors that carry the server's status and message. The key goes in `x-api-key`.

mod stream;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use understudy_core::thinking_switch::ThinkingControl;
use understudy_core::{TimingRecorder, ValidChatRequest};

use crate::http_api::{sse_reader, HttpEndpoint, KeyStyle};
use crate::{Backend, BackendError, EventStream, ModelInfo};
use stream::AnthropicStream;

/// A client for one Messages API server.
#[derive(Debug, Clone)]
pub struct AnthropicBackend {
    name: String,
    endpoint: HttpEndpoint,
    /// The model ids the server lists, fetched on first use and refreshed on a miss (`None`
    /// inside: the server lists none).
    served: Arc<Mutex<Option<Option<Vec<String>>>>>,
    /// `[backends.X] revision`: the user's label for what the server serves now.
    revision: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ModelList {
    data: Vec<Model>,
}

#[derive(Debug, Deserialize)]
struct Model {
    id: String,
    display_name: Option<String>,
}

impl AnthropicBackend {
    /// `base_url` is the API root, ending in `/v1` (`https://api.anthropic.com/v1`).
    pub fn new(
        name: impl Into<String>,
        base_url: &str,
        api_key: Option<String>,
        timeout_secs: u64,
    ) -> Result<Self, BackendError> {
        Ok(Self {
            name: name.into(),
            endpoint: HttpEndpoint::new(base_url, api_key, KeyStyle::Anthropic, timeout_secs)?,
            served: Arc::new(Mutex::new(None)),
            revision: None,
        })
    }

    /// Labels what the server serves now; part of model identities.
    pub fn with_revision(mut self, revision: Option<String>) -> Self {
        self.revision = revision;
        self
    }

    async fn fetch_models(&self) -> Result<Vec<Model>, BackendError> {
        let url = self.endpoint.url("models");
        let response = self.endpoint.send(&url, None).await?;
        let bytes = self.endpoint.read_body(&url, response).await?;
        let list: ModelList = serde_json::from_slice(&bytes)
            .map_err(|e| BackendError::Protocol(format!("{url}: {e}")))?;
        Ok(list.data)
    }

    /// Fails with `UnknownModel` when the server lists its models and `model` is not among
    /// them, so a measurement never silently comes from another model than the one named.
    async fn ensure_served(&self, model: &str) -> Result<(), BackendError> {
        let mut served = self.served.lock().await;
        if let Some(known) = served.as_ref() {
            if known
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|id| id == model))
            {
                return Ok(());
            }
        }
        let ids = match self.fetch_models().await {
            Ok(list) => list.into_iter().map(|m| m.id).collect::<Vec<_>>(),
            Err(BackendError::Http { status, .. }) if status == 404 || status == 405 => {
                *served = Some(None);
                return Ok(());
            }
            Err(err) => return Err(err),
        };
        let found = ids.iter().any(|id| id == model);
        let hint = format!("{} serves {}", self.endpoint.base_url, ids.join(", "));
        *served = Some(Some(ids));
        if found {
            Ok(())
        } else {
            Err(BackendError::UnknownModel {
                model: model.to_string(),
                hint,
            })
        }
    }
}

#[async_trait::async_trait]
impl Backend for AnthropicBackend {
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
                detail: m.display_name,
            })
            .collect())
    }

    /// The request's `thinking` flag becomes the Messages API's `thinking` field.
    async fn thinking_control(&self, _model: &str) -> Result<ThinkingControl, BackendError> {
        Ok(ThinkingControl::TemplateFlag)
    }

    async fn check_model(&self, model: &str) -> Result<(), BackendError> {
        self.ensure_served(model).await
    }

    async fn model_identity(&self, model: &str) -> Result<String, BackendError> {
        let mut identity = format!("anthropic:{}:{model}", self.endpoint.base_url);
        if let Some(revision) = &self.revision {
            identity.push_str(&format!(" revision={revision}"));
        }
        Ok(identity)
    }

    /// The server's own count (`/v1/messages/count_tokens`), so exact.
    async fn count_prompt_tokens(
        &self,
        request: &ValidChatRequest,
    ) -> Result<crate::PromptCount, BackendError> {
        self.ensure_served(&request.model).await?;
        let url = self.endpoint.url("messages/count_tokens");
        let mut body = wire::body(request, false)?;
        if let Some(fields) = body.as_object_mut() {
            for generation_only in [
                "max_tokens",
                "stream",
                "temperature",
                "top_p",
                "stop_sequences",
            ] {
                fields.remove(generation_only);
            }
        }
        let response = self.endpoint.send_json(&url, &body).await?;
        let bytes = self.endpoint.read_body(&url, response).await?;
        let counted: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| BackendError::Protocol(format!("{url}: {e}")))?;
        let tokens = counted
            .get("input_tokens")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| {
                BackendError::Protocol(format!("{url}: no input_tokens in {counted}"))
            })?;
        Ok(crate::PromptCount {
            tokens: u32::try_from(tokens).unwrap_or(u32::MAX),
            estimated: false,
        })
    }

    async fn chat_stream(&self, request: ValidChatRequest) -> Result<EventStream, BackendError> {
        self.ensure_served(&request.model).await?;
        let url = self.endpoint.url("messages");
        let body = wire::body(&request, true)?;
        let timing = TimingRecorder::start();
        let response = self.endpoint.send_json(&url, &body).await?;
        let state = AnthropicStream::new(request.model.clone(), timing);
        Ok(sse_reader::events(
            response,
            state,
            url,
            Duration::from_secs(self.endpoint.timeout_secs),
        ))
    }
}
