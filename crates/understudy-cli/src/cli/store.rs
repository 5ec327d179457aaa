//! `--db`: which store a command reads and writes, shared by every command's arguments.

use clap::Args;

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The store: a SQLite file or a postgres:// URL (default: [store] url, else
    /// ./understudy.db).
    #[arg(long, value_name = "FILE|URL", env = "UNDERSTUDY_DB")]
    pub db: Option<String>,
}
