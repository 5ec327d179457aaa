//! Writes a study's page: `README.md` (the claim, the command that produced it, the conclusions,
//! the tables) and its charts as SVG files beside it.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::analysis::StudyPage;
use understudy_report::report::markdown;
use understudy_report::report::tables;
use understudy_report::summary::Summary;
use understudy_tasks::EvalError;

/// Renders the page's Markdown.
/// `command` produced the run; `regenerate` rewrites the page from the cells file.
pub fn render(page: &StudyPage, summary: &Summary, command: &str, regenerate: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Study: {}\n", page.kind.name());
    let _ = writeln!(out, "**Claim (from the report):** {}\n", page.kind.claim());
    let cells: usize = summary.rows.iter().map(|r| r.cells).sum();
    let _ = writeln!(
        out,
        "Produced by `{command}` — run {} ({cells} cells; created {}, {}). The cells are in [`{}`]({}) beside this page (prompts left out); `{regenerate}` rewrites this page from them without running a model.\n",
        summary.run.id,
        summary.run.created_at,
        summary
            .run
            .finished_at
            .as_deref()
            .map_or("not finished".to_string(), |at| format!("finished {at}")),
        super::cells_file::CELLS_FILE,
        super::cells_file::CELLS_FILE,
    );
    let _ = writeln!(
        out,
        "**Latency measured:** {}.\n",
        summary.measurement_line()
    );
    if let Some(power) = &page.power {
        let _ = writeln!(out, "**Power:** {power}.\n");
    }
    // The conditions every latency on this page was measured under.
    let _ = writeln!(out, "**{}.**\n", summary.load_line());
    let _ = writeln!(out, "## What the numbers say\n");
    for line in &page.conclusions {
        let _ = writeln!(out, "- {line}");
    }
    out.push('\n');
    for chart in &page.charts {
        let _ = writeln!(out, "![{}]({})\n", chart.title, chart.file);
    }
    let _ = writeln!(out, "## Tables\n");
    for t in &page.tables {
        markdown::table(&mut out, t);
    }
    markdown::table(&mut out, &tables::summary_table(summary));
    let _ = writeln!(
        out,
        "Scores are mean item scores with 95% intervals over items (Clopper–Pearson for 0/1 scores, BCa bootstrap otherwise); paired tests compare the same items (an exact unconditional score test for 0/1 scores whose interval agrees with its p-value, BCa bootstrap otherwise; docs/statistics.md). Baselines: chance is 1/labels or 1/options, majority is the most common label of the task's unscored few-shot pool; a row is \"above\" them when a one-sided test against the larger gives p < 0.05, and a share of the reference is given only where the reference is above its own. A conclusion is stated only where its test or interval (printed beside it) supports it; where a page lists several tests of one question, they are Holm-corrected as one family."
    );
    out
}

/// Writes `README.md` and the charts into `dir`; returns the Markdown file's path.
pub fn write(
    page: &StudyPage,
    summary: &Summary,
    command: &str,
    regenerate: &str,
    dir: &Path,
) -> Result<PathBuf, EvalError> {
    let fail = |e: std::io::Error| EvalError::Data(format!("cannot write {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    for chart in &page.charts {
        std::fs::write(dir.join(&chart.file), &chart.svg).map_err(fail)?;
    }
    let path = dir.join("README.md");
    std::fs::write(&path, render(page, summary, command, regenerate)).map_err(fail)?;
    Ok(path)
}
