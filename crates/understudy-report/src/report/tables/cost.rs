//! The cost table: per row, share of the reference beside tokens, dollars and CPU-seconds per
//! 1,000 answers — the trade between quality and cost the report is about.

use super::{estimate, Table};
use crate::summary::Summary;

pub fn cost_table(summary: &Summary) -> Table {
    let rows = summary
        .rows
        .iter()
        .map(|r| {
            let shares: Vec<String> = r
                .tasks
                .iter()
                .filter_map(|t| {
                    t.share_of_reference
                        .map(|e| format!("{}: {}", t.task, estimate(&e)))
                })
                .collect();
            let dollars = r
                .cost
                .dollars_per_1000()
                .map(|d| format!("${d:.4}"))
                .unwrap_or_else(|| "no price set".into());
            let cpu = r
                .cost
                .cpu_seconds_per_1000()
                .map(|s| format!("{s:.0}"))
                .unwrap_or_else(|| {
                    if r.cost.cached_answers > 0 && r.cost.cached_answers == r.cost.answers {
                        "– (cached)".into()
                    } else {
                        "–".into()
                    }
                });
            vec![
                r.model.clone(),
                r.strategy.clone(),
                r.format.clone(),
                estimate(&r.pooled),
                if r.is_reference {
                    "reference".into()
                } else if shares.is_empty() {
                    "–".into()
                } else {
                    shares.join("; ")
                },
                r.cost.tokens_text(),
                dollars,
                cpu,
            ]
        })
        .collect();
    Table {
        title: "Cost per 1,000 answers beside quality (dollars at the configured price_in/price_out per million tokens; CPU-seconds = inference threads × wall time ÷ sequences run together, cells produced on this machine in this run)".into(),
        header: [
            "model",
            "strategy",
            "format",
            "score, all tasks [95% CI]",
            "share of reference [95% CI]",
            "tokens per answer",
            "$ per 1,000 answers",
            "CPU-s per 1,000 answers",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}
