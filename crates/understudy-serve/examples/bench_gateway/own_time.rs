//! The table that sets understudy's own-time metric (`/metrics`, over exactly each closed-loop
//! point's requests) beside the bench's added latency, with the gateway's view of the upstream
//! and the mock's own time through the gateway and direct.

use std::collections::BTreeMap;

use super::closed_loop::Latencies;
use super::scrape;

/// One closed-loop point of one target in one repeat.
pub struct Point {
    pub latencies: Latencies,
    /// understudy's own and upstream histograms over the point, when the target is understudy.
    pub own: Option<(scrape::Histogram, scrape::Histogram)>,
    /// The mock's own time over the point.
    pub mock: scrape::Histogram,
}

/// Prints one row per understudy point; `points` is keyed by (target, concurrency, repeat),
/// target 0 being the direct path and `names[t - 1]` the gateway t.
pub fn print(
    points: &BTreeMap<(usize, usize, usize), Point>,
    names: &[&str],
    concurrency: &[usize],
    repeats: usize,
) {
    println!("\nunderstudy's own time from /metrics (understudy_gateway_seconds, over exactly the point's requests) beside the bench's added latency;");
    println!("upstream: understudy_upstream_seconds, the gateway's own view of the wait for the mock, beside the direct mean;");
    println!("mock: the mock's own time (its socket's receive stamp to its answer written), through the gateway and direct:");
    println!(
        "  {:<14} {:>4} {:>6} {:>9} {:>12} {:>12} {:>12} {:>12} {:>14} {:>12} {:>12} {:>12}",
        "target",
        "conc",
        "repeat",
        "observed",
        "own mean",
        "added mean",
        "own p50",
        "added p50",
        "upstream mean",
        "direct mean",
        "mock mean",
        "mock direct"
    );
    for t in 1..=names.len() {
        for &c in concurrency {
            for r in 0..repeats {
                let (Some(direct), Some(p)) = (points.get(&(0, c, r)), points.get(&(t, c, r)))
                else {
                    continue;
                };
                let Some((own, up)) = &p.own else { continue };
                println!(
                    "  {:<14} {c:>4} {r:>6} {:>9} {:>9.3} ms {:>9.3} ms {:>9.3} ms {:>9.3} ms {:>11.3} ms {:>9.3} ms {:>9.3} ms {:>9.3} ms",
                    names[t - 1],
                    own.count(),
                    own.mean_ms(),
                    p.latencies.mean() - direct.latencies.mean(),
                    own.quantile_ms(0.5),
                    p.latencies.quantile(0.5) - direct.latencies.quantile(0.5),
                    up.mean_ms(),
                    direct.latencies.mean(),
                    p.mock.mean_ms(),
                    direct.mock.mean_ms(),
                );
            }
        }
    }
}
