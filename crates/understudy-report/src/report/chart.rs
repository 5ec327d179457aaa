//! What a report chart is: a rendered SVG with its file name and title, or — where the run
//! has no data for it — the chart's title and what would give it data.

/// A rendered chart.
pub struct Chart {
    pub file: String,
    pub title: String,
    pub svg: String,
}

/// A chart the run has no data for, and what would give it some.
pub struct NotDrawn {
    pub title: String,
    pub why: String,
}

/// The report's charts: those drawn, in reading order, and those the run has no data for.
#[derive(Default)]
pub struct Charts {
    pub drawn: Vec<Chart>,
    pub not_drawn: Vec<NotDrawn>,
}

pub(super) fn not_drawn(title: &str, why: impl Into<String>) -> NotDrawn {
    NotDrawn {
        title: title.into(),
        why: why.into(),
    }
}
