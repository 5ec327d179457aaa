//! The code sandbox against hostile samples (the canonical HumanEval solutions are in
//! humaneval_canonical.rs, a separate binary, so the leftover-process check sees only these). Needs bubblewrap and python3 (CI installs them and sets
//! UNDERSTUDY_REQUIRE_SANDBOX=1, so a missing tool fails there instead of skipping).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::time::{Duration, Instant};

use understudy_eval::grade::sandbox::{Limits, Outcome};
use understudy_eval::grade::Sandbox;

async fn sandbox() -> Option<Sandbox> {
    match Sandbox::detect("python3").await {
        Ok(s) => Some(s),
        Err(e) if std::env::var_os("UNDERSTUDY_REQUIRE_SANDBOX").is_none() => {
            eprintln!("skipping sandbox tests: {e}");
            None
        }
        Err(e) => panic!("sandbox required: {e}"),
    }
}

fn limits(ms: u64) -> Limits {
    Limits {
        wall: Duration::from_millis(ms),
        ..Limits::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_samples_fail_cleanly_within_their_timeouts() {
    let Some(sandbox) = sandbox().await else {
        return;
    };
    let outside = std::env::temp_dir().join(format!("understudy-escape-{}", std::process::id()));
    let home_file = dirs_home().join(format!("understudy-escape-{}", std::process::id()));
    let cases: Vec<(&str, String)> = vec![
        ("infinite loop", "while True:\n    pass".into()),
        ("fork bomb", "import os\nwhile True:\n    os.fork()".into()),
        (
            "posix fork bomb",
            "import posix\nwhile True:\n    posix.fork()".into(),
        ),
        (
            "subprocess",
            "import subprocess\nsubprocess.run(['sh', '-c', 'echo hi'])".into(),
        ),
        (
            "huge allocation",
            "x = bytearray(10 * 1024 ** 3)\nprint(len(x))".into(),
        ),
        (
            "socket",
            "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)".into(),
        ),
        (
            "raw socket via _socket",
            "import _socket\ns = _socket.socket()\ns.connect(('1.1.1.1', 80))".into(),
        ),
        (
            "write outside (tmp)",
            format!("open({:?}, 'w').write('x')", outside.display().to_string()),
        ),
        (
            "write outside (home)",
            format!(
                "open({:?}, 'w').write('x')",
                home_file.display().to_string()
            ),
        ),
        ("output flood", "while True:\n    print('x' * 1000)".into()),
        (
            "exit zero through os._exit",
            "import os\nos._exit(0)".into(),
        ),
        (
            "exit zero through sys.exit",
            "import sys\nsys.exit(0)".into(),
        ),
        (
            "read own source for the exit",
            "print(open(__file__).read())".into(),
        ),
    ];
    for (name, program) in &cases {
        let started = Instant::now();
        let finished = sandbox.run(program, &limits(2_000)).await.unwrap();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(6), "{name} took {took:?}");
        assert!(
            finished.output.len() <= Limits::default().max_output_bytes,
            "{name}: output not capped"
        );
        assert_ne!(
            finished.outcome,
            Outcome::Passed,
            "{name} passed: {}",
            finished.output
        );
    }
    assert!(!outside.exists(), "a sample wrote {}", outside.display());
    assert!(
        !home_file.exists(),
        "a sample wrote {}",
        home_file.display()
    );
    // Nothing left running.
    let ps = std::process::Command::new("pgrep")
        .args(["-f", "understudy-sandbox|program.py"])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&ps.stdout).trim().to_string();
    assert!(left.is_empty(), "sandboxed processes still running: {left}");
}

fn dirs_home() -> std::path::PathBuf {
    std::env::var_os("HOME")
        .map(Into::into)
        .unwrap_or_else(std::env::temp_dir)
}
