//! The optimize page (Markdown): what was searched and spent, the trace of every step and
//! candidate, the winner's prompt, and the test-split verdict with its tests printed beside it.

use std::fmt::Write as _;

use understudy_eval::conditions::LoadSummary;
use understudy_report::stats::{self, Estimate};

use crate::candidate::Origin;
use crate::pareto;
use crate::search::{Search, Settings};
use crate::verdict::Verdict;

fn pct(e: &Estimate) -> String {
    e.percent_with_n()
}

fn pp(e: &Estimate) -> String {
    format!(
        "{:+.1} pp [{:+.1}, {:+.1}]",
        e.value * 100.0,
        e.low * 100.0,
        e.high * 100.0
    )
}

/// `text` on one line (whitespace runs as one space), cut to `chars` characters.
fn one_line(text: &str, chars: usize) -> String {
    crate::reflect::clip(
        &text.split_whitespace().collect::<Vec<_>>().join(" "),
        chars,
    )
}

/// What the page is about.
pub struct Header<'a> {
    pub task: &'a str,
    pub command: &'a str,
    /// The formats searched, as given.
    pub formats: &'a str,
}

/// The whole page.
pub fn render(
    header: &Header<'_>,
    settings: &Settings,
    search: &Search,
    verdict: &Verdict,
) -> String {
    let mut out = String::new();
    let split = &search.split;
    let _ = writeln!(
        out,
        "# optimize: {} — {} taught by {}\n\nProduced by `{}`.\n",
        header.task, settings.student, settings.teacher, header.command
    );
    let _ = writeln!(
        out,
        "**Split** (by a hash of the item id; the test items were never sent during the search): {} train (the task's few-shot pool plus ~30% of the items), {} validation, {} test. Formats: {}.\n",
        split.train.len(),
        split.validation.len(),
        split.test.len(),
        header.formats
    );
    let _ = writeln!(
        out,
        "**Budget:** {} of {} calls{} spent by the search ({} tokens; {} calls answered by a model in this invocation, the rest from the response cache); it stopped on {}. The test split took {} more calls ({} fresh).\n",
        search.spent.calls,
        settings.budget.calls,
        settings
            .budget
            .tokens
            .map(|t| format!(" and {t} tokens"))
            .unwrap_or_default(),
        search.spent.tokens,
        search.spent.fresh,
        if search.stopped.is_empty() { "its own" } else { &search.stopped },
        verdict.spent.calls,
        verdict.spent.fresh
    );
    verdict_section(&mut out, verdict);
    winner_section(&mut out, search, verdict);
    trace_section(&mut out, search);
    unvalidated_section(&mut out, search);
    rejected_section(&mut out, search);
    out.push_str("\nScores are mean item scores with 95% intervals over items (Clopper–Pearson for 0/1 scores, BCa bootstrap for graded ones; docs/statistics.md). Latency is per item as measured when each answer was first produced (a cached answer keeps the time it took then); the rows ran one after another on this machine.\n");
    out
}

/// How a row's latencies were measured: under load from other processes, or earlier (cached).
fn conditions(cells: &[understudy_store::Cell]) -> String {
    let load = LoadSummary::of(cells.iter().filter_map(|c| c.conditions.as_ref()));
    let cached = cells.iter().filter(|c| c.cached).count();
    let mut parts = Vec::new();
    if load.measured > 0 {
        parts.push(format!(
            "{} of {} measured under load",
            load.busy, load.measured
        ));
    }
    if cached > 0 {
        parts.push(format!(
            "{cached} from the response cache (timed when first answered)"
        ));
    }
    parts.join("; ")
}

fn verdict_section(out: &mut String, verdict: &Verdict) {
    let _ = writeln!(out, "## Test split\n\n| row | model | prompt | score [95% CI] | p50 ms | latency conditions | run |\n|---|---|---|---|---|---|---|");
    for r in &verdict.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.0} | {} | {} |",
            r.role,
            r.model,
            r.candidate.label(),
            pct(&r.score),
            r.p50_ms,
            conditions(&r.test.cells),
            r.test.run_id
        );
    }
    out.push('\n');
    for v in &verdict.versus {
        let _ = writeln!(
            out,
            "- optimized − {}: {}, {} (Holm-corrected p = {}); {} items only the optimized prompt got right, {} only the other — {}.",
            v.against,
            pp(&v.comparison.difference),
            v.comparison.p_text(),
            stats::p_value_text(v.p_holm, v.comparison.test),
            v.only_winner,
            v.only_other,
            if v.p_holm < 0.05 {
                if v.comparison.difference.value > 0.0 { "better, significant" } else { "worse, significant" }
            } else {
                "no difference this sample can show"
            }
        );
    }
    let shown = verdict
        .share_test
        .as_ref()
        .is_some_and(|t| t.p_value < 0.05);
    let _ = writeln!(
        out,
        "- Share of the reference: {} — at least {:.0}%: {}.\n",
        pct(&verdict.share),
        verdict.target * 100.0,
        match &verdict.share_test {
            Some(t) => format!(
                "{} (one-sided score test, p = {})",
                if shown { "shown" } else { "not shown" },
                stats::p_value_text(t.p_value, "t")
            ),
            None => "not testable on these items".into(),
        }
    );
}

fn winner_section(out: &mut String, search: &Search, verdict: &Verdict) {
    let Some(w) = verdict.rows.first() else {
        return;
    };
    let c = &w.candidate;
    let _ = writeln!(out, "## The optimized prompt ({})\n", c.label());
    if search.chosen.is_some() && c.demos.is_empty() {
        out.push_str("**Chosen without validation**: the budget paid for no validation pass, and the teacher answered no train item right within it, so the winner is the baseline itself.\n\n");
    } else if search.chosen.is_some() {
        let recipe = if c.cot {
            ", reasoning step by step (DSPy's BootstrapFewShot on a ChainOfThought program)"
        } else {
            " (DSPy's BootstrapFewShot recipe)"
        };
        let _ = writeln!(out, "**Chosen without validation**: the budget paid for no validation pass, so this is the baseline with the teacher's bootstrapped demonstrations{recipe}, not a choice among candidates. Only the test split above says how good it is.\n");
    } else if matches!(c.origin, Origin::Seed { .. }) {
        out.push_str("No child beat the hand-written strategies on validation: the winner is a hand-written strategy.\n\n");
    }
    match &c.instruction {
        Some(i) => {
            let _ = writeln!(
                out,
                "Instruction (system prompt after the task's own):\n\n```text\n{i}\n```\n"
            );
        }
        None => out.push_str("Instruction: none beyond the task's own.\n\n"),
    }
    let _ = writeln!(
        out,
        "Chain of thought: {}. Demonstrations: {}.\n",
        if c.cot { "on" } else { "off" },
        c.demos.len()
    );
    for d in &c.demos {
        let _ = writeln!(
            out,
            "- `{}`: {} → **{}**{}",
            d.id,
            one_line(&d.question, 90),
            d.target,
            if d.rationale.is_some() && c.cot {
                " (with worked reasoning)"
            } else {
                ""
            }
        );
    }
    out.push('\n');
}

/// Children that did not beat their parent on the minibatch: what the teacher wrote, or which
/// demonstrations were tried.
fn rejected_section(out: &mut String, search: &Search) {
    if search.rejected.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Children not accepted (measured on their minibatch only)\n\n| candidate | instruction | demonstrations |\n|---|---|---|");
    for c in &search.rejected {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            c.label(),
            c.instruction
                .as_deref()
                .map(|i| one_line(i, 120))
                .unwrap_or_else(|| "–".into()),
            demo_ids(c)
        );
    }
}

/// Starting candidates the budget could not validate.
fn unvalidated_section(out: &mut String, search: &Search) {
    if search.unvalidated.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Candidates the budget could not validate\n\n| candidate | strategy | demonstrations |\n|---|---|---|");
    for c in &search.unvalidated {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            c.label(),
            c.strategy(),
            demo_ids(c)
        );
    }
}

fn demo_ids(c: &crate::candidate::Candidate) -> String {
    if c.demos.is_empty() {
        return "–".into();
    }
    c.demos
        .iter()
        .map(|d| format!("`{}`", d.id))
        .collect::<Vec<_>>()
        .join(", ")
}

fn trace_section(out: &mut String, search: &Search) {
    if search.set.is_empty() {
        return;
    }
    let points = search.points();
    let front = pareto::quality_latency_front(&points);
    let items: Vec<usize> = pareto::item_front(&points)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let _ = writeln!(out, "## Candidates measured on validation\n\n| candidate | strategy | instruction | validation score [95% CI] | mean ms | best on some item | quality–latency front | run |\n|---|---|---|---|---|---|---|---|");
    for e in &search.set {
        let p = e.point();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.0} | {} | {} | {} |",
            e.candidate.label(),
            e.candidate.strategy(),
            e.candidate
                .instruction
                .as_deref()
                .map(|i| one_line(i, 70))
                .unwrap_or_else(|| "–".into()),
            pct(&stats::mean_interval(&p.scores)),
            p.mean_ms,
            if items.contains(&p.id) { "yes" } else { "" },
            if front.contains(&p.id) { "yes" } else { "" },
            e.validation.run_id
        );
    }
    let _ = writeln!(out, "\n## Search steps\n\n| step | kind | parent | child | minibatch right (parent → child) | accepted | calls spent | note |\n|---|---|---|---|---|---|---|---|");
    for (i, s) in search.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | #{} | {} | {:.0} → {} of {} | {} | {} | {} |",
            i + 1,
            s.kind,
            s.parent,
            s.child
                .map(|c| format!("#{c}"))
                .unwrap_or_else(|| "–".into()),
            s.minibatch.0,
            s.minibatch
                .1
                .map(|c| format!("{c:.0}"))
                .unwrap_or_else(|| "–".into()),
            s.size,
            if s.accepted { "yes" } else { "" },
            s.spent.calls,
            s.note
        );
    }
}
