//! The table of items a task's own grader failed on (left out of the score, with why).

use super::Table;
use crate::summary::Summary;

/// Items a task's own grader failed on, with why and the end of its stderr; `None` when none.
pub fn grader_failures_table(summary: &Summary) -> Option<Table> {
    let mut rows = Vec::new();
    for r in &summary.rows {
        for t in &r.tasks {
            for f in &t.grader_failures {
                let stderr: String = f
                    .stderr
                    .chars()
                    .rev()
                    .take(400)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                rows.push(vec![
                    r.model.clone(),
                    r.strategy.clone(),
                    t.task.clone(),
                    f.item_id.clone(),
                    f.kind.clone(),
                    f.message.clone(),
                    stderr.trim().replace('\n', " ⏎ "),
                ]);
            }
        }
    }
    (!rows.is_empty()).then(|| Table {
        title: "Grader failures (left out of the score; not the model's fault)".into(),
        header: [
            "model",
            "strategy",
            "task",
            "item",
            "failure",
            "message",
            "stderr (end)",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    })
}
