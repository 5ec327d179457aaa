//! Command dispatch: one module per verb.

mod canary;
mod chat;
mod compare;
mod dataset;
mod eval;
mod logs;
mod memory;
mod models;
mod optimize;
mod runs;
mod serve;
mod shadow;
mod study;
mod tune;
mod view;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs the parsed command.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Chat(args) => chat::run(cli.config.as_deref(), args).await,
        Command::Models(args) => models::run(cli.config.as_deref(), args).await,
        Command::Eval(args) => eval::run(cli.config.as_deref(), args).await,
        Command::Study(args) => study::run(cli.config.as_deref(), args).await,
        Command::Runs(args) => runs::list(cli.config.as_deref(), args).await,
        Command::Show(args) => runs::show(cli.config.as_deref(), args).await,
        Command::Compare(args) => compare::run(cli.config.as_deref(), args).await,
        Command::View(args) => view::run(cli.config.as_deref(), args).await,
        Command::Tune(args) => tune::run(cli.config.as_deref(), args).await,
        Command::Optimize(args) => optimize::run(cli.config.as_deref(), args).await,
        Command::Report(args) => runs::report(cli.config.as_deref(), args).await,
        Command::Serve(args) => serve::run(cli.config.as_deref(), args).await,
        Command::Logs(args) => logs::run(cli.config.as_deref(), args).await,
        Command::Memory(cmd) => memory::run(cli.config.as_deref(), cmd).await,
        Command::Canary(args) => canary::run(cli.config.as_deref(), args).await,
        Command::Shadow(args) => shadow::run(cli.config.as_deref(), args).await,
        Command::Dataset(cmd) => dataset::run(cli.config.as_deref(), cmd).await,
    }
}
