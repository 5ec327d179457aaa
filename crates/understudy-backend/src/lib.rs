//! The [`Backend`] trait and its implementations: embedded llama.cpp (feature `embedded`),
//! any OpenAI-compatible HTTP server, Anthropic's Messages API, and (feature `fake`) a deterministic fake for tests.
//! Default models are resolved through `understudy-models` (re-exported here as `catalog` and
//! `install`). No CLI or HTTP-server code here.

pub use understudy_models::{catalog, install};
pub mod anthropic;
#[cfg(feature = "embedded")]
pub mod embedded;
mod error;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
mod http_api;
pub mod openai;
#[cfg(any(test, feature = "fake"))]
pub mod recording;
pub mod router;
pub mod socket_stamp;
pub mod stop;
pub mod tool_calls;
pub mod upstream;

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use understudy_core::stream::ResponseCollector;
use understudy_core::thinking_switch::ThinkingControl;
use understudy_core::{ChatResponse, StreamEvent, ValidChatRequest};

pub use error::BackendError;

/// How many tokens a prompt takes, and whether that is an estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptCount {
    pub tokens: u32,
    pub estimated: bool,
}

/// A stream of answer events ending with [`StreamEvent::End`]; dropping it cancels generation.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, BackendError>> + Send>>;

/// A model a backend can serve.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelInfo {
    /// The name to put in a request's `model` field.
    pub id: String,
    /// Which backend serves it.
    pub backend: String,
    /// Free-form detail: a file path, an owner, a size.
    pub detail: Option<String>,
}

/// Counts the tokens of a text for one model.
pub type TokenCounter = Arc<dyn Fn(&str) -> usize + Send + Sync>;

/// Something that answers chat requests.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// A short name for messages ("embedded", the configured backend name, …).
    fn name(&self) -> &str;

    /// The models this backend can answer with now.
    async fn list_models(&self) -> Result<Vec<ModelInfo>, BackendError>;

    /// Fails fast, before any generation, when `model` cannot be served (unknown name, missing file,
    /// not listed by the server).
    async fn check_model(&self, model: &str) -> Result<(), BackendError> {
        let _ = model;
        Ok(())
    }

    /// A string that changes whenever the weights behind `model` change (a file hash for local
    /// models, the server and model name for remote ones): the model's part of a cache key.
    async fn model_identity(&self, model: &str) -> Result<String, BackendError> {
        Ok(format!("{}:{model}", self.name()))
    }

    /// How `model`'s reasoning is switched on and off (default: the chain-of-thought fallback,
    /// for models without a native thinking mode).
    async fn thinking_control(&self, model: &str) -> Result<ThinkingControl, BackendError> {
        let _ = model;
        Ok(ThinkingControl::CotInstruction)
    }

    /// Whether [`Backend::token_counter`] only estimates `model`'s tokens (4 characters per
    /// token) instead of using its tokenizer; budgets built on it say so in the log.
    async fn tokens_estimated(&self, model: &str) -> bool {
        let _ = model;
        true
    }

    /// Counts tokens the way `model` does (default: an estimate of 4 characters per token, for
    /// servers that expose no tokenizer).
    async fn token_counter(&self, model: &str) -> Result<TokenCounter, BackendError> {
        let _ = model;
        Ok(Arc::new(|text: &str| text.chars().count().div_ceil(4)))
    }

    /// The context window `model` runs with, when known.
    async fn context_length(&self, model: &str) -> Result<Option<u32>, BackendError> {
        let _ = model;
        Ok(None)
    }

    /// How many requests to `model` the backend runs at once itself (the embedded engine's
    /// parallel sequences); `None` when the server decides (HTTP backends).
    async fn parallel(&self, model: &str) -> Result<Option<u32>, BackendError> {
        let _ = model;
        Ok(None)
    }

    /// The prompt tokens `request` takes. The default counts the text of its messages, calls and
    /// tool definitions with [`Backend::token_counter`] and says it is an estimate (it misses
    /// the chat template's own tokens); the embedded engine renders and counts exactly.
    async fn count_prompt_tokens(
        &self,
        request: &ValidChatRequest,
    ) -> Result<PromptCount, BackendError> {
        let count = self.token_counter(&request.model).await?;
        let mut tokens = 0;
        for m in &request.messages {
            tokens += count(&m.content);
            for call in &m.tool_calls {
                tokens += count(&call.name) + count(&call.arguments);
            }
        }
        for tool in &request.tools.tools {
            tokens += count(&serde_json::to_string(tool).unwrap_or_default());
        }
        Ok(PromptCount {
            tokens: u32::try_from(tokens).unwrap_or(u32::MAX),
            estimated: true,
        })
    }

    /// Starts generating; the stream yields deltas then one closing event.
    async fn chat_stream(&self, request: ValidChatRequest) -> Result<EventStream, BackendError>;

    /// Generates a whole answer.
    async fn chat(&self, request: ValidChatRequest) -> Result<ChatResponse, BackendError> {
        let model = request.model.clone();
        let mut stream = self.chat_stream(request).await?;
        let mut collector = ResponseCollector::default();
        while let Some(event) = stream.next().await {
            collector.push(event?);
        }
        collector.finish().ok_or_else(|| {
            BackendError::Protocol(format!(
                "the stream for {model} ended without a final event"
            ))
        })
    }
}
