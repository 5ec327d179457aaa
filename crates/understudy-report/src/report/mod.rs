//! `understudy report`: writes a run's report directory — a self-contained `index.html` (inline
//! SVG charts), `report.md` with the charts as files under `charts/`, `results.json` with every
//! aggregate, and `cells.csv`. Everything is computed from the stored cells.

pub mod aggregates;
mod chart;
pub mod charts;
pub mod findings;
pub mod html;
mod ladder_charts;
pub mod markdown;
pub mod svg;
pub mod tables;

use std::path::{Path, PathBuf};

use crate::summary::Summary;
use understudy_store::Cell;
use understudy_tasks::EvalError;

/// The files a report consists of.
#[derive(Debug, Clone)]
pub struct Written {
    pub dir: PathBuf,
    pub html: PathBuf,
    pub markdown: PathBuf,
    pub json: PathBuf,
    pub csv: PathBuf,
}

/// The JSON document: the summary plus the report's extra aggregates and findings.
pub fn results_json(
    summary: &Summary,
    extras: &aggregates::Extras,
    findings: &[String],
) -> serde_json::Value {
    serde_json::json!({
        "summary": summary,
        "extras": extras,
        "findings": findings,
    })
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> EvalError + '_ {
    move |e| EvalError::Data(format!("cannot write {}: {e}", path.display()))
}

fn write_csv(path: &Path, cells: &[Cell]) -> Result<(), EvalError> {
    let mut w = csv::Writer::from_path(path)
        .map_err(|e| EvalError::Data(format!("cannot write {}: {e}", path.display())))?;
    let header = [
        "model",
        "strategy",
        "format",
        "task",
        "item_id",
        "gold",
        "parsed",
        "score",
        "format_failure",
        "answer",
        "ttft_ms",
        "total_ms",
        "decode_tps",
        "prompt_tokens",
        "completion_tokens",
        "cached",
    ];
    let err = |e: csv::Error| EvalError::Data(format!("cannot write {}: {e}", path.display()));
    w.write_record(header).map_err(err)?;
    for c in cells {
        w.write_record([
            c.model.as_str(),
            &c.strategy,
            &c.format,
            &c.task,
            &c.item_id,
            &c.gold,
            c.parsed.as_deref().unwrap_or(""),
            &c.score.to_string(),
            &c.format_failure.to_string(),
            &c.answer,
            &format!("{:.1}", c.ttft_ms),
            &format!("{:.1}", c.total_ms),
            &c.decode_tps.map(|v| format!("{v:.1}")).unwrap_or_default(),
            &c.prompt_tokens.to_string(),
            &c.completion_tokens.to_string(),
            &c.cached.to_string(),
        ])
        .map_err(err)?;
    }
    w.flush().map_err(io(path))
}

/// Writes the report for `summary`/`cells` into `dir` (created if needed).
/// The HTML report of a run as a fragment (charts inline), for pages that embed it.
pub fn html_body(summary: &Summary, cells: &[Cell]) -> String {
    let extras = aggregates::compute(summary, cells);
    let charts = charts::all(summary, &extras);
    let findings = findings::findings(summary, &extras);
    html::render_body(summary, &extras, &charts, &findings)
}

pub fn write(summary: &Summary, cells: &[Cell], dir: &Path) -> Result<Written, EvalError> {
    let extras = aggregates::compute(summary, cells);
    let charts = charts::all(summary, &extras);
    let findings = findings::findings(summary, &extras);
    let chart_dir = dir.join("charts");
    std::fs::create_dir_all(&chart_dir).map_err(io(&chart_dir))?;
    for chart in &charts.drawn {
        let path = chart_dir.join(&chart.file);
        std::fs::write(&path, &chart.svg).map_err(io(&path))?;
    }
    let written = Written {
        dir: dir.to_path_buf(),
        html: dir.join("index.html"),
        markdown: dir.join("report.md"),
        json: dir.join("results.json"),
        csv: dir.join("cells.csv"),
    };
    std::fs::write(
        &written.html,
        html::render(summary, &extras, &charts, &findings),
    )
    .map_err(io(&written.html))?;
    std::fs::write(
        &written.markdown,
        markdown::render(summary, &extras, &charts, &findings),
    )
    .map_err(io(&written.markdown))?;
    let json = serde_json::to_string_pretty(&results_json(summary, &extras, &findings))
        .map_err(|e| EvalError::Data(e.to_string()))?;
    std::fs::write(&written.json, json).map_err(io(&written.json))?;
    write_csv(&written.csv, cells)?;
    Ok(written)
}
