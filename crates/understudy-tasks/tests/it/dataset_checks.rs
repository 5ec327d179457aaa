//! Dataset checks that keep every item: a repeated id is an error naming both lines, and a
//! few-shot pool larger than half the rows is reported (declared vs kept) while no pool row is
//! ever among the scored items; rows marked by `few_shot_field` are the pool and the rest are
//! scored in the order they had unmarked.
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

fn marked_task(pool: usize) -> TaskDef {
    let text = format!(
        "name = \"toy\"\ninstruction = \"Classify.\"\nquestion = \"{{{{ text }}}}\"\ntarget = \"{{{{ label }}}}\"\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\nfew_shot_pool = {pool}\nfew_shot_field = \"pool\"\n[answer]\nkind = \"label\"\nlabels = [\"positive\", \"negative\"]\n"
    );
    TaskDef::parse(&text, Path::new("toy.toml")).unwrap()
}

#[test]
fn marked_rows_are_the_pool_and_leave_the_scored_order_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..8).map(|i| format!("r{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let data = rows(dir.path(), &ids);
    let unmarked = LoadedTask::load(task(0), "toy.toml".into(), &data, 5).unwrap();
    let mut text = std::fs::read_to_string(&data).unwrap();
    for (i, pool) in ["true", "\"true\"", "true"].iter().enumerate() {
        text.push_str(&format!(
            "{{\"id\":\"p{i}\",\"text\":\"t\",\"label\":\"negative\",\"pool\":{pool}}}\n"
        ));
    }
    std::fs::write(&data, &text).unwrap();
    let marked = LoadedTask::load(marked_task(2), "toy.toml".into(), &data, 5).unwrap();
    let ids_of = |t: &LoadedTask| t.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids_of(&marked), ids_of(&unmarked), "same rows, same order");
    // `few_shot_pool` caps how many marked rows are kept; nothing is capped from the scored.
    assert_eq!(marked.pool.len(), 2);
    assert!(marked.pool.iter().all(|p| p.id.starts_with('p')));
    assert_eq!(marked.pool_capped, None);
    text.push_str("{\"id\":\"r8\",\"text\":\"t\",\"label\":\"positive\",\"pool\":false}\n");
    text.push_str("{\"id\":\"bad\",\"text\":\"t\",\"label\":\"positive\",\"pool\":3}\n");
    std::fs::write(&data, &text).unwrap();
    let err = LoadedTask::load(marked_task(2), "toy.toml".into(), &data, 5)
        .unwrap_err()
        .to_string();
    assert!(err.contains("rows.jsonl:13: item bad"), "{err}");
    assert!(err.contains("dataset.few_shot_field"), "{err}");
}
