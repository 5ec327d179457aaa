//! A `structured` task's definition is checked before any model is called: a schema that is
//! missing, not JSON or not a JSON Schema is named with the key; a gold answer that is not JSON
//! or breaks the schema is named with its file, line and item.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use understudy_tasks::task::{LoadedTask, TaskDef};

const TASK: &str = "name = \"inv\"\ninstruction = \"Extract.\"\nquestion = \"{{ text }}\"\ntarget = \"{{ gold | tojson }}\"\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 0\n[answer]\nkind = \"structured\"\nschema = \"schema.json\"\n";

fn load(dir: &Path, schema: &str, rows: &str) -> Result<LoadedTask, String> {
    std::fs::write(dir.join("schema.json"), schema).unwrap();
    std::fs::write(dir.join("rows.jsonl"), rows).unwrap();
    let task_file = dir.join("task.toml");
    let def = TaskDef::parse(TASK, &task_file).map_err(|e| e.to_string())?;
    LoadedTask::load(def, task_file.clone(), &dir.join("rows.jsonl"), 1).map_err(|e| e.to_string())
}

const SCHEMA: &str =
    r#"{"type": "object", "required": ["total"], "properties": {"total": {"type": "number"}}}"#;

#[test]
fn bad_schemas_and_gold_answers_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = "{\"id\": \"a\", \"text\": \"t\", \"gold\": {\"total\": 3}}\n";
    let task = load(dir.path(), SCHEMA, good).unwrap();
    assert_eq!(task.items[0].target, "{\"total\":3}");

    let err = load(dir.path(), "{not json", good).unwrap_err();
    assert!(
        err.contains("`answer.schema`") && err.contains("not JSON"),
        "{err}"
    );
    let err = load(dir.path(), r#"{"type": "no-such-type"}"#, good).unwrap_err();
    assert!(err.contains("not a usable JSON Schema"), "{err}");
    std::fs::remove_file(dir.path().join("schema.json")).unwrap();
    let task_file = dir.path().join("task.toml");
    let err = TaskDef::parse(TASK, &task_file).unwrap_err().to_string();
    assert!(err.contains("`answer.schema`: cannot read"), "{err}");

    let breaks = "{\"id\": \"a\", \"text\": \"t\", \"gold\": {\"total\": 3}}\n{\"id\": \"b\", \"text\": \"t\", \"gold\": {\"total\": \"3\"}}\n";
    let err = load(dir.path(), SCHEMA, breaks).unwrap_err();
    assert!(
        err.contains("rows.jsonl:2") && err.contains("item b"),
        "{err}"
    );
    assert!(err.contains("breaks the task's schema"), "{err}");
}
