//! `understudy view`: a local, read-only web app over the store (SQLite or PostgreSQL) —
//! the runs with live progress, a run's report and cells, a comparison of any two rows, and
//! the gateway's request log with each request's trace. Server-rendered HTML; the one script
//! refreshes the progress of running evals. `understudy serve` can mount it (`[serve] ui`).

mod auth;
mod cells;
mod compare_page;
mod json_html;
mod layout;
mod query;
mod requests;
mod runs;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use understudy_core::price::Price;
use understudy_store::Store;

/// What every page reads.
pub struct ViewState {
    pub store: Store,
    /// `[models.NAME] price_in / price_out`, for the cost columns.
    pub prices: std::collections::BTreeMap<String, Price>,
    /// Keys a request must present (Bearer, or Basic with the key as password); empty: none.
    pub keys: Vec<String>,
}

/// The view's routes, under `/ui` (so they sit beside the gateway's `/v1` when mounted).
pub fn router(state: Arc<ViewState>) -> Router {
    Router::new()
        .route("/ui", get(runs::list_page))
        .route("/ui/", get(runs::list_page))
        .route("/ui/api/runs", get(runs::list_json))
        .route("/ui/runs/{id}", get(runs::run_page))
        .route("/ui/runs/{id}/cells", get(cells::cells_page))
        .route("/ui/compare", get(compare_page::compare_page))
        .route("/ui/requests", get(requests::requests_page))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ))
        .with_state(state)
}
