//! What is made of stored cells, the last stage of the eval pipeline: statistics (intervals,
//! paired tests), per-task metrics and baselines, the summary behind `understudy show`, the
//! HTML/Markdown/JSON/CSV report with its SVG charts (studies: `understudy-study`).

pub mod baseline;
pub mod compare;
pub mod cost;
pub mod graded;
pub mod items;
pub mod junit;
mod metric;
pub mod metrics;
pub mod paired;
mod reference_metrics;
pub mod report;
pub mod shadow;
pub mod stats;
mod structured_metrics;
pub mod summary;
