//! A task's own grader (`kind = "command"`): set up once per run from the task's folder, with an
//! identity made of its arguments and the hashes of the files it names or reads, and asked for a
//! verdict on each answer. A grader that crashes, times out or breaks the protocol leaves that
//! item ungraded with the reason and the grader's stderr in the cell, never scored as the
//! model's fault and never dropped.

pub mod process;
pub mod protocol;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::confine::{Confinement, Limits};
use super::Graded;
use crate::task::{CommandSpec, Item};
use crate::EvalError;
use process::{Failure, Launch, Resident};
pub use protocol::Asked;
use protocol::{read_verdict, GradeRequest};

/// How the grader runs: a fresh process per answer, or one long-lived process.
enum Mode {
    Once(Launch),
    LongLived(Box<Resident>),
}

/// A task's grader, ready to grade.
pub struct CommandGrader {
    task: String,
    identity: String,
    mode: Mode,
}

impl CommandGrader {
    /// Sets up the grader of `task` (whose file lives in `task_file`'s folder): finds the sandbox
    /// tools and hashes the grader's files; errors name the task and the file.
    pub fn new(task: &str, task_file: &Path, spec: &CommandSpec) -> Result<Self, EvalError> {
        // `task.toml` given bare has the parent "": the current directory.
        let folder = task_file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let folder = folder.canonicalize().map_err(|e| {
            EvalError::Config(format!(
                "task {task}: cannot open the task folder {}: {e}",
                folder.display()
            ))
        })?;
        let identity = identity(task, &folder, spec)?;
        let confinement = Confinement::find(&format!("task {task}: command graders"))
            .map_err(EvalError::Config)?;
        let launch = Launch {
            confinement,
            folder,
            argv: spec.command.clone(),
            limits: Limits {
                wall: Duration::from_secs_f64(spec.timeout_s),
                memory_bytes: spec.memory_mb << 20,
                max_output_bytes: 64 * 1024,
            },
            start_timeout: Duration::from_secs_f64(spec.start_timeout_s),
        };
        let mode = if spec.long_lived {
            Mode::LongLived(Box::new(Resident::new(launch)))
        } else {
            Mode::Once(launch)
        };
        Ok(Self {
            task: task.to_string(),
            identity,
            mode,
        })
    }

    /// The command, the mode and the hashes of its files (part of a run's resume key).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The grader's verdict on `answers` to `item`; `extracted` is what the answer contract read.
    pub async fn grade(
        &self,
        item: &Item,
        answers: &[String],
        extracted: Option<&str>,
        asked: &Asked<'_>,
    ) -> Graded {
        let request = GradeRequest::new(&self.task, item, answers, extracted, asked);
        let input = match serde_json::to_string(&request) {
            Ok(input) => input,
            Err(e) => return failed(Failure::new("bad_output", e.to_string(), String::new())),
        };
        let output = match &self.mode {
            Mode::Once(launch) => launch.run_once(&input).await,
            Mode::LongLived(resident) => resident.ask(&input).await,
        };
        let verdict = output.and_then(|text| {
            read_verdict(&text).map_err(|m| Failure::new("bad_output", m, String::new()))
        });
        match verdict {
            Err(failure) => failed(failure),
            Ok(v) => {
                let mut grader = serde_json::Map::new();
                if let Some(reason) = &v.reason {
                    grader.insert("reason".into(), Value::String(reason.clone()));
                }
                grader.extend(v.extra);
                Graded {
                    parsed: v.parsed,
                    score: v.score,
                    format_failure: v.format_failure,
                    detail: Some(json!({ "grader": grader })),
                    ungraded: false,
                }
            }
        }
    }
}

/// A grader failure: the item is left out of the score, with why and the grader's stderr.
fn failed(failure: Failure) -> Graded {
    Graded {
        parsed: None,
        score: 0.0,
        format_failure: false,
        detail: Some(json!({ "grader_failure": failure })),
        ungraded: true,
    }
}

/// The grader's identity: its arguments, its mode, and the SHA-256 of every argument that names a
/// file in the task folder and of every declared input.
fn identity(task: &str, folder: &Path, spec: &CommandSpec) -> Result<String, EvalError> {
    let mut files: Vec<&str> = spec
        .command
        .iter()
        .map(String::as_str)
        .filter(|arg| folder.join(arg).is_file())
        .collect();
    for input in &spec.inputs {
        if !folder.join(input).is_file() {
            return Err(EvalError::Config(format!(
                "task {task}: `answer.inputs` names {input:?}, which is not a file in {}",
                folder.display()
            )));
        }
        files.push(input);
    }
    let program = &spec.command[0];
    if program.contains('/') && !folder.join(program).is_file() {
        return Err(EvalError::Config(format!(
            "task {task}: the grader {program:?} is not a file in {}",
            folder.display()
        )));
    }
    files.sort_unstable();
    files.dedup();
    let mut hashes = Vec::new();
    for file in files {
        let bytes = std::fs::read(folder.join(file)).map_err(|e| {
            EvalError::Config(format!("task {task}: cannot read grader file {file}: {e}"))
        })?;
        hashes.push(format!(
            "{file} sha256:{}",
            hex::encode(&Sha256::digest(&bytes)[..12])
        ));
    }
    let mode = if spec.long_lived {
        "long-lived"
    } else {
        "per answer"
    };
    let argv = serde_json::to_string(&spec.command).unwrap_or_default();
    Ok(format!("command {argv} ({mode}); {}", hashes.join(", ")))
}
