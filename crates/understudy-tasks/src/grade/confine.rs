//! The confinement every program a grader runs goes through (generated code and user graders
//! alike): `prlimit` caps CPU time, address space, file size and open files; bubblewrap (Flatpak's
//! sandbox tool) gives fresh user, network, PID, IPC and mount namespaces with a read-only system,
//! an unprivileged user, a cleared environment and one writable scratch directory mounted at
//! /sandbox and used as TMPDIR and HOME (the host's /tmp and home are not mounted). Killing the
//! process group ends everything it started.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// Where the scratch directory appears inside.
pub const SCRATCH: &str = "/sandbox";

/// Limits for one confined program.
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

/// The two tools the confinement needs, found on PATH.
#[derive(Debug, Clone)]
pub struct Confinement {
    bwrap: PathBuf,
    prlimit: PathBuf,
}

/// What to run confined and what it may see besides the system.
pub struct Jail<'a> {
    /// Writable, mounted at [`SCRATCH`].
    pub scratch: &'a Path,
    /// Host directories mounted read-only, each at the same or another path inside.
    pub read_only: Vec<(PathBuf, PathBuf)>,
    /// The working directory inside.
    pub chdir: &'a str,
    /// The program (a path inside) and its arguments.
    pub argv: Vec<String>,
    /// The program's CPU-time limit is derived from this.
    pub limits: &'a Limits,
}

pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

impl Confinement {
    /// Finds bwrap and prlimit; the error says what to install.
    pub fn find(purpose: &str) -> Result<Self, String> {
        let bwrap = find_program("bwrap").ok_or_else(|| {
            format!("{purpose} run in a sandbox and need bubblewrap (e.g. `sudo apt-get install bubblewrap`)")
        })?;
        let prlimit = find_program("prlimit")
            .ok_or_else(|| format!("{purpose} run in a sandbox and need prlimit (util-linux)"))?;
        Ok(Self { bwrap, prlimit })
    }

    /// The confined command: stdin, stdout and stderr piped, its own process group.
    pub fn command(&self, jail: &Jail<'_>) -> Command {
        let cpu_secs = jail.limits.wall.as_secs().max(1) + 1;
        let mut command = Command::new(&self.prlimit);
        command
            .arg(format!("--as={}", jail.limits.memory_bytes))
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
        for (host, inside) in &jail.read_only {
            command.arg("--ro-bind").arg(host).arg(inside);
        }
        command
            .args(["--proc", "/proc", "--dev", "/dev"])
            .arg("--bind")
            .arg(jail.scratch)
            .arg(SCRATCH)
            .args(["--remount-ro", "/"])
            .args(["--chdir", jail.chdir])
            .args(["--unshare-all", "--die-with-parent", "--new-session"])
            .args(["--uid", "65534", "--gid", "65534"])
            .args(["--clearenv", "--setenv", "PATH", "/usr/bin:/bin"])
            .args(["--setenv", "TMPDIR", SCRATCH, "--setenv", "HOME", SCRATCH])
            .args(["--setenv", "LANG", "C.UTF-8"])
            .args(&jail.argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        command
    }
}

/// Kills a confined program's process group (bwrap and anything it started).
pub fn kill_group(child: &tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
    }
}

/// Reads up to `cap` bytes, then keeps draining (so the writer never blocks) and drops the rest.
pub async fn read_capped<R: tokio::io::AsyncRead + Unpin>(reader: Option<R>, cap: usize) -> String {
    use tokio::io::AsyncReadExt;
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

/// `text` cut to at most `cap` bytes on a character boundary.
pub fn truncate(mut text: String, cap: usize) -> String {
    if text.len() > cap {
        let mut end = cap;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
