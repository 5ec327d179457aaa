//! `understudy view` in headless Chromium, on a real store written by real `eval` runs and a
//! real `serve` with `[serve] ui = true` (the UI mounted beside the API): the runs list, a run's
//! page, a compare page with its flip table, the request log filtered to one profile, and a
//! running eval whose progress changes between two screenshots. Screenshots go to
//! `UNDERSTUDY_SCREENSHOTS` when set (that is how the ones under docs/screenshots were made).
//! Also: the standalone `understudy view` refuses a public address without keys and asks a
//! browser for a key when keys are configured, and it reads a PostgreSQL store as it reads a
//! SQLite one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    free_port, home, http, serve_command, serve_model_like_mock, text, toy_eval, toy_review_task,
    understudy, wait_for_port, Killed,
};

fn chromium() -> Option<&'static str> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
}

const FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

/// The page's DOM after its scripts ran, and the browser's log (console errors land there).
fn dump(browser: &str, profile: &Path, url: &str) -> (String, String) {
    let out = std::process::Command::new(browser)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args([
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(url)
        .output()
        .unwrap();
    (text(&out.stdout), text(&out.stderr))
}

/// A 1280-wide screenshot of `url` into `file`.
fn screenshot(browser: &str, profile: &Path, url: &str, file: &Path, height: u32) {
    let out = std::process::Command::new(browser)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size=1280,{height}"))
        .arg(format!("--screenshot={}", file.display()))
        .arg(url)
        .output()
        .unwrap();
    assert!(
        file.metadata().map(|m| m.len() > 10_000).unwrap_or(false),
        "no screenshot of {url}: {}",
        text(&out.stderr)
    );
}

fn page_ok(browser: &str, profile: &Path, url: &str, needles: &[&str]) -> String {
    let (dom, log) = dump(browser, profile, url);
    for needle in needles {
        assert!(
            dom.contains(needle),
            "{url}: no {needle:?} in the page:\n{dom}\n{log}"
        );
    }
    for bad in ["Uncaught", "ERROR:CONSOLE", "Failed to load resource"] {
        assert!(!log.contains(bad), "{url}: console error: {log}");
    }
    dom
}

/// The progress text of run `id` in the runs list's DOM.
fn progress_of(dom: &str, id: i64) -> String {
    let start = dom
        .find(&format!("data-run=\"{id}\""))
        .unwrap_or_else(|| panic!("run {id} is not listed:\n{dom}"));
    let row = &dom[start..];
    let cells = row.find("class=\"cells\">").unwrap() + 14;
    row[cells..cells + row[cells..].find('<').unwrap()].to_string()
}

fn chat(port: u16, profile: &str, review: &str) {
    let body =
        serde_json::json!({"model": profile, "messages": [{"role": "user", "content": review}]});
    let (status, reply) = http(port, "POST", "/v1/chat/completions", &body.to_string());
    assert_eq!(status, 200, "{reply}");
}

#[test]
fn the_view_in_a_real_browser() {
    let found = chromium().ok_or("no Chromium is installed (apt-get install chromium)".to_string());
    let Some(browser) = understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_BROWSER")
    else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fast = serve_model_like_mock(&runtime, 0);
    let slow = serve_model_like_mock(&runtime, 400);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    let shots: PathBuf = std::env::var_os("UNDERSTUDY_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("shots"));
    std::fs::create_dir_all(&shots).unwrap();
    let task = |name: &str, instruction: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        toy_review_task(&d, 40, instruction)
    };
    // Runs 1 and 2: a baseline and a sloppy prompt.
    for (name, instruction) in [
        ("good", "Classify the film review as positive or negative."),
        ("bad", "Be sloppy and answer anything."),
    ] {
        let out = toy_eval(&fast, &db, &task(name, instruction), &[])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    // The gateway with the UI mounted, and requests through two profiles.
    let config = dir.path().join("understudy.toml");
    std::fs::write(
        &config,
        "[serve]\nui = true\n\n[profiles.support]\nmodel = \"openai/m\"\nsystem = \"Classify the film review.\"\nthinking = \"auto\"\n\n[profiles.triage]\nmodel = \"openai/m\"\nsystem = \"Be sloppy.\"\ncascade = { models = [\"openai/m\", \"openai/ref\"], signals = [\"self_check\"] }\n",
    )
    .unwrap();
    let port = free_port();
    let server = Killed(
        serve_command(&config, &db, port)
            .env("OPENAI_BASE_URL", &fast)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, 60);
    for i in 0..3 {
        chat(
            port,
            "support",
            &format!("Review {i}: the film was wonderful."),
        );
    }
    for i in 0..2 {
        chat(
            port,
            "triage",
            &format!("Review {i}: the film was dreadful."),
        );
    }
    let ui = format!("http://127.0.0.1:{port}/ui");
    let profile = dir.path().join("chrome");

    page_ok(
        browser,
        &profile,
        &ui,
        &["run 1", "run 2", "finished", "80 of 80 cells (100%)"],
    );
    screenshot(browser, &profile, &ui, &shots.join("runs.png"), 700);
    page_ok(
        browser,
        &profile,
        &format!("{ui}/runs/1"),
        &["understudy report — run 1", "Cost per 1,000 answers"],
    );
    screenshot(
        browser,
        &profile,
        &format!("{ui}/runs/1"),
        &shots.join("run.png"),
        1400,
    );
    page_ok(
        browser,
        &profile,
        &format!("{ui}/runs/2/cells?only=wrong"),
        &["20 cells", "Be sloppy"],
    );
    let compare =
        format!("{ui}/compare?a=1:openai/m/zero-shot/plain&b=2:openai/m/zero-shot/plain&margin=5");
    let dom = page_ok(
        browser,
        &profile,
        &compare,
        &["Flip table", "right → wrong", "wrong → right", "REGRESSION"],
    );
    assert!(
        dom.contains("<summary>20</summary>"),
        "20 flips expected:\n{dom}"
    );
    screenshot(
        browser,
        &profile,
        &compare,
        &shots.join("compare.png"),
        1100,
    );
    let requests = format!("{ui}/requests?profile=support");
    let dom = page_ok(
        browser,
        &profile,
        &requests,
        &["3 requests logged since", "trace"],
    );
    assert!(
        !dom.contains("<td>triage</td>"),
        "the filter let triage through:\n{dom}"
    );
    // The cascade profile's requests with their traces unfolded: each shows its cascade steps.
    let triage = format!("{ui}/requests?profile=triage&open=1");
    let dom = page_ok(
        browser,
        &profile,
        &triage,
        &["2 requests logged since", "<th>cascade</th>"],
    );
    assert!(
        !dom.contains("<td>support</td>"),
        "the filter let support through:\n{dom}"
    );
    screenshot(browser, &profile, &triage, &shots.join("requests.png"), 900);

    // A running eval: its progress in the list changes between two looks a few seconds apart.
    let mut live = Killed(
        toy_eval(
            &slow,
            &db,
            &task("live", "Classify the film review as positive or negative."),
            &["--concurrency", "1"],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap(),
    );
    let mut first = String::new();
    for _ in 0..100 {
        let (_, body) = http(port, "GET", "/ui/api/runs", "");
        if body.contains("\"id\":3") && body.contains("running") {
            let (dom, _) = dump(browser, &profile, &ui);
            first = progress_of(&dom, 3);
            if !first.starts_with("0 of") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        first.contains(" of 80 cells"),
        "the live run never showed progress: {first:?}"
    );
    screenshot(browser, &profile, &ui, &shots.join("live-1.png"), 700);
    std::thread::sleep(Duration::from_secs(3));
    let (dom, _) = dump(browser, &profile, &ui);
    let second = progress_of(&dom, 3);
    screenshot(browser, &profile, &ui, &shots.join("live-2.png"), 700);
    assert_ne!(first, second, "progress did not change while the run ran");
    assert!(
        dom.contains("data-status=\"running\"") || second.starts_with("80 of 80"),
        "{dom}"
    );
    let _ = live.0.kill();
    let _ = live.0.wait();
    drop(server);
}

#[test]
fn standalone_view_guards_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    // A store with nothing in it yet still opens (an eval makes the file).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fast = serve_model_like_mock(&runtime, 0);
    let out = toy_eval(
        &fast,
        &db,
        &toy_review_task(dir.path(), 10, "Classify."),
        &[],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Beyond loopback without keys: refused, saying what to do.
    let out = understudy()
        .args(["view", "--listen", "0.0.0.0:0", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("without API keys"),
        "{}",
        text(&out.stderr)
    );
    // With keys: a request without one is asked for it; Basic auth with the key as password passes.
    let config = dir.path().join("understudy.toml");
    std::fs::write(&config, "[serve]\napi_keys = [\"sk-view\"]\n").unwrap();
    let port = free_port();
    let _view = Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_understudy"))
            .env("UNDERSTUDY_HOME", home())
            .arg("--config")
            .arg(&config)
            .args(["view", "--listen", &format!("127.0.0.1:{port}"), "--db"])
            .arg(&db)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, 30);
    let get = |auth: Option<&str>| -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let header = auth
            .map(|a| format!("authorization: {a}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET /ui HTTP/1.1\r\nhost: localhost\r\n{header}connection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply
    };
    let refused = get(None);
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(
        refused.to_lowercase().contains("www-authenticate: basic"),
        "{refused}"
    );
    // "user:sk-view" in base64.
    let ok = get(Some("Basic dXNlcjpzay12aWV3"));
    assert!(
        ok.starts_with("HTTP/1.1 200") && ok.contains("run 1"),
        "{ok}"
    );
    assert!(get(Some("Bearer sk-view")).starts_with("HTTP/1.1 200"));
    assert!(get(Some("Bearer wrong")).starts_with("HTTP/1.1 401"));
}

#[test]
fn the_view_reads_a_postgres_store() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = runtime.block_on(understudy_store::test_server::fresh_database()) else {
        return;
    };
    let fast = serve_model_like_mock(&runtime, 0);
    let dir = tempfile::tempdir().unwrap();
    for (name, instruction) in [
        ("good", "Classify the film review as positive or negative."),
        ("bad", "Be sloppy and answer anything."),
    ] {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        let out = toy_eval(&fast, &url, &toy_review_task(&d, 40, instruction), &[])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let port = free_port();
    let _view = Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_understudy"))
            .env("UNDERSTUDY_HOME", home())
            .args([
                "view",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--db",
                &url,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, 30);
    let (status, body) = http(port, "GET", "/ui", "");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("run 1") && body.contains("run 2") && body.contains("80 of 80 cells"),
        "{body}"
    );
    let (status, body) = http(
        port,
        "GET",
        "/ui/compare?a=1:openai/m/zero-shot/plain&b=2:openai/m/zero-shot/plain",
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Flip table") && body.contains("REGRESSION"),
        "{body}"
    );
    let (status, body) = http(port, "GET", "/ui/runs/2/cells?only=wrong", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("20 cells"), "{body}");
    let (status, body) = http(port, "GET", "/ui/requests?since=1h", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("0 requests logged since"), "{body}");
    let (status, body) = http(port, "GET", "/ui/runs/99", "");
    assert_eq!(status, 404, "{body}");
}
