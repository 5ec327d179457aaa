//! `understudy dataset`'s grammar: traffic made into a task.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{EmbedderArgs, StoreArgs};

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Make a task of requests the gateway captured (a profile's `capture`): each item the
    /// whole conversation as sent and the reference's answer as the gold.
    FromLog(FromLogArgs),
    /// Make a task of an OpenAI chat JSONL (a fine-tuning file or an exported log): each line's
    /// last assistant turn is the reference's answer to the turns before it.
    Import(ImportArgs),
}

/// What every dataset is written with.
#[derive(Debug, Args)]
pub struct MadeArgs {
    /// The task's name (files NAME.toml and NAME.jsonl).
    #[arg(long)]
    pub name: String,
    /// Folder to write the task into.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Keep at most this many items (chosen by a hash of their ids: the same on every rerun).
    #[arg(long)]
    pub sample: Option<usize>,
    /// Leave out an item whose conversation is at least this similar (cosine of embeddings)
    /// to one already kept; 1 keeps everything but exact repeats.
    #[arg(long, default_value_t = 0.95)]
    pub dedup: f32,
    /// Percent of conversations in the few-shot pool, validation and test (a conversation is
    /// never in two).
    #[arg(long, default_value = "20,30,50", value_name = "POOL,VALIDATION,TEST")]
    pub split: String,
    #[command(flatten)]
    pub embedder: EmbedderArgs,
}

#[derive(Debug, Args)]
pub struct FromLogArgs {
    /// Only requests to this profile (or model name as the client sent it).
    #[arg(long)]
    pub profile: Option<String>,
    /// Only requests answered by this backend model.
    #[arg(long)]
    pub model: Option<String>,
    /// Only requests newer than this: a duration (30m, 2h, 7d) or an ISO-8601 UTC time.
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// Only requests older than this ISO-8601 UTC time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only requests answered with this status (default: any 2xx).
    #[arg(long)]
    pub status: Option<u16>,
    #[command(flatten)]
    pub made: MadeArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The JSONL file: {"messages": [..., {"role": "assistant", ...}], "tools"?: [...],
    /// "response_format"?: {...}} per line.
    pub file: PathBuf,
    #[command(flatten)]
    pub made: MadeArgs,
}
