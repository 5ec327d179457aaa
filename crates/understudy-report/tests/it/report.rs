//! The report from a fixed fake-backend run: its numbers agree with the summary `show --json`
//! prints, its Markdown is snapshot-tested (times redacted), and it renders in headless Chromium
//! with every chart present, no console errors and nothing wider than a 1280px window.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use understudy_backend::fake::FakeBackend;
use understudy_eval::plan::{EvalSection, Plan};
use understudy_eval::runner::{run, Quiet, RunOptions};
use understudy_report::report::{self, tables};
use understudy_report::summary::{summarise, Summary};
use understudy_store::{Cell, Store};
use understudy_tasks::find::{find_task, DataSource};
use understudy_tasks::grade::Grader;

fn write_task(dir: &Path) -> std::path::PathBuf {
    let mut rows = String::new();
    for i in 0..24 {
        let label = if i % 3 == 0 { "negative" } else { "positive" };
        rows.push_str(&format!(
            "{{\"id\":\"r{i:02}\",\"text\":\"review {i}\",\"label\":\"{label}\"}}\n"
        ));
    }
    std::fs::write(dir.join("rows.jsonl"), rows).unwrap();
    let task = "name = \"toy\"\ninstruction = \"Classify the review.\"\nquestion = \"{{ text }}\"\ntarget = \"{{ label }}\"\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 4\n[answer]\nkind = \"label\"\nlabels = [\"positive\", \"negative\"]\n";
    std::fs::write(dir.join("toy.toml"), task).unwrap();
    dir.join("toy.toml")
}

/// A fixed run: three fake "models" under zero-shot, few-shot:2 and cot in two formats, with
/// deterministic latencies written over the measured ones (the redaction).
async fn fixed_run(dir: &Path) -> (Summary, Vec<Cell>) {
    let task = write_task(dir);
    let pending = find_task(task.to_str().unwrap()).unwrap();
    let data = match &pending.data {
        DataSource::File(f) => f.clone(),
        DataSource::Builtin(_) => unreachable!(),
    };
    let section = EvalSection {
        models: Some(vec!["label:positive".into(), "label:negative".into()]),
        reference: Some("label:positive".into()),
        strategies: Some(vec!["zero-shot".into(), "few-shot:2".into(), "cot".into()]),
        formats: Some(vec!["plain".into(), "json".into()]),
        limit: Some(20),
        ..EvalSection::default()
    };
    let plan = Plan::resolve(&section, "echo", vec![(pending, data)]).unwrap();
    let store = Store::open_path(&dir.join("u.db")).await.unwrap();
    let options = RunOptions {
        no_cache: false,
        stop: Arc::new(AtomicBool::new(false)),
        concurrency: Arc::new(|_| 1),
        local: Arc::new(|_| false),
        threads: None,
        claims: Default::default(),
    };
    let outcome = run(
        &plan,
        Arc::new(FakeBackend::new()),
        &store,
        &options,
        &Grader::default(),
        &Quiet,
    )
    .await
    .unwrap();
    let mut cells = store.runs.cells(outcome.run_id).await.unwrap();
    for (i, c) in cells.iter_mut().enumerate() {
        let base = match c.strategy.as_str() {
            "cot" => 900.0,
            "few-shot:2" => 300.0,
            _ => 100.0,
        } * if c.model == "label:negative" {
            2.0
        } else {
            1.0
        };
        c.ttft_ms = base / 2.0;
        c.total_ms = base + (i % 5) as f64;
        c.decode_tps = Some(50.0);
    }
    let mut run = store.runs.run(outcome.run_id).await.unwrap();
    run.created_at = "2026-01-01T00:00:00Z".into();
    (summarise(run, &cells), cells)
}

#[tokio::test]
async fn report_numbers_agree_with_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (summary, cells) = fixed_run(dir.path()).await;
    let out = dir.path().join("report");
    let written = report::write(&summary, &cells, &out).unwrap();
    let html = std::fs::read_to_string(&written.html).unwrap();
    let md = std::fs::read_to_string(&written.markdown).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written.json).unwrap()).unwrap();
    // results.json carries exactly what `understudy show --json` prints.
    assert_eq!(json["summary"], serde_json::to_value(&summary).unwrap());
    for row in &summary.rows {
        for t in &row.tasks {
            let text = tables::estimate(&t.accuracy);
            assert!(html.contains(&text), "HTML lacks {text}");
            assert!(md.contains(&text), "Markdown lacks {text}");
            if let Some(share) = &t.share_of_reference {
                assert!(md.contains(&tables::estimate(share)));
            }
        }
    }
    // Every chart with data is written and inlined; those without are named, not drawn empty.
    let mut charts: Vec<String> = std::fs::read_dir(out.join("charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    charts.sort();
    assert_eq!(
        charts,
        [
            "cot-latency.svg",
            "cot-score.svg",
            "format-sensitivity.svg",
            "quality-latency-all-tasks-pooled.svg",
            "quality-latency-toy.svg"
        ]
    );
    assert_eq!(html.matches("<svg").count(), 5);
    for absent in ["Size ladder: needs models", "Share of reference: "] {
        assert!(html.contains(absent), "HTML does not say why: {absent}");
        assert!(md.contains(&format!(
            "not drawn: {}",
            &absent[..absent.find(':').unwrap()]
        )));
    }
    // The reference is marked in the legend where it is drawn.
    assert!(summary.reference.is_some() && html.contains(">reference</text>"));
    assert!(!html.contains("<script"), "the report needs no JavaScript");
    // Nothing loads from the network: no attribute or stylesheet points at a URL (the SVG
    // namespace, an identifier that is never fetched, is the one URL allowed).
    let html_lower = html.to_lowercase();
    for attribute in [
        "src=", "href=", "srcset=", "url(", "@import", "<link", "<iframe", "<object",
    ] {
        for (at, _) in html_lower.match_indices(attribute) {
            let after = &html_lower[at + attribute.len()..];
            let target = after.trim_start_matches(['"', '\'', ' ']);
            assert!(
                !target.starts_with("http:")
                    && !target.starts_with("https:")
                    && !target.starts_with("//"),
                "the report loads a resource: {}",
                &html[at..(at + 80).min(html.len())]
            );
        }
    }
    assert!(
        !html_lower.contains("<link") && !html_lower.contains("@import"),
        "the report links a stylesheet"
    );
    let without_namespace = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(
        !without_namespace.contains("http://") && !without_namespace.contains("https://"),
        "a URL other than the SVG namespace"
    );
    // Both fake models answer one label for every item, the reference included: the report
    // says so, and prints no share of the reference as a percentage.
    for row in &summary.rows {
        for t in &row.tasks {
            let b = t.baseline.as_ref().expect("a label task has a baseline");
            assert!(!b.test.above, "{b:?}");
            assert!(t.answers.single.is_some());
            assert!(t.share_of_reference.is_none() && t.share_above_baseline.is_none());
            assert_eq!(t.share_not_meaningful.is_some(), !row.is_reference);
        }
    }
    assert!(md.contains("it answered \"positive\" for every item"));
    assert!(md.contains("share of reference not meaningful"));
    assert!(html.contains("NOT above the majority-class baseline"));
    // label:positive is right on 2/3 of the items; cells.csv has one line per cell.
    let csv = std::fs::read_to_string(&written.csv).unwrap();
    assert_eq!(csv.lines().count(), cells.len() + 1);
    insta::with_settings!({filters => vec![(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[time]")]}, {
        insta::assert_snapshot!("fixed_run_report_md", md);
    });
}

fn chromium() -> Option<&'static str> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
}

#[tokio::test]
async fn report_renders_in_headless_chromium() {
    let found = chromium().ok_or("no Chromium is installed (apt-get install chromium)".to_string());
    let Some(browser) = understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_BROWSER")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (summary, cells) = fixed_run(dir.path()).await;
    let out = dir.path().join("report");
    let written = report::write(&summary, &cells, &out).unwrap();
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--allow-file-access-from-files",
        "--virtual-time-budget=10000",
    ];
    let profile = dir.path().join("profile");
    // 1. The page itself: loads, logs no console errors.
    let page = std::process::Command::new(browser)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(format!("file://{}", written.html.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&page.stdout);
    let log = String::from_utf8_lossy(&page.stderr);
    assert!(
        dom.contains("understudy report"),
        "page did not load: {log}"
    );
    for bad in ["Uncaught", "ERROR:CONSOLE", "Failed to load resource"] {
        assert!(!log.contains(bad), "console error: {log}");
    }
    // 2. Measured at 1280px inside a frame: every chart's SVG is drawn, nothing overflows.
    let check = out.join("check.html");
    std::fs::write(
        &check,
        r#"<!doctype html><body style="margin:0"><iframe id="f" src="index.html" style="width:1280px;height:900px;border:0"></iframe><script>
window.addEventListener('load', () => {
  const d = document.getElementById('f').contentDocument;
  const svgs = [...d.querySelectorAll('figure svg')];
  const empty = svgs.filter(s => s.childElementCount < 3 || s.getBoundingClientRect().width < 100).length;
  const r = {svgs: svgs.length, empty, scroll: d.documentElement.scrollWidth, client: d.documentElement.clientWidth};
  document.body.setAttribute('data-result', JSON.stringify(r));
});
</script></body>"#,
    )
    .unwrap();
    let probe = std::process::Command::new(browser)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", check.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&probe.stdout);
    let start = dom.find("data-result=\"").unwrap_or_else(|| {
        panic!(
            "no result: {dom} {}",
            String::from_utf8_lossy(&probe.stderr)
        )
    }) + 13;
    let end = dom[start..].find('"').unwrap() + start;
    let raw = dom[start..end].replace("&quot;", "\"");
    let result: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let charts = std::fs::read_dir(out.join("charts")).unwrap().count() as u64;
    assert_eq!(result["svgs"].as_u64(), Some(charts), "{result}");
    assert_eq!(result["empty"].as_u64(), Some(0), "{result}");
    assert!(
        result["scroll"].as_u64() <= result["client"].as_u64(),
        "page wider than 1280px: {result}"
    );
}
