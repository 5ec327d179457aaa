//! Runs untrusted Python in the confinement of `confine.rs` (no network, read-only system, one
//! throwaway scratch directory, resource limits); a wall-clock timeout kills the whole process
//! group; output is capped. Inside, a harness (harness.py) runs
//! the sample in its own namespace and the tests apart from it, with process creation and
//! destructive calls disabled (as OpenAI's HumanEval harness does) and an audit hook refusing the
//! usual ways to reach the harness. A pass is the exit status 0 *and* a per-run secret, sent on
//! stdin and held only by that hook, written to a file: an exit status, a `SystemExit` or a lookup
//! of the harness's names cannot fake it. Every failure of the program is an outcome, never an
//! error of the run.

use std::path::PathBuf;

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::code::Program;
use super::confine::{kill_group, read_capped, truncate, Confinement, Jail, SCRATCH};
use crate::EvalError;

/// How a sandboxed program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Ran to its end (and, with tests, `check()` returned).
    Passed,
    /// Did not reach its end: a failed assertion, an exception, a refused call, any `SystemExit`,
    /// an exit of any status without the harness's secret.
    Failed,
    /// Killed at the wall-clock limit.
    Timeout,
    /// Killed by a signal (memory or CPU limit, crash).
    Killed,
}

/// A finished run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finished {
    pub outcome: Outcome,
    /// The first bytes of stdout and stderr together.
    pub output: String,
}

pub use super::confine::Limits;

/// A checked sandbox: bwrap, prlimit and a Python interpreter were found and work.
#[derive(Debug, Clone)]
pub struct Sandbox {
    confinement: Confinement,
    python: PathBuf,
    /// The interpreter's version, e.g. `3.11.7`.
    python_version: String,
    /// Read-only directories the interpreter needs besides the system ones.
    python_roots: Vec<PathBuf>,
}

/// The harness that runs a sample and its tests inside the interpreter (see its docstring).
const HARNESS: &str = include_str!("harness.py");

/// The file the harness writes the run's secret to when, and only when, the tests passed.
const PASS_FILE: &str = ".understudy-pass";

impl Sandbox {
    /// Finds the tools and the interpreter (`python`, default `python3`) and checks that a trivial
    /// program runs inside; the error says what to install.
    pub async fn detect(python: &str) -> Result<Self, EvalError> {
        let missing = |what: &str, how: &str| {
            EvalError::Config(format!(
                "code tasks run generated code in a sandbox and need {what} ({how})"
            ))
        };
        let confinement =
            Confinement::find("code tasks run generated code and").map_err(EvalError::Config)?;
        // Ask the interpreter where it really lives (pyenv and venv shims are scripts).
        let probe = Command::new(python)
            .args([
                "-c",
                "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3]); \
                 print(sys.base_prefix); print(sys.prefix)",
            ])
            .output()
            .await
            .map_err(|e| missing("Python 3", &format!("`{python}` failed to start: {e}")))?;
        let text = String::from_utf8_lossy(&probe.stdout);
        let mut lines = text.lines().map(PathBuf::from);
        let executable = lines.next().filter(|p| p.is_file()).ok_or_else(|| {
            missing(
                "Python 3",
                &format!("`{python}` did not report sys.executable"),
            )
        })?;
        let python_version = lines
            .next()
            .map(|v| v.display().to_string())
            .unwrap_or_default();
        let python_roots = lines.filter(|p| p.is_dir()).collect();
        let sandbox = Sandbox {
            confinement,
            python: executable,
            python_version,
            python_roots,
        };
        let check = sandbox
            .run(&Program::script("print('ok')"), &Limits::default())
            .await;
        match check {
            Ok(f) if f.outcome == Outcome::Passed => Ok(sandbox),
            Ok(f) => Err(EvalError::Config(format!(
                "the code sandbox does not work here (bubblewrap needs user namespaces): {}",
                f.output.trim()
            ))),
            Err(e) => Err(e),
        }
    }

    /// The interpreter and the harness code runs under (part of a run's resume key): a different
    /// `--python` or a changed harness grades differently.
    pub fn identity(&self) -> String {
        use sha2::{Digest, Sha256};
        let harness = hex::encode(&Sha256::digest(HARNESS.as_bytes())[..8]);
        format!(
            "python {} at {}; harness sha256:{harness}",
            self.python_version,
            self.python.display()
        )
    }

    /// Runs `program` through the harness under `limits`.
    pub async fn run(&self, program: &Program, limits: &Limits) -> Result<Finished, EvalError> {
        let fail = |e: std::io::Error| EvalError::Config(format!("code sandbox: {e}"));
        let dir = tempfile::Builder::new()
            .prefix("understudy-sandbox-")
            .tempdir()
            .map_err(fail)?;
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text);
        write("program.py", HARNESS).map_err(fail)?;
        write("solution.py", &program.solution).map_err(fail)?;
        if let Some(check) = &program.check {
            write("test.py", &check.test).map_err(fail)?;
            write("entry.txt", &check.entry_point).map_err(fail)?;
        }
        let secret = format!("{:032x}", rand::random::<u128>());
        let mut command = self.command(dir.path(), limits);
        let mut child = command.spawn().map_err(fail)?;
        if let Some(mut stdin) = child.stdin.take() {
            // A harness that died before reading it fails anyway; a broken pipe is not an error.
            let _ = stdin.write_all(secret.as_bytes()).await;
        }
        let cap = limits.max_output_bytes;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let read_out = tokio::spawn(read_capped(stdout, cap));
        let read_err = tokio::spawn(read_capped(stderr, cap));
        let status = tokio::time::timeout(limits.wall, child.wait()).await;
        let outcome = match status {
            Ok(Ok(status)) if status.code() == Some(0) && wrote_secret(dir.path(), &secret) => {
                Outcome::Passed
            }
            Ok(Ok(status)) if status.code().is_some() => Outcome::Failed,
            Ok(Ok(_)) => Outcome::Killed,
            Ok(Err(e)) => return Err(fail(e)),
            Err(_) => {
                kill_group(&child);
                let _ = child.kill().await;
                Outcome::Timeout
            }
        };
        let mut output = read_out.await.unwrap_or_default();
        output.push_str(&read_err.await.unwrap_or_default());
        let output = truncate(output, cap);
        Ok(Finished { outcome, output })
    }

    /// The confined interpreter running the harness, with the interpreter's own directories
    /// mounted read-only and `dir` as the scratch directory.
    fn command(&self, dir: &std::path::Path, limits: &Limits) -> Command {
        let mut argv = vec![self.python.display().to_string()];
        argv.extend(["-I", "-B", "program.py"].map(String::from));
        self.confinement.command(&Jail {
            scratch: dir,
            read_only: self
                .python_roots
                .iter()
                .map(|r| (r.clone(), r.clone()))
                .collect(),
            chdir: SCRATCH,
            argv,
            limits,
        })
    }
}

/// Whether the harness wrote this run's secret: the only way a run passes.
fn wrote_secret(dir: &std::path::Path, secret: &str) -> bool {
    std::fs::read(dir.join(PASS_FILE)).is_ok_and(|written| written == secret.as_bytes())
}
