//! Dataset checks that keep every item: a repeated id is an error naming both lines, and a
//! few-shot pool larger than half the rows is reported (declared vs kept) while no pool row is
//! ever among the scored items.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use understudy_tasks::task::{LoadedTask, TaskDef};

fn task(pool: usize) -> TaskDef {
    let text = format!(
        "name = \"toy\"\ninstruction = \"Classify.\"\nquestion = \"{{{{ text }}}}\"\ntarget = \"{{{{ label }}}}\"\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\nfew_shot_pool = {pool}\n[answer]\nkind = \"label\"\nlabels = [\"positive\", \"negative\"]\n"
    );
    TaskDef::parse(&text, Path::new("toy.toml")).unwrap()
}

fn rows(dir: &Path, ids: &[&str]) -> std::path::PathBuf {
    let text: String = ids
        .iter()
        .map(|id| format!("{{\"id\":\"{id}\",\"text\":\"t {id}\",\"label\":\"positive\"}}\n"))
        .collect();
    let path = dir.join("rows.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn an_oversized_pool_is_reported_and_never_scored() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let data = rows(dir.path(), &ids);
    let loaded = LoadedTask::load(task(16), "toy.toml".into(), &data, 3).unwrap();
    assert_eq!(loaded.pool_capped, Some((16, 5)));
    assert_eq!(loaded.pool.len(), 5);
    assert_eq!(loaded.items.len(), 5);
    for item in &loaded.items {
        assert!(
            !loaded.pool.iter().any(|p| p.id == item.id),
            "{} is in the pool",
            item.id
        );
    }
    let fits = LoadedTask::load(task(4), "toy.toml".into(), &data, 3).unwrap();
    assert_eq!(fits.pool_capped, None);
}

#[test]
fn a_repeated_id_names_both_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data = rows(dir.path(), &["a", "b", "c", "b"]);
    let err = LoadedTask::load(task(0), "toy.toml".into(), &data, 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("rows.jsonl:4: item b"), "{err}");
    assert!(err.contains("first on line 2"), "{err}");
}
