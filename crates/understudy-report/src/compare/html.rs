//! A comparison as an HTML page in the report's style: per task the numbers and tests in one
//! table and the flip table with every item, then cost beside quality. No scripts.

use std::fmt::Write;

use super::text::{equivalence_text, one_sided_text, tasks_phrase, test_name};
use super::{RowComparison, TaskComparison};
use crate::report::html::CSS;
use crate::report::svg::esc;
use crate::report::tables::estimate;
use crate::stats::{margin_text, p_text, ALPHA};

fn row(out: &mut String, cells: &[&str]) {
    out.push_str("<tr>");
    for c in cells {
        let _ = write!(out, "<td>{}</td>", esc(c));
    }
    out.push_str("</tr>");
}

fn items_cell(items: &[String]) -> String {
    if items.is_empty() {
        return "<td>0</td>".into();
    }
    let list: Vec<String> = items
        .iter()
        .map(|i| format!("<li>{}</li>", esc(i)))
        .collect();
    format!(
        "<td><details><summary>{}</summary><ul class=\"items\">{}</ul></details></td>",
        items.len(),
        list.join("")
    )
}

fn task_section(out: &mut String, c: &RowComparison, t: &TaskComparison) {
    let _ = write!(
        out,
        "<h2>{}</h2><p class=\"meta\">{} shared items, {} scores; {} only in A, {} only in B (left out)</p><div class=\"scroll\"><table><tbody>",
        esc(&t.task),
        t.n,
        if t.binary { "0/1" } else { "graded" },
        t.only_a,
        t.only_b
    );
    for (name, value) in test_rows(c, t) {
        row(out, &[&name, &value]);
    }
    out.push_str("</tbody></table></div>");
    flip_table(out, t);
}

/// The scores and every test of one task, as (what, result) rows.
fn test_rows(c: &RowComparison, t: &TaskComparison) -> Vec<(String, String)> {
    let m = &c.margins;
    let d = &t.difference.difference;
    let regression = match (t.regression, t.regression_p_adjusted) {
        (Some(_), Some(p)) => format!(
            "{}, Holm-adjusted {} — {}",
            one_sided_text(&t.regression, false),
            p_text(p, "holm"),
            if p < ALPHA {
                "REGRESSION"
            } else {
                "no regression shown"
            }
        ),
        _ => "too few items to test".into(),
    };
    let share = t
        .share_at_least
        .map_or("too few items to test".into(), |s| {
            format!(
                "{} — {}",
                one_sided_text(&t.share_at_least, true),
                if s.shown() { "shown" } else { "not shown" }
            )
        });
    vec![
        ("A".to_string(), estimate(&t.a)),
        ("B".to_string(), estimate(&t.b)),
        (
            "B − A (pp, 95% CI)".to_string(),
            format!(
                "{:+.1} [{:+.1}, {:+.1}], {} {}",
                d.value * 100.0,
                d.low * 100.0,
                d.high * 100.0,
                test_name(t),
                t.difference.p_text()
            ),
        ),
        (
            format!(
                "equivalent within ±{} pp (TOST)",
                margin_text(m.equivalence)
            ),
            equivalence_text(t),
        ),
        (
            format!("regression beyond {} pp", margin_text(m.regression)),
            regression,
        ),
        ("B ÷ A (95% CI)".to_string(), estimate(&t.share)),
        (format!("B ≥ {}% of A", margin_text(m.share)), share),
    ]
}

/// Items B scores below and above A, every id listed (folded).
fn flip_table(out: &mut String, t: &TaskComparison) {
    let (down, up) = if t.binary {
        ("right → wrong", "wrong → right")
    } else {
        ("B lower", "B higher")
    };
    let _ = write!(
        out,
        "<h3>Flip table</h3><div class=\"scroll\"><table class=\"flips\"><thead><tr><th>{down}</th><th>{up}</th><th>the same</th></tr></thead><tbody><tr>{}{}<td>{}</td></tr></tbody></table></div>",
        items_cell(&t.flips.worse),
        items_cell(&t.flips.better),
        t.flips.ties
    );
}

/// The comparisons as an HTML fragment (the view's compare page embeds it).
pub fn render_html_body(comparisons: &[RowComparison]) -> String {
    let mut out = String::new();
    for c in comparisons {
        let _ = write!(
            out,
            "<section class=\"comparison\"><p class=\"meta\">A = <b>{}</b> · B = <b>{}</b> · B − A on the items both answered; each 95% interval comes from the test printed beside it; the regression test is Holm-adjusted over {}.</p>",
            esc(&c.a),
            esc(&c.b),
            tasks_phrase(c.family)
        );
        for t in &c.tasks {
            task_section(&mut out, c, t);
        }
        out.push_str("<h2>Cost per 1,000 answers</h2><div class=\"scroll\"><table><thead><tr><th>row</th><th>cost</th><th>tokens per answer</th></tr></thead><tbody>");
        row(
            &mut out,
            &[&c.a, &c.a_cost.per_1000_text(), &c.a_cost.tokens_text()],
        );
        row(
            &mut out,
            &[&c.b, &c.b_cost.per_1000_text(), &c.b_cost.tokens_text()],
        );
        out.push_str("</tbody></table></div></section>");
    }
    out
}

/// A whole page: `understudy compare --html FILE`.
pub fn render_html(comparisons: &[RowComparison]) -> String {
    let title = comparisons
        .first()
        .map(|c| format!("{} vs {}", c.a, c.b))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>understudy compare — {t}</title><style>{CSS}</style></head><body><main><h1>understudy compare — {t}</h1>{}</main></body></html>\n",
        render_html_body(comparisons),
        t = esc(&title)
    )
}
