//! A comparison as plain text: per task the two scores, B − A with its interval and test, the
//! flip table, equivalence, the regression test and the share of A that B keeps; then the cost.

use super::{RowComparison, TaskComparison};
use crate::paired::OneSided;
use crate::stats::{margin_text, p_text, Estimate, ALPHA};

fn pct(e: &Estimate) -> String {
    if e.value.is_finite() {
        format!(
            "{:.1}% [{:.1}–{:.1}]",
            e.value * 100.0,
            e.low * 100.0,
            e.high * 100.0
        )
    } else {
        "–".into()
    }
}

fn pp(x: f64) -> String {
    format!("{:+.1}", x * 100.0)
}

/// At most `k` item ids, then how many more.
pub(crate) fn some_items(items: &[String], k: usize) -> String {
    let shown: Vec<&str> = items.iter().take(k).map(String::as_str).collect();
    match items.len().saturating_sub(k) {
        0 => shown.join(", "),
        more => format!("{}, … {more} more", shown.join(", ")),
    }
}

/// "shown, p = 0.003; 90% CI of B − A [−1.2, +2.0] pp" or why not.
pub(crate) fn equivalence_text(t: &TaskComparison) -> String {
    match &t.equivalence {
        None => "too few items to test".into(),
        Some(e) => {
            let needed = match (e.shown(), e.items_needed) {
                (true, _) => String::new(),
                (false, Some(n)) => {
                    format!("; at the observed rates about {n} items would show it")
                }
                (false, None) => {
                    "; the observed difference is too large for any n to show it".into()
                }
            };
            format!(
                "{}, TOST {}; 90% CI of B − A [{}, {}] pp ({}){needed}",
                if e.shown() { "shown" } else { "not shown" },
                p_text(e.p_value, e.method),
                pp(e.interval.0),
                pp(e.interval.1),
                e.method
            )
        }
    }
}

/// "score z = −1.83, p = 0.041, one-sided 95% bound −2.0 pp (exact score ...)".
pub(crate) fn one_sided_text(test: &Option<OneSided>, bound_as_share: bool) -> String {
    test.map_or("too few items to test".into(), |r| {
        let bound = if bound_as_share {
            format!("{:.1}%", r.bound * 100.0)
        } else {
            format!("{} pp", pp(r.bound))
        };
        let statistic = if r.statistic.is_finite() {
            format!("z = {:.2}, ", r.statistic)
        } else {
            String::new()
        };
        let needed = match (r.shown(), r.items_needed) {
            (false, Some(n)) => format!("; about {n} items at the observed rates would show it"),
            _ => String::new(),
        };
        format!(
            "{statistic}{}, one-sided 95% bound {bound} ({}){needed}",
            p_text(r.p_value, r.method),
            r.method
        )
    })
}

/// The flip table as one line.
pub(crate) fn flips_text(t: &TaskComparison) -> String {
    let (down, up) = if t.binary {
        ("right → wrong", "wrong → right")
    } else {
        ("B lower", "B higher")
    };
    format!(
        "{} {down}{}; {} {up}{}; {} the same",
        t.flips.worse.len(),
        paren(&t.flips.worse),
        t.flips.better.len(),
        paren(&t.flips.better),
        t.flips.ties
    )
}

fn paren(items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!(" ({})", some_items(items, 5))
    }
}

fn task_lines(c: &RowComparison, t: &TaskComparison, out: &mut String) {
    let m = &c.margins;
    let left_out = match (t.only_a, t.only_b) {
        (0, 0) => String::new(),
        (a, b) => format!("; left out: {a} items only A answered, {b} only B"),
    };
    out.push_str(&format!(
        "{} (n = {} shared items, {} scores{left_out}):\n",
        t.task,
        t.n,
        if t.binary { "0/1" } else { "graded" }
    ));
    out.push_str(&format!("  A {} · B {}\n", pct(&t.a), pct(&t.b)));
    let d = &t.difference.difference;
    out.push_str(&format!(
        "  B − A = {} pp [{}, {}], {} {}\n",
        pp(d.value),
        pp(d.low),
        pp(d.high),
        test_name(t),
        t.difference.p_text()
    ));
    out.push_str(&format!("  flips: {}\n", flips_text(t)));
    out.push_str(&format!(
        "  equivalence within ±{} pp: {}\n",
        margin_text(m.equivalence),
        equivalence_text(t)
    ));
    let verdict = match t.regression_p_adjusted {
        Some(p) if p < ALPHA => " → REGRESSION".to_string(),
        Some(p) => format!(
            ", Holm-adjusted {} → no regression shown",
            p_text(p, "holm")
        ),
        None => String::new(),
    };
    out.push_str(&format!(
        "  regression beyond {} pp: {}{verdict}\n",
        margin_text(m.regression),
        one_sided_text(&t.regression, false)
    ));
    if t.a.n > 0 && t.a.value == 0.0 {
        out.push_str(
            "  B keeps – of A: undefined, A scores 0 on these items (there is no share of it to keep)\n",
        );
        return;
    }
    let kept = t.share_at_least.map_or("", |s| {
        if s.shown() {
            " → shown"
        } else {
            " → not shown"
        }
    });
    out.push_str(&format!(
        "  B keeps {} of A; B ≥ {}% of A: {}{kept}\n",
        pct(&t.share),
        margin_text(m.share),
        one_sided_text(&t.share_at_least, true)
    ));
}

pub(crate) fn test_name(t: &TaskComparison) -> &'static str {
    t.difference.difference.method
}

/// Every comparison as text.
pub fn render_text(comparisons: &[RowComparison]) -> String {
    let mut out = String::new();
    for c in comparisons {
        out.push_str(&format!(
            "A = {}  vs  B = {}\n(B − A on the items both answered, in percentage points; 95% intervals from the test printed beside each; the regression test is Holm-adjusted over {})\n\n",
            c.a,
            c.b,
            tasks_phrase(c.family)
        ));
        for t in &c.tasks {
            task_lines(c, t, &mut out);
        }
        out.push_str(&format!(
            "\ncost per 1,000 answers: A {} ({} tokens) · B {} ({} tokens)\n\n",
            c.a_cost.per_1000_text(),
            c.a_cost.tokens_text(),
            c.b_cost.per_1000_text(),
            c.b_cost.tokens_text()
        ));
    }
    out
}

/// "all 6 regression tests of this comparison", "its one test".
pub(crate) fn tasks_phrase(n: usize) -> String {
    if n == 1 {
        "its one test (no correction needed)".into()
    } else {
        format!("all {n} regression tests of this comparison")
    }
}
