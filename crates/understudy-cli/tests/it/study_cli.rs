//! `understudy study` through the real binary against an OpenAI-compatible server: presets print
//! as study files that parse back, a dry run only estimates (charging cold runs for the prefixes
//! warm ones reuse), and system-prompt-retention finds the effective length of a mock model that
//! keeps the rules only in short prompts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{assert_clean_failure, serve_openai_mock, text, understudy};

/// A mock server whose model keeps the system prompt's rules while the request body is shorter
/// than `limit` bytes, and ignores them after.
fn forgetful_server(runtime: &tokio::runtime::Runtime, limit: usize) -> String {
    use axum::routing::post;
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            post(move |body: String| async move {
                let answer = if body.len() < limit {
                    "Answer: 4817. Over and out."
                } else {
                    "The code is 4817."
                };
                (
                    [("content-type", "text/event-stream")],
                    format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{answer}\"}},\"finish_reason\":\"stop\"}}]}}\n\ndata: [DONE]\n\n"),
                )
            }),
        );
    serve_openai_mock(runtime, app)
}

#[test]
fn presets_print_and_parse_back() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "size-ladder",
        "strategies",
        "format-sensitivity",
        "system-prompt-retention",
        "prompt-detail",
        "reference-gap",
    ] {
        let out = understudy()
            .args(["study", name, "--print-config"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let file = dir.path().join(format!("{name}.toml"));
        std::fs::write(&file, &out.stdout).unwrap();
        assert!(text(&out.stdout).contains(&format!("name = \"{name}\"")));
        // The printed file runs as a study (dry run: plan and estimate only).
        let out = understudy()
            .args([
                "study",
                "--file",
                file.to_str().unwrap(),
                "--dry-run",
                "--models",
                "openai/m",
                "--reference",
                "openai/m",
                "--out",
                dir.path().join(name).to_str().unwrap(),
                "--db",
                dir.path().join("u.db").to_str().unwrap(),
            ])
            .env("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert!(out.status.success(), "{name}: {err}");
        assert!(err.contains("expected duration about"), "{name}: {err}");
        // Nothing measured openai/m and the catalogue lacks it: the estimate says it guessed.
        assert!(
            err.contains("speeds of openai/m are a guess"),
            "{name}: {err}"
        );
    }
    let out = understudy().args(["study", "vibes"]).output().unwrap();
    assert_clean_failure(&out, "unknown study \"vibes\"");
}

/// The minutes a dry run of the strategies study expects, with `extra` flags.
fn expected_minutes(dir: &std::path::Path, extra: &[&str]) -> u64 {
    let out = understudy()
        .args([
            "study",
            "strategies",
            "--dry-run",
            "--models",
            "openai/m",
            "--db",
        ])
        .arg(dir.join("u.db"))
        .arg("--out")
        .arg(dir.join("page"))
        .args(extra)
        .env("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let tail = err.split("expected duration about ").nth(1).expect(&err);
    tail.split(' ').next().unwrap().parse().expect(&err)
}

#[test]
fn the_estimate_charges_a_cold_run_for_the_prefixes_a_warm_one_reuses() {
    let dir = tempfile::tempdir().unwrap();
    let warm = expected_minutes(dir.path(), &[]);
    let cold = expected_minutes(dir.path(), &["--cold"]);
    // The few-shot rows repeat their instruction and examples in every item's prompt.
    assert!(cold > warm, "cold {cold} min, warm {warm} min");
    assert_eq!(expected_minutes(dir.path(), &["--no-prefix-cache"]), cold);
}

#[test]
fn retention_on_an_openai_compatible_server_finds_the_effective_length() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // 256- and 512-token prompts fit under 3,500 bytes; 1024 and 2048 do not.
    let base = forgetful_server(&runtime, 3500);
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("page");
    let out = understudy()
        .args([
            "study",
            "system-prompt-retention",
            "--models",
            "openai/m",
            "--limit",
            "6",
            "--out",
            out_dir.to_str().unwrap(),
            "--db",
            dir.path().join("u.db").to_str().unwrap(),
        ])
        .env("OPENAI_BASE_URL", &base)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conclusions = text(&out.stdout);
    assert!(
        conclusions.contains(
            "openai/m: effective length (from point estimates) 512 tokens (at 1024 tokens compliance fell below 85%"
        ) && conclusions.contains("Supported for openai/m"),
        "{conclusions}"
    );
    let page = std::fs::read_to_string(out_dir.join("README.md")).unwrap();
    assert!(page.contains("# Study: system-prompt-retention"), "{page}");
    assert!(page.contains("| openai/m | 2048 |"), "{page}");
    assert!(out_dir.join("retention.svg").exists());
    assert!(out_dir.join("task/retention.toml").exists());
}

/// Every committed study page with its cells beside it is exactly what `study --from` derives
/// from those cells: a page cannot drift from its data.
#[test]
fn committed_study_pages_rederive_from_their_cells() {
    let root = crate::common::repo_root();
    let studies = root.join("docs/studies");
    let mut checked = 0;
    for entry in std::fs::read_dir(&studies).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("cells.jsonl").exists() {
            continue;
        }
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let out = tempfile::tempdir().unwrap();
        let result = understudy()
            .current_dir(&root)
            .args([
                "study",
                &name,
                "--from",
                &format!("docs/studies/{name}"),
                "--out",
                out.path().to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(result.status.success(), "{name}: {}", text(&result.stderr));
        for file in std::fs::read_dir(out.path()).unwrap() {
            let file = file.unwrap().path();
            let file_name = file.file_name().unwrap();
            let committed = std::fs::read(dir.join(file_name))
                .unwrap_or_else(|e| panic!("{name}: {file_name:?} is not committed: {e}"));
            assert!(
                std::fs::read(&file).unwrap() == committed,
                "{name}: {file_name:?} differs from what its cells give; rerun `understudy study {name} --from docs/studies/{name}`"
            );
        }
        checked += 1;
    }
    assert!(checked >= 1, "no study page with committed cells");
}
