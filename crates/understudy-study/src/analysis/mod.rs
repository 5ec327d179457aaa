//! Turns a study's stored cells into its page: conclusions stated only as far as the statistics
//! allow, the tables behind them, and the charts (the report's own where they answer the
//! question, study-specific ones where they do not).

mod detail;
mod formats;
mod gap;
mod ladder;
mod power;
mod retention;
mod strategies;

use std::collections::HashMap;

use rand::{Rng, SeedableRng};

use super::StudyKind;
use understudy_report::report::aggregates::{self, params_billion, Extras};
use understudy_report::report::charts::{self, Chart};
use understudy_report::report::tables::Table;
use understudy_report::stats::{self, Estimate, BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED};
use understudy_report::summary::Summary;
use understudy_store::Cell;

pub use understudy_report::stats::ALPHA;

/// A study's page before it is written out.
pub struct StudyPage {
    pub kind: StudyKind,
    /// How many items a comparison of two rows needs, against what the rows have.
    pub power: Option<String>,
    pub conclusions: Vec<String>,
    pub tables: Vec<Table>,
    pub charts: Vec<Chart>,
}

/// Analyses the cells of a study run.
pub fn analyse(kind: StudyKind, summary: &Summary, cells: &[Cell]) -> StudyPage {
    let extras = aggregates::compute(summary, cells);
    let (conclusions, tables, charts) = match kind {
        StudyKind::SizeLadder => ladder::analyse(summary, cells, &extras),
        StudyKind::Strategies => strategies::analyse(summary, cells, &extras),
        StudyKind::FormatSensitivity => formats::analyse(summary, cells, &extras),
        StudyKind::SystemPromptRetention => retention::analyse(summary, cells),
        StudyKind::PromptDetail => detail::analyse(summary, cells),
        StudyKind::ReferenceGap => gap::analyse(summary, cells, &extras),
    };
    StudyPage {
        kind,
        power: power::line(cells, summary.samples),
        conclusions,
        tables,
        charts,
    }
}

/// The report's charts whose file names start with one of `prefixes`.
fn report_charts(summary: &Summary, extras: &Extras, prefixes: &[&str]) -> Vec<Chart> {
    charts::all(summary, extras)
        .drawn
        .into_iter()
        .filter(|c| prefixes.iter().any(|p| c.file.starts_with(p)))
        .collect()
}

/// Models in the order of their size (unknown sizes last, in run order).
fn models_by_size(summary: &Summary) -> Vec<String> {
    let mut models: Vec<String> = Vec::new();
    for r in &summary.rows {
        if !r.is_reference && !models.contains(&r.model) {
            models.push(r.model.clone());
        }
    }
    models.sort_by(|a, b| {
        let size = |m: &str| params_billion(m).unwrap_or(f64::INFINITY);
        size(a).total_cmp(&size(b))
    });
    models
}

/// `task/item` → score for the graded cells of one model, strategy and format (all tasks, or
/// one); a cell whose judging failed is left out, never counted as 0.
fn scores(
    cells: &[Cell],
    model: &str,
    strategy: &str,
    format: Option<&str>,
    task: Option<&str>,
) -> HashMap<String, f64> {
    cells
        .iter()
        .filter(|c| {
            c.model == model
                && c.strategy == strategy
                && format.is_none_or(|f| c.format == f)
                && task.is_none_or(|t| c.task == t)
                && !understudy_report::metrics::ungraded(c)
        })
        .map(|c| (format!("{}/{}/{}", c.task, c.format, c.item_id), c.score))
        .collect()
}

/// `task/format/item` → end-to-end latency (ms) for the freshly measured cells of one model and
/// strategy (a cached answer keeps an earlier run's time, so it never enters a latency verdict).
fn latencies(cells: &[Cell], model: &str, strategy: &str) -> HashMap<String, f64> {
    cells
        .iter()
        .filter(|c| c.model == model && c.strategy == strategy && !c.cached)
        .map(|c| (format!("{}/{}/{}", c.task, c.format, c.item_id), c.total_ms))
        .collect()
}

/// Paired vectors over the keys both maps have, in a stable order.
fn paired(a: &HashMap<String, f64>, b: &HashMap<String, f64>) -> (Vec<f64>, Vec<f64>) {
    let mut keys: Vec<&String> = a.keys().filter(|k| b.contains_key(*k)).collect();
    keys.sort();
    (
        keys.iter().map(|k| a[*k]).collect(),
        keys.iter().map(|k| b[*k]).collect(),
    )
}

/// "+4.0 pp [−2.0, +10.0], p = 0.210".
fn difference_text(c: &stats::Comparison) -> String {
    format!(
        "{:+.1} pp [{:+.1}, {:+.1}], {} ({}, n={})",
        c.difference.value * 100.0,
        c.difference.low * 100.0,
        c.difference.high * 100.0,
        c.p_text(),
        c.test,
        c.difference.n
    )
}

/// Whether a comparison shows a difference, in words.
fn verdict(c: &stats::Comparison) -> &'static str {
    if c.p_value < ALPHA {
        "significant"
    } else {
        "not significant at this sample size"
    }
}

/// Mean difference of two independent samples with a permutation p-value, and its interval:
/// Newcombe's MOVER on Clopper–Pearson limits for 0/1 scores (never zero width), a percentile
/// bootstrap for graded ones.
fn unpaired(a: &[f64], b: &[f64]) -> stats::Comparison {
    let mut rng = rand::rngs::StdRng::seed_from_u64(BOOTSTRAP_SEED);
    let observed = stats::mean(a) - stats::mean(b);
    let mut diffs = Vec::with_capacity(BOOTSTRAP_SAMPLES);
    let mut extreme = 0usize;
    let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    for _ in 0..BOOTSTRAP_SAMPLES {
        let ra: f64 = (0..a.len())
            .map(|_| a[rng.gen_range(0..a.len())])
            .sum::<f64>();
        let rb: f64 = (0..b.len())
            .map(|_| b[rng.gen_range(0..b.len())])
            .sum::<f64>();
        diffs.push(ra / a.len() as f64 - rb / b.len() as f64);
        let mut shuffled = pooled.clone();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.gen_range(0..=i));
        }
        let d = stats::mean(&shuffled[..a.len()]) - stats::mean(&shuffled[a.len()..]);
        if d.abs() >= observed.abs() - 1e-12 {
            extreme += 1;
        }
    }
    diffs.sort_by(|x, y| x.total_cmp(y));
    let difference = stats::independent_difference(a, b).unwrap_or(Estimate {
        value: observed,
        low: stats::quantile(&diffs, 0.025),
        high: stats::quantile(&diffs, 0.975),
        n: a.len() + b.len(),
        method: "percentile bootstrap (unpaired)",
    });
    stats::Comparison {
        difference,
        p_value: (extreme as f64 + 1.0) / (BOOTSTRAP_SAMPLES as f64 + 1.0),
        test: "permutation",
    }
}

/// Spearman's rank correlation with its exact two-sided permutation p-value (n ≤ 8; above, the
/// p-value comes from 2,000 random permutations).
fn spearman(x: &[f64], y: &[f64]) -> (f64, f64) {
    fn ranks(v: &[f64]) -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|a, b| v[*a].total_cmp(&v[*b]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
                j += 1;
            }
            for k in i..=j {
                r[idx[k]] = (i + j) as f64 / 2.0 + 1.0;
            }
            i = j + 1;
        }
        r
    }
    fn pearson(a: &[f64], b: &[f64]) -> f64 {
        let (ma, mb) = (stats::mean(a), stats::mean(b));
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        if va == 0.0 || vb == 0.0 {
            f64::NAN
        } else {
            cov / (va * vb).sqrt()
        }
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let rho = pearson(&rx, &ry);
    if !rho.is_finite() || x.len() < 3 {
        return (rho, 1.0);
    }
    let mut perms: Vec<Vec<f64>> = Vec::new();
    if ry.len() <= 8 {
        fn heap(k: usize, a: &mut Vec<f64>, out: &mut Vec<Vec<f64>>) {
            if k == 1 {
                out.push(a.clone());
                return;
            }
            for i in 0..k {
                heap(k - 1, a, out);
                let j = if k.is_multiple_of(2) { i } else { 0 };
                a.swap(j, k - 1);
            }
        }
        let mut a = ry.clone();
        heap(a.len(), &mut a, &mut perms);
    } else {
        let mut rng = rand::rngs::StdRng::seed_from_u64(BOOTSTRAP_SEED);
        for _ in 0..BOOTSTRAP_SAMPLES {
            let mut a = ry.clone();
            for i in (1..a.len()).rev() {
                a.swap(i, rng.gen_range(0..=i));
            }
            perms.push(a);
        }
    }
    let extreme = perms
        .iter()
        .filter(|p| pearson(&rx, p).abs() >= rho.abs() - 1e-12)
        .count();
    (rho, extreme as f64 / perms.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_matches_hand_values() {
        let (rho, p) = spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]);
        assert!((rho + 1.0).abs() < 1e-12);
        // Two of the six orders are as extreme (rho = ±1): p = 1/3.
        assert!((p - 1.0 / 3.0).abs() < 1e-12, "{p}");
        let (rho, _) = spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 40.0, 30.0]);
        assert!((rho - 0.8).abs() < 1e-12, "{rho}");
    }

    #[test]
    fn unpaired_difference_is_significant_only_when_clear() {
        let a = vec![1.0; 30];
        let b = vec![0.0; 30];
        assert!(unpaired(&a, &b).p_value < 0.01);
        let c: Vec<f64> = (0..30).map(|i| (i % 2) as f64).collect();
        assert!(unpaired(&c, &c).p_value > 0.5);
    }
}
