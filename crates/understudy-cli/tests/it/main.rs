//! The integration tests of `understudy-cli` as one binary (it links once; each file is a module).
//! Kept as binaries of their own: `busy_machine.rs` (measures latency under load: other tests beside it would be load of their own).

mod bad_input;
mod baselines;
mod canary;
mod capture;
mod ci_gates;
mod cli;
mod common;
mod crash_safety;
mod eval_cli;
mod exposure_cli;
mod first_hour;
mod gateway_models;
mod gateway_parallel;
mod long_input;
mod optimize_cli;
mod own_graders;
mod postgres_scale_out;
mod prefix_cache;
mod read_only_store;
mod round_trip;
mod sdk_apis;
mod security;
mod serve_cli;
mod serve_restart;
mod shadow_mode;
mod structured_cli;
mod study_cli;
mod tool_call_tasks;
mod tool_calls_sdk;
mod traffic_dataset;
mod tune_jointly;
mod tune_profiles;
mod view_browser;
