//! Bench (not a test): what `understudy serve` adds in front of a fast OpenAI-compatible upstream.
//! A mock upstream, the gateway in front of it, and an open-loop load generator all run on
//! loopback in this process; the same load goes to the mock directly and through the gateway,
//! side by side. Prints p50/p99 latency and the added latency at fixed rates, then the highest
//! rate each sustains with < 1% errors.
//!
//! cargo run --release -p understudy-serve --example bench_gateway [-- --seconds 5]
//!
//! With `--understudy BIN [--litellm-rs BIN] [--litellm BIN]` it instead starts the real
//! `understudy serve` binary and its peers as separate processes in front of the same mock, and
//! compares them (see `peers.rs`); `--soak SECS` then holds 200 concurrent streaming clients on
//! understudy.
//! `--mock-only PORT` serves only the mock (bench/eval_vs_promptfoo.sh uses it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use understudy_backend::openai::OpenAiBackend;
use understudy_serve::resilience::{Policy, Resilient};
use understudy_serve::{router, AppState};

#[path = "bench_gateway/closed_loop.rs"]
mod closed_loop;
#[path = "bench_gateway/launch.rs"]
mod launch;
#[path = "bench_gateway/mock.rs"]
mod mock;
#[path = "bench_gateway/own_time.rs"]
mod own_time;
#[path = "bench_gateway/peers.rs"]
mod peers;
#[path = "bench_gateway/procfs.rs"]
mod procfs;
#[path = "bench_gateway/scrape.rs"]
mod scrape;

const REQUEST: &str =
    r#"{"model":"m","messages":[{"role":"user","content":"What is 2+2?"}],"max_tokens":8}"#;

async fn spawn(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1/chat/completions")
}

struct Run {
    sent: usize,
    errors: usize,
    p50_ms: f64,
    p99_ms: f64,
}

/// Sends `rate` requests per second for `secs` seconds (open loop) and measures each.
async fn load(client: &reqwest::Client, url: &str, rate: u64, secs: u64) -> Run {
    load_body(client, url, rate, secs, REQUEST).await
}

/// `load` with a given request body.
async fn load_body(
    client: &reqwest::Client,
    url: &str,
    rate: u64,
    secs: u64,
    body: &'static str,
) -> Run {
    let total = (rate * secs) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let client = client.clone();
        let url = url.to_string();
        handles.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = match tokio::time::timeout(
                Duration::from_secs(5),
                client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send(),
            )
            .await
            {
                Ok(Ok(r)) => r.status().is_success() && r.bytes().await.is_ok(),
                _ => false,
            };
            (ok, t.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut lat = Vec::with_capacity(total);
    let mut errors = 0;
    for h in handles {
        let (ok, ms) = h.await.unwrap();
        if ok {
            lat.push(ms);
        } else {
            errors += 1;
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| {
        if lat.is_empty() {
            f64::NAN
        } else {
            lat[((lat.len() - 1) as f64 * p) as usize]
        }
    };
    Run {
        sent: total,
        errors,
        p50_ms: q(0.5),
        p99_ms: q(0.99),
    }
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    // `--mock-only PORT`: just the mock upstream, for peers run from a script (promptfoo).
    if let Some(port) = std::env::args()
        .skip_while(|a| a != "--mock-only")
        .nth(1)
        .and_then(|p| p.parse::<u16>().ok())
    {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        println!("mock upstream on http://127.0.0.1:{port}/v1");
        mock::serve(listener).await;
        return;
    }
    let upstream = mock::spawn().await;
    let base = upstream.trim_end_matches("/chat/completions").to_string();
    if let Some(peers) = peers::Peers::from_args() {
        peers::run(peers, &upstream).await;
        return;
    }
    let backend = Arc::new(Resilient::new(
        Arc::new(OpenAiBackend::new("mock", &base, None, 30).unwrap()),
        Policy::default(),
    ));
    let gateway = spawn(router(Arc::new(
        AppState::new(backend, BTreeMap::new(), Vec::new(), 1 << 20).with_max_queue(100_000),
    )))
    .await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .unwrap();
    // Warm up both paths (connection pools, the gateway's model listing).
    load(&client, &upstream, 200, 1).await;
    load(&client, &gateway, 200, 1).await;
    println!("bench_gateway: open-loop load for {secs} s per point, loopback, one process (mock + gateway + load generator on the same 2 cores)");
    println!(
        "{:>7} {:>13} {:>13} {:>13} {:>13} {:>12} {:>12} {:>9}",
        "req/s",
        "direct p50",
        "direct p99",
        "gateway p50",
        "gateway p99",
        "added p50",
        "added p99",
        "errors"
    );
    for rate in [500u64, 2000] {
        let direct = load(&client, &upstream, rate, secs).await;
        let via = load(&client, &gateway, rate, secs).await;
        println!(
            "{rate:>7} {:>10.3} ms {:>10.3} ms {:>10.3} ms {:>10.3} ms {:>9.3} ms {:>9.3} ms {:>4}/{:<4}",
            direct.p50_ms, direct.p99_ms, via.p50_ms, via.p99_ms, via.p50_ms - direct.p50_ms, via.p99_ms - direct.p99_ms, via.errors + direct.errors, via.sent + direct.sent
        );
    }
    for (name, url) in [("direct", &upstream), ("gateway", &gateway)] {
        let mut best = 0;
        for rate in [2000u64, 4000, 8000, 12000, 16000, 24000] {
            let run = load(&client, url, rate, 3).await;
            let error_rate = run.errors as f64 / run.sent as f64;
            if error_rate < 0.01 && run.p99_ms < 1000.0 {
                best = rate;
            } else {
                break;
            }
        }
        println!("{name}: highest rate sustained with < 1% errors and p99 < 1 s: {best} req/s (of 2000/4000/8000/12000/16000/24000 tried)");
    }
}
