//! Closed-loop load: `concurrency` clients, each sending its next request as soon as its last
//! one is answered, until `total` requests are done. Unlike the open-loop rate points this never
//! queues more work than the gateway can take, so on a shared 2-core machine it measures the
//! time a request spends in the gateway rather than the load generator's backlog.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::REQUEST;

/// The latencies (ms, sorted) of one closed-loop point.
pub struct Latencies {
    pub sent: usize,
    pub errors: usize,
    sorted: Vec<f64>,
}

impl Latencies {
    /// The `p` quantile (nearest rank below), NaN when nothing succeeded.
    pub fn quantile(&self, p: f64) -> f64 {
        if self.sorted.is_empty() {
            return f64::NAN;
        }
        self.sorted[((self.sorted.len() - 1) as f64 * p) as usize]
    }

    pub fn mean(&self) -> f64 {
        self.sorted.iter().sum::<f64>() / self.sorted.len().max(1) as f64
    }
}

/// Runs one closed-loop point against `url`.
pub async fn closed_loop(
    client: &reqwest::Client,
    url: &str,
    concurrency: usize,
    total: usize,
) -> Latencies {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, url, next) = (client.clone(), url.to_string(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut ok = Vec::with_capacity(total / concurrency + 1);
            let mut errors = 0;
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(REQUEST)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                let good = match sent {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if good {
                    ok.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
            }
            (ok, errors)
        }));
    }
    let mut sorted = Vec::with_capacity(total);
    let mut errors = 0;
    for w in workers {
        let (ok, e) = w.await.unwrap();
        sorted.extend(ok);
        errors += e;
    }
    sorted.sort_by(|a, b| a.total_cmp(b));
    Latencies {
        sent: total,
        errors,
        sorted,
    }
}
