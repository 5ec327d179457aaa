//! What the runner sends for a row: token log-probabilities only when a row needs them, and the
//! run-time techniques (cascade, planner/executor) and the thinking switch run through it, each
//! leaving its trace in the cell's detail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use understudy_backend::fake::FakeBackend;
use understudy_eval::plan::Plan;
use understudy_eval::runner::{run, Quiet};
use understudy_store::{Cell, Store};
use understudy_tasks::grade::Grader;

use crate::run_and_summarise::{options, plan, run_to_cells, write_task};

/// Records whether each request asked for log-probabilities.
#[derive(Default)]
struct RecordsLogprobs {
    inner: FakeBackend,
    asked: std::sync::Mutex<Vec<bool>>,
}

#[async_trait::async_trait]
impl understudy_backend::Backend for RecordsLogprobs {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn list_models(
        &self,
    ) -> Result<Vec<understudy_backend::ModelInfo>, understudy_backend::BackendError> {
        self.inner.list_models().await
    }
    async fn check_model(&self, model: &str) -> Result<(), understudy_backend::BackendError> {
        self.inner.check_model(model).await
    }
    async fn chat_stream(
        &self,
        request: understudy_core::ValidChatRequest,
    ) -> Result<understudy_backend::EventStream, understudy_backend::BackendError> {
        self.asked.lock().unwrap().push(request.logprobs);
        self.inner.chat_stream(request).await
    }
}

/// Log-probabilities cost time inside the measured latency on the embedded engine, so a plain row
/// does not ask for them; `confidence = true` (`--confidence`) asks on every request.
#[tokio::test]
async fn logprobs_are_requested_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let task = write_task(dir.path());
    for confidence in [false, true] {
        let mut plan = plan(&task, &["echo"], None, &["zero-shot"]).unwrap();
        plan.confidence = confidence;
        let store = Store::open_path(&dir.path().join(format!("{confidence}.db")))
            .await
            .unwrap();
        let backend = Arc::new(RecordsLogprobs::default());
        run(
            &plan,
            backend.clone(),
            &store,
            &options(),
            &Grader::default(),
            &Quiet,
        )
        .await
        .unwrap();
        let asked = backend.asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 20);
        assert!(
            asked.iter().all(|a| *a == confidence),
            "confidence = {confidence}: {asked:?}"
        );
    }
}

/// The eval-side techniques run through the runner (not only the gateway): each cascade signal
/// escalates or accepts as it should and the cell records the route, planner/executor answers
/// through its executor, and the thinking switch reaches the request and the cell.
#[tokio::test]
async fn techniques_run_through_the_runner() {
    let dir = tempfile::tempdir().unwrap();
    let task = write_task(dir.path());
    let models = [
        // (model, expected score: 12 of 20 gold answers are positive, expected escalation)
        ("cascade:label:maybe>label:positive@format", 0.6, Some(true)),
        (
            "cascade:label:positive>label:negative@format",
            0.6,
            Some(false),
        ),
        (
            "cascade:label:positive>label:negative@self_check",
            0.4,
            Some(true),
        ),
        (
            "cascade:label:positive>label:negative@agreement:3",
            0.6,
            Some(false),
        ),
        ("plan:label:1. read the review>label:positive", 0.6, None),
    ];
    let names: Vec<&str> = models.iter().map(|m| m.0).collect();
    let plan = plan(&task, &names, None, &["zero-shot"]).unwrap();
    let store = Store::open_path(&dir.path().join("u.db")).await.unwrap();
    let cells = run_to_cells(&plan, &store).await;
    for (model, score, escalated) in models {
        let mine: Vec<&Cell> = cells.iter().filter(|c| c.model == model).collect();
        assert_eq!(mine.len(), 20, "{model}");
        let mean = mine.iter().map(|c| c.score).sum::<f64>() / 20.0;
        assert!(
            (mean - score).abs() < 1e-9,
            "{model}: score {mean}, expected {score}"
        );
        for cell in mine {
            let detail: serde_json::Value =
                serde_json::from_str(cell.detail.as_deref().unwrap()).unwrap();
            match escalated {
                Some(escalated) => assert_eq!(
                    detail["cascade"]["escalated"], escalated,
                    "{model}: {detail}"
                ),
                None => assert_eq!(
                    detail["plan_execute"]["plan"],
                    serde_json::json!(["read the review"]),
                    "{model}: {detail}"
                ),
            }
        }
    }

    let thinking = plan_with(&task, &["echo"], &["thinking:on", "thinking:off"]);
    let cells = run_to_cells(&thinking, &store).await;
    let instruction = format!("\n\n{}", understudy_core::cot::instruction(None));
    for (strategy, on) in [("thinking:on", true), ("thinking:off", false)] {
        let mine: Vec<&Cell> = cells.iter().filter(|c| c.strategy == strategy).collect();
        assert_eq!(mine.len(), 20, "{strategy}");
        for cell in mine {
            let detail: serde_json::Value =
                serde_json::from_str(cell.detail.as_deref().unwrap()).unwrap();
            assert_eq!(detail["thinking"]["on"], on, "{strategy}: {detail}");
            let prompt: Vec<serde_json::Value> = serde_json::from_str(&cell.prompt_json).unwrap();
            let asked = prompt.iter().any(|m| {
                m["content"]
                    .as_str()
                    .is_some_and(|c| c.contains(instruction.trim()))
            });
            assert_eq!(asked, on, "{strategy}: the step-by-step instruction");
        }
    }
}

fn plan_with(task: &Path, models: &[&str], strategies: &[&str]) -> Plan {
    plan(task, models, None, strategies).unwrap()
}
