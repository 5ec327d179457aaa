//! The machine's state while a cell was measured, as the store keeps it (eval's `conditions`
//! module measures it).

use serde::{Deserialize, Serialize};

/// Other processes using at least this many cores on average — or a quarter of the machine,
/// whichever is more — make a cell's latency "measured under load": on a 2-core machine half a
/// core taken by another process already slows a 2-thread llama.cpp decode severalfold.
pub const BUSY_CORES_MIN: f64 = 0.5;
pub const BUSY_SHARE_OF_MACHINE: f64 = 0.25;

/// What was going on while one cell was measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Conditions {
    /// Cores kept busy by other processes, averaged over the cell.
    pub other_cores: f64,
    /// Logical cores of the machine.
    pub cores: usize,
    /// 1-minute load average at the cell's end.
    pub load1: f64,
    /// Requests of this run in flight when the cell started (this one included).
    pub in_flight: usize,
    /// Inference threads, for models run in this process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// The model runs on this machine, so other processes compete with it for the CPU.
    pub local: bool,
    /// The most requests the model's engine ran at once while this cell's ran (the embedded
    /// engine's parallel sequences); absent when the backend does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batched: Option<u32>,
}

impl Conditions {
    /// Other processes used enough CPU to distort this cell's latency.
    pub fn busy(&self) -> bool {
        self.local && self.other_cores >= busy_threshold(self.cores)
    }
}

/// The busy threshold in cores for a machine with `cores` logical cores.
pub fn busy_threshold(cores: usize) -> f64 {
    (cores as f64 * BUSY_SHARE_OF_MACHINE).max(BUSY_CORES_MIN)
}
