//! The `understudy` binary: parses the command line, runs the command, and turns any error into
//! one clear line on stderr with a non-zero exit code. No logic of its own lives here.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;
mod output;
mod progress;
mod setup;
mod threads;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    setup::init_logging(cli.verbose);
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output::error_line(&err);
            ExitCode::FAILURE
        }
    }
}
