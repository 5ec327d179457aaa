//! A run's cells, filtered by row, task and outcome, 50 to a page: each with its score,
//! reading, gold, timing and tokens, and — folded — the prompt it was sent and the raw answer.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use understudy_report::compare::{row_text, rows_of};
use understudy_store::Cell;

use crate::json_html::json_block;
use crate::layout::{error, esc, page};
use crate::query::field;
use crate::ViewState;

const PAGE: usize = 50;

#[derive(Debug, Deserialize)]
pub struct CellQuery {
    row: Option<String>,
    task: Option<String>,
    /// "wrong" keeps cells scoring below 1.
    only: Option<String>,
    page: Option<usize>,
}

fn options(values: &[String], chosen: Option<&str>, all: &str) -> String {
    let mut out = format!("<option value=\"\">{all}</option>");
    for v in values {
        out.push_str(&format!(
            "<option{}>{}</option>",
            if Some(v.as_str()) == chosen {
                " selected"
            } else {
                ""
            },
            esc(v)
        ));
    }
    out
}

fn prompt_text(cell: &Cell) -> String {
    match serde_json::from_str::<serde_json::Value>(&cell.prompt_json) {
        Ok(serde_json::Value::Array(messages)) => messages
            .iter()
            .map(|m| {
                format!(
                    "[{}]\n{}",
                    m["role"].as_str().unwrap_or("?"),
                    m["content"].as_str().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n\n"),
        _ => cell.prompt_json.clone(),
    }
}

fn cell_row(n: usize, c: &Cell) -> String {
    // An ungraded cell (its grader failed, or the judge) has no score: never shown as a 0.
    let ungraded = understudy_report::metrics::ungraded(c);
    let (score_class, score) = match ungraded {
        true => ("", "ungraded".to_string()),
        false if c.score >= 1.0 => ("good", format!("{:.2}", c.score)),
        false => ("bad", format!("{:.2}", c.score)),
    };
    let parsed = match (&c.parsed, ungraded, c.format_failure) {
        (Some(p), _, _) => p.as_str(),
        (None, true, _) => "not graded (see the grading detail)",
        (None, false, true) => "format failure",
        (None, false, false) => "–",
    };
    let reasoning = c
        .reasoning
        .as_deref()
        .map(|r| format!("<h3>Reasoning</h3><pre>{}</pre>", esc(r)))
        .unwrap_or_default();
    let detail = c
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .map(|d| format!("<h3>Grading detail</h3>{}", json_block(&d)))
        .unwrap_or_default();
    format!(
        "<tr><td>{n}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{score_class}\">{score}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{} ({} cached) / {}</td><td>{}</td><td><details><summary>prompt and answer</summary><h3>Prompt</h3><pre>{}</pre><h3>Raw answer</h3><pre>{}</pre>{reasoning}{detail}</details></td></tr>",
        esc(&format!("{}/{}/{}", c.model, c.strategy, c.format)),
        esc(&c.task),
        esc(&c.item_id),
        esc(parsed),
        esc(&c.gold),
        c.total_ms,
        c.ttft_ms,
        c.prompt_tokens,
        c.cached_prompt_tokens,
        c.completion_tokens,
        if c.cached { "response cache" } else { "" },
        esc(&prompt_text(c)),
        esc(&c.answer),
    )
}

pub async fn cells_page(
    State(state): State<Arc<ViewState>>,
    Path(id): Path<i64>,
    Query(q): Query<CellQuery>,
) -> Response {
    let cells = match state.store.runs.run(id).await {
        Ok(_) => match state.store.runs.cells(id).await {
            Ok(cells) => cells,
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        Err(e) => return error(StatusCode::NOT_FOUND, &format!("run {id}: {e}")),
    };
    let rows: Vec<String> = rows_of(&cells).iter().map(row_text).collect();
    let mut tasks: Vec<String> = cells.iter().map(|c| c.task.clone()).collect();
    tasks.sort();
    tasks.dedup();
    let (row, task) = (field(&q.row), field(&q.task));
    let wrong = field(&q.only) == Some("wrong");
    let chosen: Vec<&Cell> = cells
        .iter()
        .filter(|c| row.is_none_or(|r| format!("{}/{}/{}", c.model, c.strategy, c.format) == r))
        .filter(|c| task.is_none_or(|t| c.task == t))
        .filter(|c| !wrong || c.score < 1.0)
        .collect();
    let pages = chosen.len().div_ceil(PAGE).max(1);
    let at = q.page.unwrap_or(1).clamp(1, pages);
    let mut body = format!(
        "<h1><a href=\"/ui/runs/{id}\">run {id}</a> · cells</h1><form class=\"filters\" method=\"get\"><label>row<select name=\"row\">{}</select></label><label>task<select name=\"task\">{}</select></label><label>outcome<select name=\"only\"><option value=\"\">all</option><option value=\"wrong\"{}>below full score</option></select></label><button>filter</button></form><p class=\"meta\">{} cells · page {at} of {pages}</p><div class=\"scroll\"><table><thead><tr><th>#</th><th>row</th><th>task</th><th>item</th><th>score</th><th>read as</th><th>gold</th><th>total ms</th><th>TTFT ms</th><th>tokens in (cached) / out</th><th>from</th><th></th></tr></thead><tbody>",
        options(&rows, row, "every row"),
        options(&tasks, task, "every task"),
        if wrong { " selected" } else { "" },
        chosen.len(),
    );
    for (k, c) in chosen.iter().enumerate().skip((at - 1) * PAGE).take(PAGE) {
        body.push_str(&cell_row(k + 1, c));
    }
    body.push_str("</tbody></table></div>");
    if pages > 1 {
        let link = |p: usize| {
            let query = serde_urlencoded::to_string([
                ("row", row.unwrap_or_default()),
                ("task", task.unwrap_or_default()),
                ("only", if wrong { "wrong" } else { "" }),
                ("page", &p.to_string()),
            ])
            .unwrap_or_default();
            esc(&format!("/ui/runs/{id}/cells?{query}"))
        };
        if at > 1 {
            body.push_str(&format!("<a href=\"{}\">← previous</a> ", link(at - 1)));
        }
        if at < pages {
            body.push_str(&format!("<a href=\"{}\">next →</a>", link(at + 1)));
        }
    }
    page(&format!("run {id} cells"), "runs", &body).into_response()
}
