//! A task's own grader (`kind = "command"`) in the sandbox: it cannot reach the network or write
//! outside its scratch folder; a crash, a timeout or a broken verdict costs that item only, with
//! the reason and the grader's stderr; a long-lived grader keeps its state between answers and is
//! started afresh after it fails; a changed grader file or input changes the identity. Needs
//! bubblewrap and python3 (CI sets UNDERSTUDY_REQUIRE_SANDBOX=1, so a missing tool fails there).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use understudy_core::ChatMessage;
use understudy_tasks::grade::{Asked, CommandGrader, Graded};
use understudy_tasks::task::{CommandSpec, Item};

fn spec(command: &[&str]) -> CommandSpec {
    toml::from_str(&format!(
        "command = {}\ntimeout_s = 3",
        serde_json::to_string(command).unwrap()
    ))
    .unwrap()
}

/// A task folder with `files`, and the path of its (unread) task file.
fn folder(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let task_file = dir.path().join("task.toml");
    (dir, task_file)
}

fn grader(task_file: &Path, spec: &CommandSpec) -> Option<CommandGrader> {
    let found = CommandGrader::new("t", task_file, spec).map_err(|e| e.to_string());
    understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_SANDBOX")
}

fn item(id: &str) -> Item {
    Item {
        id: id.into(),
        question: "q".into(),
        target: "gold".into(),
        ..Item::default()
    }
}

async fn grade(g: &CommandGrader, id: &str, answer: &str) -> Graded {
    let messages = [ChatMessage::user("q")];
    let asked = Asked {
        model: "m",
        strategy: "zero-shot",
        format: "plain",
        messages: &messages,
    };
    g.grade(&item(id), &[answer.to_string()], Some(answer), &asked)
        .await
}

fn failure(g: &Graded) -> serde_json::Value {
    assert!(g.ungraded, "{g:?}");
    g.detail.as_ref().unwrap()["grader_failure"].clone()
}

const PROBE: &str = r#"
import json, os, socket, sys
request = json.load(sys.stdin)
port = int(request["answer"])
seen = {}
try:
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    seen["loopback"] = "reached"
except OSError as e:
    seen["loopback"] = "blocked"
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1).close()
    seen["internet"] = "reached"
except OSError:
    seen["internet"] = "blocked"
for name, path in [("task folder", "written.txt"), ("host tmp", "/tmp/understudy-grader-escape"),
                   ("home", os.path.expanduser("~") + "/../root/understudy-grader-escape")]:
    try:
        with open(path, "w") as f:
            f.write("x")
        seen[name] = "written"
    except OSError:
        seen[name] = "refused"
with open(os.path.join(os.environ["TMPDIR"], "scratch.txt"), "w") as f:
    f.write("scratch is writable")
seen["scratch"] = "written"
seen["cwd"] = os.getcwd()
print(json.dumps({"score": 1, "seen": seen}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grader_cannot_reach_the_network_or_write_outside_its_scratch_folder() {
    let (dir, task_file) = folder(&[("probe.py", PROBE)]);
    let Some(g) = grader(&task_file, &spec(&["python3", "probe.py"])) else {
        return;
    };
    // A listener on the host's loopback: the grader's own network namespace must not reach it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let graded = grade(&g, "probe", &port.to_string()).await;
    assert!(!graded.ungraded, "{graded:?}");
    let seen = &graded.detail.as_ref().unwrap()["grader"]["seen"];
    assert_eq!(seen["loopback"], "blocked", "{seen}");
    assert_eq!(seen["internet"], "blocked", "{seen}");
    assert_eq!(seen["task folder"], "refused", "{seen}");
    assert_eq!(seen["host tmp"], "refused", "{seen}");
    assert_eq!(seen["home"], "refused", "{seen}");
    assert_eq!(seen["scratch"], "written", "{seen}");
    assert_eq!(seen["cwd"], "/task", "{seen}");
    assert!(!dir.path().join("written.txt").exists());
    assert!(!Path::new("/tmp/understudy-grader-escape").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_grader_costs_only_its_item_with_the_reason_and_stderr() {
    let script = r#"
import json, sys, time
r = json.load(sys.stdin)
a = r["answer"]
if a == "crash":
    print("KeyError: 'rows' while grading", file=sys.stderr)
    sys.exit(3)
if a == "hang":
    time.sleep(30)
if a == "chatty":
    print("the answer looks fine to me")
    sys.exit(0)
if a == "big":
    print(json.dumps({"score": 1.5}))
    sys.exit(0)
print(json.dumps({"score": 0.75, "parsed": a, "reason": "3 of 4"}))
"#;
    let (_dir, task_file) = folder(&[("grade.py", script)]);
    let Some(g) = grader(&task_file, &spec(&["python3", "grade.py"])) else {
        return;
    };
    let ok = grade(&g, "fine", "fine").await;
    assert!(!ok.ungraded && ok.score == 0.75, "{ok:?}");
    assert_eq!(ok.parsed.as_deref(), Some("fine"));
    assert_eq!(ok.detail.as_ref().unwrap()["grader"]["reason"], "3 of 4");

    let crash = failure(&grade(&g, "c", "crash").await);
    assert_eq!(crash["kind"], "crashed");
    assert!(
        crash["message"].as_str().unwrap().contains("status 3"),
        "{crash}"
    );
    assert!(
        crash["stderr"]
            .as_str()
            .unwrap()
            .contains("KeyError: 'rows'"),
        "{crash}"
    );

    let started = std::time::Instant::now();
    let hang = failure(&grade(&g, "h", "hang").await);
    assert_eq!(hang["kind"], "timeout");
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());

    let chatty = failure(&grade(&g, "x", "chatty").await);
    assert_eq!(chatty["kind"], "bad_output");
    assert!(
        chatty["message"]
            .as_str()
            .unwrap()
            .contains("the answer looks fine"),
        "{chatty}"
    );
    let big = failure(&grade(&g, "b", "big").await);
    assert!(
        big["message"].as_str().unwrap().contains("outside [0, 1]"),
        "{big}"
    );

    // The grader still works for the next item.
    assert_eq!(grade(&g, "fine2", "fine").await.score, 0.75);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_lived_grader_keeps_its_state_and_restarts_after_a_failure() {
    let script = r#"
import json, sys
answered = 0
for line in sys.stdin:
    r = json.loads(line)
    answered += 1
    if r["answer"] == "crash":
        print("giving up", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"score": 1, "answered": answered}), flush=True)
"#;
    let (_dir, task_file) = folder(&[("resident.py", script)]);
    let mut s = spec(&["python3", "resident.py"]);
    s.long_lived = true;
    let Some(g) = grader(&task_file, &s) else {
        return;
    };
    let count = |g: &Graded| g.detail.as_ref().unwrap()["grader"]["answered"].clone();
    assert_eq!(count(&grade(&g, "1", "a").await), 1);
    assert_eq!(
        count(&grade(&g, "2", "b").await),
        2,
        "one process answers every request"
    );
    let crash = failure(&grade(&g, "3", "crash").await);
    assert_eq!(crash["kind"], "crashed");
    assert!(
        crash["stderr"].as_str().unwrap().contains("giving up"),
        "{crash}"
    );
    assert_eq!(
        count(&grade(&g, "4", "c").await),
        1,
        "a fresh process after the failure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_identity_changes_with_the_grader_file_and_its_inputs() {
    let (dir, task_file) = folder(&[("g.sh", "echo '{\"score\": 1}'\n"), ("words.txt", "a\n")]);
    let mut s = spec(&["sh", "g.sh"]);
    s.inputs = vec!["words.txt".into()];
    let Some(first) = grader(&task_file, &s) else {
        return;
    };
    assert_eq!(grade(&first, "1", "x").await.score, 1.0);
    let identity = first.identity().to_string();
    assert!(identity.contains("g.sh sha256:") && identity.contains("words.txt sha256:"));
    std::fs::write(dir.path().join("words.txt"), "b\n").unwrap();
    let changed_input = grader(&task_file, &s).unwrap();
    assert_ne!(changed_input.identity(), identity);
    std::fs::write(dir.path().join("g.sh"), "echo '{\"score\": 0}'\n").unwrap();
    let changed_grader = grader(&task_file, &s).unwrap();
    assert_ne!(changed_grader.identity(), changed_input.identity());
    let mut args = s.clone();
    args.command.push("--strict".into());
    assert_ne!(
        grader(&task_file, &args).unwrap().identity(),
        changed_grader.identity()
    );
    s.inputs = vec!["missing.db".into()];
    let err = CommandGrader::new("t", &task_file, &s)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("missing.db"), "{err}");
}
