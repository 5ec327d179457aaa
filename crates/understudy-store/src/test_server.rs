//! A throwaway PostgreSQL server for tests (feature `test-server`): one cluster per test
//! process, made with `initdb` in a temporary directory (as the `postgres` user when running as
//! root, which PostgreSQL refuses), on a free port, and stopped by a watchdog when the process
//! ends. Each test gets a database of its own. `UNDERSTUDY_TEST_POSTGRES` (a URL of a server
//! where databases may be created) is used instead when set. Without a server and with
//! `UNDERSTUDY_REQUIRE_POSTGRES` unset, tests that need one are skipped with a note; with it
//! set, they fail.

#![allow(clippy::print_stderr, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The server tests create their databases on.
pub struct TestServer {
    /// URL without a database name, e.g. `postgres://postgres@127.0.0.1:5999`.
    base: String,
}

static SERVER: OnceLock<Result<TestServer, String>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty database's URL, or `None` (after a note) when no server can be had and none
/// is required.
pub async fn fresh_database() -> Option<String> {
    let found = SERVER
        .get_or_init(start)
        .as_ref()
        .map_err(|why| format!("no PostgreSQL server ({why})"));
    let server = understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_POSTGRES")?;
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let (client, connection) =
        tokio_postgres::connect(&format!("{}/postgres", server.base), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connecting to the test server: {e}"));
    let task = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    drop(client);
    let _ = task.await;
    Some(format!("{}/{name}", server.base))
}

fn start() -> Result<TestServer, String> {
    if let Ok(url) = std::env::var("UNDERSTUDY_TEST_POSTGRES") {
        return Ok(TestServer {
            base: url.trim_end_matches('/').to_string(),
        });
    }
    let bin = server_bin_dir().ok_or("no initdb found (install postgresql)")?;
    let share = Command::new(bin.join("pg_config"))
        .arg("--sharedir")
        .output()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .map_err(|e| format!("pg_config: {e}"))?;
    if !share.join("extension/vector.control").exists() {
        return Err(format!(
            "the pgvector extension is not installed in {} (bash scripts/setup-postgres.sh)",
            share.display()
        ));
    }
    let root = std::env::temp_dir().join(format!("understudy-pg-{}", std::process::id()));
    let data = root.join("data");
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let as_root = is_root();
    if as_root {
        run(Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&root))?;
    }
    let port = free_port()?;
    let initdb = bin.join("initdb");
    run(as_postgres(as_root, &initdb)
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
        .arg(&data))?;
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
        root.display()
    );
    run(as_postgres(as_root, &bin.join("pg_ctl"))
        .args(["-w", "-l"])
        .arg(root.join("log"))
        .arg("-D")
        .arg(&data)
        .args(["-o", &options, "start"]))?;
    watch(as_root, &bin, &data, &root);
    Ok(TestServer {
        base: format!("postgres://postgres@127.0.0.1:{port}"),
    })
}

/// Stops the server and removes its files once this process has ended.
fn watch(as_root: bool, bin: &Path, data: &Path, root: &Path) {
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {runner}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {root}",
        pid = std::process::id(),
        runner = if as_root { "runuser -u postgres -- " } else { "" },
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        root = root.display(),
    );
    let _ = Command::new("setsid")
        .args(["sh", "-c", &stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

fn as_postgres(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The newest installed server's `bin` directory (Debian keeps them under
/// /usr/lib/postgresql/N/bin).
fn server_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}
