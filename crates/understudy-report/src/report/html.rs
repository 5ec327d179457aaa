//! The self-contained HTML report: inline CSS and SVG, no scripts, no network.

use std::fmt::Write;

use super::aggregates::Extras;
use super::charts::Charts;
use super::svg::esc;
use super::tables::{self, Table};
use crate::summary::Summary;

pub const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}\
main{max-width:1180px;margin:0 auto;padding:16px 24px}\
h1{font-size:24px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:15px}\
figure{margin:16px 0;background:#fff;border:1px solid #e3e3e3;padding:8px}figure svg{max-width:100%;height:auto;display:block}\
figcaption{font-size:12px;color:#555}\
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;font-size:12px;background:#fff}\
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}th{background:#f0f0f0}\
pre{white-space:pre-wrap;word-break:break-word;background:#fff;border:1px solid #eee;padding:6px;font-size:11px}\
details{margin:4px 0}summary{cursor:pointer}.meta{color:#555;font-size:13px}li{margin:4px 0}";

fn table(out: &mut String, t: &Table) {
    if t.rows.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<h3>{}</h3><div class=\"scroll\"><table><thead><tr>",
        esc(&t.title)
    );
    for h in &t.header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
}

pub fn render(summary: &Summary, extras: &Extras, charts: &Charts, findings: &[String]) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>understudy report — run {}</title><style>{CSS}</style></head><body><main>{}</main></body></html>\n",
        summary.run.id,
        render_body(summary, extras, charts, findings)
    )
}

/// The report without its page around it (the view embeds it).
pub fn render_body(
    summary: &Summary,
    extras: &Extras,
    charts: &Charts,
    findings: &[String],
) -> String {
    let run = &summary.run;
    let mut out = String::new();
    let _ = write!(
        out,
        "<h1>understudy report — run {}</h1><p class=\"meta\">{} · {} cells · created {}{} · scores are % correct with 95% CIs over items (Clopper–Pearson for 0/1 scores, BCa otherwise; docs/statistics.md); comparisons are paired on the same items; {}.</p>",
        run.id,
        esc(&run.status),
        run.cells,
        esc(&run.created_at),
        summary.reference.as_ref().map(|r| format!(" · reference {}", esc(r))).unwrap_or_default(),
        esc(&summary.measurement_line())
    );
    headline(&mut out, &crate::summary::headline::headline(summary));
    out.push_str("<h2>Findings</h2><ul>");
    for f in findings {
        let _ = write!(out, "<li>{}</li>", esc(f));
    }
    out.push_str("</ul><h2>Charts</h2>");
    if !charts.not_drawn.is_empty() {
        out.push_str(
            "<p class=\"meta\">Not drawn, for want of data in this run:</p><ul class=\"meta\">",
        );
        for n in &charts.not_drawn {
            let _ = write!(out, "<li>{}: {}</li>", esc(&n.title), esc(&n.why));
        }
        out.push_str("</ul>");
    }
    for chart in &charts.drawn {
        let _ = write!(
            out,
            "<figure id=\"{}\">{}<figcaption>{}</figcaption></figure>",
            esc(chart.file.trim_end_matches(".svg")),
            chart.svg,
            esc(&chart.title)
        );
    }
    out.push_str("<h2>Tables</h2>");
    for t in tables::all(summary, extras) {
        table(&mut out, &t);
    }
    out.push_str("<h2>Wrong answers, with their prompts</h2>");
    if extras.worst.is_empty() {
        out.push_str("<p>No wrong answers.</p>");
    }
    for e in &extras.worst {
        let _ = write!(
            out,
            "<details><summary>{} · {} · {} · {} · item {} — gold {}, read {}</summary><h3>Prompt</h3><pre>{}</pre><h3>Raw answer</h3><pre>{}</pre></details>",
            esc(&e.model),
            esc(&e.strategy),
            esc(&e.format),
            esc(&e.task),
            esc(&e.item_id),
            esc(&e.gold),
            esc(e.parsed.as_deref().unwrap_or("nothing (format failure)")),
            esc(&e.prompt),
            esc(&e.answer)
        );
    }
    out
}

/// The run in plain words, first on the page: what is settled, what is not, what to run next.
fn headline(out: &mut String, h: &crate::summary::headline::Headline) {
    let _ = write!(out, "<section id=\"headline\"><p>{}</p>", esc(&h.basis));
    for (title, lines) in [
        ("Settled", &h.settled),
        ("Not settled at this size", &h.unsettled),
    ] {
        let _ = write!(out, "<h3>{title}</h3><ul>");
        if lines.is_empty() {
            out.push_str("<li>nothing</li>");
        }
        for l in lines.iter() {
            let _ = write!(out, "<li>{}</li>", esc(l));
        }
        out.push_str("</ul>");
    }
    out.push_str("<h3>Next</h3><ul>");
    for (command, why) in &h.next {
        let _ = write!(out, "<li><code>{}</code> — {}</li>", esc(command), esc(why));
    }
    out.push_str("</ul></section>");
}
