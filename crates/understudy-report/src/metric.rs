//! One named task figure (a mean with its interval, or a remark) and the grouping of values by
//! problem that clustered figures resample.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::stats::{self, Estimate};

/// How a metric's value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A share in [0, 1], shown as a percentage.
    Share,
    /// A score in [0, 1], shown with three decimals (ROUGE).
    Score,
    /// A 1-10 rating.
    Rating,
}

/// One named figure.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub name: String,
    pub unit: Unit,
    /// A mean with its CI, or `None` for counts.
    pub estimate: Option<Estimate>,
    /// Words for counts and remarks ("3 of 20 timed out").
    pub note: String,
}

impl Metric {
    pub(crate) fn mean(name: &str, unit: Unit, values: &[f64]) -> Self {
        Self {
            name: name.to_string(),
            unit,
            estimate: Some(stats::mean_interval(values)),
            note: String::new(),
        }
    }

    /// A mean over clustered values (several per item): intervals resample items.
    pub(crate) fn clustered(name: &str, unit: Unit, clusters: &[Vec<f64>]) -> Self {
        Self {
            name: name.to_string(),
            unit,
            estimate: Some(stats::clustered_mean(clusters)),
            note: String::new(),
        }
    }

    pub(crate) fn note(name: &str, note: String) -> Self {
        Self {
            name: name.to_string(),
            unit: Unit::Share,
            estimate: None,
            note,
        }
    }
}

/// Values grouped by problem, in a stable order: one cluster per problem.
pub(crate) fn by_problem(
    problems: &[String],
    values: impl Iterator<Item = (usize, f64)>,
) -> Vec<Vec<f64>> {
    let mut groups: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (i, v) in values {
        if let Some(p) = problems.get(i) {
            groups.entry(p.as_str()).or_default().push(v);
        }
    }
    groups.into_values().collect()
}
