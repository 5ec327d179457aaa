//! Which rows a comparison pairs: `RUN` (a whole run) or `RUN:model/strategy/format` (one row of
//! it), matched up between the two sides — a row with the same key in both runs, or the one row
//! each side names.

use std::str::FromStr;

use understudy_store::{Cell, RunInfo};

use crate::metrics;

/// A row: (model, strategy, format).
pub type RowKey = (String, String, String);

/// What was asked for on one side.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub run: i64,
    pub row: Option<RowKey>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SelectError {
    #[error("{spec:?}: {why} (write RUN or RUN:model/strategy/format, e.g. 3 or 3:smollm2-135m/zero-shot/plain)")]
    BadSpec { spec: String, why: String },
    #[error("run {run} has no row {row}; its rows: {rows}")]
    NoRow { run: i64, row: String, rows: String },
    #[error("{side} ({run}) has several rows and none matches the other side's; name one as {run}:model/strategy/format — its rows: {rows}")]
    Ambiguous {
        side: &'static str,
        run: i64,
        rows: String,
    },
}

impl FromStr for Spec {
    type Err = SelectError;

    fn from_str(spec: &str) -> Result<Spec, SelectError> {
        let bad = |why: &str| SelectError::BadSpec {
            spec: spec.to_string(),
            why: why.to_string(),
        };
        let (run, row) = match spec.split_once(':') {
            Some((run, row)) => (run, Some(row)),
            None => (spec, None),
        };
        let run: i64 = run
            .trim()
            .parse()
            .map_err(|_| bad("the run must be a number (see `understudy runs`)"))?;
        let row = match row {
            None => None,
            Some(row) => {
                // From the right: a model name may itself hold a slash.
                let mut parts = row.rsplitn(3, '/');
                let format = parts.next().filter(|s| !s.is_empty());
                let strategy = parts.next().filter(|s| !s.is_empty());
                let model = parts.next().filter(|s| !s.is_empty());
                match (model, strategy, format) {
                    (Some(m), Some(s), Some(f)) => Some((m.into(), s.into(), f.into())),
                    _ => return Err(bad("a row is model/strategy/format")),
                }
            }
        };
        Ok(Spec { run, row })
    }
}

/// One side of a comparison: a row of a run with its graded cells.
#[derive(Debug, Clone)]
pub struct Side {
    pub run: RunInfo,
    pub row: RowKey,
    pub samples: usize,
    pub cells: Vec<Cell>,
}

impl Side {
    /// "3:smollm2-135m/zero-shot/plain".
    pub fn label(&self) -> String {
        format!("{}:{}", self.run.id, row_text(&self.row))
    }
}

pub fn row_text(row: &RowKey) -> String {
    format!("{}/{}/{}", row.0, row.1, row.2)
}

/// The rows of a run's cells, in the order they first appear.
pub fn rows_of(cells: &[Cell]) -> Vec<RowKey> {
    let mut rows: Vec<RowKey> = Vec::new();
    for c in cells {
        let key = (c.model.clone(), c.strategy.clone(), c.format.clone());
        if !rows.contains(&key) {
            rows.push(key);
        }
    }
    rows
}

fn rows_list(rows: &[RowKey]) -> String {
    rows.iter().map(row_text).collect::<Vec<_>>().join(", ")
}

fn side(run: &RunInfo, cells: &[Cell], row: &RowKey) -> Side {
    Side {
        run: run.clone(),
        row: row.clone(),
        samples: run.plan().samples(),
        cells: cells
            .iter()
            .filter(|c| (&c.model, &c.strategy, &c.format) == (&row.0, &row.1, &row.2))
            .filter(|c| !metrics::ungraded(c))
            .cloned()
            .collect(),
    }
}

/// The rows to compare, A's paired with B's.
pub fn pair_up(
    a: (&Spec, &RunInfo, &[Cell]),
    b: (&Spec, &RunInfo, &[Cell]),
) -> Result<Vec<(Side, Side)>, SelectError> {
    let (rows_a, rows_b) = (rows_of(a.2), rows_of(b.2));
    for (spec, rows) in [(a.0, &rows_a), (b.0, &rows_b)] {
        if let Some(row) = &spec.row {
            if !rows.contains(row) {
                return Err(SelectError::NoRow {
                    run: spec.run,
                    row: row_text(row),
                    rows: rows_list(rows),
                });
            }
        }
    }
    let keys: Vec<(RowKey, RowKey)> = match (&a.0.row, &b.0.row) {
        (Some(x), Some(y)) => vec![(x.clone(), y.clone())],
        (Some(x), None) => vec![(x.clone(), counterpart(x, &rows_b, "B", b.0.run)?)],
        (None, Some(y)) => vec![(counterpart(y, &rows_a, "A", a.0.run)?, y.clone())],
        (None, None) => {
            let shared: Vec<(RowKey, RowKey)> = rows_a
                .iter()
                .filter(|r| rows_b.contains(r))
                .map(|r| (r.clone(), r.clone()))
                .collect();
            match (shared.is_empty(), rows_a.len(), rows_b.len()) {
                (false, _, _) => shared,
                (true, 1, 1) => vec![(rows_a[0].clone(), rows_b[0].clone())],
                (true, 1, _) => {
                    return Err(ambiguous("B", b.0.run, &rows_b));
                }
                _ => return Err(ambiguous("A", a.0.run, &rows_a)),
            }
        }
    };
    Ok(keys
        .iter()
        .map(|(x, y)| (side(a.1, a.2, x), side(b.1, b.2, y)))
        .collect())
}

fn ambiguous(side: &'static str, run: i64, rows: &[RowKey]) -> SelectError {
    SelectError::Ambiguous {
        side,
        run,
        rows: rows_list(rows),
    }
}

/// The row of a whole run to set against `row`: the same row, or the run's only one.
fn counterpart(
    row: &RowKey,
    rows: &[RowKey],
    name: &'static str,
    run: i64,
) -> Result<RowKey, SelectError> {
    if rows.contains(row) {
        Ok(row.clone())
    } else if rows.len() == 1 {
        Ok(rows[0].clone())
    } else {
        Err(ambiguous(name, run, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_from_the_right() {
        let s: Spec = "3:org/model/few-shot:3/json".parse().unwrap();
        assert_eq!(s.run, 3);
        assert_eq!(
            s.row,
            Some(("org/model".into(), "few-shot:3".into(), "json".into()))
        );
        assert_eq!("12".parse::<Spec>().unwrap().row, None);
        for bad in ["x", "3:m/s", "3:/s/f", ""] {
            assert!(bad.parse::<Spec>().is_err(), "{bad}");
        }
    }
}
