//! JUnit XML, the format GitLab, Jenkins and GitHub test reporters read: one test case per task
//! and row (eval) or per task and pair of rows (compare), failures carrying the numbers.
//! Written by hand: a dozen elements and one escape function do not need an XML crate.

use std::fmt::Write;

use crate::compare::RowComparison;
use crate::summary::Summary;

/// One test case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub classname: String,
    pub name: String,
    /// `(message, details)` when the case failed.
    pub failure: Option<(String, String)>,
    /// Why the case could not be checked.
    pub skipped: Option<String>,
    /// The numbers, shown by reporters as the case's output.
    pub output: String,
}

/// A suite of cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    pub name: String,
    pub cases: Vec<Case>,
}

/// Text as XML character data or an attribute value; characters XML 1.0 forbids are dropped.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

impl Suite {
    pub fn failures(&self) -> usize {
        self.cases.iter().filter(|c| c.failure.is_some()).count()
    }

    pub fn to_xml(&self) -> String {
        let skipped = self.cases.iter().filter(|c| c.skipped.is_some()).count();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"understudy\" tests=\"{n}\" failures=\"{f}\" skipped=\"{skipped}\">\n  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{f}\" errors=\"0\" skipped=\"{skipped}\">",
            esc(&self.name),
            n = self.cases.len(),
            f = self.failures()
        );
        for c in &self.cases {
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\">",
                esc(&c.classname),
                esc(&c.name)
            );
            if let Some((message, details)) = &c.failure {
                let _ = writeln!(
                    out,
                    "      <failure message=\"{}\" type=\"understudy\">{}</failure>",
                    esc(message),
                    esc(details)
                );
            }
            if let Some(why) = &c.skipped {
                let _ = writeln!(out, "      <skipped message=\"{}\"/>", esc(why));
            }
            let _ = writeln!(
                out,
                "      <system-out>{}</system-out>\n    </testcase>",
                esc(&c.output)
            );
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

/// `compare --junit`: one case per task of each pair; it fails on a significant regression, or
/// with `require_equivalence` where equivalence is not shown.
pub fn compare_suite(comparisons: &[RowComparison], require_equivalence: bool) -> Suite {
    let mut cases = Vec::new();
    for c in comparisons {
        for t in &c.tasks {
            let only = RowComparison {
                tasks: vec![t.clone()],
                ..c.clone()
            };
            let why = only.gate_failures(true, require_equivalence);
            let output = crate::compare::render_text(std::slice::from_ref(&only));
            cases.push(Case {
                classname: format!("understudy.compare.{} vs {}", c.a, c.b),
                name: t.task.clone(),
                failure: (!why.is_empty()).then(|| (why.join("; "), output.clone())),
                skipped: None,
                output,
            });
        }
    }
    Suite {
        name: "understudy compare".into(),
        cases,
    }
}

/// `eval --junit`: one case per task and row. With `min_share`, a row other than the
/// reference fails when the lower end of its share-of-reference interval is under the bar, and
/// is skipped (with the reason) where no share is meaningful.
pub fn eval_suite(summary: &Summary, min_share: Option<f64>) -> Suite {
    let mut cases = Vec::new();
    for r in &summary.rows {
        for t in &r.tasks {
            let share = t.share_of_reference.map_or("–".into(), |s| {
                format!(
                    "{:.1}% [{:.1}–{:.1}]",
                    s.value * 100.0,
                    s.low * 100.0,
                    s.high * 100.0
                )
            });
            let output = format!(
                "score {:.1}% [{:.1}–{:.1}] n={}; share of reference {share}; cost per 1,000 answers {}",
                t.accuracy.value * 100.0,
                t.accuracy.low * 100.0,
                t.accuracy.high * 100.0,
                t.accuracy.n,
                r.cost.per_1000_text()
            );
            let mut case = Case {
                classname: format!(
                    "understudy.eval.run{}.{}/{}/{}",
                    summary.run.id, r.model, r.strategy, r.format
                ),
                name: t.task.clone(),
                failure: None,
                skipped: None,
                output,
            };
            if min_share.is_some() && r.is_reference {
                case.skipped = Some("the reference itself (its share is 1 by definition)".into());
            }
            if let (Some(bar), false) = (min_share, r.is_reference) {
                match (&t.share_of_reference, &t.share_not_meaningful) {
                    (Some(s), _) if s.low.is_nan() => {
                        case.failure = Some((
                            "share of reference undefined (the reference scores 0 on these items): the bar cannot be checked".into(),
                            case.output.clone(),
                        ))
                    }
                    (Some(s), _) if s.low < bar => {
                        case.failure = Some((
                            format!(
                                "share of reference {:.1}% has its 95% lower bound {:.1}% under the bar {:.1}% ({})",
                                s.value * 100.0,
                                s.low * 100.0,
                                bar * 100.0,
                                s.method
                            ),
                            case.output.clone(),
                        ))
                    }
                    (Some(_), _) => {}
                    (None, Some(why)) => case.skipped = Some(format!("share of reference {why}")),
                    (None, None) => {
                        case.skipped = Some("no share of reference: the run has no reference".into())
                    }
                }
            }
            cases.push(case);
        }
    }
    Suite {
        name: format!("understudy eval run {}", summary.run.id),
        cases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_what_xml_forbids() {
        let suite = Suite {
            name: "s<1>".into(),
            cases: vec![Case {
                classname: "a\"b".into(),
                name: "t&u".into(),
                failure: Some(("bad 'x'".into(), "\u{1}ok".into())),
                skipped: None,
                output: String::new(),
            }],
        };
        let xml = suite.to_xml();
        assert!(
            xml.contains("name=\"s&lt;1&gt;\" tests=\"1\" failures=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains("classname=\"a&quot;b\" name=\"t&amp;u\""),
            "{xml}"
        );
        assert!(
            xml.contains("message=\"bad &apos;x&apos;\" type=\"understudy\">ok</failure>"),
            "{xml}"
        );
    }

    #[test]
    fn an_undefined_share_fails_the_gate_instead_of_passing_it() {
        // An open task (ROUGE) where the reference scores 0: no share exists, and the old gate
        // passed it because a NaN bound is not below the bar.
        let cell = |model: &str, item: usize, score: f64| understudy_store::Cell {
            model: model.into(),
            detail: Some(format!("{{\"rougeL\": {score}}}")),
            ..understudy_store::Cell::for_test(&format!("i{item}"), score)
        };
        let mut cells = Vec::new();
        for i in 0..10 {
            cells.push(cell("ref", i, 0.0));
            cells.push(cell("m", i, 0.5));
        }
        let run = understudy_store::RunInfo {
            id: 1,
            plan_key: "k".into(),
            created_at: "now".into(),
            finished_at: None,
            status: "finished".into(),
            plan_json: r#"{"reference": "ref", "strategies": ["zero-shot"], "formats": ["plain"]}"#
                .into(),
            cells: cells.len() as i64,
        };
        let summary = crate::summary::summarise(run, &cells);
        let suite = eval_suite(&summary, Some(0.9));
        let failed: Vec<&Case> = suite.cases.iter().filter(|c| c.failure.is_some()).collect();
        assert_eq!(failed.len(), 1, "{suite:?}");
        assert!(
            failed[0].failure.as_ref().unwrap().0.contains("undefined"),
            "{suite:?}"
        );
        assert!(suite.cases.iter().any(|c| c
            .skipped
            .as_deref()
            .is_some_and(|s| s.contains("reference itself"))));
    }
}
