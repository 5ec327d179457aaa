//! Routes a model name to the backend that serves it: configured aliases, `backend/model`
//! names, and otherwise the default backend (embedded). The router is itself a [`Backend`].

use std::collections::BTreeMap;
use std::sync::Arc;

use understudy_core::thinking_switch::ThinkingControl;
use understudy_core::ValidChatRequest;

use crate::{Backend, BackendError, EventStream, ModelInfo, TokenCounter};

/// A named model's destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub backend: String,
    pub model: String,
}

/// Dispatches requests by model name.
#[derive(Clone, Default)]
pub struct Router {
    backends: BTreeMap<String, Arc<dyn Backend>>,
    aliases: BTreeMap<String, Route>,
    default_backend: Option<String>,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a backend under `name`; `backend_name/model` then reaches it.
    pub fn with_backend(mut self, name: impl Into<String>, backend: Arc<dyn Backend>) -> Self {
        self.backends.insert(name.into(), backend);
        self
    }

    /// Names the backend that gets every model name nothing else claims.
    pub fn with_default(mut self, name: impl Into<String>) -> Self {
        self.default_backend = Some(name.into());
        self
    }

    /// `alias` means `route.model` on `route.backend`.
    pub fn with_alias(mut self, alias: impl Into<String>, route: Route) -> Self {
        self.aliases.insert(alias.into(), route);
        self
    }

    /// The backend for `model` and the name that backend knows it by.
    pub fn route(&self, model: &str) -> Result<(Arc<dyn Backend>, String), BackendError> {
        if let Some(route) = self.aliases.get(model) {
            let backend =
                self.backends
                    .get(&route.backend)
                    .ok_or_else(|| BackendError::UnknownModel {
                        model: model.to_string(),
                        hint: format!(
                            "it points at backend {:?}, which is not configured",
                            route.backend
                        ),
                    })?;
            return Ok((backend.clone(), route.model.clone()));
        }
        if let Some((prefix, rest)) = model.split_once('/') {
            if let Some(backend) = self.backends.get(prefix) {
                if !rest.is_empty() {
                    return Ok((backend.clone(), rest.to_string()));
                }
            }
        }
        if let Some(backend) = self
            .default_backend
            .as_ref()
            .and_then(|d| self.backends.get(d))
        {
            return Ok((backend.clone(), model.to_string()));
        }
        let mut known: Vec<String> = self.aliases.keys().cloned().collect();
        known.extend(self.backends.keys().map(|b| format!("{b}/<model>")));
        Err(BackendError::UnknownModel {
            model: model.to_string(),
            hint: if known.is_empty() {
                "no backends are configured".into()
            } else {
                format!("use one of: {}", known.join(", "))
            },
        })
    }

    /// The configured backends by name.
    pub fn backends(&self) -> impl Iterator<Item = (&String, &Arc<dyn Backend>)> {
        self.backends.iter()
    }

    /// The configured aliases.
    pub fn aliases(&self) -> impl Iterator<Item = (&String, &Route)> {
        self.aliases.iter()
    }
}

#[async_trait::async_trait]
impl Backend for Router {
    fn name(&self) -> &str {
        "router"
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, BackendError> {
        let mut all = Vec::new();
        for (alias, route) in &self.aliases {
            all.push(ModelInfo {
                id: alias.clone(),
                backend: route.backend.clone(),
                detail: Some(format!("alias of {}", route.model)),
            });
        }
        for (name, backend) in &self.backends {
            let is_default = self.default_backend.as_deref() == Some(name.as_str());
            for mut info in backend.list_models().await? {
                if !is_default {
                    info.id = format!("{name}/{}", info.id);
                }
                info.backend = name.clone();
                all.push(info);
            }
        }
        Ok(all)
    }

    async fn check_model(&self, model: &str) -> Result<(), BackendError> {
        let (backend, inner) = self.route(model)?;
        backend.check_model(&inner).await
    }

    async fn model_identity(&self, model: &str) -> Result<String, BackendError> {
        let (backend, inner) = self.route(model)?;
        backend.model_identity(&inner).await
    }

    async fn thinking_control(&self, model: &str) -> Result<ThinkingControl, BackendError> {
        let (backend, inner) = self.route(model)?;
        backend.thinking_control(&inner).await
    }

    async fn tokens_estimated(&self, model: &str) -> bool {
        match self.route(model) {
            Ok((backend, inner)) => backend.tokens_estimated(&inner).await,
            Err(_) => true,
        }
    }

    async fn token_counter(&self, model: &str) -> Result<TokenCounter, BackendError> {
        let (backend, inner) = self.route(model)?;
        backend.token_counter(&inner).await
    }

    async fn count_prompt_tokens(
        &self,
        request: &ValidChatRequest,
    ) -> Result<crate::PromptCount, BackendError> {
        let (backend, model) = self.route(&request.model)?;
        let mut routed = request.clone();
        routed.model = model;
        backend.count_prompt_tokens(&routed).await
    }

    async fn context_length(&self, model: &str) -> Result<Option<u32>, BackendError> {
        let (backend, inner) = self.route(model)?;
        backend.context_length(&inner).await
    }

    async fn parallel(&self, model: &str) -> Result<Option<u32>, BackendError> {
        let (backend, inner) = self.route(model)?;
        backend.parallel(&inner).await
    }

    async fn chat_stream(
        &self,
        mut request: ValidChatRequest,
    ) -> Result<EventStream, BackendError> {
        let (backend, model) = self.route(&request.model)?;
        request.model = model;
        backend.chat_stream(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeBackend;
    use understudy_core::{ChatMessage, ChatRequest};

    fn router() -> Router {
        let fake: Arc<dyn Backend> = Arc::new(FakeBackend::new());
        Router::new()
            .with_backend("remote", fake.clone())
            .with_backend("local", fake)
            .with_default("local")
            .with_alias(
                "big",
                Route {
                    backend: "remote".into(),
                    model: "label:big-answer".into(),
                },
            )
    }

    async fn ask(router: &Router, model: &str) -> Result<String, BackendError> {
        let request = ChatRequest::new(model, vec![ChatMessage::user("hello there")])
            .validate()
            .unwrap();
        router.chat(request).await.map(|r| r.answer)
    }

    #[tokio::test]
    async fn aliases_prefixes_and_default_route() {
        let r = router();
        assert_eq!(ask(&r, "big").await.unwrap(), "big-answer");
        assert_eq!(ask(&r, "remote/echo").await.unwrap(), "hello there");
        assert_eq!(ask(&r, "echo").await.unwrap(), "hello there");
        assert!(ask(&r, "nonsense").await.is_err());
    }

    #[tokio::test]
    async fn no_default_means_a_clear_error() {
        let r = Router::new();
        let err = ask(&r, "x").await.unwrap_err().to_string();
        assert!(err.contains("no backends are configured"), "{err}");
    }
}
