//! Starting the gateways under test as their own processes, each in front of the same mock
//! upstream with one model `m`, without client keys, and waiting until each answers.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::REQUEST;

/// A gateway process and the chat URL it answers on.
pub struct Gateway {
    pub name: &'static str,
    pub child: Child,
    pub url: String,
}

impl Gateway {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The gateway's `/metrics` URL (understudy's).
    pub fn metrics_url(&self) -> String {
        self.url.replace("/v1/chat/completions", "/metrics")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn wait_ready(client: &reqwest::Client, url: &str, name: &str) {
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

/// The mock upstream as a process of its own (this binary with `--mock-only`), as a real
/// upstream is: the direct path then pays the upstream's own wake-ups, as the gateway's does,
/// instead of a client and a mock that share one runtime and never sleep between them.
pub fn start_mock_process(cpus: Option<&str>) -> Gateway {
    let port = free_port();
    let exe = std::env::current_exe().unwrap();
    let child = command(exe.to_str().unwrap(), cpus)
        .args(["--mock-only", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Gateway {
        name: "mock",
        child,
        url: format!("http://127.0.0.1:{port}/v1/chat/completions"),
    }
}

/// How an `understudy serve` under test is set up.
#[derive(Clone)]
pub enum Understudy {
    /// As it ships: the request log on (every row committed before the client sees the end of
    /// the answer), one worker per CPU.
    Default,
    /// `--workers 1`.
    OneWorker,
    /// `[serve] request_log = false` (as litellm-rs-bare has no ledger).
    NoLog,
    /// As shipped, with every request of profile `m` captured (all built-in redaction rules).
    Capture,
    /// As shipped, with every request of profile `m` shadowed by the same upstream (`shadow =
    /// { model = "openai/m", rate = 1.0 }`): the client's latency with a background candidate.
    Shadow,
    /// The request log (and every other store) in the PostgreSQL database at this URL.
    Postgres(String),
}

/// `understudy serve` with a profile `m` → `openai/m`, set up as `variant` says.
pub fn start_understudy(
    bin: &str,
    cpus: Option<&str>,
    upstream_base: &str,
    dir: &Path,
    variant: Understudy,
) -> Gateway {
    let port = free_port();
    let (name, log, workers) = match &variant {
        Understudy::Default => ("understudy", true, None),
        Understudy::OneWorker => ("understudy-1w", true, Some(1)),
        Understudy::NoLog => ("understudy-nolog", false, None),
        Understudy::Capture => ("understudy-capture", true, None),
        Understudy::Shadow => ("understudy-shadow", true, None),
        Understudy::Postgres(_) => ("understudy-pg", true, None),
    };
    let capture = match &variant {
        Understudy::Capture => "capture = { rate = 1.0 }\n",
        Understudy::Shadow => "shadow = { model = \"openai/m\", rate = 1.0 }\n",
        _ => "",
    };
    let db = match variant {
        Understudy::Postgres(url) => url,
        _ => dir
            .join(format!("{name}.db"))
            .to_string_lossy()
            .into_owned(),
    };
    let config = dir.join(format!("{name}.toml"));
    // Room for the soak's 200 concurrent clients (the default queue of 64 answers the rest 429).
    std::fs::write(
        &config,
        format!("[serve]\nmax_queue = 1024\nrequest_log = {log}\n\n[profiles.m]\nmodel = \"openai/m\"\n{capture}"),
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
            &db,
        ])
        .args(workers.map(|n: u16| format!("--workers={n}")))
        .env("OPENAI_BASE_URL", upstream_base)
        .env("UNDERSTUDY_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Gateway {
        name,
        child,
        url: format!("http://127.0.0.1:{port}/v1/chat/completions"),
    }
}

pub fn start_litellm(bin: &str, cpus: Option<&str>, upstream_base: &str, dir: &Path) -> Gateway {
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
    Gateway {
        name: "litellm",
        child,
        url: format!("http://127.0.0.1:{port}/v1/chat/completions"),
    }
}

/// litellm-rs (crates.io `litellm-rs`, its `gateway` binary): one OpenAI-compatible provider for
/// model `m` at the mock, loopback allowed, no auth, no retries; like understudy's, its request
/// log (the request ledger, in a SQLite file) and its Prometheus metrics are on. Caching, rate
/// limits, Redis and tracing are off; its other defaults (prompt-injection guardrails, one worker
/// per CPU) are left as they ship.
/// `bare`: the ledger and metrics off too (its fastest configuration).
pub fn start_litellm_rs(
    bin: &str,
    cpus: Option<&str>,
    upstream_base: &str,
    dir: &Path,
    bare: bool,
) -> Gateway {
    let port = free_port();
    let tag = if bare { "bare" } else { "full" };
    let config = dir.join(format!("litellm-rs-{tag}.yaml"));
    let ledger = dir.join(format!("litellm-rs-{tag}.db"));
    let mut yaml = litellm_rs_config(upstream_base, port, &ledger);
    if bare {
        yaml = yaml.replace("enabled: true", "enabled: false");
    }
    std::fs::write(&config, yaml).unwrap();
    let child = command(bin, cpus)
        .args([
            "--config",
            config.to_str().unwrap(),
            "--log-level",
            "error",
            "serve",
        ])
        .current_dir(dir)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join(format!("litellm-rs-{tag}.log"))).unwrap(),
        ))
        .spawn()
        .unwrap();
    Gateway {
        name: if bare {
            "litellm-rs-bare"
        } else {
            "litellm-rs"
        },
        child,
        url: format!("http://127.0.0.1:{port}/v1/chat/completions"),
    }
}

fn litellm_rs_config(upstream_base: &str, port: u16, ledger: &Path) -> String {
    let ledger = ledger.display();
    format!(
        r#"schema_version: "1.0"
server:
  host: "127.0.0.1"
  port: {port}
  max_connections: 4096
  dev_mode: false
providers:
  - name: "mock"
    provider_type: "openai_like"
    api_key: "sk-none"
    base_url: "{upstream_base}"
    endpoint_access: "private_network"
    rpm: 100000000
    tpm: 1000000000
    max_concurrent_requests: 4096
    timeout: 30
    max_retries: 0
    models: ["m"]
router:
  strategy: "round_robin"
  load_balancer:
    health_check_enabled: false
storage:
  database:
    url: "sqlite://{ledger}?mode=rwc"
    enabled: true
    auto_migrate: true
  request_ledger:
    enabled: true
    write_failure: continue
  redis:
    url: "redis://127.0.0.1:1"
    enabled: false
auth:
  enable_jwt: false
  enable_api_key: false
  allow_anonymous: true
  jwt_secret: ""
monitoring:
  metrics:
    enabled: true
  tracing:
    enabled: false
cache:
  enabled: false
pricing:
  source: "embedded://model_prices_extended"
  unpriced_model_policy: allow_unpriced
  unpriced_fallback_cost_per_1k_tokens: 0.0
rate_limit:
  enabled: false
"#
    )
}
