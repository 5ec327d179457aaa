//! Prometheus metrics for the gateway, kept in memory and rendered as text on `/metrics`:
//! requests and errors by model and status/type, latency and TTFT histograms, the gateway's own
//! time, upstream time and queue wait per request (see overhead.rs), tokens, and the number of
//! requests in flight. Hand-rolled: a few counters do not need a metrics framework.
//! Labels are chosen by [`crate::served::ServedModels`], never taken raw from a client, so a
//! client cannot grow the label set.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Upper bounds of the buckets of the gateway's own time, in seconds: it is sub-millisecond
/// when all is well, so the buckets start at 25 µs.
const OVERHEAD_BUCKETS: &[f64] = &[
    0.000025, 0.00005, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0025, 0.005,
    0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64, bounds: &[f64]) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        for (i, bound) in bounds.iter().enumerate() {
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
    gateway: BTreeMap<String, Histogram>,
    upstream: BTreeMap<String, Histogram>,
    queue: BTreeMap<String, Histogram>,
    prompt_tokens: BTreeMap<String, u64>,
    completion_tokens: BTreeMap<String, u64>,
    in_flight: BTreeMap<String, i64>,
    /// Shadow jobs by profile and outcome (`answered`, `failed`, `dropped`).
    shadow: BTreeMap<(String, &'static str), u64>,
    /// Canary requests by canary and arm.
    canary: BTreeMap<(String, String), u64>,
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

    /// Records a finished request.
    pub fn finished(&self, o: &Outcome<'_>) {
        self.counted(o);
        self.timed(o.label, o.total, o.gateway);
    }

    /// The total and own time of a finished request, once known: for an answer the server
    /// writes after the handler returned, when that write completed (see socket_arrival.rs).
    pub fn timed(&self, label: &str, total: std::time::Duration, gateway: std::time::Duration) {
        let Ok(mut m) = self.inner.lock() else { return };
        m.latency
            .entry(label.to_string())
            .or_default()
            .observe(total.as_secs_f64(), BUCKETS);
        m.gateway
            .entry(label.to_string())
            .or_default()
            .observe(gateway.as_secs_f64(), OVERHEAD_BUCKETS);
    }

    /// Everything about a finished request but its total and own time (see [`Self::timed`]).
    pub fn counted(&self, o: &Outcome<'_>) {
        let Ok(mut m) = self.inner.lock() else { return };
        let model = o.label.to_string();
        if o.admitted {
            *m.in_flight.entry(model.clone()).or_default() -= 1;
        }
        *m.requests.entry((model.clone(), o.status)).or_default() += 1;
        if let Some(kind) = o.error_type {
            *m.errors
                .entry((model.clone(), kind.to_string()))
                .or_default() += 1;
        }
        let seconds = |d: std::time::Duration| d.as_secs_f64();
        m.upstream
            .entry(model.clone())
            .or_default()
            .observe(seconds(o.upstream), BUCKETS);
        if let Some(t) = o.ttft {
            m.ttft
                .entry(model.clone())
                .or_default()
                .observe(seconds(t), BUCKETS);
        }
        if let Some(q) = o.queue {
            m.queue
                .entry(model.clone())
                .or_default()
                .observe(seconds(q), BUCKETS);
        }
        if let Some((p, c)) = o.tokens {
            *m.prompt_tokens.entry(model.clone()).or_default() += u64::from(p);
            *m.completion_tokens.entry(model).or_default() += u64::from(c);
        }
    }

    /// Counts a shadow job of `profile` that ended as `outcome`.
    pub fn shadowed(&self, profile: &str, outcome: &'static str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.shadow.entry((profile.to_string(), outcome)).or_default() += 1;
        }
    }

    /// Counts a request to canary `name` answered by `arm`.
    pub fn canary(&self, name: &str, arm: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.canary
                .entry((name.to_string(), arm.to_string()))
                .or_default() += 1;
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
        for (name, help, map, bounds) in [
            (
                "understudy_request_duration_seconds",
                "End-to-end request latency.",
                &m.latency,
                BUCKETS,
            ),
            (
                "understudy_ttft_seconds",
                "Time to first token, as measured where tokens are produced.",
                &m.ttft,
                BUCKETS,
            ),
            (
                "understudy_gateway_seconds",
                "The gateway's own time per request: total minus upstream time (for a stream, its own work on each event; waits for the upstream and the client left out).",
                &m.gateway,
                OVERHEAD_BUCKETS,
            ),
            (
                "understudy_upstream_seconds",
                "Time per request with a backend call pending (overlapping calls counted once).",
                &m.upstream,
                BUCKETS,
            ),
            (
                "understudy_queue_seconds",
                "Time a request waited behind others for the model, where the backend can see it (the embedded engine; 0 for HTTP upstreams).",
                &m.queue,
                BUCKETS,
            ),
        ] {
            write_histogram(&mut out, name, help, map, bounds);
        }
        out.push_str("# HELP understudy_tokens_total Tokens by model and kind.\n# TYPE understudy_tokens_total counter\n");
        for (kind, counts) in [
            ("prompt", &m.prompt_tokens),
            ("completion", &m.completion_tokens),
        ] {
            for (model, n) in counts {
                let _ = writeln!(
                    out,
                    "understudy_tokens_total{{model=\"{}\",kind=\"{kind}\"}} {n}",
                    label(model)
                );
            }
        }
        write_traffic_splits(&mut out, &m);
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

/// Shadow jobs and canary arms.
fn write_traffic_splits(out: &mut String, m: &Inner) {
    write_shadow(out, &m.shadow);
    write_canary(out, &m.canary);
}

/// Shadow jobs by profile and outcome.
fn write_shadow(out: &mut String, shadow: &BTreeMap<(String, &'static str), u64>) {
    out.push_str("# HELP understudy_shadow_total Shadow answers by profile and outcome (answered, failed, dropped: the queue was full).\n# TYPE understudy_shadow_total counter\n");
    for ((profile, outcome), n) in shadow {
        let _ = writeln!(
            out,
            "understudy_shadow_total{{profile=\"{}\",outcome=\"{outcome}\"}} {n}",
            label(profile)
        );
    }
}

/// Canary requests by canary and arm (both from the configuration, never from a client).
fn write_canary(out: &mut String, canary: &BTreeMap<(String, String), u64>) {
    out.push_str("# HELP understudy_canary_total Requests to a canary by the arm (profile) that answered them.\n# TYPE understudy_canary_total counter\n");
    for ((name, arm), n) in canary {
        let _ = writeln!(
            out,
            "understudy_canary_total{{canary=\"{}\",arm=\"{}\"}} {n}",
            label(name),
            label(arm)
        );
    }
}

/// One histogram per model in Prometheus' text format.
fn write_histogram(
    out: &mut String,
    name: &str,
    help: &str,
    map: &BTreeMap<String, Histogram>,
    bounds: &[f64],
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (model, h) in map {
        let model = label(model);
        for (i, bound) in bounds.iter().enumerate() {
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

/// One finished request, as the metrics record it.
pub struct Outcome<'a> {
    /// The metrics label (see [`crate::served::ServedModels`]).
    pub label: &'a str,
    /// Whether [`Metrics::started`] counted it in flight (a body that never parsed was not).
    pub admitted: bool,
    pub status: u16,
    pub error_type: Option<&'a str>,
    pub total: std::time::Duration,
    pub gateway: std::time::Duration,
    pub upstream: std::time::Duration,
    pub queue: Option<std::time::Duration>,
    pub ttft: Option<std::time::Duration>,
    pub tokens: Option<(u32, u32)>,
}
