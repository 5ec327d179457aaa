//! Failure handling in front of the backends: retries with exponential backoff on retryable
//! errors (unreachable, timeout, 429, 5xx) before the first byte reaches the client, waiting as
//! long as a server's `Retry-After` asks when that fits the policy's limit, an ordered
//! fallback list per model, a first-byte deadline, and a circuit breaker per model that stops
//! hammering a backend that keeps failing. It is itself a [`Backend`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use understudy_backend::{Backend, BackendError, EventStream, ModelInfo, TokenCounter};
use understudy_core::thinking_switch::ThinkingControl;
use understudy_core::ValidChatRequest;

/// How failures are handled.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Extra attempts per model after the first, on retryable errors.
    pub retries: u32,
    /// Wait before the first retry; doubles each time.
    pub backoff: Duration,
    /// Longest `Retry-After` honoured by waiting; a server asking for more is not retried (the
    /// next fallback model is tried, or the client gets the 429 with the server's Retry-After).
    pub max_retry_wait: Duration,
    /// Longest wait for a model's first event before trying the next one.
    pub first_byte_deadline: Option<Duration>,
    /// Models to try, in order, when a model fails.
    pub fallback: BTreeMap<String, Vec<String>>,
    /// Consecutive failures that open a model's circuit.
    pub breaker_failures: u32,
    /// How long an open circuit refuses calls before one trial call is let through.
    pub breaker_cooldown: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            retries: 2,
            backoff: Duration::from_millis(100),
            max_retry_wait: Duration::from_secs(5),
            first_byte_deadline: None,
            fallback: BTreeMap::new(),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

/// A backend wrapped in the failure policy.
pub struct Resilient {
    inner: Arc<dyn Backend>,
    policy: Policy,
    breakers: Mutex<HashMap<String, Breaker>>,
}

/// Whether trying again (or elsewhere) can help.
pub fn retryable(err: &BackendError) -> bool {
    match err {
        BackendError::Unreachable { .. } | BackendError::Timeout { .. } => true,
        BackendError::Http { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

impl Resilient {
    pub fn new(inner: Arc<dyn Backend>, policy: Policy) -> Self {
        Self {
            inner,
            policy,
            breakers: Mutex::new(HashMap::new()),
        }
    }

    fn is_open(&self, model: &str) -> bool {
        let Ok(mut map) = self.breakers.lock() else {
            return false;
        };
        let breaker = map.entry(model.to_string()).or_default();
        match breaker.open_until {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                // Half-open: let one call through; a failure re-opens it at once.
                breaker.open_until = None;
                breaker.failures = self.policy.breaker_failures.saturating_sub(1);
                false
            }
            None => false,
        }
    }

    /// How long `model`'s open circuit still refuses calls.
    fn cooldown_left(&self, model: &str) -> Option<Duration> {
        let map = self.breakers.lock().ok()?;
        let until = map.get(model)?.open_until?;
        Some(until.saturating_duration_since(Instant::now()))
    }

    fn record(&self, model: &str, ok: bool) {
        let Ok(mut map) = self.breakers.lock() else {
            return;
        };
        let breaker = map.entry(model.to_string()).or_default();
        if ok {
            *breaker = Breaker::default();
        } else {
            breaker.failures += 1;
            if breaker.failures >= self.policy.breaker_failures {
                breaker.open_until = Some(Instant::now() + self.policy.breaker_cooldown);
                tracing::warn!(
                    "circuit open for {model} after {} failures",
                    breaker.failures
                );
            }
        }
    }

    /// Starts a stream and waits for its first event, so that a failure before any byte reaches
    /// the client can still be retried.
    async fn start(&self, request: ValidChatRequest) -> Result<EventStream, BackendError> {
        let mut stream = self.inner.chat_stream(request).await?;
        match stream.next().await {
            Some(Err(err)) => Err(err),
            Some(Ok(first)) => Ok(Box::pin(
                futures::stream::once(async move { Ok(first) }).chain(stream),
            )),
            None => Err(BackendError::Protocol(
                "the stream ended before its first event".into(),
            )),
        }
    }
}

#[async_trait::async_trait]
impl Backend for Resilient {
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

    async fn thinking_control(&self, model: &str) -> Result<ThinkingControl, BackendError> {
        self.inner.thinking_control(model).await
    }

    async fn token_counter(&self, model: &str) -> Result<TokenCounter, BackendError> {
        self.inner.token_counter(model).await
    }

    async fn tokens_estimated(&self, model: &str) -> bool {
        self.inner.tokens_estimated(model).await
    }

    async fn count_prompt_tokens(
        &self,
        request: &ValidChatRequest,
    ) -> Result<understudy_backend::PromptCount, BackendError> {
        self.inner.count_prompt_tokens(request).await
    }

    async fn parallel(&self, model: &str) -> Result<Option<u32>, BackendError> {
        self.inner.parallel(model).await
    }

    async fn context_length(&self, model: &str) -> Result<Option<u32>, BackendError> {
        self.inner.context_length(model).await
    }

    async fn chat_stream(&self, request: ValidChatRequest) -> Result<EventStream, BackendError> {
        let mut chain = vec![request.model.clone()];
        chain.extend(
            self.policy
                .fallback
                .get(&request.model)
                .cloned()
                .unwrap_or_default(),
        );
        let mut last = None;
        for model in chain {
            if self.is_open(&model) {
                last = Some(BackendError::Http {
                    url: model.clone(),
                    status: 503,
                    message: format!(
                        "circuit open for {model}: it failed repeatedly; retrying later"
                    ),
                    retry_after: self.cooldown_left(&model),
                });
                continue;
            }
            let mut wait = self.policy.backoff;
            for attempt in 0..=self.policy.retries {
                let mut attempt_request = request.clone();
                attempt_request.model = model.clone();
                let started = match self.policy.first_byte_deadline {
                    Some(deadline) => {
                        match tokio::time::timeout(deadline, self.start(attempt_request)).await {
                            Ok(result) => result,
                            Err(_) => Err(BackendError::Timeout {
                                url: model.clone(),
                                secs: deadline.as_secs().max(1),
                            }),
                        }
                    }
                    None => self.start(attempt_request).await,
                };
                match started {
                    Ok(stream) => {
                        self.record(&model, true);
                        return Ok(stream);
                    }
                    Err(err) if retryable(&err) => {
                        self.record(&model, false);
                        let timed_out = matches!(err, BackendError::Timeout { .. });
                        let asked = match &err {
                            BackendError::Http { retry_after, .. } => *retry_after,
                            _ => None,
                        };
                        tracing::warn!("{model}: attempt {} failed: {err}", attempt + 1);
                        last = Some(err);
                        if timed_out || attempt == self.policy.retries || self.is_open(&model) {
                            break; // a deadline spent is not retried on the same model
                        }
                        let pause = match asked {
                            Some(asked) if asked > self.policy.max_retry_wait => break,
                            Some(asked) => asked.max(wait),
                            None => wait,
                        };
                        // Waiting out the upstream's failure is the upstream's time.
                        understudy_backend::upstream::wait_for(tokio::time::sleep(pause)).await;
                        wait *= 2;
                    }
                    Err(err) => return Err(err),
                }
            }
        }
        Err(last.unwrap_or_else(|| BackendError::Inference("no model to try".into())))
    }
}
