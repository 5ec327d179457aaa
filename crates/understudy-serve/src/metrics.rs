//! Prometheus metrics for the gateway, kept in memory and rendered as text on `/metrics`:
//! requests and errors by model and status/type, latency and TTFT histograms, tokens, and the
//! number of requests in flight. Hand-rolled: a few counters do not need a metrics framework.
//! Labels are chosen by [`crate::served::ServedModels`], never taken raw from a client, so a
//! client cannot grow the label set.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    errors: BTreeMap<(String, String), u64>,
    latency: BTreeMap<String, Histogram>,
    ttft: BTreeMap<String, Histogram>,
    prompt_tokens: BTreeMap<String, u64>,
    completion_tokens: BTreeMap<String, u64>,
    in_flight: BTreeMap<String, i64>,
}

/// The gateway's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// How many label values a metric has now (for tests of bounded cardinality).
    pub fn label_count(&self) -> usize {
        self.inner
            .lock()
            .map(|m| {
                let mut labels: std::collections::BTreeSet<&str> = Default::default();
                labels.extend(m.requests.keys().map(|(l, _)| l.as_str()));
                labels.extend(m.in_flight.keys().map(String::as_str));
                labels.extend(m.latency.keys().map(String::as_str));
                labels.len()
            })
            .unwrap_or(0)
    }

    /// Counts a request in flight under `model`'s label and returns how many are in flight now,
    /// this one included: read and incremented under one lock, so that of N requests arriving
    /// together exactly the first `max_queue` see a count within the limit.
    pub fn started(&self, model: &str) -> i64 {
        match self.inner.lock() {
            Ok(mut m) => {
                let n = m.in_flight.entry(model.to_string()).or_default();
                *n += 1;
                *n
            }
            Err(_) => 0,
        }
    }

    /// Records a finished request under `model`'s label; `admitted` says whether [`Self::started`]
    /// counted it in flight (a body that never parsed was not).
    #[allow(clippy::too_many_arguments)]
    pub fn finished(
        &self,
        model: &str,
        admitted: bool,
        status: u16,
        error_type: Option<&str>,
        total_s: f64,
        ttft_s: Option<f64>,
        tokens: Option<(u32, u32)>,
    ) {
        let Ok(mut m) = self.inner.lock() else { return };
        if admitted {
            *m.in_flight.entry(model.to_string()).or_default() -= 1;
        }
        *m.requests.entry((model.to_string(), status)).or_default() += 1;
        if let Some(kind) = error_type {
            *m.errors
                .entry((model.to_string(), kind.to_string()))
                .or_default() += 1;
        }
        m.latency
            .entry(model.to_string())
            .or_default()
            .observe(total_s);
        if let Some(t) = ttft_s {
            m.ttft.entry(model.to_string()).or_default().observe(t);
        }
        if let Some((p, c)) = tokens {
            *m.prompt_tokens.entry(model.to_string()).or_default() += u64::from(p);
            *m.completion_tokens.entry(model.to_string()).or_default() += u64::from(c);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let Ok(m) = self.inner.lock() else {
            return String::new();
        };
        let mut out = String::new();
        out.push_str("# HELP understudy_requests_total Chat requests by model (or profile) and HTTP status.\n# TYPE understudy_requests_total counter\n");
        for ((model, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "understudy_requests_total{{model=\"{}\",status=\"{status}\"}} {n}",
                label(model)
            );
        }
        out.push_str("# HELP understudy_errors_total Failed chat requests by model and error type.\n# TYPE understudy_errors_total counter\n");
        for ((model, kind), n) in &m.errors {
            let _ = writeln!(
                out,
                "understudy_errors_total{{model=\"{}\",type=\"{}\"}} {n}",
                label(model),
                label(kind)
            );
        }
        for (name, help, map) in [
            (
                "understudy_request_duration_seconds",
                "End-to-end request latency.",
                &m.latency,
            ),
            (
                "understudy_ttft_seconds",
                "Time to first token, as measured where tokens are produced.",
                &m.ttft,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            for (model, h) in map {
                let model = label(model);
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{model=\"{model}\",le=\"{bound}\"}} {}",
                        h.counts.get(i).copied().unwrap_or(0)
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_bucket{{model=\"{model}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(out, "{name}_sum{{model=\"{model}\"}} {}", h.sum);
                let _ = writeln!(out, "{name}_count{{model=\"{model}\"}} {}", h.count);
            }
        }
        out.push_str("# HELP understudy_tokens_total Tokens by model and kind.\n# TYPE understudy_tokens_total counter\n");
        for (model, n) in &m.prompt_tokens {
            let _ = writeln!(
                out,
                "understudy_tokens_total{{model=\"{}\",kind=\"prompt\"}} {n}",
                label(model)
            );
        }
        for (model, n) in &m.completion_tokens {
            let _ = writeln!(
                out,
                "understudy_tokens_total{{model=\"{}\",kind=\"completion\"}} {n}",
                label(model)
            );
        }
        out.push_str("# HELP understudy_in_flight Requests being answered or queued, by model.\n# TYPE understudy_in_flight gauge\n");
        for (model, n) in &m.in_flight {
            let _ = writeln!(
                out,
                "understudy_in_flight{{model=\"{}\"}} {n}",
                label(model)
            );
        }
        out
    }
}

/// Counts one request from admission to its end (for a stream, when the stream is dropped),
/// so in-flight numbers stay right whatever path the request takes.
pub struct RequestGuard {
    metrics: Option<std::sync::Arc<Metrics>>,
    /// Where the finished request is logged, if the request log is on.
    pub log: Option<std::sync::Arc<crate::log::RequestLog>>,
    pub profile: Option<String>,
    pub backend_model: Option<String>,
    pub stream: bool,
    /// Prompt (JSON) and answer, kept only when the profile opts in.
    pub content: Option<(String, String)>,
    /// The model as the client named it (the log keeps it; metrics use `label`).
    model: String,
    label: String,
    admitted: bool,
    /// Requests in flight under this label when this one was admitted, itself included.
    pub position: i64,
    /// The request reached its end (answer, error or stream end) rather than being dropped.
    completed: bool,
    started: std::time::Instant,
    pub status: u16,
    pub error_type: Option<&'static str>,
    pub ttft_s: Option<f64>,
    pub tokens: Option<(u32, u32)>,
    /// How the request was served (thinking decision, cascade, plan steps), for the log.
    pub route: serde_json::Map<String, serde_json::Value>,
}

/// The status logged for a request whose client went away before its answer ended (nginx's
/// convention; no response reached the client).
pub const CLIENT_CLOSED: u16 = 499;

impl RequestGuard {
    /// Counts a request from the moment its body arrives, before it is parsed: a body that is not
    /// valid JSON is still a request, in the metrics and the log.
    pub fn new(metrics: std::sync::Arc<Metrics>) -> Self {
        Self {
            metrics: Some(metrics),
            log: None,
            profile: None,
            backend_model: None,
            stream: false,
            content: None,
            model: String::new(),
            label: crate::served::OTHER_LABEL.to_string(),
            admitted: false,
            position: 0,
            completed: false,
            started: std::time::Instant::now(),
            status: 200,
            error_type: None,
            ttft_s: None,
            tokens: None,
            route: serde_json::Map::new(),
        }
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
            model: String::new(),
            label: String::new(),
            admitted: false,
            position: 0,
            completed: true,
            started: std::time::Instant::now(),
            status: 0,
            error_type: None,
            ttft_s: None,
            tokens: None,
            route: serde_json::Map::new(),
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

    /// The metrics label of this request.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn fail(&mut self, status: u16, kind: &'static str) {
        self.status = status;
        self.error_type = Some(kind);
    }

    /// The request as a log row, as it stands now.
    fn row(&mut self) -> understudy_eval::store::RequestRow {
        let content = self.content.take();
        understudy_eval::store::RequestRow {
            at: None,
            model: self.model.clone(),
            profile: self.profile.clone(),
            backend_model: self.backend_model.clone(),
            status: self.status,
            error_type: self.error_type.map(str::to_string),
            stream: self.stream,
            total_ms: self.started.elapsed().as_secs_f64() * 1000.0,
            ttft_ms: self.ttft_s.map(|t| t * 1000.0),
            prompt_tokens: self.tokens.map(|t| t.0),
            completion_tokens: self.tokens.map(|t| t.1),
            prompt_json: content.as_ref().map(|c| c.0.clone()),
            answer: content.map(|c| c.1),
            route: (!self.route.is_empty())
                .then(|| serde_json::Value::Object(self.route.clone()).to_string()),
        }
    }

    /// Logs the request now, committed, so that a client who then sees the end of the answer
    /// can count on its row surviving a crash. Does nothing when the log is off.
    pub fn log_committed(&mut self) {
        self.completed = true;
        if let Some(log) = self.log.take() {
            log.write(&self.row());
        }
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
            log.write(&self.row());
        }
        metrics.finished(
            &self.label,
            self.admitted,
            self.status,
            self.error_type,
            self.started.elapsed().as_secs_f64(),
            self.ttft_s,
            self.tokens,
        );
    }
}
