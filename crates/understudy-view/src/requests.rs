//! The gateway's request log, filtered by profile, status and time, newest first; each row
//! unfolds into the request's trace (thinking decision, cascade steps, retrieval passages,
//! plan) and, where the profile logs them, its prompt and answer.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use understudy_store::RequestRow;

use crate::json_html::json_block;
use crate::layout::{error, esc, page};
use crate::query::field;
use crate::ViewState;

#[derive(Debug, Deserialize)]
pub struct RequestQuery {
    profile: Option<String>,
    /// An exact status (429) or a class (2xx, 4xx, 5xx).
    status: Option<String>,
    /// `30m`, `2h`, `7d` or an ISO-8601 time.
    since: Option<String>,
    limit: Option<usize>,
    /// Any value: every trace unfolded.
    open: Option<String>,
}

/// The status filter text as (exact status, status class): `429` or `4xx`; `None` when it is
/// neither.
fn status_filter(filter: &str) -> Option<(Option<u16>, Option<u16>)> {
    match filter.strip_suffix("xx") {
        Some(class) => class.parse::<u16>().ok().map(|c| (None, Some(c))),
        None => filter.parse::<u16>().ok().map(|s| (Some(s), None)),
    }
}

fn trace(row: &RequestRow, open: bool) -> String {
    let mut out = String::new();
    if let Some(route) = row.route.as_deref() {
        match serde_json::from_str::<serde_json::Value>(route) {
            Ok(value) => out.push_str(&format!("<h3>Trace</h3>{}", json_block(&value))),
            Err(_) => out.push_str(&format!("<h3>Trace</h3><pre>{}</pre>", esc(route))),
        }
    }
    if let Some(prompt) = row.prompt_json.as_deref() {
        let value =
            serde_json::from_str(prompt).unwrap_or(serde_json::Value::String(prompt.into()));
        out.push_str(&format!("<h3>Prompt</h3>{}", json_block(&value)));
    }
    if let Some(answer) = row.answer.as_deref() {
        out.push_str(&format!("<h3>Answer</h3><pre>{}</pre>", esc(answer)));
    }
    if out.is_empty() {
        return "–".into();
    }
    let open = if open { " open" } else { "" };
    format!("<details{open}><summary>trace</summary>{out}</details>")
}

fn request_row(r: &RequestRow, open: bool) -> String {
    let tokens = match (r.prompt_tokens, r.completion_tokens) {
        (Some(p), Some(c)) => format!("{p} ({} cached) / {c}", r.cached_tokens.unwrap_or(0)),
        _ => "–".into(),
    };
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{:.0}</td><td>{}</td><td>{tokens}</td><td>{}</td><td>{}</td></tr>",
        esc(r.at.as_deref().unwrap_or_default()),
        esc(r.profile.as_deref().unwrap_or("–")),
        esc(&r.model),
        esc(r.backend_model.as_deref().unwrap_or("–")),
        if r.status < 400 { "good" } else { "bad" },
        r.status,
        if r.stream { "stream" } else { "whole" },
        r.total_ms,
        r.ttft_ms.map_or("–".into(), |t| format!("{t:.0}")),
        esc(r.error_type.as_deref().unwrap_or_default()),
        trace(r, open)
    )
}

pub async fn requests_page(
    State(state): State<Arc<ViewState>>,
    Query(q): Query<RequestQuery>,
) -> Response {
    let since_text = field(&q.since).unwrap_or("24h");
    let since = match understudy_core::since::since_bound(since_text) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("since {e}")),
    };
    let limit = q.limit.unwrap_or(200).clamp(1, 5000);
    let (profile, status) = (field(&q.profile), field(&q.status));
    let (exact, class) = match status.map(status_filter) {
        None => (None, None),
        Some(Some(parsed)) => parsed,
        Some(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "status: give a status (429) or a class (4xx)",
            )
        }
    };
    // Filtered in the store's query, so that a match older than the newest `limit` rows is
    // still found; the profile list comes from the store too.
    let filter = understudy_store::RequestFilter {
        since: since.clone(),
        profile: profile.map(str::to_string),
        status: exact,
        status_class: class,
        ..Default::default()
    };
    let rows = match state.store.log.requests_where(&filter, limit).await {
        Ok(rows) => rows,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let profiles = match state.store.log.request_profiles(&since).await {
        Ok(p) => p,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let shown: Vec<&RequestRow> = rows.iter().rev().collect();
    let profile_options: String =
        std::iter::once("<option value=\"\">every profile</option>".to_string())
            .chain(profiles.iter().map(|p| {
                format!(
                    "<option{}>{}</option>",
                    if Some(p.as_str()) == profile {
                        " selected"
                    } else {
                        ""
                    },
                    esc(p)
                )
            }))
            .collect();
    let mut body = format!(
        "<h1>Requests</h1><form class=\"filters\" method=\"get\"><label>profile<select name=\"profile\">{profile_options}</select></label><label>status (200, 4xx…)<input name=\"status\" size=\"5\" value=\"{}\"></label><label>since (30m, 2h, 7d, or a time)<input name=\"since\" size=\"22\" value=\"{}\"></label><label>at most<input name=\"limit\" size=\"5\" value=\"{limit}\"></label><label>traces<select name=\"open\"><option value=\"\">folded</option><option value=\"1\"{}>unfolded</option></select></label><button>filter</button></form><p class=\"meta\">{} requests logged since {} match (newest first, at most {limit})</p><div class=\"scroll\"><table id=\"requests\"><thead><tr><th>time</th><th>profile</th><th>model</th><th>backend model</th><th>status</th><th></th><th>total ms</th><th>TTFT ms</th><th>tokens in (cached) / out</th><th>error</th><th>trace</th></tr></thead><tbody>",
        esc(status.unwrap_or_default()),
        esc(since_text),
        if field(&q.open).is_some() { " selected" } else { "" },
        shown.len(),
        esc(&since),
    );
    let open = field(&q.open).is_some();
    for r in shown {
        body.push_str(&request_row(r, open));
    }
    body.push_str("</tbody></table></div>");
    page("Requests", "requests", &body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters_take_codes_and_classes() {
        assert_eq!(status_filter("4xx"), Some((None, Some(4))));
        assert_eq!(status_filter("200"), Some((Some(200), None)));
        assert_eq!(status_filter("abc"), None);
    }
}
