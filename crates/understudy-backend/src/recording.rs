//! A recording, scripted backend for tests of this and other crates (feature `fake`): it keeps
//! every request it is sent and answers each through the fake backend, under the fake model its
//! script names (`label:TEXT` answers TEXT), or the request's own model when the script says
//! nothing. Replaces the recorders tests used to write by hand.

use std::sync::{Arc, Mutex};

use understudy_core::thinking_switch::ThinkingControl;
use understudy_core::ValidChatRequest;

use crate::fake::FakeBackend;
use crate::{Backend, BackendError, EventStream, ModelInfo};

/// Which fake model answers a request (`None`: the request's own).
pub type Script = Box<dyn Fn(&ValidChatRequest) -> Option<String> + Send + Sync>;

pub struct Recording {
    seen: Mutex<Vec<ValidChatRequest>>,
    script: Script,
    inner: FakeBackend,
    /// How the model's thinking is switched, as this backend reports it (default: the fake's).
    control: Option<ThinkingControl>,
}

impl Recording {
    /// Answers every request with `answer`.
    pub fn answering(answer: &str) -> Arc<Self> {
        let model = format!("label:{answer}");
        Self::scripted(move |_| Some(model.clone()))
    }

    /// Answers each request through the fake model `script` names for it.
    pub fn scripted(
        script: impl Fn(&ValidChatRequest) -> Option<String> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            seen: Mutex::new(Vec::new()),
            script: Box::new(script),
            inner: FakeBackend::new(),
            control: None,
        })
    }

    /// Answers every request with `answer` and reports `control` as every model's thinking
    /// control (to test how a switch reaches the backend).
    pub fn answering_with_control(answer: &str, control: ThinkingControl) -> Arc<Self> {
        let model = format!("label:{answer}");
        Arc::new(Self {
            seen: Mutex::new(Vec::new()),
            script: Box::new(move |_| Some(model.clone())),
            inner: FakeBackend::new(),
            control: Some(control),
        })
    }

    /// Answers with the fake backend's own models (`echo`, `label:…`), recording every request.
    pub fn passthrough() -> Arc<Self> {
        Self::scripted(|_| None)
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<ValidChatRequest> {
        match self.seen.lock() {
            Ok(seen) => seen.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

#[async_trait::async_trait]
impl Backend for Recording {
    fn name(&self) -> &str {
        "recording"
    }
    async fn list_models(&self) -> Result<Vec<ModelInfo>, BackendError> {
        self.inner.list_models().await
    }
    async fn thinking_control(&self, model: &str) -> Result<ThinkingControl, BackendError> {
        match self.control {
            Some(control) => Ok(control),
            None => self.inner.thinking_control(model).await,
        }
    }
    async fn chat_stream(
        &self,
        mut request: ValidChatRequest,
    ) -> Result<EventStream, BackendError> {
        match self.seen.lock() {
            Ok(mut seen) => seen.push(request.clone()),
            Err(poisoned) => poisoned.into_inner().push(request.clone()),
        }
        if let Some(model) = (self.script)(&request) {
            request.model = model;
        }
        self.inner.chat_stream(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_core::{ChatMessage, ChatRequest};

    #[tokio::test]
    async fn it_records_and_answers_as_scripted() {
        let backend = Recording::answering("noted");
        let request = ChatRequest::new("m", vec![ChatMessage::user("hi")])
            .validate()
            .unwrap_or_else(|e| panic!("{e}"));
        let answer = backend
            .chat(request)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(answer.answer, "noted");
        assert_eq!(backend.seen().len(), 1);
        assert_eq!(backend.seen()[0].model, "m");
    }
}
