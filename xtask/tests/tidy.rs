//! The workspace keeps its shape: no module circle at file level, no CLI command importing another,
//! no forbidden crate dependency, every file and function within its limit.

#[test]
fn the_workspace_is_tidy() {
    let crates = xtask::crates_dir();
    let problems = xtask::tidy(&crates).expect("crates/ is readable");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
