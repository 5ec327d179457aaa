//! The load over a set of stored cells (a row, a run): how many were measured on this machine,
//! how many under load, and whether two sets' latencies can be compared. Made of the stored
//! [`Conditions`] alone, so the read side needs nothing of the runner.

use serde::Serialize;

use crate::conditions::{busy_threshold, Conditions};

/// Share of a row's measured cells taken under load from which its latency is flagged.
pub const FLAG_SHARE: f64 = 0.10;

/// The load over a set of cells (a row, a run): how many were measured, how many under load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LoadSummary {
    /// Cells with recorded conditions whose model ran on this machine (cached cells have none).
    pub measured: usize,
    /// Of those, cells during which other processes kept the machine busy.
    pub busy: usize,
    /// Mean cores used by other processes over the measured cells.
    pub other_cores_mean: f64,
    /// The busy threshold in cores that applied.
    pub threshold: f64,
    /// The most cells of the run in flight at once while one of these started.
    pub most_in_flight: usize,
    /// The most requests a model's engine ran at once while one of these ran, when it said.
    pub most_batched: Option<u32>,
}

impl LoadSummary {
    pub fn of<'a>(conditions: impl IntoIterator<Item = &'a Conditions>) -> Self {
        let all: Vec<&Conditions> = conditions.into_iter().collect();
        let most_in_flight = all.iter().map(|c| c.in_flight).max().unwrap_or(0);
        let most_batched = all.iter().filter_map(|c| c.batched).max();
        let local: Vec<&Conditions> = all.into_iter().filter(|c| c.local).collect();
        if local.is_empty() {
            return Self {
                most_in_flight,
                most_batched,
                ..Self::default()
            };
        }
        Self {
            most_in_flight,
            most_batched,
            measured: local.len(),
            busy: local.iter().filter(|c| c.busy()).count(),
            other_cores_mean: local.iter().map(|c| c.other_cores).sum::<f64>() / local.len() as f64,
            threshold: busy_threshold(local[0].cores),
        }
    }

    /// Share of measured cells taken under load (0 when nothing was measured).
    pub fn busy_share(&self) -> f64 {
        if self.measured == 0 {
            0.0
        } else {
            self.busy as f64 / self.measured as f64
        }
    }

    /// Enough cells were measured under load that the latency figures are suspect.
    pub fn flagged(&self) -> bool {
        self.busy_share() >= FLAG_SHARE
    }

    /// How many cells ran at once, for the line on how latency was measured.
    pub fn concurrency(&self) -> String {
        let batched = match self.most_batched {
            Some(n) if n > 1 => {
                format!(" (the model's engine ran up to {n} requests in shared batches)")
            }
            _ => String::new(),
        };
        match self.most_in_flight {
            0 => "no cell's concurrency was recorded".into(),
            1 => "cells ran one at a time".into(),
            n => format!(
                "up to {n} cells ran at once{batched}: a cell's latency includes sharing the model and the CPU with the others, and throughput is higher than one-at-a-time latency suggests; `--concurrency 1` measures one at a time"
            ),
        }
    }

    /// "other processes used ≥ 0.5 cores during 8 of 20 measured cells (40%; mean 0.9 cores)".
    pub fn describe(&self) -> String {
        if self.measured == 0 {
            return "no cells measured on this machine in this run (cached or remote)".into();
        }
        format!(
            "other processes used ≥ {:.1} cores during {} of {} measured cells ({:.0}%; mean {:.1} cores)",
            self.threshold,
            self.busy,
            self.measured,
            self.busy_share() * 100.0,
            self.other_cores_mean
        )
    }
}

/// Whether latencies of two sets of cells can be compared: `Err` with the reason when either
/// was mostly measured under load or their shares under load differ by `FLAG_SHARE` or more.
pub fn comparable(a: &LoadSummary, b: &LoadSummary) -> Result<(), String> {
    let (sa, sb) = (a.busy_share(), b.busy_share());
    if (sa - sb).abs() >= FLAG_SHARE || sa.max(sb) >= 0.5 {
        Err(format!(
            "unreliable: measured under load ({:.0}% vs {:.0}% of cells with other processes using ≥ {:.1} cores)",
            sa * 100.0,
            sb * 100.0,
            a.threshold.max(b.threshold)
        ))
    } else {
        Ok(())
    }
}
