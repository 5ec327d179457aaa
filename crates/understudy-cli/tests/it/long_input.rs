//! Map-reduce on the real default model with a small context (512 tokens) and an input about
//! five times longer, through `understudy eval` (strategy `map-reduce`) and through `understudy
//! serve` (profile `long_input = "map_reduce"`): the question about one sentence deep in the
//! text is still answered. (smollm2-135m cannot answer this even with the sentence right before
//! the question, so the test uses qwen2.5-coder-0.5b.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{free_port, home, serve_command, text, understudy, wait_for_port};

const DOC: &str = include_str!("../fixtures/harbour.txt");
const QUESTION: &str = "What is the name of the lighthouse keeper's cat?";

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("understudy.toml");
    std::fs::write(
        &path,
        format!(
            "[models.small-ctx]\npath = {:?}\ncontext_length = 512\n\n[profiles.long-reader]\nmodel = \"small-ctx\"\nlong_input = \"map_reduce\"\n",
            home().join("models/qwen2.5-coder-0.5b-instruct.gguf").to_str().unwrap()
        ),
    )
    .unwrap();
    path
}

fn install_model() {
    let out = understudy()
        .args(["models", "install", "qwen2.5-coder-0.5b"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn eval_answers_a_question_about_a_text_five_times_the_context() {
    install_model();
    let dir = tempfile::tempdir().unwrap();
    let row = serde_json::json!({"id": "cat", "document": DOC.trim(), "question": QUESTION});
    std::fs::write(dir.path().join("long.jsonl"), format!("{row}\n")).unwrap();
    std::fs::write(
        dir.path().join("long.toml"),
        "name = \"long-qa\"\ninstruction = \"Answer the question about the text in one word.\"\nquestion = \"{{ document }}\\n\\nQuestion: {{ question }}\"\ntarget = \"Biscuit\"\nmax_tokens = 16\n[dataset]\npath = \"long.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 0\n[answer]\nkind = \"regex\"\npattern = \"(?i)biscuit\"\n",
    )
    .unwrap();
    let cfg = config(dir.path());
    let out = understudy()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "eval",
            "--tasks",
            dir.path().join("long.toml").to_str().unwrap(),
            "--models",
            "small-ctx",
            "--strategies",
            "map-reduce",
            "--no-reference",
            "--threads",
            "2",
            "--json",
            "--db",
            dir.path().join("u.db").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let task = &summary["rows"][0]["tasks"][0];
    assert_eq!(task["accuracy"]["value"], 1.0, "{task}");
    let metrics = task["metrics"].to_string();
    assert!(metrics.contains("map-reduce applied"), "{metrics}");
}

#[test]
fn the_gateway_answers_a_question_about_a_text_five_times_the_context() {
    install_model();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let port = free_port();
    let mut server = serve_command(&cfg, &dir.path().join("log.db"), port)
        .args(["--threads", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, 60);
    let body = serde_json::json!({
        "model": "long-reader",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": format!("Answer the question about the text in one word.\n\n{}\n\nQuestion: {QUESTION}", DOC.trim())}]
    });
    let body_path = dir.path().join("body.json");
    std::fs::write(&body_path, body.to_string()).unwrap();
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-D",
            "-",
            "-H",
            "content-type: application/json",
            "--data-binary",
            &format!("@{}", body_path.display()),
            &format!("http://127.0.0.1:{port}/v1/chat/completions"),
        ])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let reply = text(&out.stdout);
    assert!(reply.contains("200 OK"), "{reply}");
    assert!(
        reply
            .to_lowercase()
            .contains("x-understudy-model: small-ctx"),
        "{reply}"
    );
    let json_start = reply.find('{').unwrap();
    let json: serde_json::Value = serde_json::from_str(&reply[json_start..]).unwrap();
    let answer = json["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(answer.to_lowercase().contains("biscuit"), "{answer}");
}
