//! `understudy optimize` end to end through the real binary, against a mock OpenAI-compatible
//! server that behaves like a student and a teacher: the student `m` answers every review
//! "positive" unless its prompt says how the reviews are worded (then it is right); the teacher
//! `ref` is always right, and asked to rewrite an instruction it writes exactly that hint. The
//! search must find the rewrite, prove it on the test split (never sent during the search),
//! write a profile that serves it, replay from the cache on a rerun, and — under a budget too
//! small to validate anything — return the teacher-bootstrapped prompt, unvalidated (with the
//! teacher's reasoning in its demonstrations under `--bootstrap-cot`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::{Arc, Mutex};

use common::{text, toy_review_task, understudy};

const HINT: &str =
    "Reviews that say wonderful are positive; reviews that say dreadful are negative.";

/// The teacher's reasoning when it is asked to think step by step.
const REASONING: &str = "The review's one telling word decides it.";

/// Every request as (model, all message text), in arrival order.
type Log = Arc<Mutex<Vec<(String, String)>>>;

fn student_and_teacher(log: Log) -> axum::Router {
    axum::Router::new()
        .route(
            "/v1/chat/completions",
            axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
                let log = log.clone();
                async move {
                    let messages = body["messages"].as_array().cloned().unwrap_or_default();
                    let all: String = messages
                        .iter()
                        .filter_map(|m| m["content"].as_str())
                        .collect::<Vec<_>>()
                        .join("\n");
                    let last = messages
                        .last()
                        .and_then(|m| m["content"].as_str())
                        .unwrap_or_default()
                        .to_string();
                    let model = body["model"].as_str().unwrap_or_default().to_string();
                    log.lock().unwrap().push((model.clone(), all.clone()));
                    let gold = if last.contains("wonderful") { "positive" } else { "negative" };
                    let answer = if all.contains("You improve the system prompt") {
                        format!("Here it is.\n<prompt>\n{HINT}\n</prompt>")
                    } else if model == "m" && !all.contains(HINT) {
                        "positive".to_string()
                    } else if model == "ref" && all.contains("Think step by step") {
                        format!("{REASONING}\nFinal answer: {gold}")
                    } else {
                        gold.to_string()
                    };
                    let chunk = serde_json::json!({"choices": [{"delta": {"content": answer}, "finish_reason": "stop"}]});
                    (
                        [("content-type", "text/event-stream")],
                        format!("data: {chunk}\n\ndata: [DONE]\n\n"),
                    )
                }
            }),
        )
        .route(
            "/v1/models",
            axum::routing::get(|| async { r#"{"data":[{"id":"m"},{"id":"ref"}]}"# }),
        )
}

fn optimize(
    base: &str,
    dir: &std::path::Path,
    task: &std::path::Path,
    budget: &str,
    extra: &[&str],
) -> std::process::Output {
    understudy()
        .env("OPENAI_BASE_URL", base)
        .args(["optimize", "--task"])
        .arg(task)
        .args([
            "--model",
            "openai/m",
            "--teacher",
            "openai/ref",
            "--limit",
            "80",
            "--strategies",
            "zero-shot,role",
            "--formats",
            "plain,markdown",
            "--budget",
            budget,
        ])
        .args(extra)
        .arg("--db")
        .arg(dir.join("u.db"))
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap()
}

/// The mock models serving on a free port, and the toy task in a temporary directory.
struct Setup {
    _runtime: tokio::runtime::Runtime,
    log: Log,
    base: String,
    dir: tempfile::TempDir,
    task: std::path::PathBuf,
}

fn setup() -> Setup {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let log: Log = Arc::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let app = student_and_teacher(log.clone());
    runtime.spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().unwrap();
    let task = toy_review_task(dir.path(), 80, "Classify the film review.");
    Setup {
        _runtime: runtime,
        log,
        base,
        dir,
        task,
    }
}

/// Runs optimize with a budget (10) below one validation pass: the page, which must say the
/// winner was chosen without validation after 3 teacher calls, and its three demonstration lines.
fn unvalidated(
    base: &str,
    dir: &tempfile::TempDir,
    task: &std::path::Path,
    extra: &[&str],
) -> (String, Vec<String>) {
    let out = optimize(base, dir.path(), task, "10", extra);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(dir.path().join("out/optimize.md")).unwrap();
    assert!(page.contains("**Budget:** 3 of 10 calls"), "{page}");
    assert!(page.contains("**Chosen without validation**"), "{page}");
    let demos: Vec<String> = page
        .lines()
        .filter(|l| l.starts_with("- `"))
        .map(str::to_string)
        .collect();
    assert_eq!(demos.len(), 3, "{page}");
    (page, demos)
}

#[test]
fn the_teachers_rewrite_wins_on_the_test_split_and_is_served_as_measured() {
    let setup = setup();
    let (log, base, dir, task) = (&setup.log, &setup.base, &setup.dir, &setup.task);

    // A budget below one validation pass buys what DSPy's BootstrapFewShot does: the teacher's
    // right answers on train items as demonstrations (one per label first), no validation, the
    // result proved on the test split.
    let (page, demos) = unvalidated(base, dir, task, &[]);
    assert!(
        page.contains("## Candidates the budget could not validate"),
        "{page}"
    );
    for label in ["positive", "negative"] {
        assert!(
            demos.iter().any(|d| d.ends_with(&format!("**{label}**"))),
            "no {label} demonstration: {demos:?}"
        );
    }
    let before_test = log.lock().unwrap().len();
    assert!(before_test > 3, "the test split was measured");
    log.lock().unwrap().clear();

    let out = optimize(base, dir.path(), task, "210", &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let page = std::fs::read_to_string(dir.path().join("out/optimize.md")).unwrap();
    // The seeds: both strategies in the first format, the baseline in the second too.
    assert!(
        page.contains("| #2 zero-shot [markdown] | zero-shot |"),
        "{page}"
    );
    // The winner is the teacher's rewrite, and it carries the hint.
    let heading = page
        .lines()
        .find(|l| l.starts_with("## The optimized prompt"))
        .unwrap_or_default();
    assert!(heading.contains(" rewrite of #"), "{page}");
    assert!(page.contains(HINT), "{page}");
    // On the test split: 100% against the baseline's 50%, significant, paired.
    let row = |role: &str| {
        page.lines()
            .find(|l| l.starts_with(&format!("| {role} |")))
            .unwrap_or_else(|| panic!("no {role} row in {page}"))
            .to_string()
    };
    assert!(
        row("optimized").contains("| 100.0% ["),
        "{}",
        row("optimized")
    );
    assert!(
        !row("baseline").contains("| 100.0% ["),
        "{}",
        row("baseline")
    );
    assert!(page.contains("— better, significant"), "{page}");

    // The test items were never sent during the search: no rewrite was asked for after the
    // first request that carried a test item, and no rewrite request carried one.
    let test_reviews: Vec<String> = (0..80)
        .map(|i| format!("r{i}"))
        .filter(|id| understudy_optimize::part_of(id) == understudy_optimize::Part::Test)
        .map(|id| format!("Review {}:", &id[1..]))
        .collect();
    let requests = log.lock().unwrap().clone();
    let carries_test = |t: &str| test_reviews.iter().any(|r| t.contains(&format!("{r} ")));
    let first_test = requests
        .iter()
        .position(|(_, t)| carries_test(t))
        .expect("the test split was measured");
    assert!(
        !requests[first_test..]
            .iter()
            .any(|(_, t)| t.contains("You improve the system prompt")),
        "the search went on after the test split was sent"
    );
    assert!(!requests[..first_test].iter().any(|(_, t)| carries_test(t)));

    // The profile serves the program the winner's test cells were sent.
    let profile = std::fs::read_to_string(dir.path().join("out/profile.toml")).unwrap();
    assert!(
        profile.contains("[profiles.toy-optimized]") && profile.contains(HINT),
        "{profile}"
    );

    // The split is written for other optimizers, test items with each row's score.
    let split = std::fs::read_to_string(dir.path().join("out/split.jsonl")).unwrap();
    let tests: Vec<serde_json::Value> = split
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["part"] == "test")
        .collect();
    assert_eq!(tests.len(), test_reviews.len());
    assert!(
        tests.iter().all(|v| v["scores"]["optimized"] == 1.0),
        "{split}"
    );

    // A rerun replays the same search from the response cache: no model call, the same page.
    let calls = requests.len();
    let out = optimize(base, dir.path(), task, "210", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(log.lock().unwrap().len(), calls, "a rerun called a model");
    let again = std::fs::read_to_string(dir.path().join("out/optimize.md")).unwrap();
    assert!(
        again.contains("0 calls answered by a model in this invocation"),
        "{again}"
    );
    assert_eq!(
        again
            .lines()
            .filter(|l| l.starts_with("| optimized |"))
            .map(|l| l.split('|').nth(4).map(str::to_string))
            .next(),
        page.lines()
            .filter(|l| l.starts_with("| optimized |"))
            .map(|l| l.split('|').nth(4).map(str::to_string))
            .next()
    );

    // A longer search also tries how many demonstrations and in which order, and never
    // measures one program twice.
    let out = optimize(base, dir.path(), task, "600", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let longer = std::fs::read_to_string(dir.path().join("out/optimize.md")).unwrap();
    let steps: Vec<Vec<String>> = longer
        .lines()
        .skip_while(|l| !l.starts_with("## Search steps"))
        .filter(|l| {
            l.starts_with("| ")
                && l.split('|')
                    .nth(1)
                    .is_some_and(|c| c.trim().parse::<usize>().is_ok())
        })
        .map(|l| l.split('|').map(|c| c.trim().to_string()).collect())
        .collect();
    for kind in ["count", "order"] {
        assert!(
            steps.iter().any(|s| s[2] == kind && s[4].starts_with('#')),
            "no {kind} child: {longer}"
        );
    }
    let reordered = longer
        .lines()
        .find(|l| l.contains("with its demos reordered"))
        .unwrap_or_else(|| panic!("{longer}"));
    assert!(reordered.contains("few-shot:3"), "{reordered}");
    // Each child not accepted is a program of its own: strategy, format, instruction, demos.
    let programs: Vec<String> = longer
        .lines()
        .skip_while(|l| !l.starts_with("## Children not accepted"))
        .filter(|l| l.starts_with("| #"))
        .map(|l| l.get(l.rfind('(').unwrap_or(0)..).unwrap_or(l).to_string())
        .collect();
    let unique: std::collections::HashSet<&String> = programs.iter().collect();
    assert!(programs.len() > 3, "{longer}");
    assert_eq!(unique.len(), programs.len(), "{longer}");
}

#[test]
fn under_bootstrap_cot_the_demonstrations_carry_the_teachers_reasoning() {
    let setup = setup();
    let (log, base, dir, task) = (&setup.log, &setup.base, &setup.dir, &setup.task);

    let (page, demos) = unvalidated(base, dir, task, &["--bootstrap-cot"]);
    assert!(page.contains("on a ChainOfThought program"), "{page}");
    assert!(
        page.contains("Chain of thought: on. Demonstrations: 3."),
        "{page}"
    );
    assert!(
        demos.iter().all(|d| d.ends_with("(with worked reasoning)")),
        "{demos:?}"
    );
    // The teacher was asked step by step; the student's test prompts show its reasoning in
    // the demonstrations and ask for the student's own.
    let requests = log.lock().unwrap().clone();
    let teacher: Vec<&String> = requests
        .iter()
        .filter(|(m, _)| m == "ref")
        .map(|(_, t)| t)
        .collect();
    assert!(teacher
        .first()
        .is_some_and(|t| t.contains("Think step by step")));
    let winner = requests
        .iter()
        .filter(|(m, t)| m == "m" && t.contains(REASONING))
        .count();
    assert!(
        winner > 0,
        "no student prompt showed the teacher's reasoning"
    );
    assert!(
        requests
            .iter()
            .filter(|(m, t)| m == "m" && t.contains(REASONING))
            .all(|(_, t)| t.contains("Think step by step")),
        "a prompt with reasoning demonstrations did not ask for reasoning"
    );
    let profile = std::fs::read_to_string(dir.path().join("out/profile.toml")).unwrap();
    assert!(profile.contains(REASONING), "{profile}");
}
