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

use understudy_tasks::grade::code::{Check, Program};
use understudy_tasks::grade::sandbox::{Limits, Outcome};
use understudy_tasks::grade::Sandbox;

async fn sandbox() -> Option<Sandbox> {
    let found = Sandbox::detect("python3").await;
    let found = found.map_err(|e| format!("the code sandbox cannot run here: {e}"));
    understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_SANDBOX")
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
        let finished = sandbox
            .run(&Program::script(program.clone()), &limits(2_000))
            .await
            .unwrap();
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

/// A wrong `add` that tries to pass anyway, each way the old exit-status signal (and the obvious
/// next guesses) allowed. The right `add` passes through the same harness, so the check can fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_cannot_forge_a_pass() {
    let Some(sandbox) = sandbox().await else {
        return;
    };
    let graded = |solution: &str| Program {
        solution: solution.to_string(),
        check: Some(Check {
            test: "def check(candidate):\n    assert abs(candidate(1, 2) - 3) < 1e-9\n".into(),
            entry_point: "add".into(),
        }),
    };
    let wrong = "def add(a, b):\n    return 0\n";
    let right = sandbox
        .run(
            &graded("def add(a, b):\n    return a + b\n"),
            &limits(5_000),
        )
        .await
        .unwrap();
    assert_eq!(right.outcome, Outcome::Passed, "{}", right.output);
    let plain_wrong = sandbox.run(&graded(wrong), &limits(5_000)).await.unwrap();
    assert_eq!(
        plain_wrong.outcome,
        Outcome::Failed,
        "{}",
        plain_wrong.output
    );

    let attacks: &[(&str, &str)] = &[
        (
            "exit status 86 (the old pass code)",
            "import os\nos._exit(86)",
        ),
        ("exit status 0", "import os\nos._exit(0)"),
        ("sys.exit(86)", "import sys\nsys.exit(86)"),
        ("raise SystemExit(86)", "raise SystemExit(86)"),
        ("raise SystemExit(0)", "raise SystemExit(0)"),
        (
            "exit in the candidate",
            "def add(a, b):\n    raise SystemExit(0)",
        ),
        (
            "a fresh posix module's _exit",
            "import importlib.util\n\
             importlib.util.module_from_spec(importlib.util.find_spec('posix'))._exit(0)",
        ),
        (
            "the harness's names through globals()",
            "for name, value in list(globals().items()):\n\
             \x20   if name.startswith('_') and callable(value) and name != '__build_class__':\n\
             \x20       try:\n\
             \x20           value(86)\n\
             \x20       except TypeError:\n\
             \x20           pass",
        ),
        (
            "the harness's names through __main__",
            "import sys\n\
             for name, value in list(vars(sys.modules['__main__']).items()):\n\
             \x20   if callable(value) and not name.startswith('__'):\n\
             \x20       value()",
        ),
        ("defining check", "def check(candidate):\n    pass"),
        (
            "check on builtins",
            "import builtins\nbuiltins.check = lambda candidate: None",
        ),
        (
            "monkeypatching builtins the test uses",
            "import builtins\nbuiltins.abs = lambda x: 0",
        ),
        (
            "a thread that replaces check wherever it appears",
            "import sys, threading\n\
             def swap():\n\
             \x20   while True:\n\
             \x20       for module in list(sys.modules.values()):\n\
             \x20           found = getattr(module, '__dict__', {})\n\
             \x20           if 'check' in found:\n\
             \x20               found['check'] = lambda candidate: None\n\
             threading.Thread(target=swap, daemon=True).start()",
        ),
        (
            "the harness's frame through sys._getframe",
            "import sys\n\
             frame = sys._getframe(1)\n\
             frame.f_locals['check'] = lambda candidate: None",
        ),
        (
            "the harness's frame through a traceback",
            "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n\
             \x20   print(e.__traceback__.tb_frame.f_back.f_locals)",
        ),
        (
            "a signal handler's frame",
            "import subprocess\n\
             subprocess.signal.signal(14, lambda signum, frame: print(frame.f_back.f_locals))",
        ),
        (
            "a fresh _signal module",
            "import importlib.machinery as m\n\
             spec = m.BuiltinImporter.find_spec('_signal')\n\
             fresh = m.BuiltinImporter.create_module(spec)\n\
             fresh.signal(14, lambda signum, frame: None)",
        ),
        (
            "every object through gc",
            "import gc\nprint(len(gc.get_objects()))",
        ),
        ("the process's memory", "open('/proc/self/mem', 'rb')"),
        (
            "the pass event raised by hand",
            "import sys\nsys.audit('understudy.pass', object())",
        ),
        (
            "a pass file with a guessed secret",
            "open('.understudy-pass', 'w').write('0' * 32)\nraise SystemExit(0)",
        ),
    ];
    for (name, attack) in attacks {
        let solution = format!("{wrong}{attack}\n");
        let finished = sandbox
            .run(&graded(&solution), &limits(5_000))
            .await
            .unwrap();
        assert_ne!(
            finished.outcome,
            Outcome::Passed,
            "{name} forged a pass: {}",
            finished.output
        );
    }
}

/// The guard stays out of the way of ordinary code: typing, namedtuple, dataclasses and warnings
/// use the introspection it refuses and fall back quietly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_code_runs_under_the_guard() {
    let Some(sandbox) = sandbox().await else {
        return;
    };
    let solution = "from typing import List, NamedTuple, TypeVar\n\
                    import collections, dataclasses, warnings, math, re, heapq, itertools\n\
                    T = TypeVar('T')\n\
                    Point = collections.namedtuple('Point', 'x y')\n\
                    class Pair(NamedTuple):\n    a: int\n    b: int\n\
                    @dataclasses.dataclass\nclass Box:\n    size: int\n\
                    warnings.warn('harmless')\n\
                    def add(a: int, b: int) -> int:\n    return Pair(a, b).a + Box(b).size\n\
                    if __name__ == '__main__':\n    raise SystemExit('the sample is not __main__')\n";
    let finished = sandbox
        .run(
            &Program {
                solution: solution.into(),
                check: Some(Check {
                    test: "def check(candidate):\n    assert candidate(1, 2) == 3\n".into(),
                    entry_point: "add".into(),
                }),
            },
            &limits(5_000),
        )
        .await
        .unwrap();
    assert_eq!(finished.outcome, Outcome::Passed, "{}", finished.output);
}
