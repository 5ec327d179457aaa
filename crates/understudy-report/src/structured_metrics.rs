//! Figures for structured (JSON) answers beside their score: how many answers were JSON at all,
//! how many kept the task's schema, the share of gold fields matched before the schema check
//! (what a schema failure cost), and the fields answers added.

use serde_json::Value;

use crate::metric::{by_problem, Metric, Unit};

pub(crate) fn metrics(details: &[Value], problems: &[String]) -> Vec<Metric> {
    let of = |f: &dyn Fn(&Value) -> f64| {
        let values = details
            .iter()
            .enumerate()
            .filter(|(_, d)| d.get("structured").is_some())
            .map(|(k, d)| (k, f(&d["structured"])));
        by_problem(problems, values)
    };
    let flag = |b: bool| f64::from(u8::from(b));
    let mut out = vec![Metric::clustered(
        "answers that are JSON",
        Unit::Share,
        &of(&|s| flag(s["json"] == Value::Bool(true))),
    )];
    let has_schema = details
        .iter()
        .any(|d| d["structured"]["schema"] == Value::Bool(true));
    if has_schema {
        out.push(Metric::clustered(
            "answers valid against the schema",
            Unit::Share,
            &of(&|s| {
                flag(s["json"] == Value::Bool(true) && s["schema_valid"] == Value::Bool(true))
            }),
        ));
    }
    out.push(Metric::clustered(
        "gold fields matched (before the schema check)",
        Unit::Score,
        &of(&|s| {
            let fields = s["fields"].as_f64().unwrap_or(0.0);
            if fields > 0.0 {
                s["fields_matched"].as_f64().unwrap_or(0.0) / fields
            } else {
                0.0
            }
        }),
    ));
    let extra: Vec<f64> = details
        .iter()
        .filter_map(|d| d["structured"]["extra_fields"].as_f64())
        .collect();
    if !extra.is_empty() {
        out.push(Metric::note(
            "fields not in the gold answer",
            format!(
                "{:.1} per JSON answer on average",
                extra.iter().sum::<f64>() / extra.len() as f64
            ),
        ));
    }
    out
}
