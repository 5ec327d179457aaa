//! The peer comparison of bench_gateway: the real `understudy serve` binary, litellm-rs (the
//! Rust gateway, crates.io `litellm-rs`) and the LiteLLM proxy (PyPI `litellm[proxy]`), each its
//! own process in front of the same mock upstream, loaded from this process. In one
//! sitting, repeated `--repeats` times with the order rotated each time: the open-loop search for
//! the highest rate each sustains, then closed-loop added latency (gateway minus direct, p50 and
//! p99) at concurrency 1, 4 and 16, with understudy's own overhead histogram read off `/metrics`
//! around each of its points. `--soak SECS` then holds 200 concurrent streaming clients on
//! understudy and reports errors, RSS, threads and open files at the start and the end.
//! `--gateway-cpus LIST` starts each gateway under `taskset -c LIST`. `--mock-process` runs the
//! mock in a process of its own (as a real upstream is) instead of in this one, where the direct
//! path's client and mock share a runtime and never wake each other from sleep.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::closed_loop::closed_loop;
use super::launch::{self, Gateway};
use super::load;
use super::own_time::{self, Point};
use super::procfs::{memory_mib, own_cpus, threads_and_fds};
use super::scrape;

const STREAM_REQUEST: &str = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"What is 2+2?"}],"max_tokens":8}"#;

/// Concurrencies of the closed-loop points.
const CONCURRENCY: [usize; 3] = [1, 4, 16];

pub struct Peers {
    understudy: String,
    litellm_rs: Option<String>,
    litellm: Option<String>,
    soak: Option<u64>,
    gateway_cpus: Option<String>,
    /// Also run understudy with `--workers 1`.
    one_worker: bool,
    /// Also run understudy without its request log.
    no_log: bool,
    /// Also run understudy capturing every request (`capture = { rate = 1.0 }`).
    capture: bool,
    /// Also run understudy shadowing every request with the same upstream.
    shadow: bool,
    /// Also run understudy with its request log in PostgreSQL (a throwaway server, or the one
    /// UNDERSTUDY_TEST_POSTGRES names).
    postgres: bool,
    /// Also run litellm-rs with its ledger and metrics off.
    litellm_rs_bare: bool,
    /// The mock upstream in a process of its own rather than in the load generator's.
    mock_process: bool,
    repeats: usize,
    requests: usize,
    litellm_requests: usize,
}

fn flag(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

impl Peers {
    pub fn from_args() -> Option<Self> {
        let number =
            |name: &str, default: usize| flag(name).and_then(|s| s.parse().ok()).unwrap_or(default);
        Some(Self {
            understudy: flag("--understudy")?,
            litellm_rs: flag("--litellm-rs"),
            litellm: flag("--litellm"),
            soak: flag("--soak").and_then(|s| s.parse().ok()),
            gateway_cpus: flag("--gateway-cpus"),
            one_worker: std::env::args().any(|a| a == "--one-worker"),
            no_log: std::env::args().any(|a| a == "--understudy-nolog"),
            capture: std::env::args().any(|a| a == "--understudy-capture"),
            shadow: std::env::args().any(|a| a == "--understudy-shadow"),
            postgres: std::env::args().any(|a| a == "--understudy-postgres"),
            litellm_rs_bare: std::env::args().any(|a| a == "--litellm-rs-bare"),
            mock_process: std::env::args().any(|a| a == "--mock-process"),
            repeats: number("--repeats", 3),
            requests: number("--requests", 10_000),
            litellm_requests: number("--litellm-requests", 1_000),
        })
    }
}

async fn highest_rate(client: &reqwest::Client, url: &str) -> u64 {
    let mut best = 0;
    for rate in [
        5u64, 10, 20, 50, 100, 200, 500, 1000, 2000, 4000, 8000, 12000, 16000, 24000,
    ] {
        let run = load(client, url, rate, 3).await;
        if (run.errors as f64 / run.sent as f64) < 0.01 && run.p99_ms < 1000.0 {
            best = rate;
        } else {
            break;
        }
    }
    best
}

/// `items` rotated left by `by`: each repeat starts with another target.
fn rotated<T: Clone>(items: &[T], by: usize) -> Vec<T> {
    let mut v = items.to_vec();
    if !v.is_empty() {
        let n = v.len();
        v.rotate_left(by % n);
    }
    v
}

/// "median [min–max]" of some values.
fn spread(values: &[f64]) -> String {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return "n/a".into();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    format!("{:.3} [{:.3}–{:.3}]", v[v.len() / 2], v[0], v[v.len() - 1])
}

pub async fn run(peers: Peers, in_process_upstream: &str) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .unwrap();
    let mock = peers.mock_process.then(|| launch::start_mock_process(None));
    if let Some(m) = &mock {
        launch::wait_ready(&client, &m.url, m.name).await;
    }
    let upstream = mock.as_ref().map_or(in_process_upstream, |m| &m.url);
    let base = upstream.trim_end_matches("/chat/completions").to_string();
    let dir = tempfile::tempdir().unwrap();
    let cpus = peers.gateway_cpus.as_deref();
    let mut gateways: Vec<Gateway> = vec![launch::start_understudy(
        &peers.understudy,
        cpus,
        &base,
        dir.path(),
        launch::Understudy::Default,
    )];
    if peers.one_worker {
        gateways.push(launch::start_understudy(
            &peers.understudy,
            cpus,
            &base,
            dir.path(),
            launch::Understudy::OneWorker,
        ));
    }
    if peers.no_log {
        gateways.push(launch::start_understudy(
            &peers.understudy,
            cpus,
            &base,
            dir.path(),
            launch::Understudy::NoLog,
        ));
    }
    if peers.capture {
        gateways.push(launch::start_understudy(
            &peers.understudy,
            cpus,
            &base,
            dir.path(),
            launch::Understudy::Capture,
        ));
    }
    if peers.shadow {
        gateways.push(launch::start_understudy(
            &peers.understudy,
            cpus,
            &base,
            dir.path(),
            launch::Understudy::Shadow,
        ));
    }
    if peers.postgres {
        let url = understudy_store::test_server::fresh_database()
            .await
            .expect("--understudy-postgres needs a PostgreSQL server (scripts/setup-postgres.sh)");
        gateways.push(launch::start_understudy(
            &peers.understudy,
            cpus,
            &base,
            dir.path(),
            launch::Understudy::Postgres(url),
        ));
    }
    if let Some(bin) = &peers.litellm_rs {
        gateways.push(launch::start_litellm_rs(
            bin,
            cpus,
            &base,
            dir.path(),
            false,
        ));
        if peers.litellm_rs_bare {
            gateways.push(launch::start_litellm_rs(bin, cpus, &base, dir.path(), true));
        }
    }
    if let Some(bin) = &peers.litellm {
        gateways.push(launch::start_litellm(bin, cpus, &base, dir.path()));
    }
    for g in &gateways {
        launch::wait_ready(&client, &g.url, g.name).await;
        load(&client, &g.url, 50, 2).await;
    }
    let placement = match cpus {
        Some(g) => format!(
            "mock upstream and load generator on CPUs {}, each gateway on CPUs {g}",
            own_cpus()
        ),
        None => format!(
            "mock upstream, load generator and every gateway sharing CPUs {}",
            own_cpus()
        ),
    };
    let placement = match &mock {
        Some(_) => format!("{placement}; the mock in a process of its own"),
        None => format!("{placement}; the mock in the load generator's process"),
    };
    println!(
        "bench_gateway peers: {placement}; {} repeats, order rotated each time",
        peers.repeats
    );
    rate_search(&peers, &client, &gateways).await;
    latency(&peers, &client, upstream, &gateways).await;
    if let Some(secs) = peers.soak {
        soak(&client, &gateways[0].url, gateways[0].pid(), secs).await;
    }
}

/// The open-loop search, every gateway once per repeat, in rotated order.
async fn rate_search(peers: &Peers, client: &reqwest::Client, gateways: &[Gateway]) {
    let index: Vec<usize> = (0..gateways.len()).collect();
    let mut best: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for r in 0..peers.repeats {
        for i in rotated(&index, r) {
            let rate = highest_rate(client, &gateways[i].url).await;
            best.entry(i).or_default().push(rate as f64);
            // A gateway still backlogged from its overload point would fail the next search.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    println!(
        "\nhighest rate with < 1% errors and p99 < 1 s (open loop, 3 s per point), per repeat:"
    );
    for (i, rates) in &best {
        let g = &gateways[*i];
        let (rss, hwm) = memory_mib(g.pid());
        let list: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "  {:<15} {:>22} req/s   median {:>6.0}; memory now {rss:.1} MiB, peak {hwm:.1} MiB",
            g.name,
            list.join(" / "),
            median(rates)
        );
    }
    let us = median(&best[&0]);
    for (i, rates) in best.iter().skip(1) {
        println!(
            "  understudy / {}: {:.1}x (medians)",
            gateways[*i].name,
            us / median(rates).max(1.0)
        );
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Closed-loop added latency per gateway and concurrency, repeated in rotated order.
async fn latency(peers: &Peers, client: &reqwest::Client, upstream: &str, gateways: &[Gateway]) {
    let mock_metrics = upstream.replace("/v1/chat/completions", "/metrics");
    // Target 0 is the mock itself; 1.. are the gateways.
    let targets: Vec<usize> = (0..=gateways.len()).collect();
    let mut points: BTreeMap<(usize, usize, usize), Point> = BTreeMap::new();
    for r in 0..peers.repeats {
        for &c in &CONCURRENCY {
            for t in rotated(&targets, r + c) {
                let (url, name) = match t {
                    0 => (upstream.to_string(), "direct"),
                    t => (gateways[t - 1].url.clone(), gateways[t - 1].name),
                };
                let n = if name == "litellm" {
                    peers.litellm_requests
                } else {
                    peers.requests
                };
                let metrics = name
                    .starts_with("understudy")
                    .then(|| gateways[t - 1].metrics_url());
                let before = match &metrics {
                    Some(m) => Some(scrape::read_own_and_upstream(client, m).await),
                    None => None,
                };
                let mock0 = scrape::read_mock(client, &mock_metrics).await;
                let latencies = closed_loop(client, &url, c, n).await;
                let mock = scrape::read_mock(client, &mock_metrics).await.since(&mock0);
                let own = match (&metrics, before) {
                    (Some(m), Some((own0, up0))) => {
                        let (own1, up1) = scrape::read_own_and_upstream(client, m).await;
                        Some((own1.since(&own0), up1.since(&up0)))
                    }
                    _ => None,
                };
                points.insert(
                    (t, c, r),
                    Point {
                        latencies,
                        own,
                        mock,
                    },
                );
            }
        }
    }
    println!("\nclosed loop: added latency = gateway minus direct in the same repeat (ms); median [min–max] over {} repeats", peers.repeats);
    println!(
        "  {:<15} {:>4} {:>8} {:>7} {:>28} {:>28}",
        "target", "conc", "requests", "errors", "p50 (direct: absolute)", "p99 (direct: absolute)"
    );
    for &t in &targets {
        for &c in &CONCURRENCY {
            let mut p50 = Vec::new();
            let mut p99 = Vec::new();
            let (mut sent, mut errors) = (0, 0);
            for r in 0..peers.repeats {
                let (Some(direct), Some(p)) = (points.get(&(0, c, r)), points.get(&(t, c, r)))
                else {
                    continue;
                };
                sent += p.latencies.sent;
                errors += p.latencies.errors;
                let (d50, d99) = if t == 0 {
                    (0.0, 0.0)
                } else {
                    (
                        direct.latencies.quantile(0.5),
                        direct.latencies.quantile(0.99),
                    )
                };
                p50.push(p.latencies.quantile(0.5) - d50);
                p99.push(p.latencies.quantile(0.99) - d99);
            }
            let name = if t == 0 {
                "direct"
            } else {
                gateways[t - 1].name
            };
            println!(
                "  {name:<15} {c:>4} {sent:>8} {errors:>7} {:>28} {:>28}",
                spread(&p50),
                spread(&p99)
            );
        }
    }
    let names: Vec<&str> = gateways.iter().map(|g| g.name).collect();
    own_time::print(&points, &names, &CONCURRENCY, peers.repeats);
}

/// 200 concurrent streaming clients, each sending one request after another, for `secs`.
async fn soak(client: &reqwest::Client, url: &str, pid: u32, secs: u64) {
    let (rss0, _) = memory_mib(pid);
    let (threads0, fds0) = threads_and_fds(pid);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut clients = Vec::new();
    for _ in 0..200 {
        let client = client.clone();
        let url = url.to_string();
        clients.push(tokio::spawn(async move {
            let (mut ok, mut bad) = (0u64, 0u64);
            while Instant::now() < end {
                let good = match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(STREAM_REQUEST)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => r
                        .text()
                        .await
                        .map(|t| t.contains("[DONE]"))
                        .unwrap_or(false),
                    _ => false,
                };
                if good {
                    ok += 1;
                } else {
                    bad += 1;
                }
            }
            (ok, bad)
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs / 2)).await;
    let mid = memory_mib(pid).0;
    let (mut ok, mut bad) = (0, 0);
    for c in clients {
        let (o, b) = c.await.unwrap();
        ok += o;
        bad += b;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss1, hwm) = memory_mib(pid);
    let (threads1, fds1) = threads_and_fds(pid);
    println!(
        "soak: 200 streaming clients for {secs} s: {ok} streams completed, {bad} failed or non-2xx; RSS start {rss0:.1} MiB, middle {:.1} MiB, end {rss1:.1} MiB (peak {hwm:.1}); threads {threads0} -> {threads1}; open files {fds0} -> {fds1}",
        mid
    );
}
