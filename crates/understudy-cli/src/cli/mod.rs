//! The command-line grammar (clap derive). Parsing only; commands live in `commands`.

pub mod canary;
pub mod dataset;
pub mod gates;
pub mod optimize;
pub mod shadow;
pub mod store;
pub mod values;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use values::at_least_one;

pub use store::StoreArgs;

/// Make a local open LLM stand in for a GPT-4-class model: measure the gap, serve what closes it.
#[derive(Debug, Parser)]
#[command(name = "understudy", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (default: ./understudy.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log more (repeat for more detail).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask a model one prompt, or chat interactively when no prompt is given.
    Chat(ChatArgs),
    /// List installed and known models, or install the default ones.
    Models(ModelsArgs),
    /// Measure models × prompt strategies × formats × tasks against a reference.
    Eval(EvalArgs),
    /// Check one of the report's claims on your models: a preset experiment and its page.
    Study(StudyArgs),
    /// List stored eval runs.
    Runs(StoreArgs),
    /// Show the summary table of one stored run.
    Show(ShowArgs),
    /// Compare two runs or rows item by item: paired difference, flip table, equivalence, CI
    /// gate.
    Compare(crate::cli::gates::CompareArgs),
    /// Browse runs, reports, comparisons and the request log in a local web app (read-only).
    View(crate::cli::gates::ViewArgs),
    /// Write a run's report: HTML with charts, Markdown, JSON and CSV.
    Report(ReportArgs),
    /// Serve models and profiles through an OpenAI-compatible API.
    Serve(ServeArgs),
    /// Show the gateway's request log.
    Logs(LogsArgs),
    /// Print gateway profiles tuned from a stored run (the fastest setup reaching the target)
    ///
    /// Per task: the fastest setup whose share of the reference reaches the target with its CI
    /// lower bound, and a calibrated cascade threshold where the run allows. Choices are made on
    /// one half of each task's items and checked on the other: items are grouped by gold answer,
    /// ordered by a hash of their id and dealt to the halves in turn, so the halves differ by at
    /// most one item and each label is split evenly (10 items: 5 and 5). Each half needs at
    /// least 5 items.
    Tune(TuneArgs),
    /// Let a teacher model write the local model's prompt for a task, proved on held-out items
    ///
    /// Splits the task's items into train, validation and test; searches instructions (the
    /// teacher's rewrites from the local model's failures), bootstrapped demonstrations and the
    /// hand-written strategies under a budget of calls; measures the winner on the test split
    /// against the baseline, the best hand-written strategy and the teacher; writes a page and
    /// a gateway profile.
    Optimize(crate::cli::optimize::OptimizeArgs),
    /// Add documents to a memory collection, search it, list collections.
    #[command(subcommand)]
    Memory(MemoryCommand),
    /// Show or move a canary's weights (`[serve.canary.NAME]`): every gateway on the store
    /// follows within seconds.
    Canary(canary::CanaryArgs),
    /// Report a profile's shadow pairs: the candidate judged against the reference on live
    /// requests, latency and tokens of both, and whether it is non-inferior (ready to switch).
    Shadow(shadow::ShadowArgs),
    /// Make a task of your own traffic (captured by the gateway, or an OpenAI chat JSONL),
    /// judged against the reference's answers.
    #[command(subcommand)]
    Dataset(dataset::DatasetCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum MemoryCommand {
    /// Chunk, embed and store files (.txt, .md, .jsonl with a `text` field; directories recurse).
    Add(MemoryAddArgs),
    /// Store solved examples for dynamic few-shot (`knn-shot:K`, a profile's `examples`): a
    /// task's few-shot pool, or JSONL files of {"input", "target"} lines.
    AddExamples(MemoryAddExamplesArgs),
    /// The chunks closest to a query.
    Search(MemorySearchArgs),
    /// Collections with their embedder and chunk counts.
    List(StoreArgs),
}

#[derive(Debug, Args)]
pub struct MemoryAddArgs {
    /// Files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The collection to add to (created if missing).
    #[arg(long, default_value = "default")]
    pub collection: String,
    /// Largest chunk in the embedder's tokens.
    #[arg(long, default_value_t = 200)]
    pub chunk_tokens: usize,
    /// Tokens shared by neighbouring chunks.
    #[arg(long, default_value_t = 32)]
    pub overlap: usize,
    #[command(flatten)]
    pub embedder: EmbedderArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct MemoryAddExamplesArgs {
    /// JSONL files, one {"input": …, "target": …} per line ("id" optional; "calls": [{"name": …,
    /// "arguments": {…}}] for an answer that calls tools).
    #[arg(conflicts_with = "task")]
    pub paths: Vec<PathBuf>,
    /// A task (built-in name or .toml path) whose few-shot pool to store; the collection
    /// defaults to `examples:TASK`, the one eval's `knn-shot:K` rows search.
    #[arg(long)]
    pub task: Option<String>,
    /// The seed the task's pool is drawn with (as `eval --seed`; default `[eval] seed`, else 42).
    #[arg(long, requires = "task")]
    pub seed: Option<u64>,
    /// The collection to add to (created if missing).
    #[arg(long)]
    pub collection: Option<String>,
    #[command(flatten)]
    pub embedder: EmbedderArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct MemorySearchArgs {
    /// The text to find passages for.
    pub query: String,
    /// The collection to search.
    #[arg(long, default_value = "default")]
    pub collection: String,
    /// How many chunks to return (at least 1).
    #[arg(short, long, default_value_t = 5, allow_hyphen_values = true, value_parser = at_least_one)]
    pub k: usize,
    /// Print JSON lines.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub embedder: EmbedderArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct EmbedderArgs {
    /// An OpenAI-compatible embeddings server (URL ending in /v1) instead of the in-process
    /// all-MiniLM-L6-v2.
    #[arg(long, value_name = "URL")]
    pub embeddings_url: Option<String>,
    /// The model to ask that server for.
    #[arg(long, value_name = "MODEL", requires = "embeddings_url")]
    pub embeddings_model: Option<String>,
}

#[derive(Debug, Args)]
pub struct TuneArgs {
    /// Run id (see `understudy runs`); default: the latest.
    #[arg(value_parser = crate::cli::values::run_id)]
    pub run: Option<i64>,
    /// Share of the reference score to reach with the 95% CI lower bound.
    #[arg(long, default_value_t = 0.95)]
    pub target: f64,
    /// Leave out setups slower than this (mean ms per item).
    #[arg(long, value_name = "MS")]
    pub max_latency_ms: Option<f64>,
    /// Choose one row for all the run's tasks (tasks one application serves together, such as
    /// the BFCL call categories with irrelevance): it must meet the target on every task.
    #[arg(long)]
    pub jointly: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only requests newer than this: a duration (30m, 2h, 7d) or an ISO-8601 UTC time.
    #[arg(long, default_value = "1d")]
    pub since: String,
    /// Most rows to print (the newest).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Instead of printing, remove the requests logged before the UTC day this age (30d) or
    /// time falls on. On PostgreSQL whole day partitions are dropped.
    #[arg(long, value_name = "AGE|TIME")]
    pub drop_before: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default: [serve] listen, else 127.0.0.1:8080).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Listen on a non-loopback address without API keys (anyone who can reach it may use it).
    #[arg(long = "insecure-no-auth", alias = "allow-public")]
    pub allow_public: bool,
    /// The store for the request log, conversations and memory: a SQLite file or a
    /// postgres:// URL shared by replicas (default: [store] url, else [serve] log_db, else
    /// ./understudy.db).
    #[arg(long, value_name = "FILE|URL", env = "UNDERSTUDY_DB")]
    pub db: Option<String>,
    /// Inference threads for embedded models (default: the physical cores not busy with other
    /// work when the command starts, at least 1).
    #[arg(long, allow_hyphen_values = true, value_parser = threads_count)]
    pub threads: Option<u32>,
    /// Threads that answer HTTP requests (tokio workers; default: one per CPU). On a machine
    /// the gateway shares with its clients or upstream, fewer workers wake each other less:
    /// see docs/benchmarks.md. The environment variable TOKIO_WORKER_THREADS does the same.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run id (see `understudy runs`); default: the latest.
    #[arg(value_parser = crate::cli::values::run_id)]
    pub run: Option<i64>,
    /// Directory to write into (default: report/RUN).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Open the HTML report in a browser if one is available.
    #[arg(long)]
    pub open: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Models to measure, comma-separated (default: smollm2-135m and the default model).
    #[arg(long, value_delimiter = ',')]
    pub models: Option<Vec<String>>,
    // Help text from `strategies_help`, so the list of spellings is the parser's own.
    #[arg(long, value_delimiter = ',', help = strategies_help())]
    pub strategies: Option<Vec<String>>,
    /// Prompt formats, comma-separated: plain, markdown, json, yaml, fields (named fields
    /// between `[[ ## name ## ]]` markers, the instruction in the system prompt).
    #[arg(long, value_delimiter = ',')]
    pub formats: Option<Vec<String>>,
    /// Tasks, comma-separated: built-in names or paths to task .toml files.
    #[arg(long, value_delimiter = ',')]
    pub tasks: Option<Vec<String>>,
    /// The model whose score counts as 100% (default suite: the configured reference).
    #[arg(long)]
    pub reference: Option<String>,
    /// Compare against gold answers only, with no reference model.
    #[arg(long, conflicts_with = "reference")]
    pub no_reference: bool,
    /// The model that grades judged tasks such as mtbench (default: the reference model).
    #[arg(long, value_name = "MODEL")]
    pub judge: Option<String>,
    /// Skip this many items per task first (e.g. to score held-back items after `tune`).
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = zero_or_more)]
    pub offset: Option<usize>,
    /// Answers per item; more than one are sampled and code tasks report pass@k.
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = at_least_one)]
    pub samples: Option<usize>,
    /// Temperature for --samples above 1 (default 0.8).
    #[arg(long, value_name = "T")]
    pub sample_temperature: Option<f32>,
    /// Python interpreter for code tasks, run inside the sandbox.
    #[arg(long, value_name = "PATH", default_value = "python3")]
    pub python: String,
    /// Items per task.
    #[arg(long, allow_hyphen_values = true, value_parser = at_least_one)]
    pub limit: Option<usize>,
    /// Seed for item order, few-shot examples and sampling.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Cells answered at once per model: an embedded model's engine runs this many parallel
    /// sequences (default: a configured `parallel`, else 1 — on a CPU, cells run together
    /// mostly share the cores); an HTTP model gets this many requests at once (default 4).
    #[arg(long, allow_hyphen_values = true, value_parser = at_least_one)]
    pub concurrency: Option<usize>,
    /// Call the models even when the response cache has the answer.
    #[arg(long)]
    pub no_cache: bool,
    /// Embedded models process every prompt whole instead of reusing the KV cache of the prefix
    /// items share (a cold measurement; `[defaults] prefix_cache = false` does the same).
    #[arg(long)]
    pub no_prefix_cache: bool,
    /// Adaptive stopping: a row stops taking items once the 95% interval of its score is
    /// narrower than PP points (the interval the report prints: Clopper–Pearson for 0/1 scores,
    /// checked from the 10th item on; `--limit`
    /// stays the most a row takes). The report states the rule.
    #[arg(long, value_name = "PP")]
    pub until_ci: Option<f64>,
    /// A cold measurement of latency: no prefix reuse and one cell at a time
    /// (`--no-prefix-cache --concurrency 1`); what a latency comparison across rows should use
    /// when rows differ in how much prompt they share.
    #[arg(long, conflicts_with_all = ["concurrency", "no_prefix_cache"])]
    pub cold: bool,
    /// Seconds a cell claimed by this worker stays its own without a renewal. Workers started
    /// on one plan and store (`--db postgres://…`, or one SQLite file on one machine) share the
    /// run: each claims cells before answering them and renews its claims every third of this;
    /// a worker that dies leaves its cells to the others after this long.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = positive_seconds)]
    pub claim_lease: f64,
    /// Record each answer's mean token log-probability (what `tune` calibrates a cascade's
    /// confidence threshold on); off by default because computing it adds to measured latency.
    #[arg(long)]
    pub confidence: bool,
    /// Inference threads for embedded models (default: the physical cores not busy with other
    /// work when the command starts, at least 1).
    #[arg(long, allow_hyphen_values = true, value_parser = threads_count)]
    pub threads: Option<u32>,
    /// Before timing anything, wait (up to 2 minutes) until other processes leave the CPU
    /// alone; warn if they never do. Every cell records the load either way.
    #[arg(long)]
    pub quiet_machine: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the report (report/RUN/index.html and friends) when the run ends.
    #[arg(long)]
    pub report: bool,
    /// Embeddings for `memory:K` strategies (tasks with documents, e.g. handbook).
    #[command(flatten)]
    pub embedder: EmbedderArgs,
    #[command(flatten)]
    pub gates: crate::cli::gates::GateArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `--strategies`' help: the spellings come from the parser's own list.
fn strategies_help() -> String {
    format!(
        "Prompt strategies, comma-separated: {} (memory:K retrieves K passages of the task's documents); combine with +",
        understudy_tasks::strategy::SPELLINGS
    )
}

#[derive(Debug, Args)]
pub struct StudyArgs {
    /// size-ladder, strategies, format-sensitivity, system-prompt-retention, prompt-detail or
    /// reference-gap (omit with --file).
    pub name: Option<String>,
    /// Print the study's preset (TOML to copy and edit) and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Run an edited study file instead of the preset.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Where the page goes (default: studies/NAME).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the plan and the expected duration, then stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Rewrite the page from the cells written beside it (DIR/run.json, DIR/cells.jsonl) into
    /// --out (default: DIR); runs no model.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["dry_run", "print_config", "from_run"])]
    pub from: Option<PathBuf>,
    /// Rewrite the page of an earlier run of this study from the store (--db), with the flags
    /// that run was made with; runs no model.
    #[arg(long, value_name = "RUN", conflicts_with_all = ["dry_run", "print_config"], value_parser = crate::cli::values::run_id)]
    pub from_run: Option<i64>,
    #[command(flatten)]
    pub eval: EvalArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Run id (see `understudy runs`); default: the latest.
    #[arg(value_parser = crate::cli::values::run_id)]
    pub run: Option<i64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The prompt; without it, an interactive session reads turns from stdin.
    pub prompt: Option<String>,

    /// Model: a default model name, a configured alias, `backend/model`, or a .gguf path.
    #[arg(short, long)]
    pub model: Option<String>,

    /// System prompt.
    #[arg(short, long)]
    pub system: Option<String>,

    /// Sampling temperature (0 = greedy, deterministic).
    #[arg(short, long, default_value_t = 0.0)]
    pub temperature: f32,

    /// Nucleus sampling threshold.
    #[arg(long)]
    pub top_p: Option<f32>,

    /// Most tokens to generate.
    #[arg(long, default_value_t = 512)]
    pub max_tokens: u32,

    /// Seed for sampling when temperature > 0.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Stop generating at this text (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,

    /// Ask a thinking model to reason visibly (on) or answer directly (off).
    #[arg(long, value_enum)]
    pub thinking: Option<OnOff>,

    /// Chat template for a GGUF without one (chatml, llama3, gemma, mistral-v7, phi3, …).
    #[arg(long, value_name = "NAME")]
    pub chat_template: Option<String>,

    /// Inference threads for embedded models (default: the physical cores not busy with other
    /// work when the command starts, at least 1).
    #[arg(long, allow_hyphen_values = true, value_parser = threads_count)]
    pub threads: Option<u32>,

    /// Print one JSON object (answer, reasoning, usage, timing) instead of streaming text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub action: Option<ModelsAction>,

    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// Download a default model (checksum verified); without NAME, the default model.
    Install {
        /// Short name, e.g. smollm2-135m.
        name: Option<String>,
        /// Install every default model.
        #[arg(long, conflicts_with = "name")]
        all: bool,
    },
}

/// A count of 0 or more.
fn zero_or_more(text: &str) -> Result<usize, String> {
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 0 => usize::try_from(n).map_err(|e| e.to_string()),
        _ => Err(format!(
            "must be a whole number of at least 0, got {text:?}"
        )),
    }
}

/// Inference threads: 1 or more.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.1 => Ok(s),
        _ => Err(format!(
            "{text:?} is not a number of seconds of at least 0.1"
        )),
    }
}

fn threads_count(text: &str) -> Result<u32, String> {
    let n = at_least_one(text)?;
    u32::try_from(n).map_err(|_| format!("is too large: {n}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_and_zero_counts_are_errors_in_words() {
        let err = Cli::try_parse_from(["understudy", "eval", "--limit", "-1"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 1, got -1"), "{err}");
        let err = Cli::try_parse_from(["understudy", "eval", "--limit", "0"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 1"), "{err}");
        let err = Cli::try_parse_from(["understudy", "chat", "--threads", "0", "hi"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 1"), "{err}");
        assert!(Cli::try_parse_from(["understudy", "eval", "--limit", "5"]).is_ok());
    }
}
