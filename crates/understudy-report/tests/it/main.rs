//! The integration tests of `understudy-report` as one binary (it links once; each file is a module).

mod adaptive_stopping;
mod judged;
mod report;
mod run_and_summarise;
mod runner_requests;
