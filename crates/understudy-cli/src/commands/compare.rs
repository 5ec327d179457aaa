//! `understudy compare A B`: two runs or rows from the store, paired on their shared items;
//! text or JSON on stdout, an HTML page and JUnit XML on request, and the CI gate's exit code.

use std::path::Path;

use anyhow::{bail, Context, Result};
use understudy_report::compare::{self, Margins};
use understudy_report::junit;

use crate::cli::gates::CompareArgs;
use crate::output;

/// Regression margin, equivalence margin and share bar from the flags.
pub fn margins(margin: Option<f64>, share: f64) -> Margins {
    let defaults = Margins::default();
    Margins {
        regression: margin.unwrap_or(defaults.regression),
        equivalence: margin.unwrap_or(defaults.equivalence),
        share,
    }
}

pub async fn run(config_path: Option<&Path>, args: CompareArgs) -> Result<()> {
    let store = crate::run_output::open(config_path, &args.store).await?;
    let made = compare::from_store(
        store.runs.as_ref(),
        &args.a,
        &args.b,
        margins(args.margin, args.share),
    )
    .await?;
    if args.json {
        output::data_line(&serde_json::to_string_pretty(&made)?);
    } else {
        output::data_line(compare::render_text(&made).trim_end());
    }
    if let Some(path) = &args.html {
        std::fs::write(path, compare::render_html(&made))
            .with_context(|| format!("cannot write {}", path.display()))?;
        output::note(&format!("compare page: {}", path.display()));
    }
    if let Some(path) = &args.junit {
        crate::run_output::write_junit(
            path,
            &junit::compare_suite(&made, args.require_equivalence),
        )?;
    }
    if args.fail_on_regression || args.require_equivalence {
        let why: Vec<String> = made
            .iter()
            .flat_map(|c| c.gate_failures(args.fail_on_regression, args.require_equivalence))
            .collect();
        if !why.is_empty() {
            bail!("the gate fails:\n  {}", why.join("\n  "));
        }
        output::note(if args.require_equivalence {
            "gate passed: no significant regression, and equivalence shown on every task"
        } else {
            "gate passed: no significant regression"
        });
    }
    Ok(())
}
