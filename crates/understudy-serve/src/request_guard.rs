//! One request's record from its arrival to its end: status, timings (total, the gateway's own,
//! upstream, queue), tokens and route, written to the request log and the metrics exactly once,
//! whichever way the request ends (answer, error, stream end, or the client going away).

use std::sync::Arc;
use std::time::{Duration, Instant};

use understudy_core::{Timing, Usage};

use crate::metrics::{Metrics, Outcome};
use crate::request_clock::RequestClock;
use understudy_backend::upstream::UpstreamClock;

/// Counts one request from admission to its end (for a stream, when the stream is dropped),
/// so in-flight numbers stay right whatever path the request takes.
pub struct RequestGuard {
    metrics: Option<Arc<Metrics>>,
    /// Where the finished request is logged, if the request log is on.
    log: Option<Arc<crate::log::RequestLog>>,
    profile: Option<String>,
    backend_model: Option<String>,
    stream: bool,
    /// Prompt (JSON) and answer, kept only when the profile opts in.
    content: Option<(String, String)>,
    /// The client's request and its answer, when the profile captures and this one is sampled.
    capture: Option<crate::capture::Pending>,
    /// The shadow job this request offers once answered, when its profile shadows it.
    shadow: Option<(Arc<crate::shadow::ShadowQueue>, crate::shadow::Job)>,
    /// The model as the client named it (the log keeps it; metrics use `label`).
    model: String,
    label: String,
    admitted: bool,
    /// Requests in flight under this label when this one was admitted, itself included.
    position: i64,
    /// The request reached its end (answer, error or stream end) rather than being dropped.
    completed: bool,
    clock: RequestClock,
    status: u16,
    error_type: Option<&'static str>,
    ttft_s: Option<f64>,
    tokens: Option<(u32, u32)>,
    /// Prompt tokens the backend reused from its KV cache.
    cached_tokens: Option<u32>,
    /// Sequences the engine ran at once with this one, when it reports that.
    batched: Option<u32>,
    /// How the request was served (thinking decision, retrieval, a technique's route), logged
    /// as the request's route: the same type eval writes into a cell's detail.
    trace: understudy_prompt::Trace,
}

/// The status logged for a request whose client went away before its answer ended (nginx's
/// convention; no response reached the client).
pub const CLIENT_CLOSED: u16 = 499;

impl RequestGuard {
    /// Counts a request from the moment its body arrives, before it is parsed: a body that is not
    /// valid JSON is still a request, in the metrics and the log.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        let mut guard = Self::detached();
        guard.metrics = Some(metrics);
        guard.label = crate::served::OTHER_LABEL.to_string();
        guard.completed = false;
        guard.status = 200;
        guard
    }

    /// Counts the request's time from `arrival` (its bytes at the gateway's socket) rather than
    /// from now, and up to its answer's write on that connection.
    pub fn arrived(mut self, arrival: Option<crate::overhead::Arrival>) -> Self {
        if let Some(a) = arrival {
            self.clock.arrived(a.at, a.conn);
        }
        self
    }

    /// A guard that records nothing (its request is counted by another guard).
    pub fn detached() -> Self {
        Self {
            metrics: None,
            log: None,
            profile: None,
            backend_model: None,
            stream: false,
            content: None,
            capture: None,
            shadow: None,
            model: String::new(),
            label: String::new(),
            admitted: false,
            position: 0,
            completed: true,
            clock: RequestClock::default(),
            status: 0,
            error_type: None,
            ttft_s: None,
            tokens: None,
            cached_tokens: None,
            batched: None,
            trace: understudy_prompt::Trace::default(),
        }
    }

    /// The request names `model`, counted under `label`; it is now in flight.
    pub fn admit(&mut self, model: &str, label: &str) {
        self.model = model.to_string();
        self.label = label.to_string();
        if let Some(metrics) = &self.metrics {
            self.position = metrics.started(label);
            self.admitted = true;
        }
    }

    /// Logs the request under `model`, the name the client used (a canary's), while metrics
    /// keep the label it was admitted under (the arm's).
    pub fn named_as(&mut self, model: &str) {
        self.model = model.to_string();
    }

    /// Logs the request to `log` (none: the request log is off).
    pub fn logs_to(mut self, log: Option<Arc<crate::log::RequestLog>>) -> Self {
        self.log = log;
        self
    }

    /// Whether the client asked for a stream.
    pub fn streams(&mut self, stream: bool) {
        self.stream = stream;
    }

    /// Requests in flight under this label when this one was admitted, itself included.
    pub fn position(&self) -> i64 {
        self.position
    }

    /// The profile the client named (if any) and the model that serves it.
    pub fn served(&mut self, profile: Option<String>, backend_model: String) {
        self.profile = profile;
        self.backend_model = Some(backend_model);
    }

    /// The model whose answer this is (a technique's may differ from the one asked).
    pub fn answered_by(&mut self, model: String) {
        self.backend_model = Some(model);
    }

    /// Keeps the prompt and the answer for the log (only when the profile opts in).
    pub fn keep_content(&mut self, prompt: String, answer: String) {
        self.content = Some((prompt, answer));
    }

    /// Captures this request (see capture.rs); its answer is added when it has one.
    pub fn capture(&mut self, pending: crate::capture::Pending) {
        self.capture = Some(pending);
    }

    /// Shadows this request: `job` (its answer still empty) is offered to `queue` once the
    /// request is answered (see shadow.rs).
    pub fn shadow(&mut self, queue: Arc<crate::shadow::ShadowQueue>, job: crate::shadow::Job) {
        self.shadow = Some((queue, job));
    }

    /// The answer the request got, for its capture and its shadow job (nothing when it has
    /// neither).
    pub fn captured_answer(&mut self, answer: crate::capture::Answer) {
        if let Some((_, job)) = self.shadow.as_mut() {
            job.reference = crate::shadow::Answer {
                content: answer.content.clone(),
                tool_calls: answer.tool_calls.clone(),
            };
        }
        if let Some(pending) = self.capture.as_mut() {
            pending.answer = Some(answer);
        }
    }

    /// Whether this request's answer is kept (it is captured or shadowed).
    pub fn captures(&self) -> bool {
        self.capture.is_some() || self.shadow.is_some()
    }

    /// Offers the shadow job of an answered request (a non-blocking send; see shadow.rs).
    fn offer_shadow(&mut self) {
        let Some((queue, mut job)) = self.shadow.take() else {
            return;
        };
        if self.status != 200 {
            return;
        }
        job.reference_ms = self.clock.elapsed().as_secs_f64() * 1000.0;
        job.reference_tokens = self.tokens.map(|t| t.1);
        queue.offer(job);
    }

    /// Adds streamed answer text to the kept content, if content is kept.
    pub fn add_to_content(&mut self, text: &str) {
        if let Some((_, answer)) = self.content.as_mut() {
            answer.push_str(text);
        }
    }

    /// How the request was served, as it is being recorded.
    pub fn trace_mut(&mut self) -> &mut understudy_prompt::Trace {
        &mut self.trace
    }

    /// The metrics label of this request.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn fail(&mut self, status: u16, kind: &'static str) {
        self.status = status;
        self.error_type = Some(kind);
    }

    /// The backend's answer arrived: its time to first token, queue wait and token counts.
    pub fn answered(&mut self, timing: &Timing, usage: &Usage) {
        self.ttft_s = Some(timing.ttft_ms / 1000.0);
        self.clock.queued(timing.queue_ms);
        self.tokens = Some((usage.prompt_tokens, usage.completion_tokens));
        self.cached_tokens = Some(usage.cached_tokens);
        self.batched = timing.concurrency;
    }

    /// Moves the request's record into a stream (which ends it) and leaves behind a detached
    /// guard that still knows the time spent so far, for the response head.
    pub fn hand_to_stream(&mut self) -> Self {
        let mut left = Self::detached();
        left.clock = self.clock.hand_to_stream();
        std::mem::replace(self, left)
    }

    /// Adds the time the stream spent on its own work (turning events into SSE, the log commit).
    pub fn add_stream_work(&mut self, spent: Duration) {
        self.clock.add_stream_work(spent);
    }

    /// The gateway's own time and the upstream time (see [`RequestClock::settle`]).
    pub fn settle(&mut self) -> (Duration, Duration) {
        self.clock.settle()
    }

    /// The clock the backends mark this request's upstream time on.
    pub fn upstream(&self) -> Arc<UpstreamClock> {
        self.clock.upstream()
    }

    /// The wait behind other requests for the model, once the backend reported it.
    pub fn queue(&self) -> Option<Duration> {
        self.clock.queue()
    }

    /// The request as a log row, as it stands now (model names capped: they come from the
    /// client).
    fn row(&mut self) -> understudy_store::RequestRow {
        let content = self.content.take();
        understudy_store::RequestRow {
            at: None,
            model: capped(&self.model),
            profile: self.profile.clone(),
            backend_model: self.backend_model.as_deref().map(capped),
            status: self.status,
            error_type: self.error_type.map(str::to_string),
            stream: self.stream,
            total_ms: self.clock.elapsed().as_secs_f64() * 1000.0,
            ttft_ms: self.ttft_s.map(|t| t * 1000.0),
            prompt_tokens: self.tokens.map(|t| t.0),
            completion_tokens: self.tokens.map(|t| t.1),
            prompt_json: content.as_ref().map(|c| c.0.clone()),
            capture: self.capture.take().map(crate::capture::Pending::record),
            answer: content.map(|c| c.1),
            route: (!self.trace.is_empty())
                .then(|| serde_json::to_string(&self.trace).unwrap_or_default()),
            cached_tokens: self.cached_tokens,
            concurrency: self
                .batched
                .or_else(|| u32::try_from(self.position).ok().filter(|&n| n > 0)),
        }
    }

    /// Logs the request now, committed, so that a client who then sees the end of the answer
    /// can count on its row surviving a crash. Does nothing when the log is off.
    pub async fn log_committed(&mut self) {
        self.completed = true;
        if let Some(log) = self.log.take() {
            log.write(&self.row()).await;
        }
        self.offer_shadow();
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let Some(metrics) = self.metrics.clone() else {
            return;
        };
        // Dropped before its end: the client went away (mid-stream, or while a unary answer was
        // being generated). Logged and counted as such, never as a success.
        if !self.completed {
            self.fail(CLIENT_CLOSED, "client_disconnected");
        }
        if let Some(log) = self.log.take() {
            log.write_later(self.row());
        }
        let total = self.clock.elapsed();
        let (gateway, upstream) = self.settle();
        let outcome = Outcome {
            label: &self.label,
            admitted: self.admitted,
            status: self.status,
            error_type: self.error_type,
            total,
            gateway,
            upstream,
            queue: self.clock.queue(),
            ttft: self.ttft_s.map(Duration::from_secs_f64),
            tokens: self.tokens,
        };
        // A unary answer (or error) is written by the server after this guard is gone: its
        // total and own time end when that write completes. A stream's own time is its setup
        // and per-event work, fixed already.
        match self.clock.take_unary_conn() {
            Some(conn) => {
                metrics.counted(&outcome);
                let label = self.label.clone();
                let answered = Instant::now();
                conn.when_written(Box::new(move || {
                    let writing = answered.elapsed();
                    metrics.timed(&label, total + writing, gateway + writing);
                }));
            }
            None => metrics.finished(&outcome),
        }
    }
}

/// Longest model name the request log keeps, in characters.
pub const MAX_LOGGED_MODEL_CHARS: usize = 256;

/// `name` cut to [`MAX_LOGGED_MODEL_CHARS`], saying how much was cut.
fn capped(name: &str) -> String {
    match name.char_indices().nth(MAX_LOGGED_MODEL_CHARS) {
        None => name.to_string(),
        Some((at, _)) => format!("{}…(+{} chars)", &name[..at], name[at..].chars().count()),
    }
}
