//! Turns a run's stored cells into the summary: per (model, strategy, format) and task the score
//! with n and a 95% CI, macro-F1 where labels apply, share of the reference (paired), format
//! failures, latency; and paired comparisons ("A − B = +x pp [CI], p = …"). Rendering as text
//! is a pure function; printing is the CLI's job.

use serde::Serialize;

use crate::baseline::{AnswerCounts, Baseline};
use crate::metrics;
use crate::stats::{self, Comparison, Estimate};
use understudy_store::load_summary::LoadSummary;
use understudy_store::RunInfo;

/// One task's numbers in one row.
#[derive(Debug, Clone, Serialize)]
pub struct TaskScore {
    pub task: String,
    /// Mean score over items (over problems, each the mean of its samples, when several samples
    /// were drawn), with its 95% interval over those items (`understudy_stats::mean_interval`).
    pub accuracy: Estimate,
    pub macro_f1: Option<f64>,
    /// Per-class precision, recall and F1 (label tasks only).
    pub classes: Vec<stats::ClassScore>,
    /// Chance and majority-class baselines on the same items with a test of the score against
    /// them; `None` for open-ended tasks.
    pub baseline: Option<Baseline>,
    /// How often each answer was given.
    pub answers: AnswerCounts,
    /// Score ÷ the reference's score on the same items; only when the reference is above its
    /// baseline (else see `share_not_meaningful`).
    pub share_of_reference: Option<Estimate>,
    /// (score − baseline) ÷ (reference − baseline) on the same items: the share of the
    /// reference's lead over the baseline this row keeps.
    pub share_above_baseline: Option<Estimate>,
    /// Why no share of the reference is given although the run has a reference.
    pub share_not_meaningful: Option<String>,
    pub format_failures: usize,
    pub cached: usize,
    /// Median end-to-end latency per item on this task, in ms.
    pub latency_p50_ms: f64,
    /// Task-specific figures (pass@1, IFEval accuracies, ROUGE, judge ratings).
    pub metrics: Vec<metrics::Metric>,
    /// Cells without a usable grade (judge or grader failures), left out of the score.
    pub ungraded: usize,
    /// The items whose own grader failed (part of `ungraded`), with why.
    pub grader_failures: Vec<crate::graded::GraderFailure>,
    /// How item scores spread over [0, 1], for tasks with partial credit.
    pub score_spread: Option<crate::graded::ScoreSpread>,
    /// `--until-ci` stopped this row before it reached the run's limit (n is then the rule's;
    /// the interval printed is the one the rule checked).
    pub stopped_by_rule: bool,
}

/// One row: a model under a strategy and format.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub model: String,
    pub strategy: String,
    pub format: String,
    pub is_reference: bool,
    pub tasks: Vec<TaskScore>,
    /// Score over every item of every task in the row, with a bootstrap CI over those items.
    pub pooled: Estimate,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub ttft_p50_ms: f64,
    pub output_tokens_mean: f64,
    pub cells: usize,
    /// Prompt tokens of the row's cells, and how many of them the engine's KV prefix cache
    /// supplied (a warm measurement when above 0).
    pub prompt_tokens: u64,
    pub cached_prompt_tokens: u64,
    /// The machine's load while this row's latency was measured.
    pub load: LoadSummary,
    /// Tokens, dollars (where the model has a price) and CPU-seconds of the row's answers.
    pub cost: crate::cost::Cost,
}

/// A paired comparison on one task.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonLine {
    pub task: String,
    pub a: String,
    pub b: String,
    pub comparison: Comparison,
    /// Share of the shared items the two rows scored differently (what a paired test's power
    /// depends on; used to say how many items would settle the difference).
    pub discordant: f64,
}

/// Everything `understudy show` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub run: RunInfo,
    pub reference: Option<String>,
    /// Samples drawn per item; above one, scores and tests are over problems, not samples.
    pub samples: usize,
    pub rows: Vec<Row>,
    pub comparisons: Vec<ComparisonLine>,
    /// The machine's load over every cell measured in this run.
    pub load: LoadSummary,
}

impl Summary {
    /// Sets each row's dollar cost from the configured prices (`[models.NAME] price_in/out`).
    pub fn price(
        &mut self,
        prices: &std::collections::BTreeMap<String, understudy_core::price::Price>,
    ) {
        for row in &mut self.rows {
            row.cost.price(&row.model, prices);
        }
    }

    /// One line on the conditions latency was measured under, for every page that shows it.
    pub fn load_line(&self) -> String {
        let flagged: Vec<String> = self
            .rows
            .iter()
            .filter(|r| r.load.flagged())
            .map(|r| format!("{} {} {}", r.model, r.strategy, r.format))
            .collect();
        if flagged.is_empty() {
            format!(
                "latency conditions: {}; no row's latency was measured under load",
                self.load.describe()
            )
        } else {
            format!(
                "latency conditions: {}; LATENCY MEASURED UNDER LOAD (marked *, at least {:.0}% of the row's cells) for: {}",
                self.load.describe(),
                understudy_store::load_summary::FLAG_SHARE * 100.0,
                flagged.join(", ")
            )
        }
    }

    /// Cells answered from the response cache, over the whole run.
    pub fn cached(&self) -> usize {
        self.rows
            .iter()
            .flat_map(|r| r.tasks.iter().map(|t| t.cached))
            .sum()
    }

    /// One line on how latency was measured — cached cells, reused prompt prefixes, cells run
    /// at once — for every page that shows latency.
    pub fn measurement_line(&self) -> String {
        let mut line = format!("{}; {}", self.cache_line(), self.load.concurrency());
        if let Some(rows) = self.concurrency_by_row() {
            line.push_str("; ");
            line.push_str(&rows);
        }
        if let Some(rule) = self.stopping_rule() {
            line.push_str("; ");
            line.push_str(&rule.describe());
        }
        line
    }

    /// Which rows ran several cells at once, when some rows did and others did not (a latency
    /// compared across such rows includes waiting beside the other cells on one side only).
    fn concurrency_by_row(&self) -> Option<String> {
        let several: Vec<String> = self
            .rows
            .iter()
            .filter(|r| r.load.most_in_flight > 1)
            .map(|r| {
                format!(
                    "{} {} {} up to {}",
                    r.model, r.strategy, r.format, r.load.most_in_flight
                )
            })
            .collect();
        if several.is_empty() || several.len() == self.rows.len() {
            return None;
        }
        Some(format!(
            "by row: {}; the other rows ran one cell at a time",
            several.join(", ")
        ))
    }

    /// The adaptive stopping rule the run was made with (`--until-ci`), if any.
    pub fn stopping_rule(&self) -> Option<understudy_stats::stopping::StopRule> {
        self.run
            .plan()
            .until_ci
            .map(|width_points| understudy_stats::stopping::StopRule { width_points })
    }

    /// Cached cells and reused prompt prefixes.
    fn cache_line(&self) -> String {
        let cells: usize = self.rows.iter().map(|r| r.cells).sum();
        let responses = match self.cached() {
            0 => format!("none of the {cells} cells came from the response cache"),
            cached => format!(
                "{cached} of {cells} cells came from the response cache: their latency is the one measured when the answer was first produced, in an earlier run; rows that include them are marked (c)"
            ),
        };
        let prompt: u64 = self.rows.iter().map(|r| r.prompt_tokens).sum();
        let reused: u64 = self.rows.iter().map(|r| r.cached_prompt_tokens).sum();
        if reused == 0 {
            return format!(
                "{responses}; no prompt tokens came from a KV prefix cache (cold prompts)"
            );
        }
        let warm: Vec<String> = self
            .rows
            .iter()
            .filter(|r| r.cached_prompt_tokens > 0)
            .map(|r| {
                format!(
                    "{} {} {} {:.0}%",
                    r.model,
                    r.strategy,
                    r.format,
                    100.0 * r.cached_prompt_tokens as f64 / r.prompt_tokens.max(1) as f64
                )
            })
            .collect();
        format!(
            "{responses}; {reused} of {prompt} prompt tokens ({:.0}%) came from the engine's KV prefix cache instead of being processed (warm prompts: items of a row share its instruction and examples), so prompt-heavy latency is lower than a cold run's — by row: {}; `--cold` measures cold (no reuse, one cell at a time)",
            100.0 * reused as f64 / prompt.max(1) as f64,
            warm.join(", ")
        )
    }
}

/// Why a share of the reference means nothing: the reference does not beat guessing.
pub fn not_meaningful(reference: &str, score: f64, b: &Baseline) -> String {
    format!(
        "not meaningful: the reference {reference} scores {:.1}%, {} — {}",
        score * 100.0,
        b.verdict(),
        b.describe()
    )
}

mod build;
pub mod headline;
mod text;
pub use build::summarise;
pub use text::{baseline_lines, render_text};

/// A task whose every cell failed grading: no score, but the failures are counted.
fn ungraded_only(
    task: &str,
    ungraded: usize,
    grader_failures: Vec<crate::graded::GraderFailure>,
) -> TaskScore {
    let none = stats::mean_interval(&[]);
    TaskScore {
        task: task.to_string(),
        accuracy: none,
        macro_f1: None,
        classes: Vec::new(),
        baseline: None,
        answers: AnswerCounts::of(&[]),
        share_of_reference: None,
        share_above_baseline: None,
        share_not_meaningful: None,
        format_failures: 0,
        cached: 0,
        latency_p50_ms: f64::NAN,
        metrics: Vec::new(),
        ungraded,
        grader_failures,
        score_spread: None,
        stopped_by_rule: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_store::Cell;

    fn cell(model: &str, item: &str, score: f64) -> Cell {
        Cell {
            model: model.into(),
            task: "code".into(),
            ..Cell::for_test(item, score)
        }
    }

    fn run(plan: &str, cells: &[Cell]) -> RunInfo {
        RunInfo {
            id: 1,
            plan_key: "k".into(),
            created_at: "now".into(),
            finished_at: None,
            status: "finished".into(),
            plan_json: plan.into(),
            cells: cells.len() as i64,
        }
    }

    #[test]
    fn samples_of_one_problem_are_one_item_in_intervals_and_tests() {
        // 10 problems × 5 samples: n is 10, not 50, and the paired test counts problems.
        let mut cells = Vec::new();
        for p in 0..10 {
            for s in 0..5 {
                let a = f64::from(u8::from(p < 6 && s < 4));
                cells.push(cell("a", &format!("P{p}#{s}"), a));
                cells.push(cell("b", &format!("P{p}#{s}"), f64::from(u8::from(p < 5))));
            }
        }
        let plan = r#"{"samples": 5, "reference": "b", "strategies": ["zero-shot"], "formats": ["plain"]}"#;
        let summary = summarise(run(plan, &cells), &cells);
        let row_a = summary.rows.iter().find(|r| r.model == "a").unwrap();
        let a = &row_a.tasks[0];
        assert_eq!(a.accuracy.n, 10);
        assert!((a.accuracy.value - 0.48).abs() < 1e-12);
        assert_eq!(row_a.pooled.n, 10);
        // a against the reference b, paired over the 10 problems.
        assert_eq!(summary.comparisons.len(), 1);
        assert_eq!(summary.comparisons[0].comparison.difference.n, 10);
        assert_eq!(summary.samples, 5);
        // Sampled runs resample problems: wider than treating 50 samples as independent.
        let flat: Vec<f64> = cells
            .iter()
            .filter(|c| c.model == "a")
            .map(|c| c.score)
            .collect();
        let naive = stats::mean_interval(&flat);
        assert!(a.accuracy.high - a.accuracy.low > naive.high - naive.low);
    }

    #[test]
    fn the_line_names_the_rows_that_ran_several_cells_at_once() {
        let at_once = |model: &str, item: &str, in_flight: usize| Cell {
            conditions: Some(understudy_store::Conditions {
                other_cores: 0.0,
                cores: 2,
                load1: 0.0,
                in_flight,
                threads: Some(2),
                local: true,
                batched: None,
            }),
            ..cell(model, item, 1.0)
        };
        let plan = r#"{"strategies": ["zero-shot"], "formats": ["plain"]}"#;
        // a ran one cell at a time, b four at once: the page must say which.
        let mixed = vec![
            at_once("a", "1", 1),
            at_once("a", "2", 1),
            at_once("b", "1", 1),
            at_once("b", "2", 4),
        ];
        let line = summarise(run(plan, &mixed), &mixed).measurement_line();
        assert!(line.contains("up to 4 cells ran at once"), "{line}");
        assert!(
            line.contains(
                "by row: b zero-shot plain up to 4; the other rows ran one cell at a time"
            ),
            "{line}"
        );
        // Every row alike: the run-wide words say it all.
        let alike = vec![at_once("a", "1", 1), at_once("b", "1", 1)];
        let line = summarise(run(plan, &alike), &alike).measurement_line();
        assert!(line.ends_with("cells ran one at a time"), "{line}");
    }

    #[test]
    fn one_sample_never_splits_a_users_id() {
        let cells = vec![
            cell("a", "issue#1", 1.0),
            cell("a", "issue#2", 0.0),
            cell("a", "issue#3", 1.0),
        ];
        let plan = r#"{"strategies": ["zero-shot"], "formats": ["plain"]}"#;
        let summary = summarise(run(plan, &cells), &cells);
        assert_eq!(summary.rows[0].tasks[0].accuracy.n, 3);
        assert_eq!(summary.samples, 1);
    }
}
