//! The `[serve]` table: where to listen, API keys (inline, from environment variables or a file),
//! the body limit, and whether an unauthenticated gateway may listen beyond localhost.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ServeError;

/// Where the gateway listens when nothing else is said.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    pub listen: Option<String>,
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Environment variables holding keys (one key each).
    #[serde(default)]
    pub api_keys_env: Vec<String>,
    /// A file with one key per line.
    pub api_keys_file: Option<PathBuf>,
    pub body_limit_bytes: Option<usize>,
    /// The SQLite store that keeps the request log (default: ./understudy.db, as eval uses).
    pub log_db: Option<PathBuf>,
    /// Keep a request log at all (default true).
    pub request_log: Option<bool>,
    /// Requests per model answered or queued at once; more get 429 (default 64).
    pub max_queue: Option<usize>,
    /// Allow listening on a non-loopback address without API keys.
    #[serde(default, alias = "insecure_no_auth")]
    pub allow_public: bool,
    /// Seconds in-flight requests may run after SIGTERM/Ctrl-C (default 30).
    pub drain_secs: Option<u64>,
    /// Extra attempts per model on retryable errors (default 2).
    pub retries: Option<u32>,
    /// First retry delay in ms, doubling each time (default 100).
    pub backoff_ms: Option<u64>,
    /// Longest upstream `Retry-After` honoured by waiting, in ms (default 5000); beyond it the
    /// next fallback model is tried or the client gets the 429 with the upstream's Retry-After.
    pub max_retry_wait_ms: Option<u64>,
    /// Longest wait for a model's first token before falling back (default: none).
    pub first_byte_timeout_ms: Option<u64>,
    /// Ordered fallback models per model name: `fallback = { big = ["medium", "small"] }`.
    #[serde(default)]
    pub fallback: std::collections::BTreeMap<String, Vec<String>>,
    /// Served names that split traffic between profiles: `[serve.canary.NAME] arms = {…}`.
    #[serde(default)]
    pub canary: std::collections::BTreeMap<String, crate::canary::RawCanary>,
    /// Consecutive failures that open a model's circuit (default 5).
    pub breaker_failures: Option<u32>,
    /// Seconds an open circuit refuses calls (default 30).
    pub breaker_cooldown_secs: Option<u64>,
    /// Also serve `understudy view` (the web UI over the store) under `/ui`, behind the same
    /// API keys (default false).
    #[serde(default)]
    pub ui: bool,
    /// Host names answered besides loopback ones when no API keys are configured (a guard
    /// against DNS rebinding; `["*"]` answers any). With keys every Host is answered.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Remove request-log rows logged before the UTC day this many days back (at start-up and
    /// hourly; default: keep all).
    pub log_retention_days: Option<u32>,
    /// Keep at most this many request-log rows, the newest (at start-up and hourly).
    pub log_max_rows: Option<u64>,
    /// Clear captured requests and answers (profiles' `capture`) logged before the UTC day
    /// this many days back; their rows stay (at start-up and hourly; default: keep them).
    pub capture_retention_days: Option<u32>,
    /// Shadow jobs (profiles' `shadow`) that may wait for the candidate (default 64); more are
    /// dropped and counted, never waited for.
    pub shadow_queue: Option<usize>,
    /// Seconds a client may take to send a request head (default 30); then the connection
    /// is closed.
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a request body may pause between chunks (default 60); then 408.
    pub body_read_timeout_secs: Option<u64>,
    /// Connections open at once (default 1000); one more gets 503 with Retry-After.
    pub max_connections: Option<usize>,
}

impl ServeSection {
    /// Parses the `[serve]` table that came from `source`; an error names the file, the line (read
    /// again from the file, since the table no longer knows its positions) and the key.
    pub fn parse(table: toml::Table, source: &Path) -> Result<Self, ServeError> {
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            ServeError::Config(understudy_core::toml_error::describe(
                source,
                "serve",
                &e.path().to_string(),
                e.inner().message(),
            ))
        })
    }

    /// Every configured key; an unset variable or unreadable file is an error naming it.
    pub fn keys(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, ServeError> {
        let mut keys = self.api_keys.clone();
        for var in &self.api_keys_env {
            keys.push(env(var).filter(|k| !k.is_empty()).ok_or_else(|| {
                ServeError::Config(format!("serve.api_keys_env: {var} is not set"))
            })?);
        }
        if let Some(file) = &self.api_keys_file {
            let text = std::fs::read_to_string(file).map_err(|e| {
                ServeError::Config(format!("serve.api_keys_file {}: {e}", file.display()))
            })?;
            keys.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string),
            );
        }
        Ok(keys)
    }
}

impl ServeSection {
    /// What the request log keeps.
    pub fn retention(&self) -> crate::retention::Retention {
        crate::retention::Retention {
            days: self.log_retention_days,
            rows: self.log_max_rows,
            capture_days: self.capture_retention_days,
        }
    }

    /// How long a body may pause between chunks, and the per-connection limits.
    pub fn slow_client_limits(&self) -> (std::time::Duration, crate::accept_loop::ConnLimits) {
        let d = crate::accept_loop::ConnLimits::default();
        let secs = std::time::Duration::from_secs;
        (
            self.body_read_timeout_secs
                .map(secs)
                .unwrap_or(crate::DEFAULT_BODY_IDLE),
            crate::accept_loop::ConnLimits {
                header_read_timeout: self
                    .header_read_timeout_secs
                    .map(secs)
                    .unwrap_or(d.header_read_timeout),
                max_connections: self.max_connections.unwrap_or(d.max_connections),
            },
        )
    }

    /// The failure-handling policy this section describes.
    pub fn policy(&self) -> crate::resilience::Policy {
        let d = crate::resilience::Policy::default();
        crate::resilience::Policy {
            retries: self.retries.unwrap_or(d.retries),
            backoff: self
                .backoff_ms
                .map(std::time::Duration::from_millis)
                .unwrap_or(d.backoff),
            max_retry_wait: self
                .max_retry_wait_ms
                .map(std::time::Duration::from_millis)
                .unwrap_or(d.max_retry_wait),
            first_byte_deadline: self
                .first_byte_timeout_ms
                .map(std::time::Duration::from_millis),
            fallback: self.fallback.clone(),
            breaker_failures: self.breaker_failures.unwrap_or(d.breaker_failures).max(1),
            breaker_cooldown: self
                .breaker_cooldown_secs
                .map(std::time::Duration::from_secs)
                .unwrap_or(d.breaker_cooldown),
        }
    }
}

/// `host:port` with an IP address or a host name (`localhost:8080`); a name resolving to several
/// addresses listens on the first (IPv4 first, as most clients try it first).
pub fn resolve_listen(text: &str) -> Result<SocketAddr, ServeError> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bad = |why: String| {
        ServeError::Config(format!(
            "listen address {text:?}: {why} (expected host:port, e.g. 127.0.0.1:8080 or localhost:8080)"
        ))
    };
    if !text.contains(':') {
        return Err(bad("no port".into()));
    }
    let mut addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .collect();
    addrs.sort_by_key(|a| !a.is_ipv4());
    addrs
        .into_iter()
        .next()
        .ok_or_else(|| bad("the name resolves to no address".into()))
}

/// Parses the listen address and refuses an open, unauthenticated public gateway.
pub fn listen_addr(
    text: &str,
    has_keys: bool,
    allow_public: bool,
) -> Result<SocketAddr, ServeError> {
    let addr = resolve_listen(text)?;
    if !addr.ip().is_loopback() && !has_keys && !allow_public {
        return Err(ServeError::Config(format!(
            "refusing to listen on {addr} without API keys: configure [serve] api_keys / api_keys_env / api_keys_file, or pass --insecure-no-auth to accept unauthenticated requests from the network"
        )));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_under_serve_names_file_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("understudy.toml");
        let text = "[defaults]\nmodel = \"x\"\n\n[serve]\nlisten = \"127.0.0.1:9\"\nmax_queu = 3\n";
        std::fs::write(&path, text).unwrap();
        let table: toml::Table = toml::from_str(text).unwrap();
        let serve = table["serve"].as_table().unwrap().clone();
        let err = ServeSection::parse(serve, &path).unwrap_err().to_string();
        assert!(
            err.contains("understudy.toml:6: key `serve.max_queu`"),
            "{err}"
        );
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn host_names_listen_and_loopback_names_stay_local() {
        let addr = listen_addr("localhost:8080", false, false).unwrap();
        assert!(addr.ip().is_loopback());
        assert_eq!(addr.port(), 8080);
        assert!(listen_addr("127.0.0.1:0", false, false).is_ok());
        assert!(listen_addr("0.0.0.0:8080", false, false).is_err());
        assert!(listen_addr("0.0.0.0:8080", true, false).is_ok());
        let err = listen_addr("localhost", false, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no port"), "{err}");
    }
}
