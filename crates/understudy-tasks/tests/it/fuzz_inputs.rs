//! Fuzzing (proptest) what users feed the eval: task TOML (the built-in files with random edits,
//! and arbitrary text), dataset rows (valid rows with random edits), and the answer extractors
//! (label, choice, number, exact, regex, code block, chain-of-thought marker) on arbitrary model
//! output. Nothing may panic; a rejected file names itself. Cases: PROPTEST_CASES (default 3,000).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use proptest::prelude::*;
use understudy_tasks::builtin::TASKS;
use understudy_tasks::grade::code::{build_program, extract_code};
use understudy_tasks::scorer::{final_answer, first_number, last_number, score};
use understudy_tasks::task::{LoadedTask, TaskDef};

fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Random edits: (position fraction, bytes to delete, text to insert).
fn edits() -> impl Strategy<Value = Vec<(f64, usize, String)>> {
    prop::collection::vec(
        (0.0..1.0f64, 0usize..8, "[\\PC\n\"=\\[\\]{}#,.0-9a-z]{0,6}"),
        1..6,
    )
}

fn apply(text: &str, edits: &[(f64, usize, String)]) -> String {
    let mut s = text.to_string();
    for (at, delete, insert) in edits {
        let mut i = ((s.len() as f64) * at) as usize;
        while i > 0 && !s.is_char_boundary(i) {
            i -= 1;
        }
        let mut j = (i + delete).min(s.len());
        while j < s.len() && !s.is_char_boundary(j) {
            j += 1;
        }
        s.replace_range(i..j, insert);
    }
    s
}

const ROWS: &str = "{\"id\": \"a\", \"text\": \"great film\", \"label\": \"pos\"}\n{\"id\": \"b\", \"text\": \"dull\", \"label\": \"neg\"}\n{\"id\": \"c\", \"text\": \"fine\", \"label\": \"pos\"}\n";
const TASK: &str = "name = \"toy\"\ninstruction = \"Classify.\"\nquestion = \"{{ text }}\"\ntarget = \"{{ label }}\"\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 0\n[answer]\nkind = \"label\"\nlabels = [\"positive\", \"negative\"]\ntarget_map = { pos = \"positive\", neg = \"negative\" }\n";

proptest! {
    #![proptest_config(cases(3000))]

    #[test]
    fn edited_task_files_parse_or_name_the_file(pick in 0..TASKS.len(), e in edits()) {
        let (name, text) = TASKS[pick];
        let edited = apply(text, &e);
        if let Err(err) = TaskDef::parse(&edited, Path::new("edited.toml")) {
            prop_assert!(err.to_string().starts_with("edited.toml"), "{name}: {err}");
        }
    }

    #[test]
    fn arbitrary_text_as_a_task_file_never_panics(text in "\\PC{0,300}") {
        let _ = TaskDef::parse(&text, Path::new("x.toml"));
    }

    #[test]
    fn edited_dataset_rows_load_or_name_file_and_line(e in edits()) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("rows.jsonl");
        std::fs::write(&data, apply(ROWS, &e)).unwrap();
        let def = TaskDef::parse(TASK, Path::new("toy.toml")).unwrap();
        if let Err(err) = LoadedTask::load(def, "toy.toml".into(), &data, 1) {
            prop_assert!(err.to_string().contains("rows.jsonl"), "{err}");
        }
    }

    #[test]
    fn extractors_read_any_answer_without_panicking(answer in "\\PC{0,200}", cot in any::<bool>()) {
        let _ = (first_number(&answer), last_number(&answer), final_answer(&answer));
        let _ = extract_code(&answer, "f");
        let _ = build_program("def f(x):\n", &answer, "def check(c): pass", "f");
        for (_, text) in TASKS {
            let def = TaskDef::parse(text, Path::new("t.toml")).unwrap();
            let item = understudy_tasks::task::Item {
                id: "i".into(),
                question: "q".into(),
                target: "positive".into(),
                options: vec![('A', "one".into()), ('B', "two".into())],
                ..Default::default()
            };
            let _ = score(&def.answer, &item, &answer, cot);
        }
    }
}
