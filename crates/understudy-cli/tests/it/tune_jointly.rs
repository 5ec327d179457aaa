//! `tune --jointly` end to end over an OpenAI-compatible server: a tool-call task and its
//! irrelevance task, where a model that never calls is the fastest to "decline". Tuned per task it
//! wins the irrelevance task; tuned jointly the row that also calls is chosen for both. The rows
//! ran few-shot, so the profiles carry example calls, and they load as gateway profiles.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Json;
use serde_json::{json, Value};

use crate::common::{text, understudy};

/// The SSE body of one answer: `city` called through `get_weather`, or the text "No tool fits.".
fn answer(call: Option<&str>) -> String {
    let delta = match call {
        Some(city) => json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": json!({"city": city}).to_string()}}]}),
        None => json!({"content": "No tool fits."}),
    };
    let finish = if call.is_some() { "tool_calls" } else { "stop" };
    format!(
        "data: {}\n\ndata: [DONE]\n\n",
        json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    )
}

/// `never-calls` answers text at once; `caller` (40 ms) and `big` (80 ms) call `get_weather`
/// for "Weather in CITY?" and answer text otherwise.
async fn chat(Json(body): Json<Value>) -> ([(&'static str, &'static str); 1], String) {
    let model = body["model"].as_str().unwrap_or_default().to_string();
    let last = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string();
    let city = last
        .split("Weather in ")
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .map(str::to_string);
    let (delay, call) = match model.as_str() {
        "never-calls" => (0, None),
        "caller" => (40, city),
        _ => (80, city),
    };
    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    (
        [("content-type", "text/event-stream")],
        answer(call.as_deref()),
    )
}

fn server(runtime: &tokio::runtime::Runtime) -> String {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(chat))
        .route(
            "/v1/models",
            axum::routing::get(|| async {
                r#"{"data":[{"id":"never-calls"},{"id":"caller"},{"id":"big"}]}"#
            }),
        );
    runtime.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}

/// A tool-call task named `name` with 24 rows: "Weather in CityN?" (a call) or a joke (no call).
fn write_task(dir: &std::path::Path, name: &str, calls: bool) -> String {
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
        "required": ["city"]}}}]);
    let mut rows = String::new();
    for i in 0..24 {
        let (q, target) = if calls {
            (
                format!("Weather in City{i}?"),
                json!([{"get_weather": {"city": [format!("City{i}")]}}]).to_string(),
            )
        } else {
            (format!("Tell me joke number {i}."), "[]".to_string())
        };
        rows.push_str(&format!(
            "{}\n",
            json!({"id": format!("{name}-{i}"), "q": q, "target": target, "tools": tools})
        ));
    }
    std::fs::write(dir.join(format!("{name}.jsonl")), rows).unwrap();
    let task = format!(
        "name = \"{name}\"\ninstruction = \"Answer the request.\"\nquestion = \"{{{{ q }}}}\"\ntarget = \"{{{{ target }}}}\"\nfields = [\"tools\"]\n[dataset]\npath = \"{name}.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 2\n[answer]\nkind = \"tool_calls\"\n"
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, task).unwrap();
    path.to_str().unwrap().to_string()
}

/// The `model = …` line of profile `name` in tune's TOML.
fn profile_model<'t>(toml: &'t str, name: &str) -> &'t str {
    let start = toml
        .find(&format!("[profiles.{name}]"))
        .unwrap_or_else(|| panic!("no profile {name}:\n{toml}"));
    toml[start..]
        .lines()
        .find(|l| l.starts_with("model = "))
        .unwrap_or_else(|| panic!("no model line:\n{toml}"))
}

#[test]
fn jointly_the_row_that_also_calls_wins_the_irrelevance_task() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = server(&runtime);
    let dir = tempfile::tempdir().unwrap();
    let tasks = format!(
        "{},{}",
        write_task(dir.path(), "weather", true),
        write_task(dir.path(), "decline", false)
    );
    let db = dir.path().join("u.db");
    let db = db.to_str().unwrap();
    let out = understudy()
        .args([
            "eval",
            "--tasks",
            &tasks,
            "--models",
            "openai/never-calls,openai/caller",
            "--reference",
            "openai/big",
            "--strategies",
            "few-shot:2",
            "--limit",
            "24",
            "--db",
            db,
        ])
        .env("OPENAI_BASE_URL", &base)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tune = |joint: bool| {
        let mut args = vec!["tune", "--target", "0.7", "--db", db];
        if joint {
            args.push("--jointly");
        }
        let out = understudy().args(&args).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let per_task = tune(false);
    assert_eq!(
        profile_model(&per_task, "decline"),
        "model = \"openai/never-calls\"",
        "{per_task}"
    );
    assert_eq!(
        profile_model(&per_task, "weather"),
        "model = \"openai/caller\""
    );
    let joint = tune(true);
    assert!(
        joint.contains("# Chosen jointly (--jointly) over weather, decline"),
        "{joint}"
    );
    for task in ["weather", "decline"] {
        assert_eq!(
            profile_model(&joint, task),
            "model = \"openai/caller\"",
            "{joint}"
        );
    }
    // The written profiles load; the calls task's examples are calls, the other's declines.
    let table: toml::Table = toml::from_str(&joint).unwrap_or_else(|e| panic!("{e}\n{joint}"));
    let profiles = understudy_serve::profile::parse_profiles(
        table["profiles"].as_table().unwrap().clone(),
        std::path::Path::new("tuned.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{joint}"));
    let weather = &profiles["weather"].program.few_shot;
    assert_eq!(weather.len(), 2, "{joint}");
    assert!(
        weather
            .iter()
            .all(|e| e.calls.len() == 1 && e.calls[0].name == "get_weather"),
        "{joint}"
    );
    let decline = &profiles["decline"].program.few_shot;
    assert!(decline
        .iter()
        .all(|e| e.calls.is_empty() && !e.assistant.is_empty()));
}
