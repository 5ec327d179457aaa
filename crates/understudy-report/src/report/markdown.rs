//! The Markdown report: the same tables and findings as the HTML, charts linked as SVG files.

use std::fmt::Write;

use super::aggregates::Extras;
use super::charts::Charts;
use super::tables::{self, Table};
use crate::summary::Summary;

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub fn table(out: &mut String, t: &Table) {
    if t.rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "### {}\n", t.title);
    let _ = writeln!(
        out,
        "| {} |",
        t.header
            .iter()
            .map(|h| md_cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(t.header.len()));
    for row in &t.rows {
        let _ = writeln!(
            out,
            "| {} |",
            row.iter()
                .map(|c| md_cell(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    out.push('\n');
}

pub fn render(summary: &Summary, extras: &Extras, charts: &Charts, findings: &[String]) -> String {
    let run = &summary.run;
    let mut out = String::new();
    let _ = writeln!(out, "# understudy report — run {}\n", run.id);
    let _ = writeln!(
        out,
        "{} · {} cells · created {}{}. Scores are % correct with 95% CIs over items (Clopper–Pearson for 0/1 scores, BCa otherwise; docs/statistics.md); comparisons are paired on the same items; {}.\n",
        run.status,
        run.cells,
        run.created_at,
        summary.reference.as_ref().map(|r| format!(" · reference {r}")).unwrap_or_default(),
        summary.measurement_line()
    );
    let h = crate::summary::headline::headline(summary);
    let _ = writeln!(out, "{}\n", h.basis);
    for (title, lines) in [
        ("Settled", &h.settled),
        ("Not settled at this size", &h.unsettled),
    ] {
        let _ = writeln!(out, "**{title}:**\n");
        if lines.is_empty() {
            out.push_str("- nothing\n");
        }
        for l in lines.iter() {
            let _ = writeln!(out, "- {l}");
        }
        out.push('\n');
    }
    out.push_str("**Next:**\n\n");
    for (command, why) in &h.next {
        let _ = writeln!(out, "- `{command}` — {why}");
    }
    out.push_str("\n## Findings\n\n");
    for f in findings {
        let _ = writeln!(out, "- {f}");
    }
    out.push_str("\n## Charts\n\n");
    for n in &charts.not_drawn {
        let _ = writeln!(out, "- not drawn: {} — {}", n.title, n.why);
    }
    if !charts.not_drawn.is_empty() {
        out.push('\n');
    }
    for c in &charts.drawn {
        let _ = writeln!(out, "![{}](charts/{})\n", c.title, c.file);
    }
    out.push_str("## Tables\n\n");
    for t in tables::all(summary, extras) {
        table(&mut out, &t);
    }
    out
}
