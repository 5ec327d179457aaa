//! Sharing a run with other workers: each cell is claimed before it is answered, and the claims
//! of a live worker are renewed in the background, so that a worker that dies releases its
//! cells after one lease while a slow one keeps them.

use std::sync::Arc;
use std::time::Duration;

use understudy_store::RunStore;

/// How this process takes part in a run.
#[derive(Clone, Debug)]
pub struct Claims {
    /// This worker's name in the store (host, process and start time).
    pub worker: String,
    /// How long a claim outlives its worker's last renewal.
    pub lease: Duration,
}

impl Default for Claims {
    fn default() -> Self {
        Claims {
            worker: worker_name(),
            lease: Duration::from_secs(30),
        }
    }
}

/// This machine's name, as worker names carry it.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// A name no other worker has: host, process id and start time.
pub fn worker_name() -> String {
    let host = host();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{host}:{}:{started:x}", std::process::id())
}

/// Whether `worker` (a [`worker_name`]) ran on this host in a process that no longer exists:
/// its claims can be taken at once instead of after their lease (a killed local run, resumed).
fn died_here(worker: &str) -> bool {
    let mut parts = worker.rsplitn(3, ':');
    let (_started, pid, host) = (parts.next(), parts.next(), parts.next());
    let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    host == Some(self::host().as_str()) && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Releases the claims of workers that died on this host.
pub(super) async fn release_dead_local_workers(
    store: &dyn RunStore,
    run: i64,
) -> Result<(), understudy_store::StoreError> {
    for worker in store.claim_holders(run).await? {
        if died_here(&worker) {
            store.release_claims(run, &worker).await?;
        }
    }
    Ok(())
}

/// Renews this worker's claims every third of a lease until dropped.
pub(super) struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    pub fn start(store: Arc<dyn RunStore>, run: i64, claims: &Claims) -> Heartbeat {
        let (worker, lease) = (claims.worker.clone(), claims.lease);
        Heartbeat(tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                if let Err(e) = store.renew_claims(run, &worker, lease).await {
                    tracing::warn!("renewing this worker's claims: {e}");
                }
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}
