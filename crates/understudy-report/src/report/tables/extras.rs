//! The tables made from the report's extra aggregates: cot cost, format spread, confusion.

use super::{pct, Table};
use crate::report::aggregates::Extras;

pub fn cot_table(extras: &Extras) -> Table {
    Table {
        title: "Chain-of-thought cost".into(),
        header: [
            "model",
            "format",
            "task",
            "p50 latency ratio",
            "mean latency ratio [95% CI]",
            "score change [95% CI]",
            "p",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: extras
            .cot_cost
            .iter()
            .map(|c| {
                let r = &c.mean_latency_ratio;
                let d = &c.change.difference;
                vec![
                    c.model.clone(),
                    c.format.clone(),
                    c.task.clone(),
                    format!(
                        "{:.2}x{}",
                        c.latency_ratio,
                        if c.unreliable.is_some() { " *" } else { "" }
                    ),
                    match &c.unreliable {
                        Some(why) => {
                            format!("{:.2}x [{:.2}, {:.2}] ({why})", r.value, r.low, r.high)
                        }
                        None => format!("{:.2}x [{:.2}, {:.2}]", r.value, r.low, r.high),
                    },
                    format!(
                        "{:+.1} pp [{:+.1}, {:+.1}]",
                        d.value * 100.0,
                        d.low * 100.0,
                        d.high * 100.0
                    ),
                    crate::stats::p_value_text(c.change.p_value, c.change.test),
                ]
            })
            .collect(),
    }
}

pub fn format_spread_table(extras: &Extras) -> Table {
    Table {
        title: "Format sensitivity".into(),
        header: ["model", "strategy", "task", "scores by format", "spread"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows: extras
            .format_spread
            .iter()
            .map(|s| {
                vec![
                    s.model.clone(),
                    s.strategy.clone(),
                    s.task.clone(),
                    s.scores
                        .iter()
                        .map(|(f, v)| format!("{f} {}", pct(*v)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    format!("{:.1} pp", s.spread * 100.0),
                ]
            })
            .collect(),
    }
}

/// Confusion matrices, one table each.
pub fn confusion_tables(extras: &Extras) -> Vec<Table> {
    extras
        .confusion
        .iter()
        .map(|c| {
            let mut header = vec!["gold \\ predicted".to_string()];
            header.extend(c.labels.iter().cloned());
            header.push("unreadable".into());
            Table {
                title: format!(
                    "Confusion matrix — {} {} {} · {}",
                    c.model, c.strategy, c.format, c.task
                ),
                header,
                rows: c
                    .labels
                    .iter()
                    .zip(&c.counts)
                    .map(|(label, counts)| {
                        let mut row = vec![label.clone()];
                        row.extend(counts.iter().map(|n| n.to_string()));
                        row
                    })
                    .collect(),
            }
        })
        .collect()
}
