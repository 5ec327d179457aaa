//! Writes a study's page: `README.md` (the claim, the command that produced it, the conclusions,
//! the tables) and its charts as SVG files beside it.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::analysis::StudyPage;
use crate::report::markdown;
use crate::report::tables;
use crate::summary::Summary;
use crate::EvalError;

/// Renders the page's Markdown.
pub fn render(page: &StudyPage, summary: &Summary, command: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Study: {}\n", page.kind.name());
    let _ = writeln!(out, "**Claim (from the report):** {}\n", page.kind.claim());
    let _ = writeln!(
        out,
        "Produced by `{command}` — run {} ({} cells, {}), stored in the run's SQLite file.\n",
        summary.run.id,
        summary.rows.iter().map(|r| r.cells).sum::<usize>(),
        summary.run.created_at
    );
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
        "Scores are mean item scores with 95% bootstrap intervals over items; paired tests compare the same items (McNemar's exact test for 0/1 scores, paired bootstrap otherwise). A conclusion is stated only where p < 0.05; otherwise the page says the sample cannot settle it."
    );
    out
}

/// Writes `README.md` and the charts into `dir`; returns the Markdown file's path.
pub fn write(
    page: &StudyPage,
    summary: &Summary,
    command: &str,
    dir: &Path,
) -> Result<PathBuf, EvalError> {
    let fail = |e: std::io::Error| EvalError::Data(format!("cannot write {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    for chart in &page.charts {
        std::fs::write(dir.join(&chart.file), &chart.svg).map_err(fail)?;
    }
    let path = dir.join("README.md");
    std::fs::write(&path, render(page, summary, command)).map_err(fail)?;
    Ok(path)
}
