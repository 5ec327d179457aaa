//! Running a user's grader confined: once per answer (the default), or long-lived — started once,
//! fed one JSON line per answer and read one line back, so it can load a database or a model
//! once. Either way a crash, a timeout or output that is not one JSON object is a [`Failure`]
//! that carries the grader's stderr; a long-lived grader that failed is killed and started
//! afresh for the next answer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::Mutex;

use crate::grade::confine::{kill_group, read_capped, Confinement, Jail, Limits};

/// Where the task folder appears inside the sandbox (the grader's working directory).
pub const TASK_DIR: &str = "/task";

/// Most bytes of stderr kept with a failure.
const STDERR_CAP: usize = 4096;

/// Why a grader gave no verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// `crashed`, `timeout` or `bad_output`.
    pub kind: &'static str,
    pub message: String,
    /// The end of what the grader wrote to stderr.
    pub stderr: String,
}

impl Failure {
    pub fn new(kind: &'static str, message: impl Into<String>, stderr: String) -> Self {
        Self {
            kind,
            message: message.into(),
            stderr: tail(stderr, STDERR_CAP),
        }
    }
}

/// How a grader program is started.
#[derive(Debug, Clone)]
pub struct Launch {
    pub confinement: Confinement,
    pub folder: PathBuf,
    pub argv: Vec<String>,
    pub limits: Limits,
    /// Extra time a long-lived grader has to start, on the first answer it gets.
    pub start_timeout: Duration,
}

impl Launch {
    fn spawn(&self, scratch: &Path) -> Result<Child, Failure> {
        let jail = Jail {
            scratch,
            read_only: vec![(self.folder.clone(), PathBuf::from(TASK_DIR))],
            chdir: TASK_DIR,
            argv: self.argv.clone(),
            limits: &self.limits,
        };
        self.confinement.command(&jail).spawn().map_err(|e| {
            Failure::new(
                "crashed",
                format!("could not start {:?}: {e}", self.argv),
                String::new(),
            )
        })
    }

    /// Runs the grader once on `input`; its whole stdout is the verdict's text.
    pub async fn run_once(&self, input: &str) -> Result<String, Failure> {
        let scratch = scratch_dir()?;
        let mut child = self.spawn(scratch.path())?;
        if let Some(mut stdin) = child.stdin.take() {
            // A grader that exits without reading its input fails on its own terms below.
            let _ = stdin.write_all(input.as_bytes()).await;
            let _ = stdin.write_all(b"\n").await;
        }
        let cap = self.limits.max_output_bytes;
        let out = tokio::spawn(read_capped(child.stdout.take(), cap));
        let err = tokio::spawn(read_capped(child.stderr.take(), cap));
        let status = tokio::time::timeout(self.limits.wall, child.wait()).await;
        let stderr_after =
            |err: tokio::task::JoinHandle<String>| async move { err.await.unwrap_or_default() };
        match status {
            Err(_) => {
                kill_group(&child);
                let _ = child.kill().await;
                let stderr = stderr_after(err).await;
                Err(Failure::new(
                    "timeout",
                    format!("gave no verdict within {:?}", self.limits.wall),
                    stderr,
                ))
            }
            Ok(Err(e)) => Err(Failure::new("crashed", e.to_string(), String::new())),
            Ok(Ok(status)) => {
                let stdout = out.await.unwrap_or_default();
                let stderr = stderr_after(err).await;
                if status.success() {
                    Ok(stdout)
                } else {
                    let how = match status.code() {
                        Some(code) => format!("exited with status {code}"),
                        None => "was killed by a signal (a memory or CPU limit?)".into(),
                    };
                    Err(Failure::new("crashed", how, stderr))
                }
            }
        }
    }
}

/// A long-lived grader: one process answering one line per request, one request at a time.
pub struct Resident {
    launch: Launch,
    running: Mutex<Option<Running>>,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<std::sync::Mutex<String>>,
    _scratch: tempfile::TempDir,
    answered: usize,
}

impl Running {
    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Resident {
    pub fn new(launch: Launch) -> Self {
        Self {
            launch,
            running: Mutex::new(None),
        }
    }

    /// Sends `input` as one line and reads one line back.
    pub async fn ask(&self, input: &str) -> Result<String, Failure> {
        let mut slot = self.running.lock().await;
        if slot.is_none() {
            *slot = Some(self.start()?);
        }
        let running = slot
            .as_mut()
            .ok_or_else(|| Failure::new("crashed", "the grader did not start", String::new()))?;
        let wall = if running.answered == 0 {
            self.launch.limits.wall + self.launch.start_timeout
        } else {
            self.launch.limits.wall
        };
        let exchange = async {
            running.stdin.write_all(input.as_bytes()).await?;
            running.stdin.write_all(b"\n").await?;
            running.stdin.flush().await?;
            let mut line = String::new();
            let n = (&mut running.stdout)
                .take(self.launch.limits.max_output_bytes as u64)
                .read_line(&mut line)
                .await?;
            Ok::<_, std::io::Error>((n, line))
        };
        let result = tokio::time::timeout(wall, exchange).await;
        let failure = match result {
            Ok(Ok((n, line))) if n > 0 && line.ends_with('\n') => {
                running.answered += 1;
                return Ok(line);
            }
            Ok(Ok((0, _))) => {
                // Give stderr's reader a moment to take what the grader wrote as it died.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Failure::new(
                    "crashed",
                    "exited instead of answering (a long-lived grader answers one line per request)",
                    running.stderr(),
                )
            }
            Ok(Ok(_)) => Failure::new(
                "bad_output",
                format!(
                    "answered a line longer than {} bytes",
                    self.launch.limits.max_output_bytes
                ),
                running.stderr(),
            ),
            Ok(Err(e)) => Failure::new("crashed", format!("the pipe broke: {e}"), running.stderr()),
            Err(_) => Failure::new(
                "timeout",
                format!("gave no verdict within {wall:?}"),
                running.stderr(),
            ),
        };
        if let Some(mut gone) = slot.take() {
            kill_group(&gone.child);
            let _ = gone.child.kill().await;
        }
        Err(failure)
    }

    fn start(&self) -> Result<Running, Failure> {
        let scratch = scratch_dir()?;
        let mut child = self.launch.spawn(scratch.path())?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Failure::new(
                "crashed",
                "no pipes to the grader",
                String::new(),
            ));
        };
        let kept = Arc::new(std::sync::Mutex::new(String::new()));
        tokio::spawn(keep_stderr(stderr, kept.clone()));
        Ok(Running {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            stderr: kept,
            _scratch: scratch,
            answered: 0,
        })
    }
}

/// Keeps the last [`STDERR_CAP`] bytes a long-lived grader writes to stderr.
async fn keep_stderr(stderr: tokio::process::ChildStderr, kept: Arc<std::sync::Mutex<String>>) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Ok(mut kept) = kept.lock() {
            kept.push_str(&line);
            kept.push('\n');
            if kept.len() > 2 * STDERR_CAP {
                *kept = tail(std::mem::take(&mut *kept), STDERR_CAP);
            }
        }
    }
}

fn scratch_dir() -> Result<tempfile::TempDir, Failure> {
    tempfile::Builder::new()
        .prefix("understudy-grader-")
        .tempdir()
        .map_err(|e| Failure::new("crashed", format!("no scratch folder: {e}"), String::new()))
}

/// The last `cap` bytes of `text`, on a character boundary.
fn tail(text: String, cap: usize) -> String {
    if text.len() <= cap {
        return text;
    }
    let mut start = text.len() - cap;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}
