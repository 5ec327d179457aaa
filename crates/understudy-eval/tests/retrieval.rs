//! Retrieval-QA through the real runner: a task with `[memory]` documents, a deterministic
//! embedder and a "reader" model that can only answer from a passage in its system prompt. Without
//! memory it scores 0, with `memory:1` it answers every question; documents are embedded once and
//! again only when they change; a memory strategy on a task without documents is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use understudy_backend::recording::Recording;
use understudy_core::{Role, ValidChatRequest};
use understudy_eval::plan::{EvalSection, Plan};
use understudy_eval::retrieval::prepare;
use understudy_eval::runner::{run, Quiet, RunOptions};
use understudy_memory::WordHashEmbedder;
use understudy_store::Store;
use understudy_tasks::find::{find_task, DataSource};
use understudy_tasks::grade::Grader;

const EMBEDDER: WordHashEmbedder = WordHashEmbedder { dim: 256 };

/// Answers with the first number of passage [1] in the system prompt, or says it cannot know.
fn reader() -> Arc<Recording> {
    Recording::scripted(|request: &ValidChatRequest| {
        let system = request
            .messages
            .iter()
            .find(|m| m.role == Role::System)
            .map(|m| m.content.clone())
            .unwrap_or_default();
        let number = system
            .lines()
            .find(|l| l.starts_with("[1] ("))
            .and_then(|l| l.split(") ").nth(1))
            .and_then(|text| {
                text.split(|c: char| !c.is_ascii_digit())
                    .find(|w| !w.is_empty())
                    .map(str::to_string)
            });
        Some(format!(
            "label:{}",
            number.unwrap_or_else(|| "I cannot know that.".into())
        ))
    })
}

fn write_task(dir: &Path, with_memory: bool) -> PathBuf {
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    for (site, code) in [("Arvenholt", 9385), ("Brisklow", 9032), ("Dunmere", 4817)] {
        std::fs::write(
            docs.join(format!("{}.md", site.to_lowercase())),
            format!("The {site} depot keeps its archive room locked; the door code is {code}."),
        )
        .unwrap();
    }
    let rows = [("a", "Arvenholt", 9385), ("b", "Brisklow", 9032), ("d", "Dunmere", 4817)]
        .iter()
        .map(|(id, site, code)| {
            format!("{{\"id\": \"{id}\", \"question\": \"What is the archive door code at {site} depot?\", \"answer\": \"{code}\"}}\n")
        })
        .collect::<String>();
    std::fs::write(dir.join("qa.jsonl"), rows).unwrap();
    let memory = if with_memory {
        "\n[memory]\npath = \"docs\"\nbudget_tokens = 100\n"
    } else {
        ""
    };
    let task = format!(
        "name = \"depots\"\ninstruction = \"Answer.\"\nquestion = \"{{{{ question }}}}\"\ntarget = \"{{{{ answer }}}}\"\n\n[dataset]\npath = \"qa.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 0\n\n[answer]\nkind = \"number\"\n{memory}"
    );
    let path = dir.join("depots.toml");
    std::fs::write(&path, task).unwrap();
    path
}

fn plan(task: &Path, strategies: &[&str]) -> Result<Plan, understudy_tasks::EvalError> {
    let pending = find_task(task.to_str().unwrap())?;
    let data = match &pending.data {
        DataSource::File(f) => f.clone(),
        DataSource::Builtin(_) => unreachable!(),
    };
    let section = EvalSection {
        models: Some(vec!["reader".into()]),
        strategies: Some(strategies.iter().map(|s| s.to_string()).collect()),
        ..EvalSection::default()
    };
    Plan::resolve(&section, "reader", vec![(pending, data)])
}

#[tokio::test]
async fn memory_answers_what_the_model_cannot_know() {
    let dir = tempfile::tempdir().unwrap();
    let task = write_task(dir.path(), true);
    let mut plan = plan(&task, &["zero-shot", "memory:1"]).unwrap();
    let db = dir.path().join("u.db");
    let memory = Store::open_path(&db).await.unwrap().vectors;
    let (retrieved, indexed) = prepare(
        &plan.tasks,
        plan.retrieval_depth(),
        dir.path(),
        memory.as_ref(),
        &EMBEDDER,
    )
    .await
    .unwrap();
    assert_eq!(indexed.len(), 1);
    assert_eq!(
        (
            indexed[0].documents,
            indexed[0].embedded,
            indexed[0].unchanged
        ),
        (3, 3, 0)
    );
    assert_eq!(indexed[0].collection, "task:depots");
    plan.retrieved = retrieved;

    let store = Store::open_path(&db).await.unwrap();
    let options = RunOptions {
        no_cache: false,
        stop: Arc::new(AtomicBool::new(false)),
        concurrency: Arc::new(|_| 2),
        local: Arc::new(|_| false),
        threads: None,
        claims: Default::default(),
    };
    let outcome = run(
        &plan,
        reader(),
        &store,
        &options,
        &Grader::default(),
        &Quiet,
    )
    .await
    .unwrap();
    let cells = store.runs.cells(outcome.run_id).await.unwrap();
    assert_eq!(cells.len(), 6);
    for cell in &cells {
        let expected = if cell.strategy == "memory:1" {
            1.0
        } else {
            0.0
        };
        assert_eq!(cell.score, expected, "{cell:?}");
        if cell.strategy == "memory:1" {
            let detail: serde_json::Value =
                serde_json::from_str(cell.detail.as_deref().unwrap()).unwrap();
            let cited = &detail["retrieval"]["passages"][0];
            let site = match cell.item_id.as_str() {
                "a" => "arvenholt",
                "b" => "brisklow",
                _ => "dunmere",
            };
            assert_eq!(cited["source"], format!("{site}.md"));
            assert_eq!(cited["position"], 0);
            assert!(cell
                .prompt_json
                .contains("Relevant passages from task:depots"));
        } else {
            assert!(!cell.prompt_json.contains("Relevant passages"));
        }
    }

    // A second run embeds nothing; a changed document is embedded again, alone.
    let (_, again) = prepare(
        &plan.tasks,
        plan.retrieval_depth(),
        dir.path(),
        memory.as_ref(),
        &EMBEDDER,
    )
    .await
    .unwrap();
    assert_eq!((again[0].embedded, again[0].unchanged), (0, 3));
    std::fs::write(
        dir.path().join("docs/dunmere.md"),
        "The Dunmere depot changed its archive door code to 5555.",
    )
    .unwrap();
    let (retrieved, changed) = prepare(
        &plan.tasks,
        plan.retrieval_depth(),
        dir.path(),
        memory.as_ref(),
        &EMBEDDER,
    )
    .await
    .unwrap();
    assert_eq!((changed[0].embedded, changed[0].unchanged), (1, 2));
    let (block, _) = retrieved.block("depots", "d", 1).unwrap();
    assert!(block.contains("5555"), "{block}");
}

#[test]
fn memory_strategy_needs_documents() {
    let dir = tempfile::tempdir().unwrap();
    let task = write_task(dir.path(), false);
    let err = plan(&task, &["memory:2"]).unwrap_err().to_string();
    assert!(err.contains("depots.toml"), "{err}");
    assert!(err.contains("no `[memory]` table"), "{err}");
    assert!(plan(&task, &["zero-shot"]).is_ok());
}

#[test]
fn bad_memory_table_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_task(dir.path(), true);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "budget_tokens = 100",
        "budget_tokens = 100\nchunk_tokens = 8",
    );
    std::fs::write(&path, text).unwrap();
    let err = find_task(path.to_str().unwrap()).err().unwrap().to_string();
    assert!(
        err.contains("`memory`: `chunk_tokens` must be at least 16"),
        "{err}"
    );
}
