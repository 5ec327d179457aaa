//! The run in plain words: which of its paired comparisons are settled (Holm-corrected over the
//! run's comparisons, each with its interval), which are not and about how many items would
//! settle a difference of the size seen, where the reference is not shown above its baseline,
//! and what to run next. The last block of the terminal summary and the top of the HTML report.

use super::{ComparisonLine, Summary};
use understudy_stats as stats;

/// Above this many items a suggestion stops being a plan for this machine.
const MOST_ITEMS_SUGGESTED: usize = 1000;

/// What the run settles, what it does not, and what to run next, as sentences.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Headline {
    /// The first line: what the verdicts below rest on.
    pub basis: String,
    pub settled: Vec<String>,
    pub unsettled: Vec<String>,
    /// Commands to run next, each with what it gives.
    pub next: Vec<(String, String)>,
}

fn pp(x: f64) -> String {
    format!("{} pp", points(x))
}

/// Signed percentage points without the unit, for interval bounds.
fn points(x: f64) -> String {
    format!("{:+.0}", x * 100.0)
}

/// "about N items per task", from the difference seen and how often the two rows disagreed,
/// at the level Holm's strictest step uses over `family` tests.
fn items_to_settle(c: &ComparisonLine, family: usize) -> Option<usize> {
    let delta = c.comparison.difference.value.abs();
    stats::paired_items_needed(
        delta,
        c.discordant,
        stats::z_for_family(stats::ALPHA, family),
    )
}

fn settled_line(c: &ComparisonLine) -> String {
    let d = &c.comparison.difference;
    let side = if d.value > 0.0 { "above" } else { "below" };
    format!(
        "{}: {} scores {side} {} by {} [{}, {}] (n = {}, {})",
        c.task,
        c.a,
        c.b,
        pp(d.value.abs()).trim_start_matches('+'),
        points(d.low),
        points(d.high),
        d.n,
        c.comparison.p_text()
    )
}

fn unsettled_line(c: &ComparisonLine, family: usize) -> (String, Option<usize>) {
    let d = &c.comparison.difference;
    let seen = format!(
        "{}: {} vs {}: {} [{}, {}] (n = {})",
        c.task,
        c.a,
        c.b,
        pp(d.value),
        points(d.low),
        points(d.high),
        d.n
    );
    if d.value == 0.0 {
        return (
            format!("{seen} — no difference seen; `understudy compare` tests equivalence within a margin"),
            None,
        );
    }
    match items_to_settle(c, family) {
        Some(n) if n <= MOST_ITEMS_SUGGESTED => (
            format!("{seen} — a difference this size needs about {n} items per task"),
            Some(n),
        ),
        _ => (
            format!(
                "{seen} — a difference this small needs more than {MOST_ITEMS_SUGGESTED} items per task"
            ),
            None,
        ),
    }
}

/// Tasks where the reference is not shown above its baseline: no share of it is given there.
fn reference_below_baseline(summary: &Summary) -> Vec<String> {
    let Some(reference) = summary.rows.iter().find(|r| r.is_reference) else {
        return Vec::new();
    };
    reference
        .tasks
        .iter()
        .filter_map(|t| {
            let b = t.baseline.as_ref().filter(|b| !b.test.above)?;
            Some(format!(
                "{}: the reference {} scores {:.0}% (n = {}), {} — so no share of it is given on this task",
                t.task,
                reference.model,
                t.accuracy.value * 100.0,
                t.accuracy.n,
                b.verdict()
            ))
        })
        .collect()
}

/// The headline of `summary`.
pub fn headline(summary: &Summary) -> Headline {
    let family = summary.comparisons.len();
    let p: Vec<f64> = summary
        .comparisons
        .iter()
        .map(|c| c.comparison.p_upper())
        .collect();
    let adjusted = stats::holm(&p);
    let mut h = Headline {
        basis: format!(
            "In plain words (run {}; 95% intervals; a difference is settled when its paired test holds after Holm's correction over the run's {family} comparisons):",
            summary.run.id
        ),
        ..Headline::default()
    };
    let mut needed = Vec::new();
    for (c, p_holm) in summary.comparisons.iter().zip(&adjusted) {
        if *p_holm < stats::ALPHA && c.comparison.difference.value != 0.0 {
            h.settled.push(settled_line(c));
        } else {
            let (line, n) = unsettled_line(c, family);
            h.unsettled.push(line);
            needed.extend(n);
        }
    }
    h.unsettled.extend(reference_below_baseline(summary));
    if family == 0 {
        h.unsettled.push(
            "nothing was compared: the run has one row per task; add --reference MODEL, more --models or --strategies".into(),
        );
    }
    h.next = next_steps(summary, needed.into_iter().min());
    h
}

fn next_steps(summary: &Summary, fewest_needed: Option<usize>) -> Vec<(String, String)> {
    let run = summary.run.id;
    let mut next = vec![(
        format!("understudy report {run}"),
        "charts, every table, and each wrong answer with its prompt".to_string(),
    )];
    let items = summary
        .rows
        .iter()
        .flat_map(|r| r.tasks.iter().map(|t| t.accuracy.n))
        .max()
        .unwrap_or(0);
    if let Some(n) = fewest_needed.filter(|n| *n > items) {
        next.push((
            format!("understudy eval --limit {n}"),
            format!(
                "enough items per task to settle the difference above that needs fewest (about {:.0}× this run's cells)",
                n as f64 / items.max(1) as f64
            ),
        ));
    }
    let has_share = summary
        .rows
        .iter()
        .any(|r| r.tasks.iter().any(|t| t.share_of_reference.is_some()));
    if has_share {
        next.push((
            format!("understudy tune {run}"),
            "the fastest setup keeping 95% of the reference per task, as gateway profiles".into(),
        ));
    }
    next.push((
        "understudy eval --tasks my_task.toml".into(),
        "the same measurement on your own task (docs/guide/eval.md: tasks)".into(),
    ));
    next
}

/// The headline as terminal text.
pub fn render(h: &Headline) -> String {
    let mut out = format!("{}\n", h.basis);
    let mut block = |title: &str, lines: &[String], bullet: &str| {
        if lines.is_empty() {
            return;
        }
        out.push_str(title);
        out.push('\n');
        for l in lines {
            out.push_str(&format!("  {bullet} {l}\n"));
        }
    };
    if h.settled.is_empty() {
        block(
            "settled:",
            &["nothing yet: at this many items every interval above is wide".to_string()],
            "-",
        );
    }
    block("settled:", &h.settled, "-");
    block("not settled at this size:", &h.unsettled, "-");
    let width = h.next.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    let next: Vec<String> = h
        .next
        .iter()
        .map(|(command, why)| format!("{command:<width$}   {why}"))
        .collect();
    block("next:", &next, "$");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_store::{Cell, RunInfo};

    fn summary_of(scores: &[(&str, Vec<f64>)]) -> Summary {
        let mut cells = Vec::new();
        for (model, row) in scores {
            for (i, s) in row.iter().enumerate() {
                cells.push(Cell {
                    model: model.to_string(),
                    task: "math".into(),
                    ..Cell::for_test(&format!("q{i}"), *s)
                });
            }
        }
        let run = RunInfo {
            id: 4,
            plan_key: "k".into(),
            created_at: "now".into(),
            finished_at: None,
            status: "finished".into(),
            plan_json: r#"{"reference": "big", "strategies": ["zero-shot"], "formats": ["plain"]}"#
                .into(),
            cells: cells.len() as i64,
        };
        crate::summary::summarise(run, &cells)
    }

    #[test]
    fn a_large_gap_is_settled_and_a_small_one_says_what_would_settle_it() {
        let right = |k: usize, n: usize| (0..n).map(|i| f64::from(u8::from(i < k))).collect();
        // 30 items: the reference right on 25, "tiny" on 3 (settled); "mid" loses 7 items the
        // reference wins and wins 3 it loses (−13 pp on 10 disputed items: not settled).
        let mid = (0..30)
            .map(|i| f64::from(u8::from(i < 18 || (25..28).contains(&i))))
            .collect();
        let s = summary_of(&[("big", right(25, 30)), ("tiny", right(3, 30)), ("mid", mid)]);
        let h = headline(&s);
        assert!(
            h.basis
                .contains("Holm's correction over the run's 2 comparisons"),
            "{h:?}"
        );
        assert_eq!(h.settled.len(), 1, "{h:?}");
        assert!(
            h.settled[0].starts_with(
                "math: tiny zero-shot plain scores below big zero-shot plain by 73 pp"
            ),
            "{h:?}"
        );
        assert_eq!(h.unsettled.len(), 1, "{h:?}");
        assert!(
            h.unsettled[0].contains("-13 pp") && h.unsettled[0].contains("needs about"),
            "{h:?}"
        );
        // The suggested --limit is the items that difference needs, above this run's 30.
        let limit = h
            .next
            .iter()
            .find_map(|(c, _)| c.strip_prefix("understudy eval --limit "))
            .and_then(|n| n.parse::<usize>().ok())
            .expect("a --limit suggestion");
        assert!(
            limit > 30 && h.unsettled[0].contains(&format!("about {limit} items")),
            "{h:?}"
        );
        let text = render(&h);
        assert!(
            text.contains("settled:\n  - math: tiny") && text.contains("$ understudy tune 4"),
            "{text}"
        );
    }

    #[test]
    fn nothing_settled_is_said_in_words() {
        let same: Vec<f64> = (0..10).map(|i| f64::from(u8::from(i % 2 == 0))).collect();
        let h = headline(&summary_of(&[("big", same.clone()), ("tiny", same)]));
        assert!(h.settled.is_empty());
        assert!(h.unsettled[0].contains("no difference seen"), "{h:?}");
        assert!(render(&h).contains("nothing yet"));
    }
}
