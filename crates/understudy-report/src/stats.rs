//! The statistics every page prints, from `understudy-stats` (one function per question, each
//! naming its method); re-exported here so report, tune and optimize reach them as one module.

pub use understudy_stats::*;
