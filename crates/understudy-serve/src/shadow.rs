//! Shadow mode: a profile's `shadow = { model, rate }` has a candidate answer a sample of its
//! live requests in the background, after the reference has answered the client. The client's
//! answer is never delayed or changed: a sampled request only offers a job to a bounded queue
//! (a non-blocking send) once its own answer is complete; a full queue drops the job and counts
//! it (`understudy_shadow_total{outcome="dropped"}`). One worker answers the jobs in order and
//! writes each pair — the request as the client sent it and both answers, redacted, with both
//! latencies — to the store's `shadow_pairs`, which `understudy shadow PROFILE` reads.

use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use understudy_backend::Backend;
use understudy_core::{ChatRequest, ToolCall};
use understudy_store::{RequestLog, ShadowRow};

use crate::metrics::Metrics;
use crate::redact::{Counts, Redactor};

/// A profile's shadow setting as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShadow {
    /// The candidate: any configured model (embedded, or `openai/…` and the like).
    pub model: String,
    /// Share of conversations shadowed, by a hash of the conversation key.
    #[serde(default = "full_rate")]
    pub rate: f64,
}

fn full_rate() -> f64 {
    1.0
}

/// A profile's shadow, ready to use.
#[derive(Debug)]
pub struct Shadow {
    pub model: String,
    pub rate: f64,
    /// The profile's capture redaction when it captures, else the built-in rules.
    redactor: Arc<Redactor>,
}

impl PartialEq for Shadow {
    fn eq(&self, other: &Self) -> bool {
        self.model == other.model && self.rate == other.rate
    }
}

impl Shadow {
    pub fn new(raw: &RawShadow, redactor: Option<Arc<Redactor>>) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&raw.rate) {
            return Err(format!("`rate` {} must be between 0 and 1", raw.rate));
        }
        let redactor = match redactor {
            Some(r) => r,
            None => {
                let built_in: Vec<String> = crate::redact::BUILT_IN
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                Arc::new(Redactor::new(&built_in, &[], &[]).map_err(|e| e.to_string())?)
            }
        };
        Ok(Self {
            model: raw.model.clone(),
            rate: raw.rate,
            redactor,
        })
    }

    /// Whether the conversation `key` is shadowed.
    pub fn samples(&self, key: &str) -> bool {
        crate::capture::sampled(key, self.rate)
    }
}

/// The answer the reference gave, as a shadow pair keeps it.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
}

/// One shadowed request, waiting for the candidate.
#[derive(Debug)]
pub struct Job {
    pub shadow: Arc<Shadow>,
    pub profile: String,
    pub conversation: String,
    /// The client's request (its own messages, tools and format).
    pub request: ChatRequest,
    pub reference_model: String,
    pub reference: Answer,
    pub reference_ms: f64,
    pub reference_tokens: Option<u32>,
}

/// The bounded queue of shadow jobs and its one worker.
#[derive(Debug)]
pub struct ShadowQueue {
    sender: mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
}

impl ShadowQueue {
    /// Starts the worker, which answers jobs with `backend` and writes pairs to `log`; at most
    /// `capacity` jobs wait.
    pub fn start(
        capacity: usize,
        backend: Arc<dyn Backend>,
        log: Arc<dyn RequestLog>,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let (sender, mut receiver) = mpsc::channel::<Job>(capacity.max(1));
        let worker_metrics = metrics.clone();
        tokio::spawn(async move {
            while let Some(job) = receiver.recv().await {
                let profile = job.profile.clone();
                let row = answer(backend.as_ref(), job).await;
                let outcome = if row.error.is_some() {
                    "failed"
                } else {
                    "answered"
                };
                if let Err(e) = log.log_shadow(&row).await {
                    tracing::warn!("shadow pair of profile {profile} not stored: {e}");
                }
                worker_metrics.shadowed(&profile, outcome);
            }
        });
        Arc::new(Self { sender, metrics })
    }

    /// Offers `job` without waiting; a full queue drops it (counted).
    pub fn offer(&self, job: Job) {
        let profile = job.profile.clone();
        if self.sender.try_send(job).is_err() {
            self.metrics.shadowed(&profile, "dropped");
        }
    }
}

/// The candidate's answer to the job's request, and the pair as stored.
async fn answer(backend: &dyn Backend, job: Job) -> ShadowRow {
    let redactor = &job.shadow.redactor;
    let mut counts = Counts::new();
    let mut request = job.request.clone();
    request.model = job.shadow.model.clone();
    let started = Instant::now();
    let result = match request.validate() {
        Ok(valid) => backend.chat(valid).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let candidate_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut shown = json!({
        "messages": job.request.messages,
        "tools": job.request.tools,
        "response_format": job.request.response_format,
    });
    redactor.apply(&mut shown, &mut counts);
    let stored = |content: &str, calls: &[ToolCall], counts: &mut Counts| -> String {
        let calls: Vec<Value> = calls
            .iter()
            .map(|c| json!({"name": c.name, "arguments": redactor.text(&c.arguments, counts)}))
            .collect();
        json!({"content": redactor.text(content, counts), "tool_calls": calls}).to_string()
    };
    let reference = stored(
        &job.reference.content,
        &job.reference.tool_calls,
        &mut counts,
    );
    let (candidate, candidate_tokens, error) = match result {
        Ok(r) => (
            Some(stored(&r.answer, &r.tool_calls, &mut counts)),
            Some(r.usage.completion_tokens),
            None,
        ),
        Err(e) => (None, None, Some(e)),
    };
    ShadowRow {
        at: None,
        profile: job.profile,
        conversation: job.conversation,
        request: shown.to_string(),
        reference_model: job.reference_model,
        reference,
        reference_ms: job.reference_ms,
        reference_tokens: job.reference_tokens,
        candidate_model: job.shadow.model.clone(),
        candidate,
        candidate_ms,
        candidate_tokens,
        error,
    }
}
