//! The peer comparison of bench_gateway: the real `understudy serve` binary and the LiteLLM
//! proxy (PyPI `litellm[proxy]`), each its own process in front of the same in-process mock
//! upstream, under the same open-loop load from this process. Prints latency and added latency at
//! fixed rates, the highest rate each sustains with < 1% errors, and resident memory; `--soak`
//! holds 200 concurrent streaming clients on understudy and reports errors, RSS, threads and open
//! files at the start and the end. `--gateway-cpus LIST` starts each gateway under
//! `taskset -c LIST`, so that (with the bench itself started under `taskset` on other CPUs) the
//! gateway's latency is not the load generator's scheduling noise.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{load, REQUEST};

const STREAM_REQUEST: &str = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"What is 2+2?"}],"max_tokens":8}"#;

pub struct Peers {
    understudy: String,
    litellm: Option<String>,
    soak: Option<u64>,
    gateway_cpus: Option<String>,
}

fn flag(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

impl Peers {
    pub fn from_args() -> Option<Self> {
        Some(Self {
            understudy: flag("--understudy")?,
            litellm: flag("--litellm"),
            soak: flag("--soak").and_then(|s| s.parse().ok()),
            gateway_cpus: flag("--gateway-cpus"),
        })
    }
}

/// `bin`, or `taskset -c CPUS bin` (taskset execs it: the child's pid is the gateway's).
fn command(bin: &str, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpus, bin]);
            c
        }
        None => Command::new(bin),
    }
}

/// The CPUs this process may run on, as /proc says.
fn own_cpus() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// (VmRSS, VmHWM) in MiB of `pid` and its children, from /proc.
fn memory_mib(pid: u32) -> (f64, f64) {
    let mut pids = vec![pid];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let after = stat.rsplit(')').next().unwrap_or("");
            let ppid: u32 = after
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            if ppid == pid {
                if let Some(child) = e.file_name().to_str().and_then(|s| s.parse().ok()) {
                    pids.push(child);
                }
            }
        }
    }
    let mut rss = 0.0;
    let mut hwm = 0.0;
    for p in pids {
        let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        rss += kb("VmRSS:") / 1024.0;
        hwm += kb("VmHWM:") / 1024.0;
    }
    (rss, hwm)
}

fn threads_and_fds(pid: u32) -> (usize, usize) {
    let count = |dir: String| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    (
        count(format!("/proc/{pid}/task")),
        count(format!("/proc/{pid}/fd")),
    )
}

async fn wait_ready(client: &reqwest::Client, url: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ok = client
            .post(url)
            .header("content-type", "application/json")
            .body(REQUEST)
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "{name} did not become ready");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn start_understudy(
    bin: &str,
    cpus: Option<&str>,
    upstream_base: &str,
    dir: &std::path::Path,
) -> (Child, String) {
    let port = free_port();
    let config = dir.join("understudy.toml");
    // Room for the soak's 200 concurrent clients (the default queue of 64 answers the rest 429).
    std::fs::write(
        &config,
        "[serve]\nmax_queue = 1024\n\n[profiles.m]\nmodel = \"openai/m\"\n",
    )
    .unwrap();
    let child = command(bin, cpus)
        .args([
            "--config",
            config.to_str().unwrap(),
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--db",
            dir.join("u.db").to_str().unwrap(),
        ])
        .env("OPENAI_BASE_URL", upstream_base)
        .env("UNDERSTUDY_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (
        child,
        format!("http://127.0.0.1:{port}/v1/chat/completions"),
    )
}

fn start_litellm(
    bin: &str,
    cpus: Option<&str>,
    upstream_base: &str,
    dir: &std::path::Path,
) -> (Child, String) {
    let port = free_port();
    let config = dir.join("litellm.yaml");
    std::fs::write(
        &config,
        format!("model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/m\n      api_base: {upstream_base}\n      api_key: sk-none\nlitellm_settings:\n  telemetry: false\n"),
    )
    .unwrap();
    let child = command(bin, cpus)
        .args([
            "--config",
            config.to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--num_workers",
            "1",
        ])
        .env("LITELLM_LOG", "ERROR")
        .env("LITELLM_TELEMETRY", "False")
        // Both gateways run without client keys on loopback (LiteLLM refuses to by default).
        .env(
            "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY",
            "true",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (
        child,
        format!("http://127.0.0.1:{port}/v1/chat/completions"),
    )
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

pub async fn run(peers: Peers, upstream: &str, secs: u64) {
    let base = upstream.trim_end_matches("/chat/completions").to_string();
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .unwrap();
    let cpus = peers.gateway_cpus.as_deref();
    let (mut us, us_url) = start_understudy(&peers.understudy, cpus, &base, dir.path());
    wait_ready(&client, &us_url, "understudy serve").await;
    let mut targets = vec![("understudy", us_url.clone(), us.id())];
    let mut lite = None;
    if let Some(bin) = &peers.litellm {
        let (child, url) = start_litellm(bin, cpus, &base, dir.path());
        wait_ready(&client, &url, "litellm").await;
        targets.push(("litellm", url, child.id()));
        lite = Some(child);
    }
    for (_, url, _) in &targets {
        load(&client, url, 50, 2).await;
    }
    // The search runs first: a gateway still backlogged from an overload point would fail it.
    for (name, url, pid) in &targets {
        let best = highest_rate(&client, url).await;
        let (rss, hwm) = memory_mib(*pid);
        println!("{name}: highest rate with < 1% errors and p99 < 1 s: {best} req/s (searched first); memory now {rss:.1} MiB, peak {hwm:.1} MiB");
    }
    let placement = match cpus {
        Some(g) => format!(
            "mock upstream and load generator on CPUs {}, each gateway on CPUs {g}",
            own_cpus()
        ),
        None => format!(
            "mock upstream, load generator and both gateways sharing CPUs {}",
            own_cpus()
        ),
    };
    println!("bench_gateway peers: open loop, {secs} s per point; {placement}");
    println!(
        "{:>7} {:<11} {:>11} {:>11} {:>11} {:>11} {:>9}",
        "req/s", "target", "p50 ms", "p99 ms", "added p50", "added p99", "errors"
    );
    for rate in [100u64, 500, 2000] {
        let direct = load(&client, upstream, rate, secs).await;
        println!(
            "{rate:>7} {:<11} {:>11.3} {:>11.3} {:>11} {:>11} {:>4}/{:<4}",
            "direct", direct.p50_ms, direct.p99_ms, "", "", direct.errors, direct.sent
        );
        for (name, url, _) in &targets {
            let via = load(&client, url, rate, secs).await;
            println!(
                "{rate:>7} {:<11} {:>11.3} {:>11.3} {:>11.3} {:>11.3} {:>4}/{:<4}",
                name,
                via.p50_ms,
                via.p99_ms,
                via.p50_ms - direct.p50_ms,
                via.p99_ms - direct.p99_ms,
                via.errors,
                via.sent
            );
        }
    }
    if let Some(secs) = peers.soak {
        soak(&client, &us_url, us.id(), secs).await;
    }
    let _ = us.kill();
    let _ = us.wait();
    if let Some(mut c) = lite {
        let _ = c.kill();
        let _ = c.wait();
    }
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
