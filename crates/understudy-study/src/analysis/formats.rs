//! format-sensitivity: each model's spread across prompt formats (best − worst format, pooled
//! over tasks, with a bootstrap CI over items), a within-item permutation test of "no format
//! effect" per model, and whether the spread falls with size (Spearman's rank correlation and
//! its exact p-value).

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};

use super::{models_by_size, report_charts, spearman, ALPHA};
use understudy_report::report::aggregates::{params_billion, Extras};
use understudy_report::report::charts::Chart;
use understudy_report::report::svg::{self, Bar, Bars};
use understudy_report::report::tables::{pct, Table};
use understudy_report::stats::{self, BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED};
use understudy_report::summary::Summary;
use understudy_store::Cell;

/// Best − worst format mean over items every format answered, with a bootstrap interval.
fn spread(by_format: &BTreeMap<String, BTreeMap<String, f64>>) -> (f64, f64, f64, usize) {
    let formats: Vec<&BTreeMap<String, f64>> = by_format.values().collect();
    let Some(first) = formats.first() else {
        return (f64::NAN, f64::NAN, f64::NAN, 0);
    };
    let items: Vec<&String> = first
        .keys()
        .filter(|k| formats.iter().all(|f| f.contains_key(*k)))
        .collect();
    let n = items.len();
    if n == 0 || formats.len() < 2 {
        return (f64::NAN, f64::NAN, f64::NAN, n);
    }
    let matrix: Vec<Vec<f64>> = formats
        .iter()
        .map(|f| items.iter().map(|k| f[*k]).collect())
        .collect();
    let range = |idx: &[usize]| {
        let means: Vec<f64> = matrix
            .iter()
            .map(|row| idx.iter().map(|i| row[*i]).sum::<f64>() / idx.len() as f64)
            .collect();
        let max = means.iter().cloned().fold(f64::MIN, f64::max);
        let min = means.iter().cloned().fold(f64::MAX, f64::min);
        max - min
    };
    let all: Vec<usize> = (0..n).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(BOOTSTRAP_SEED);
    let mut boots: Vec<f64> = (0..BOOTSTRAP_SAMPLES)
        .map(|_| {
            let idx: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n)).collect();
            range(&idx)
        })
        .collect();
    boots.sort_by(|a, b| a.total_cmp(b));
    (
        range(&all),
        stats::quantile(&boots, 0.025),
        stats::quantile(&boots, 0.975),
        n,
    )
}

/// Within-item permutation test of "the format makes no difference" (the randomisation form of
/// Cochran's Q, which also takes graded scores): each item's scores are shuffled across formats
/// and the spread recomputed; p = (resamples at least as wide + 1) / (B + 1). The spread itself
/// is biased upward (a max − min of noisy means is never below 0), so this test, not the spread's
/// interval, decides whether a model is format-sensitive.
fn no_format_effect(by_format: &BTreeMap<String, BTreeMap<String, f64>>) -> Option<f64> {
    let formats: Vec<&BTreeMap<String, f64>> = by_format.values().collect();
    let first = formats.first()?;
    let items: Vec<&String> = first
        .keys()
        .filter(|k| formats.iter().all(|f| f.contains_key(*k)))
        .collect();
    if items.is_empty() || formats.len() < 2 {
        return None;
    }
    // rows: items; columns: formats.
    let rows: Vec<Vec<f64>> = items
        .iter()
        .map(|k| formats.iter().map(|f| f[*k]).collect())
        .collect();
    let range = |rows: &[Vec<f64>]| {
        let k = rows[0].len();
        let means: Vec<f64> = (0..k)
            .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / rows.len() as f64)
            .collect();
        means.iter().cloned().fold(f64::MIN, f64::max)
            - means.iter().cloned().fold(f64::MAX, f64::min)
    };
    let observed = range(&rows);
    let mut rng = rand::rngs::StdRng::seed_from_u64(BOOTSTRAP_SEED);
    let mut shuffled = rows.clone();
    let mut wide = 0usize;
    for _ in 0..BOOTSTRAP_SAMPLES {
        for (row, original) in shuffled.iter_mut().zip(&rows) {
            row.clone_from(original);
            for i in (1..row.len()).rev() {
                row.swap(i, rng.gen_range(0..=i));
            }
        }
        if range(&shuffled) >= observed - 1e-12 {
            wide += 1;
        }
    }
    Some((wide as f64 + 1.0) / (BOOTSTRAP_SAMPLES as f64 + 1.0))
}

pub fn analyse(
    summary: &Summary,
    cells: &[Cell],
    extras: &Extras,
) -> (Vec<String>, Vec<Table>, Vec<Chart>) {
    let models = models_by_size(summary);
    let strategy = summary
        .rows
        .first()
        .map(|r| r.strategy.clone())
        .unwrap_or_default();
    let mut formats_seen: Vec<String> = Vec::new();
    for r in &summary.rows {
        if !formats_seen.contains(&r.format) {
            formats_seen.push(r.format.clone());
        }
    }
    let mut header = vec!["model".to_string(), "parameters (B)".to_string()];
    header.extend(formats_seen.iter().cloned());
    header.push("spread (best − worst) [95% CI]".into());
    header.push("no-format-effect test".into());
    let mut table = Table {
        title: format!("Score by prompt format ({strategy}, all tasks pooled)"),
        header,
        rows: Vec::new(),
    };
    let mut bars = Vec::new();
    let (mut sizes, mut spreads) = (Vec::new(), Vec::new());
    for (i, model) in models.iter().enumerate() {
        let by_format = scores_by_format(cells, model, &strategy);
        let (value, low, high, n) = spread(&by_format);
        let mut row = vec![
            model.clone(),
            params_billion(model)
                .map(|p| format!("{p:.2}"))
                .unwrap_or("?".into()),
        ];
        for f in &formats_seen {
            row.push(
                by_format
                    .get(f)
                    .map(|m| pct(stats::mean(&m.values().copied().collect::<Vec<_>>())))
                    .unwrap_or("–".into()),
            );
        }
        row.push(format!(
            "{:.1} pp [{:.1}, {:.1}] n={n}",
            value * 100.0,
            low * 100.0,
            high * 100.0
        ));
        row.push(effect_text(no_format_effect(&by_format)));
        table.rows.push(row);
        bars.push(Bar {
            group: model.clone(),
            label: "spread".into(),
            value,
            low,
            high,
            series: i,
        });
        if let Some(p) = params_billion(model) {
            sizes.push(p);
            spreads.push(value);
        }
    }
    let mut conclusions = vec![size_trend(&sizes, &spreads)];
    for row in &table.rows {
        let n = row.len();
        conclusions.push(format!(
            "{}: spread across formats {} — {} (the spread is biased upward, so the test decides).",
            row[0],
            row[n - 2],
            row[n - 1]
        ));
    }
    let mut charts = vec![spread_chart(&models, bars)];
    charts.extend(report_charts(summary, extras, &["format"]));
    (conclusions, vec![table], charts)
}

/// A model's item scores per format under one strategy, keyed by task and item.
fn scores_by_format(
    cells: &[Cell],
    model: &str,
    strategy: &str,
) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut by_format: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for c in cells
        .iter()
        .filter(|c| c.model == model && c.strategy == strategy)
    {
        by_format
            .entry(c.format.clone())
            .or_default()
            .insert(format!("{}/{}", c.task, c.item_id), c.score);
    }
    by_format
}

fn effect_text(effect: Option<f64>) -> String {
    match effect {
        Some(p) if p < ALPHA => format!(
            "format matters: within-item permutation {}",
            stats::p_text(p, "permutation")
        ),
        Some(p) => format!(
            "no significant sensitivity: within-item permutation {}",
            stats::p_text(p, "permutation")
        ),
        None => "–".into(),
    }
}

/// Whether the format spread falls with model size (Spearman, exact p).
fn size_trend(sizes: &[f64], spreads: &[f64]) -> String {
    let (rho, p) = spearman(sizes, spreads);
    if sizes.len() < 3 {
        return "A rank correlation needs at least three models of known size; not supported at this sample size.".into();
    }
    if !rho.is_finite() {
        return "Every model has the same spread; no trend with size.".into();
    }
    let smallest_p = 2.0 / (1..=sizes.len()).product::<usize>() as f64;
    let claim = if p < ALPHA && rho < 0.0 {
        "supported: the spread falls with size".to_string()
    } else if p < ALPHA {
        "contradicted: the spread rises with size".to_string()
    } else if smallest_p >= ALPHA {
        format!(
            "not supported at this sample size — with {} models even a perfect ordering gives p = {smallest_p:.2}; add models",
            sizes.len()
        )
    } else {
        "not supported at this sample size".to_string()
    };
    format!(
        "Spearman's rank correlation between size and format spread: rho = {rho:+.2}, exact p = {p:.3} over {} models — {claim}.",
        sizes.len()
    )
}

fn spread_chart(models: &[String], bars: Vec<Bar>) -> Chart {
    Chart {
        file: "format-spread.svg".into(),
        title: "Format spread by model".into(),
        svg: svg::bars(&Bars {
            title: "Format spread (best − worst format score), by model",
            y_label: "spread (percentage points)",
            bars,
            baseline: Some(0.0),
            tick_scale: 100.0,
            legend: understudy_report::report::charts::model_legend(models),
            note: "whiskers: bootstrap 95% CI over items; models ordered by size".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formats(columns: &[&[f64]]) -> BTreeMap<String, BTreeMap<String, f64>> {
        columns
            .iter()
            .enumerate()
            .map(|(j, col)| {
                (
                    format!("f{j}"),
                    col.iter()
                        .enumerate()
                        .map(|(i, v)| (format!("i{i:02}"), *v))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn identical_formats_show_no_effect_and_a_broken_format_shows_one() {
        // Four formats, the same 0/1 scores on 30 items: no format effect at all.
        let col: Vec<f64> = (0..30).map(|i| f64::from(u8::from(i % 3 != 0))).collect();
        let same = formats(&[&col, &col, &col, &col]);
        let p = no_format_effect(&same).unwrap();
        assert!(p > 0.5, "{p}");
        // A format that is always wrong: a clear effect.
        let zeros = vec![0.0; 30];
        let one_bad = formats(&[&col, &col, &col, &zeros]);
        assert!(no_format_effect(&one_bad).unwrap() < 0.001);
    }
}
