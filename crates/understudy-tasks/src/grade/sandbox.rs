//! Runs untrusted Python in a sandbox: bubblewrap (Flatpak's sandbox tool) gives fresh user,
//! network, PID, IPC and mount namespaces with a read-only system and one writable throwaway
//! directory, mounted at /sandbox and used as TMPDIR and HOME (the host's /tmp and home are not
//! mounted); `prlimit` caps CPU time, address space, file size and open files; a wall-clock
//! timeout kills the whole process group; output is capped. Inside, a harness (harness.py) runs
//! the sample in its own namespace and the tests apart from it, with process creation and
//! destructive calls disabled (as OpenAI's HumanEval harness does) and an audit hook refusing the
//! usual ways to reach the harness. A pass is the exit status 0 *and* a per-run secret, sent on
//! stdin and held only by that hook, written to a file: an exit status, a `SystemExit` or a lookup
//! of the harness's names cannot fake it. Every failure of the program is an outcome, never an
//! error of the run.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::code::Program;
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

/// Limits for one program.
#[derive(Debug, Clone)]
pub struct Limits {
    pub wall: Duration,
    pub memory_bytes: u64,
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            wall: Duration::from_secs(10),
            memory_bytes: 1 << 30,
            max_output_bytes: 16 * 1024,
        }
    }
}

/// A checked sandbox: bwrap, prlimit and a Python interpreter were found and work.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
    prlimit: PathBuf,
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

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

impl Sandbox {
    /// Finds the tools and the interpreter (`python`, default `python3`) and checks that a trivial
    /// program runs inside; the error says what to install.
    pub async fn detect(python: &str) -> Result<Self, EvalError> {
        let missing = |what: &str, how: &str| {
            EvalError::Config(format!(
                "code tasks run generated code in a sandbox and need {what} ({how})"
            ))
        };
        let bwrap = find_program("bwrap")
            .ok_or_else(|| missing("bubblewrap", "e.g. `sudo apt-get install bubblewrap`"))?;
        let prlimit = find_program("prlimit").ok_or_else(|| missing("prlimit", "util-linux"))?;
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
            bwrap,
            prlimit,
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
        if output.len() > cap {
            let mut end = cap;
            while !output.is_char_boundary(end) {
                end -= 1;
            }
            output.truncate(end);
        }
        Ok(Finished { outcome, output })
    }

    /// The confined interpreter: resource limits (prlimit), then bubblewrap with a read-only
    /// system, no network or other namespaces, an unprivileged user and only `dir` writable.
    fn command(&self, dir: &std::path::Path, limits: &Limits) -> Command {
        let cpu_secs = limits.wall.as_secs().max(1) + 1;
        let mut command = Command::new(&self.prlimit);
        command
            .arg(format!("--as={}", limits.memory_bytes))
            .arg(format!("--cpu={cpu_secs}"))
            .arg("--fsize=1048576")
            .arg("--nofile=64")
            .arg("--core=0")
            .arg("--")
            .arg(&self.bwrap)
            .args(["--ro-bind", "/usr", "/usr"])
            .args(["--ro-bind-try", "/lib", "/lib"])
            .args(["--ro-bind-try", "/lib64", "/lib64"])
            .args(["--ro-bind-try", "/bin", "/bin"])
            .args(["--ro-bind-try", "/etc/alternatives", "/etc/alternatives"]);
        for root in &self.python_roots {
            command.arg("--ro-bind").arg(root).arg(root);
        }
        command
            .args(["--proc", "/proc", "--dev", "/dev"])
            .arg("--bind")
            .arg(dir)
            .arg("/sandbox")
            .args(["--remount-ro", "/"])
            .args(["--chdir", "/sandbox"])
            .args(["--unshare-all", "--die-with-parent", "--new-session"])
            .args(["--uid", "65534", "--gid", "65534"])
            .args(["--clearenv", "--setenv", "PATH", "/usr/bin:/bin"])
            .args([
                "--setenv", "TMPDIR", "/sandbox", "--setenv", "HOME", "/sandbox",
            ])
            .arg(&self.python)
            .args(["-I", "-B", "program.py"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        command
    }
}

/// Whether the harness wrote this run's secret: the only way a run passes.
fn wrote_secret(dir: &std::path::Path, secret: &str) -> bool {
    std::fs::read(dir.join(PASS_FILE)).is_ok_and(|written| written == secret.as_bytes())
}

/// Kills the sandbox's process group (bwrap and anything it started).
fn kill_group(child: &tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
    }
}

/// Reads up to `cap` bytes, then keeps draining (so the writer never blocks) and drops the rest.
async fn read_capped<R: tokio::io::AsyncRead + Unpin>(reader: Option<R>, cap: usize) -> String {
    let Some(mut reader) = reader else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}
