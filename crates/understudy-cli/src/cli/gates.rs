//! Command-line arguments of `understudy compare`, `understudy view` and the CI gates eval takes
//! (`--min-share`, `--junit`), with their value parsers.

use std::path::PathBuf;

use clap::Args;

use crate::cli::store::StoreArgs;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline: a run id, or one row of it as RUN:model/strategy/format.
    pub a: String,
    /// The run or row set against it (rows with the same model/strategy/format are paired).
    pub b: String,
    /// Margin in percentage points ("2" or "2pp"): a regression is B below A by more than it,
    /// equivalence is B within ± it. Default: any significant drop is a regression, and
    /// equivalence is tested at ±5 pp.
    #[arg(long, value_name = "PP", value_parser = points)]
    pub margin: Option<f64>,
    /// The share of A that B should keep, tested one-sided ("is B ≥ 95% of A?").
    #[arg(long, value_name = "FRACTION", default_value_t = 0.95, value_parser = fraction)]
    pub share: f64,
    /// Exit 1 when B is significantly worse than A on a task (one-sided paired t beyond the
    /// margin, Holm-adjusted over the tasks), printing why.
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Also exit 1 when equivalence within the margin is not shown on every task.
    #[arg(long)]
    pub require_equivalence: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also write the comparison as an HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write JUnit XML: one test case per task (and pair of rows).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ViewArgs {
    /// Address to listen on (default 127.0.0.1:8790). Beyond loopback the API keys of
    /// `[serve]` are required (a browser asks for one as the password).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// eval's CI gates.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// Fail (exit 1) when a row's share of the reference has its 95% lower bound under this
    /// fraction on any task (0.95 = 95%); needs a reference.
    #[arg(long, value_name = "FRACTION", value_parser = fraction)]
    pub min_share: Option<f64>,
    /// Write JUnit XML: one test case per task and row, failures carrying the numbers.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// "2", "2pp" or "2.5 pp" percentage points, as a fraction (0.02).
pub fn points(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches("pp").trim();
    match number.parse::<f64>() {
        Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Ok(p / 100.0),
        _ => Err(format!(
            "{text:?} is not a margin in percentage points from 0 to 100 (e.g. 2 or 2pp)"
        )),
    }
}

/// A share such as 0.95, above 0 and at most 2.
pub fn fraction(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 2.0 => Ok(x),
        _ => Err(format!(
            "{text:?} is not a share above 0 and at most 2 (0.95 means 95%)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_read_as_points() {
        assert_eq!(points("2pp").unwrap(), 0.02);
        assert_eq!(points("5").unwrap(), 0.05);
        assert!(points("-1").is_err());
        assert!(points("two").is_err());
        assert!(fraction("95").is_err());
        assert_eq!(fraction("0.95").unwrap(), 0.95);
    }
}
