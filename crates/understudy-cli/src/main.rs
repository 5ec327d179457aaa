//! The `understudy` binary: parses the command line, runs the command, and turns any error into
//! one clear line on stderr with a non-zero exit code. No logic of its own lives here.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;
mod embedder;
mod eval_run;
mod eval_setup;
mod exit;
mod install;
mod output;
mod progress;
mod run_output;
mod setup;
mod threads;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    setup::init_logging(cli.verbose);
    // The runtime is built after parsing: `serve --workers` sizes it.
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let cli::Command::Serve(cli::ServeArgs {
        workers: Some(n), ..
    }) = &cli.command
    {
        runtime.worker_threads(usize::from(*n));
    }
    let result = match runtime.build() {
        Ok(runtime) => runtime.block_on(commands::run(cli)),
        Err(e) => Err(anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output::error_line(&err);
            exit::code_for(&err)
        }
    }
}
