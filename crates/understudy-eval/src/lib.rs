//! The measurement engine behind `understudy eval`: tasks declared in TOML, prompt strategies
//! (shared with the gateway), scorers, the resumable runner, the SQLite store and the statistics
//! that turn stored cells into scores with confidence intervals. No terminal output here.

pub mod baseline;
pub mod builtin;
pub mod conditions;
pub mod error;
pub mod grade;
pub mod metrics;
pub mod plan;
pub mod report;
pub mod retrieval;
pub mod runner;
pub mod scorer;
pub mod stats;
pub use understudy_store as store;
pub mod strategy;
pub mod study;
pub mod summary;
pub mod task;
pub mod tune;

pub use error::EvalError;
