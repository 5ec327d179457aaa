//! The integration tests of `understudy-tasks` as one binary (it links once; each file is a module).
//! Kept as binaries of their own: `sandbox.rs` (its leftover-process check must see only its own sandboxes).

mod command_grader;
mod dataset_checks;
mod fuzz_inputs;
mod humaneval_canonical;
mod ifeval_reference;
mod rouge_reference;
mod structured_tasks;
