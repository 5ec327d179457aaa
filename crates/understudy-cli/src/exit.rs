//! Exit codes: 130 when Ctrl-C stopped a run (what shells report for SIGINT, so scripts and CI
//! can tell "stopped" from "failed"), 1 for any other error.

use std::process::ExitCode;

/// A run stopped by Ctrl-C after saving what it had done; the text says where and how to resume.
#[derive(Debug, thiserror::Error)]
#[error("interrupted: {0}")]
pub struct Interrupted(pub String);

/// The exit code for an error that ended the command.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    if err.downcast_ref::<Interrupted>().is_some() {
        ExitCode::from(130)
    } else {
        ExitCode::FAILURE
    }
}
