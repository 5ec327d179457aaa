//! The machine's state while a cell is measured: how many cores other processes kept busy
//! (all CPU time on the machine less this process's own, over the cell's wall time), the load
//! average, and the requests in flight. Read from `/proc`; elsewhere nothing is recorded and
//! nothing is flagged. Whether a figure counts as "busy" is decided here, once.

use std::time::Instant;

pub use understudy_store::conditions::{
    busy_threshold, Conditions, BUSY_CORES_MIN, BUSY_SHARE_OF_MACHINE,
};
pub use understudy_store::load_summary::{comparable, LoadSummary, FLAG_SHARE};

/// CPU counters at one moment.
#[derive(Debug, Clone, Copy)]
pub struct CpuSnapshot {
    at: Instant,
    /// Busy jiffies of the whole machine (everything but idle and iowait).
    machine_busy: u64,
    /// This process's user + system jiffies (all its threads).
    own: u64,
}

/// Clock ticks per second of `/proc` counters (USER_HZ, 100 on every Linux that matters).
const TICKS_PER_SECOND: f64 = 100.0;

impl CpuSnapshot {
    /// Now, or `None` off Linux.
    pub fn take() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let machine_busy = machine_busy(stat.lines().next()?)?;
        let own = own_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
        Some(Self {
            at: Instant::now(),
            machine_busy,
            own,
        })
    }

    /// The conditions between this snapshot and `later`.
    pub fn until(
        &self,
        later: &CpuSnapshot,
        in_flight: usize,
        threads: Option<u32>,
        local: bool,
    ) -> Conditions {
        let wall = later.at.duration_since(self.at).as_secs_f64().max(1e-3);
        let machine = later.machine_busy.saturating_sub(self.machine_busy) as f64;
        let own = later.own.saturating_sub(self.own) as f64;
        let other = ((machine - own).max(0.0) / TICKS_PER_SECOND) / wall;
        Conditions {
            other_cores: (other * 100.0).round() / 100.0,
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            load1: load_average().unwrap_or(0.0),
            in_flight,
            threads,
            local,
            batched: None,
        }
    }
}

/// Cores other processes keep busy now, sampled over `window` (for `--quiet-machine`).
pub async fn other_cores_now(window: std::time::Duration) -> Option<f64> {
    let before = CpuSnapshot::take()?;
    tokio::time::sleep(window).await;
    let after = CpuSnapshot::take()?;
    Some(before.until(&after, 0, None, true).other_cores)
}

fn machine_busy(cpu_line: &str) -> Option<u64> {
    let mut fields = cpu_line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let values: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
    if values.len() < 5 {
        return None;
    }
    // user nice system idle iowait irq softirq steal; guest time is already inside user.
    let total: u64 = values.iter().take(8).sum();
    Some(total - values[3] - values[4])
}

/// utime + stime of `/proc/self/stat` (fields 14 and 15; the command name may hold spaces).
fn own_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state): utime is field 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_ticks_survive_spaces_in_the_name() {
        let stat = "4242 (my prog) S 1 2 3 4 5 6 7 8 9 10 111 222 0 0 20 0 1";
        assert_eq!(own_ticks(stat), Some(333));
    }

    #[test]
    fn machine_busy_leaves_out_idle_and_iowait() {
        assert_eq!(machine_busy("cpu  10 1 5 80 4 0 0 0 0 0"), Some(16));
        assert_eq!(machine_busy("cpu0 1 2 3 4 5"), None);
    }

    #[test]
    fn busy_is_half_a_core_or_a_quarter_of_the_machine() {
        let at = |other_cores, cores, local| Conditions {
            other_cores,
            cores,
            load1: 0.0,
            in_flight: 1,
            threads: None,
            local,
            batched: None,
        };
        assert!(!at(0.4, 2, true).busy());
        assert!(at(0.6, 2, true).busy());
        assert!(!at(1.5, 8, true).busy());
        assert!(at(2.0, 8, true).busy());
        assert!(
            !at(2.0, 2, false).busy(),
            "a remote model does not compete for this CPU"
        );
    }

    #[test]
    fn rows_under_different_load_are_not_compared() {
        let cell = |other_cores| Conditions {
            other_cores,
            cores: 2,
            load1: 0.0,
            in_flight: 1,
            threads: Some(2),
            local: true,
            batched: None,
        };
        let quiet = LoadSummary::of(&vec![cell(0.0); 10]);
        let mut mixed: Vec<Conditions> = vec![cell(0.0); 6];
        mixed.extend(vec![cell(1.5); 4]);
        let mixed = LoadSummary::of(&mixed);
        assert!(!quiet.flagged());
        assert!(mixed.flagged());
        assert_eq!(mixed.busy, 4);
        assert!(comparable(&quiet, &quiet).is_ok());
        let err = comparable(&quiet, &mixed).unwrap_err();
        assert!(
            err.starts_with("unreliable: measured under load (0% vs 40%"),
            "{err}"
        );
        assert!(mixed.describe().contains("4 of 10 measured cells (40%"));
    }

    #[test]
    fn a_cpu_hog_in_another_process_is_seen_and_this_process_is_not() {
        let before = CpuSnapshot::take().unwrap();
        // Burn CPU in this process: it must not count as other work.
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed().as_millis() < 300 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = CpuSnapshot::take().unwrap();
        let quiet = before.until(&after, 1, None, true);
        // Counted as other work, the burn alone would be a whole core.
        assert!(quiet.other_cores < 0.9, "{quiet:?}");

        let mut hog = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let before = CpuSnapshot::take().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(600));
        let after = CpuSnapshot::take().unwrap();
        hog.kill().unwrap();
        hog.wait().unwrap();
        let loaded = before.until(&after, 1, None, true);
        assert!(loaded.other_cores > 0.6, "{loaded:?}");
    }
}
