//! A deterministic fake backend for tests (feature `fake`). Its behaviour is chosen by the model
//! name, so routing, retries, cascades and timing can be tested without a model:
//! `echo`, `label:<text>`, `slow-<N>ms`, `error-<status>`, `flaky-<N>`, `think`. Never a user default.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::stream;
use understudy_core::stream::{Delta, StreamEnd};
use understudy_core::{FinishReason, StreamEvent, TimingRecorder, Usage, ValidChatRequest};

use crate::stop::StopMatcher;
use crate::{Backend, BackendError, EventStream, ModelInfo};

/// The fake backend; one "token" is one whitespace-separated word.
#[derive(Debug, Default)]
pub struct FakeBackend {
    calls: Mutex<HashMap<String, u32>>,
    /// Part of every model's identity: a test changes it to say "the name now points elsewhere".
    revision: String,
}

enum Behaviour {
    Echo { delay: Duration, think: bool },
    Fixed(String),
    Error(u16),
}

impl FakeBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fake whose models report `revision` in their identity (as a re-tuned profile behind the
    /// same name, or an alias pointed at other weights, would).
    pub fn with_revision(revision: &str) -> Self {
        Self {
            revision: revision.to_string(),
            ..Self::default()
        }
    }

    fn behaviour(&self, model: &str) -> Result<Behaviour, BackendError> {
        let echo = Behaviour::Echo {
            delay: Duration::ZERO,
            think: false,
        };
        if model == "echo" {
            return Ok(echo);
        }
        if model == "think" {
            return Ok(Behaviour::Echo {
                delay: Duration::ZERO,
                think: true,
            });
        }
        if let Some(label) = model.strip_prefix("label:") {
            return Ok(Behaviour::Fixed(label.to_string()));
        }
        if let Some(ms) = model
            .strip_prefix("slow-")
            .and_then(|s| s.strip_suffix("ms"))
        {
            if let Ok(ms) = ms.parse() {
                return Ok(Behaviour::Echo {
                    delay: Duration::from_millis(ms),
                    think: false,
                });
            }
        }
        if let Some(status) = model.strip_prefix("error-").and_then(|s| s.parse().ok()) {
            return Ok(Behaviour::Error(status));
        }
        if let Some(n) = model
            .strip_prefix("flaky-")
            .and_then(|s| s.parse::<u32>().ok())
        {
            let mut calls = self
                .calls
                .lock()
                .map_err(|_| BackendError::Inference("fake backend lock poisoned".into()))?;
            let seen = calls.entry(model.to_string()).or_insert(0);
            *seen += 1;
            return Ok(if *seen <= n {
                Behaviour::Error(503)
            } else {
                echo
            });
        }
        Err(BackendError::UnknownModel {
            model: model.to_string(),
            hint: "the fake backend knows echo, think, label:<text>, slow-<N>ms, error-<status>, flaky-<N>".into(),
        })
    }
}

/// A fake is certain of every word it says: log-probability 0.
fn certain(word: &str) -> Delta {
    Delta::Logprobs(vec![understudy_core::response::TokenLogprob {
        token: word.to_string(),
        logprob: 0.0,
        bytes: word.as_bytes().to_vec(),
        top: Vec::new(),
    }])
}

#[async_trait::async_trait]
impl Backend for FakeBackend {
    fn name(&self) -> &str {
        "fake"
    }

    async fn model_identity(&self, model: &str) -> Result<String, BackendError> {
        Ok(format!("fake:{}:{model}", self.revision))
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, BackendError> {
        Ok([
            "echo",
            "think",
            "label:positive",
            "slow-200ms",
            "error-500",
            "flaky-3",
        ]
        .iter()
        .map(|id| ModelInfo {
            id: (*id).to_string(),
            backend: "fake".into(),
            detail: None,
        })
        .collect())
    }

    async fn check_model(&self, model: &str) -> Result<(), BackendError> {
        let known = ["echo", "think"].contains(&model)
            || model.starts_with("label:")
            || model
                .strip_prefix("slow-")
                .and_then(|s| s.strip_suffix("ms"))
                .is_some_and(|n| n.parse::<u64>().is_ok())
            || model
                .strip_prefix("error-")
                .is_some_and(|n| n.parse::<u16>().is_ok())
            || model
                .strip_prefix("flaky-")
                .is_some_and(|n| n.parse::<u32>().is_ok());
        if known {
            Ok(())
        } else {
            Err(BackendError::UnknownModel {
                model: model.to_string(),
                hint: "the fake backend knows echo, think, label:<text>, slow-<N>ms, error-<status>, flaky-<N>".into(),
            })
        }
    }

    async fn chat_stream(&self, request: ValidChatRequest) -> Result<EventStream, BackendError> {
        let mut timing = TimingRecorder::start();
        let (text, delay, think) = match self.behaviour(&request.model)? {
            Behaviour::Error(status) => {
                return Err(BackendError::Http {
                    url: "fake://".into(),
                    status,
                    message: format!("fake backend failure ({})", request.model),
                    retry_after: None,
                })
            }
            Behaviour::Fixed(text) => (text, Duration::ZERO, false),
            Behaviour::Echo { delay, think } => {
                (request.last_user_text().to_string(), delay, think)
            }
        };
        crate::upstream::wait_for(tokio::time::sleep(delay)).await;
        timing.mark_started();
        timing.mark_prompt_done();
        let prompt_tokens: usize = request
            .messages
            .iter()
            .map(|m| m.content.split_whitespace().count())
            .sum();
        let mut events = Vec::new();
        if think {
            timing.mark_token();
            events.push(Ok(StreamEvent::Delta(Delta::Reasoning(
                "Let me think.".into(),
            ))));
        }
        let mut stops = StopMatcher::new(&request.stop);
        let mut finish_reason = FinishReason::Stop;
        for (i, word) in text.split_whitespace().enumerate() {
            if i as u64 == u64::from(request.max_tokens) {
                finish_reason = FinishReason::Length;
                break;
            }
            let piece = if i == 0 {
                word.to_string()
            } else {
                format!(" {word}")
            };
            timing.mark_token();
            let step = stops.push(&piece);
            if !step.emit.is_empty() {
                events.push(Ok(StreamEvent::Delta(Delta::Answer(step.emit))));
            }
            if request.top_logprobs.is_some() {
                events.push(Ok(StreamEvent::Delta(certain(&piece))));
            }
            if step.stopped {
                break;
            }
        }
        let rest = stops.finish();
        if !rest.is_empty() {
            events.push(Ok(StreamEvent::Delta(Delta::Answer(rest))));
        }
        events.push(Ok(StreamEvent::End(StreamEnd {
            model: request.model.clone(),
            finish_reason,
            usage: Usage {
                prompt_tokens: u32::try_from(prompt_tokens).unwrap_or(u32::MAX),
                completion_tokens: timing.tokens(),
                estimated: false,
                cached_tokens: 0,
            },
            timing: timing.finish(u32::try_from(prompt_tokens).ok(), None),
            confidence: None,
            unparsed_tool_calls: 0,
        })));
        Ok(Box::pin(stream::iter(events)))
    }
}

/// Wraps a backend and counts generation calls, so tests can prove what was (not) called.
pub struct CountingBackend<B> {
    pub inner: B,
    pub calls: std::sync::atomic::AtomicUsize,
}

impl<B> CountingBackend<B> {
    pub fn new(inner: B) -> Self {
        Self {
            inner,
            calls: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Generation calls so far.
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl<B: Backend> Backend for CountingBackend<B> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn list_models(&self) -> Result<Vec<ModelInfo>, BackendError> {
        self.inner.list_models().await
    }
    async fn check_model(&self, model: &str) -> Result<(), BackendError> {
        self.inner.check_model(model).await
    }
    async fn model_identity(&self, model: &str) -> Result<String, BackendError> {
        self.inner.model_identity(model).await
    }
    async fn tokens_estimated(&self, model: &str) -> bool {
        self.inner.tokens_estimated(model).await
    }
    async fn chat_stream(&self, request: ValidChatRequest) -> Result<EventStream, BackendError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.chat_stream(request).await
    }
}
