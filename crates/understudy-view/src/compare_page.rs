//! The compare page: two rows picked from every stored run (or whole runs), a margin, and the
//! comparison `understudy compare` prints — paired difference, flip table, equivalence, cost.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use understudy_report::compare::{self, row_text, Margins};

use crate::layout::{error, esc, page};
use crate::query::field;
use crate::ViewState;

#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    a: Option<String>,
    b: Option<String>,
    /// Percentage points.
    margin: Option<String>,
}

/// The most recent runs offered for picking (older ones: type `RUN` or `RUN:row` in the URL).
const RECENT_RUNS: usize = 50;

/// Every pickable spec: each recent run, then each of its rows (read without the cells).
async fn choices(state: &ViewState) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let runs = state.store.runs.runs().await.map_err(|e| e.to_string())?;
    for run in runs.iter().rev().take(RECENT_RUNS) {
        let rows = state
            .store
            .runs
            .row_keys(run.id)
            .await
            .map_err(|e| e.to_string())?;
        out.push((run.id.to_string(), format!("run {} (all its rows)", run.id)));
        for row in rows {
            let spec = format!("{}:{}", run.id, row_text(&row));
            out.push((spec.clone(), spec));
        }
    }
    Ok(out)
}

fn select(name: &str, choices: &[(String, String)], chosen: Option<&str>) -> String {
    let mut out = format!(
        "<select name=\"{name}\" id=\"{name}\"><option value=\"\">pick a run or row</option>"
    );
    for (value, label) in choices {
        out.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            esc(value),
            if Some(value.as_str()) == chosen {
                " selected"
            } else {
                ""
            },
            esc(label)
        ));
    }
    out.push_str("</select>");
    out
}

pub async fn compare_page(
    State(state): State<Arc<ViewState>>,
    Query(q): Query<CompareQuery>,
) -> Response {
    let choices = match choices(&state).await {
        Ok(c) => c,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let (a, b) = (field(&q.a), field(&q.b));
    let margin_text = field(&q.margin).unwrap_or("5");
    let mut body = format!(
        "<h1>Compare</h1><form class=\"filters\" method=\"get\"><label>A (baseline){}</label><label>B{}</label><label>margin (pp)<input name=\"margin\" value=\"{}\" size=\"4\"></label><button>compare</button></form>",
        select("a", &choices, a),
        select("b", &choices, b),
        esc(margin_text)
    );
    let (Some(a), Some(b)) = (a, b) else {
        body.push_str("<p class=\"meta\">Pick two runs or rows: B is set against A on the items both answered.</p>");
        return page("Compare", "compare", &body).into_response();
    };
    let margin = match margin_text.trim_end_matches("pp").trim().parse::<f64>() {
        Ok(m) if m.is_finite() && (0.0..=100.0).contains(&m) => m / 100.0,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("margin {margin_text:?}: give percentage points from 0 to 100"),
            )
        }
    };
    let margins = Margins {
        equivalence: margin,
        ..Margins::default()
    };
    match compare::from_store(state.store.runs.as_ref(), a, b, margins).await {
        Ok(made) => body.push_str(&compare::render_html_body(&made)),
        Err(e) => body.push_str(&format!("<p class=\"bad\">{}</p>", esc(&e.to_string()))),
    }
    page(&format!("{a} vs {b}"), "compare", &body).into_response()
}
