//! What a row's answers cost: tokens in and out, dollars where the model has a price
//! (`[models.NAME] price_in / price_out`), and CPU-seconds for models run on this machine — each
//! per 1,000 answers, the figure the report and `compare` put beside share of the reference.

use std::collections::BTreeMap;

use serde::Serialize;
use understudy_core::price::Price;
use understudy_store::Cell;

/// A row's cost over the cells it was measured on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cost {
    /// Answers counted.
    pub answers: usize,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// Dollars for those tokens at the model's configured price; `None` without a price.
    pub dollars: Option<f64>,
    /// CPU-seconds of the cells produced on this machine in this run (inference threads × wall
    /// time ÷ sequences the engine ran together), and how many cells that covers: cached cells
    /// and remote models have none.
    pub cpu_seconds: f64,
    pub cpu_answers: usize,
    /// Answers taken from the response cache (no model call in this run, so no CPU time).
    #[serde(default)]
    pub cached_answers: usize,
}

/// The CPU-seconds one cell took, when it ran on this machine with a known thread count.
fn cpu_seconds(cell: &Cell) -> Option<f64> {
    let c = cell.conditions.as_ref()?;
    if cell.cached || !c.local {
        return None;
    }
    let threads = f64::from(c.threads?);
    let together = f64::from(c.batched.unwrap_or(1).max(1));
    Some(cell.total_ms / 1000.0 * threads / together)
}

impl Cost {
    /// The cost of `cells` (one row's), without a price yet.
    pub fn of<'c>(cells: impl IntoIterator<Item = &'c Cell>) -> Cost {
        let mut cost = Cost::default();
        for cell in cells {
            cost.answers += 1;
            cost.cached_answers += usize::from(cell.cached);
            cost.tokens_in += u64::from(cell.prompt_tokens);
            cost.tokens_out += u64::from(cell.completion_tokens);
            if let Some(s) = cpu_seconds(cell) {
                cost.cpu_seconds += s;
                cost.cpu_answers += 1;
            }
        }
        cost
    }

    /// Sets the dollar cost from `model`'s price, if `prices` has one.
    pub fn price(&mut self, model: &str, prices: &BTreeMap<String, Price>) {
        self.dollars = prices
            .get(model)
            .map(|p| p.dollars(self.tokens_in, self.tokens_out));
    }

    pub fn dollars_per_1000(&self) -> Option<f64> {
        let answers = self.answers.max(1) as f64;
        self.dollars.map(|d| d * 1000.0 / answers)
    }

    pub fn cpu_seconds_per_1000(&self) -> Option<f64> {
        (self.cpu_answers > 0).then(|| self.cpu_seconds * 1000.0 / self.cpu_answers as f64)
    }

    /// "$0.42 per 1,000 answers", "1,830 CPU-s per 1,000 answers", both, "no CPU-seconds
    /// (cached)" when every answer came from the response cache, or "no price set".
    pub fn per_1000_text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(d) = self.dollars_per_1000() {
            parts.push(format!("${d:.4}"));
        }
        if let Some(s) = self.cpu_seconds_per_1000() {
            parts.push(format!("{s:.0} CPU-s"));
        }
        if parts.is_empty() {
            self.no_cost_text().to_string()
        } else {
            parts.join(" + ")
        }
    }

    /// Why a row has no cost figure: all its answers were cached (nothing ran, so no CPU time
    /// was spent in this run), or its model has no price and did not run here.
    pub fn no_cost_text(&self) -> &'static str {
        if self.answers > 0 && self.cached_answers == self.answers {
            "no CPU-seconds (cached)"
        } else {
            "no price set"
        }
    }

    /// Mean prompt and completion tokens per answer: "412 in / 3 out".
    pub fn tokens_text(&self) -> String {
        let answers = self.answers.max(1) as f64;
        format!(
            "{:.0} in / {:.0} out",
            self.tokens_in as f64 / answers,
            self.tokens_out as f64 / answers
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_store::Conditions;

    fn local(total_ms: f64, threads: u32, batched: Option<u32>) -> Cell {
        Cell {
            total_ms,
            prompt_tokens: 100,
            completion_tokens: 10,
            conditions: Some(Conditions {
                other_cores: 0.0,
                cores: 2,
                load1: 0.0,
                in_flight: 1,
                threads: Some(threads),
                local: true,
                batched,
            }),
            ..Cell::for_test("i", 1.0)
        }
    }

    #[test]
    fn cpu_time_splits_among_sequences_and_skips_cached_cells() {
        let cached = Cell {
            cached: true,
            ..local(9000.0, 2, None)
        };
        let cells = [local(1000.0, 2, None), local(1000.0, 2, Some(2)), cached];
        let mut cost = Cost::of(&cells);
        assert_eq!(cost.answers, 3);
        assert_eq!(cost.tokens_in, 300);
        assert_eq!(cost.cpu_answers, 2);
        assert!((cost.cpu_seconds - 3.0).abs() < 1e-12);
        assert_eq!(cost.cpu_seconds_per_1000(), Some(1500.0));
        assert_eq!(cost.per_1000_text(), "1500 CPU-s");
        let prices = BTreeMap::from([(
            "m".to_string(),
            Price {
                input_per_million: 1.0,
                output_per_million: 10.0,
            },
        )]);
        cost.price("m", &prices);
        // 300 × $1/M + 30 × $10/M = $0.0006 for 3 answers: $0.2 per 1,000.
        assert!((cost.dollars_per_1000().unwrap() - 0.2).abs() < 1e-12);
    }

    #[test]
    fn a_row_answered_from_the_cache_says_so_rather_than_no_price() {
        let cached = Cell {
            cached: true,
            ..local(9000.0, 2, None)
        };
        let cost = Cost::of([&cached, &cached]);
        assert_eq!(cost.per_1000_text(), "no CPU-seconds (cached)");
        let remote = Cell {
            conditions: None,
            ..Cell::for_test("i", 1.0)
        };
        assert_eq!(Cost::of([&remote]).per_1000_text(), "no price set");
    }
}
