//! system-prompt-retention: compliance with the system prompt's rules against context length,
//! per model, and the effective length (NoLiMa's definition: the longest tested length whose
//! compliance stays at or above 85% of the shortest length's).

use std::collections::BTreeMap;

use super::{difference_text, models_by_size, unpaired};
use crate::retention::length_of;
use understudy_report::report::charts::Chart;
use understudy_report::report::svg::{self, Point, Scatter};
use understudy_report::report::tables::{estimate, Table};
use understudy_report::stats;
use understudy_report::summary::Summary;
use understudy_store::Cell;

/// Share of the short-context compliance a length must keep to count as effective.
pub const EFFECTIVE_SHARE: f64 = 0.85;

/// One point of a model's compliance curve: length, mean compliance, the item scores.
type CurvePoint = (usize, f64, Vec<f64>);

pub fn analyse(summary: &Summary, cells: &[Cell]) -> (Vec<String>, Vec<Table>, Vec<Chart>) {
    let models = models_by_size(summary);
    let mut table = Table {
        title: "Compliance (share of the system prompt's rules kept) by context length".into(),
        header: [
            "model",
            "length (tokens)",
            "mean prompt tokens",
            "compliance [95% CI]",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    let mut points = Vec::new();
    // Each model's line, and its longest − shortest test: one family, Holm-corrected below.
    let mut lines: Vec<(String, Option<stats::Comparison>)> = Vec::new();
    for (series, model) in models.iter().enumerate() {
        let mut by_length: BTreeMap<usize, Vec<&Cell>> = BTreeMap::new();
        for c in cells.iter().filter(|c| c.model == *model) {
            if let Some(l) = length_of(&c.item_id) {
                by_length.entry(l).or_default().push(c);
            }
        }
        let mut curve: Vec<CurvePoint> = Vec::new();
        for (length, group) in &by_length {
            let s: Vec<f64> = group.iter().map(|c| c.score).collect();
            let e = stats::mean_interval(&s);
            let tokens = stats::mean(
                &group
                    .iter()
                    .map(|c| c.prompt_tokens as f64)
                    .collect::<Vec<_>>(),
            );
            table.rows.push(vec![
                model.clone(),
                length.to_string(),
                format!("{tokens:.0}"),
                estimate(&e),
            ]);
            points.push(Point {
                x: *length as f64,
                y: e.value,
                y_low: e.low,
                y_high: e.high,
                label: format!("{model} · {length} tokens"),
                short: String::new(),
                series,
                highlight: false,
            });
            curve.push((*length, e.value, s));
        }
        let Some(short) = curve.first() else {
            continue;
        };
        let line = format!(
            "{model}: effective length (from point estimates) {}.",
            effective_length(model, &curve)
        );
        let test = curve
            .last()
            .filter(|long| long.0 != short.0)
            .map(|long| unpaired(&long.2, &short.2));
        lines.push((line, test));
    }
    let conclusions = holm_conclusions(&models, lines);
    (conclusions, vec![table], vec![chart(&models, points)])
}

/// Each model's line with its longest − shortest test Holm-adjusted over the models tested, and
/// the overall verdict first.
fn holm_conclusions(
    models: &[String],
    lines: Vec<(String, Option<stats::Comparison>)>,
) -> Vec<String> {
    let tests: Vec<f64> = lines
        .iter()
        .filter_map(|(_, t)| t.map(|c| c.p_value))
        .collect();
    let mut adjusted = stats::holm(&tests).into_iter();
    let mut conclusions = Vec::new();
    let mut dropped = Vec::new();
    for (model, (mut line, test)) in models.iter().zip(lines) {
        if let Some(c) = test {
            let p_holm = adjusted.next().unwrap_or(1.0);
            if p_holm < super::ALPHA && c.difference.value < 0.0 {
                dropped.push(model.clone());
            }
            line.push_str(&format!(
                " Longest − shortest compliance: {} — {} (Holm-adjusted over the {} models tested: {}).",
                difference_text(&c),
                if p_holm < super::ALPHA { "significant" } else { "not significant at this sample size" },
                tests.len(),
                stats::p_text(p_holm, "holm")
            ));
        }
        conclusions.push(line);
    }
    if !tests.is_empty() {
        conclusions.insert(0, drop_verdict(&dropped));
    }
    conclusions
}

/// The longest tested length whose compliance stays at or above 85% of the shortest's.
fn effective_length(model: &str, curve: &[CurvePoint]) -> String {
    let Some((short_len, base, _)) = curve.first() else {
        return "undefined: no lengths tested".into();
    };
    let (short_len, base) = (*short_len, *base);
    if base <= 0.0 {
        return format!(
            "undefined: {model} kept the rules in none of the {short_len}-token prompts"
        );
    }
    match curve.iter().find(|(_, v, _)| *v < EFFECTIVE_SHARE * base) {
        None => format!(
            "beyond the longest length tested ({} tokens): compliance never fell below 85% of its {short_len}-token value ({:.0}%)",
            curve.last().map(|c| c.0).unwrap_or(short_len),
            base * 100.0
        ),
        Some((fell, _, _)) => {
            let kept = curve
                .iter()
                .take_while(|(l, _, _)| l < fell)
                .last()
                .map(|c| c.0)
                .unwrap_or(short_len);
            format!("{kept} tokens (at {fell} tokens compliance fell below 85% of its {short_len}-token value of {:.0}%)", base * 100.0)
        }
    }
}

fn drop_verdict(dropped: &[String]) -> String {
    if dropped.is_empty() {
        "Not shown at this sample size: no model's compliance at the longest length is significantly below its compliance at the shortest (Holm-adjusted p < 0.05 over the models); raise `limit` or the lengths.".to_string()
    } else {
        format!(
            "Supported for {}: compliance at the longest length is significantly below the shortest (Holm-adjusted over the models).",
            dropped.join(", ")
        )
    }
}

fn chart(models: &[String], points: Vec<Point>) -> Chart {
    Chart {
        file: "retention.svg".into(),
        title: "Compliance vs context length".into(),
        svg: svg::scatter(&Scatter {
            title: "System-prompt compliance vs context length",
            x_label: "prompt length (tokens, log scale)",
            y_label: "share of the rules kept (%, 95% CI)",
            log_x: true,
            y_range: (0.0, 1.0),
            points,
            legend: understudy_report::report::charts::model_legend(models),
            front: Vec::new(),
            note: "colour = model; whiskers: bootstrap 95% CI over questions".into(),
        }),
    }
}
