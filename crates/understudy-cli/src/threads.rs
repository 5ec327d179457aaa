//! The default number of inference threads: the physical cores (llama.cpp's own guidance:
//! hyper-threads do not help a memory-bound decode) less the cores other processes keep busy right
//! now, at least one. llama.cpp's threads wait for each other at every step, so one thread more
//! than there are free cores stalls the whole pool: on a busy 2-core machine 2 threads decoded at
//! 0.3 tok/s where 1 thread gave the usual speed. `--threads` and `[defaults] threads` override it.

use std::collections::BTreeSet;
use std::time::Duration;

/// How long the CPU counters are sampled to see how busy the machine is.
const SAMPLE: Duration = Duration::from_millis(200);

/// Threads to use when neither the command line nor the config sets them.
pub fn default_threads() -> u32 {
    let logical = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let physical = physical_cores().unwrap_or(logical).min(logical);
    let busy = busy_cores(SAMPLE).unwrap_or(0.0);
    threads_for(physical, busy)
}

/// `physical` cores less the busy ones (rounded to the nearest core), at least one.
pub fn threads_for(physical: usize, busy_cores: f64) -> u32 {
    let busy = busy_cores.max(0.0).round() as usize;
    u32::try_from(physical.saturating_sub(busy).max(1)).unwrap_or(1)
}

/// Distinct (package, core) pairs in `/proc/cpuinfo`; `None` where the file says nothing.
fn physical_cores() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    count_physical_cores(&text)
}

fn count_physical_cores(cpuinfo: &str) -> Option<usize> {
    let mut cores = BTreeSet::new();
    let mut package = None;
    for line in cpuinfo.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "physical id" => package = Some(value.trim().to_string()),
            "core id" => {
                cores.insert((package.clone(), value.trim().to_string()));
            }
            _ => {}
        }
    }
    (!cores.is_empty()).then_some(cores.len())
}

/// Cores other processes keep busy over `window` (this process is idle while it samples);
/// `None` off Linux. The counters are read the way eval records each cell's conditions.
fn busy_cores(window: Duration) -> Option<f64> {
    use understudy_eval::conditions::CpuSnapshot;
    let before = CpuSnapshot::take()?;
    std::thread::sleep(window);
    let after = CpuSnapshot::take()?;
    Some(before.until(&after, 0, None, true).other_cores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_cores_are_left_alone_and_one_thread_always_runs() {
        assert_eq!(threads_for(2, 0.1), 2);
        assert_eq!(threads_for(2, 0.9), 1);
        assert_eq!(threads_for(2, 2.0), 1);
        assert_eq!(threads_for(8, 3.2), 5);
        assert_eq!(threads_for(1, 0.0), 1);
    }

    #[test]
    fn hyper_threads_count_once() {
        let info = "processor: 0\nphysical id: 0\ncore id: 0\n\nprocessor: 1\nphysical id: 0\ncore id: 0\n\nprocessor: 2\nphysical id: 0\ncore id: 1\n\nprocessor: 3\nphysical id: 1\ncore id: 0\n";
        assert_eq!(count_physical_cores(info), Some(3));
        assert_eq!(count_physical_cores("processor: 0\n"), None);
    }
}
