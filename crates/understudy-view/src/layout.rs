//! The page around every view: title, navigation, the report's stylesheet plus a few rules of
//! the view's own, and HTML errors that name what was wrong.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use understudy_report::report::html::CSS;
pub use understudy_report::report::svg::esc;

const VIEW_CSS: &str = "nav{background:#263238;padding:8px 24px}nav a{color:#fff;margin-right:18px;text-decoration:none;font-weight:600}nav a.on{text-decoration:underline}\
form.filters{display:flex;gap:8px;flex-wrap:wrap;align-items:end;margin:12px 0}form.filters label{font-size:12px;display:flex;flex-direction:column}\
progress{width:120px}.status-running{color:#b26a00;font-weight:600}.status-finished{color:#2e7d32}.status-failed,.status-interrupted{color:#c62828}\
.bad{color:#c62828}.good{color:#2e7d32}ul.items{columns:3;font-size:11px}";

/// A whole page: `title`, the navigation with `active` marked, and `body`.
pub fn page(title: &str, active: &str, body: &str) -> Html<String> {
    page_with_head(title, active, "", body)
}

/// [`page`] with extra elements in its head (a refresh for a running eval's page).
pub fn page_with_head(title: &str, active: &str, head: &str, body: &str) -> Html<String> {
    let link = |href: &str, name: &str, key: &str| {
        format!(
            "<a href=\"{href}\"{}>{name}</a>",
            if key == active { " class=\"on\"" } else { "" }
        )
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} — understudy</title><style>{CSS}{VIEW_CSS}</style>{head}</head><body><nav>{}{}{}</nav><main>{body}</main></body></html>",
        esc(title),
        link("/ui", "Runs", "runs"),
        link("/ui/compare", "Compare", "compare"),
        link("/ui/requests", "Requests", "requests"),
    ))
}

/// An error page with its status: what went wrong, in words.
pub fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        page(
            "error",
            "",
            &format!("<h1>{}</h1><p>{}</p>", status, esc(message)),
        ),
    )
        .into_response()
}
