//! Reads understudy's own overhead histogram (`understudy_gateway_seconds`) off `/metrics`, so
//! that the bench can set what the gateway says it added beside what the client measured.

/// One reading of the histogram, summed over its labels.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// (upper bound in seconds, cumulative count), in bound order, `+Inf` last.
    buckets: Vec<(f64, u64)>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// Parses `name`'s buckets, sum and count from a Prometheus text exposition.
    pub fn parse(text: &str, name: &str) -> Self {
        let mut h = Self::default();
        let bucket = format!("{name}_bucket{{");
        for line in text.lines() {
            let Some((key, value)) = line.rsplit_once(' ') else {
                continue;
            };
            if let Some(labels) = key.strip_prefix(&bucket) {
                let le = labels
                    .split("le=\"")
                    .nth(1)
                    .and_then(|v| v.split('"').next());
                let bound = match le {
                    Some("+Inf") => f64::INFINITY,
                    Some(v) => v.parse().unwrap_or(f64::NAN),
                    None => continue,
                };
                let n: u64 = value.parse().unwrap_or(0);
                match h.buckets.iter_mut().find(|(b, _)| *b == bound) {
                    Some((_, total)) => *total += n,
                    None => h.buckets.push((bound, n)),
                }
            } else if key.starts_with(&format!("{name}_sum")) {
                h.sum += value.parse::<f64>().unwrap_or(0.0);
            } else if key.starts_with(&format!("{name}_count")) {
                h.count += value.parse::<u64>().unwrap_or(0);
            }
        }
        h.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        h
    }

    /// What was observed between `earlier` and this reading.
    pub fn since(&self, earlier: &Self) -> Self {
        let before = |bound: f64| {
            earlier
                .buckets
                .iter()
                .find(|(b, _)| *b == bound)
                .map_or(0, |(_, n)| *n)
        };
        Self {
            buckets: self
                .buckets
                .iter()
                .map(|(b, n)| (*b, n.saturating_sub(before(*b))))
                .collect(),
            sum: self.sum - earlier.sum,
            count: self.count.saturating_sub(earlier.count),
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        self.sum / self.count.max(1) as f64 * 1000.0
    }

    /// The `p` quantile in milliseconds, interpolated within its bucket the way Prometheus'
    /// `histogram_quantile` does.
    pub fn quantile_ms(&self, p: f64) -> f64 {
        let rank = p * self.count as f64;
        let mut lower = (0.0, 0u64);
        for &(bound, cumulative) in &self.buckets {
            if cumulative as f64 >= rank {
                if bound.is_infinite() {
                    return lower.0 * 1000.0;
                }
                let in_bucket = (cumulative - lower.1) as f64;
                let within = if in_bucket > 0.0 {
                    (rank - lower.1 as f64) / in_bucket
                } else {
                    0.0
                };
                return (lower.0 + (bound - lower.0) * within) * 1000.0;
            }
            lower = (bound, cumulative);
        }
        f64::NAN
    }
}

/// Reads the gateway's own time and its upstream time, in one fetch of `/metrics` at `url`.
pub async fn read_own_and_upstream(client: &reqwest::Client, url: &str) -> (Histogram, Histogram) {
    let text = metrics_text(client, url).await;
    (
        Histogram::parse(&text, "understudy_gateway_seconds"),
        Histogram::parse(&text, "understudy_upstream_seconds"),
    )
}

/// The mock upstream's own time (`mock_seconds`, see mock.rs) off its `/metrics` at `url`.
pub async fn read_mock(client: &reqwest::Client, url: &str) -> Histogram {
    Histogram::parse(&metrics_text(client, url).await, "mock_seconds")
}

/// The text at `url`; empty when it cannot be fetched (the histograms then read as empty).
async fn metrics_text(client: &reqwest::Client, url: &str) -> String {
    match client.get(url).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}
