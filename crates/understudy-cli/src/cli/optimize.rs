//! `understudy optimize`'s flags.

use std::path::PathBuf;

use clap::Args;

use crate::cli::store::StoreArgs;
use crate::cli::values::at_least_one;

#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// The task: a built-in name or a path to a task .toml file.
    #[arg(long)]
    pub task: String,
    /// The local model whose prompt is optimized (default: the configured default model).
    #[arg(long)]
    pub model: Option<String>,
    /// The stronger model that rewrites the instruction and is the reference on the test split
    /// (default: the configured reference model).
    #[arg(long)]
    pub teacher: Option<String>,
    /// Model calls the search may make, cached ones included (so a rerun replays the same
    /// search); the test-split measurement afterwards is not counted. Below one validation
    /// pass, the winner is the baseline with the teacher's demonstrations, unvalidated.
    #[arg(long, default_value_t = 200, value_parser = at_least_one)]
    pub budget: usize,
    /// Tokens (prompt plus completion) the search may spend; no step starts once they are.
    #[arg(long, value_name = "TOKENS")]
    pub budget_tokens: Option<u64>,
    /// The share of the reference the test split checks the optimized prompt keeps.
    #[arg(long, default_value_t = 0.95)]
    pub target: f64,
    /// Items of the task to split into train, validation and test (~30/30/40%).
    #[arg(long, default_value_t = 100, value_parser = at_least_one)]
    pub limit: usize,
    /// Seed for item order (and the task's few-shot pool).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Hand-written strategies the search starts from and the test compares against
    /// (default: zero-shot, role, few-shot:3, cot, role+cot); the first is the baseline.
    #[arg(long, value_delimiter = ',')]
    pub strategies: Option<Vec<String>>,
    /// Prompt formats, comma-separated (plain, markdown, json, yaml, fields): every hand-written
    /// strategy runs in the first, the baseline also in each of the others; with more than one,
    /// search steps also move a candidate to the next format.
    #[arg(long, value_delimiter = ',', default_value = "plain")]
    pub formats: Vec<String>,
    /// Train items per search step.
    #[arg(long, default_value_t = 4, value_parser = at_least_one)]
    pub minibatch: usize,
    /// Demonstrations a demonstration step puts into the prompt (1..16).
    #[arg(long, default_value_t = 3, value_parser = at_least_one)]
    pub demos: usize,
    /// The teacher answers train items step by step for its demonstrations, and the
    /// bootstrapped candidates are chain-of-thought prompts whose demonstrations show the
    /// teacher's reasoning (DSPy's BootstrapFewShot on a ChainOfThought program). Without it
    /// the teacher answers under the baseline and demonstrations show only the answer.
    #[arg(long)]
    pub bootstrap_cot: bool,
    /// Directory for the page (optimize.md) and the profile (profile.toml); default
    /// optimize/TASK.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Call the models even when the response cache has the answer.
    #[arg(long)]
    pub no_cache: bool,
    /// Inference threads for embedded models.
    #[arg(long)]
    pub threads: Option<u32>,
    /// Before the first call, wait (up to 2 minutes) until other processes leave the CPU alone.
    #[arg(long)]
    pub quiet_machine: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}
