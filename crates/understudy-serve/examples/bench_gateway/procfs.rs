//! What /proc says about the bench's processes: allowed CPUs, resident memory (with children),
//! threads and open files.

/// The CPUs this process may run on, as /proc says.
pub fn own_cpus() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// (VmRSS, VmHWM) in MiB of `pid` and its children, from /proc.
pub fn memory_mib(pid: u32) -> (f64, f64) {
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

pub fn threads_and_fds(pid: u32) -> (usize, usize) {
    let count = |dir: String| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    (
        count(format!("/proc/{pid}/task")),
        count(format!("/proc/{pid}/fd")),
    )
}
