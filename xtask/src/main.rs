//! `cargo run -p xtask -- tidy`: print every problem with the workspace's shape, exit 1 if any.

// Printing the problems is this binary's whole output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_else(|| "tidy".into());
    if task != "tidy" {
        eprintln!("unknown task `{task}`; the one task is `tidy`");
        return ExitCode::from(2);
    }
    let crates = xtask::crates_dir();
    let problems = match xtask::tidy(&crates) {
        Ok(problems) => problems,
        Err(e) => {
            eprintln!("cannot read {}: {e}", crates.display());
            return ExitCode::from(2);
        }
    };
    for problem in &problems {
        println!("{problem}");
    }
    if problems.is_empty() {
        println!("tidy: no module circle, no command importing another, every file and function within its limit");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
