//! `understudy view`: the web UI over the store on its own port — loopback by default, the
//! gateway's API keys required anywhere else — until Ctrl-C.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::cli::gates::ViewArgs;
use crate::output;
use crate::setup;

/// Where the view listens when nothing else is said.
const DEFAULT_VIEW_LISTEN: &str = "127.0.0.1:8790";

pub async fn run(config_path: Option<&Path>, args: ViewArgs) -> Result<()> {
    let config = setup::load_config(config_path)?;
    let section = setup::serve_section(&config)?;
    let keys = section.keys(&|v| std::env::var(v).ok())?;
    let listen = args.listen.as_deref().unwrap_or(DEFAULT_VIEW_LISTEN);
    let addr = understudy_serve::config::resolve_listen(listen)?;
    if !addr.ip().is_loopback() && keys.is_empty() {
        bail!("refusing to show the store on {addr} without API keys: configure [serve] api_keys / api_keys_env / api_keys_file (the browser asks for one as the password), or listen on 127.0.0.1");
    }
    let store = crate::run_output::open(config_path, &args.store).await?;
    let location = store.location().to_string();
    let state = understudy_view::ViewState {
        store,
        prices: config.prices.clone(),
        keys,
    };
    let hosts = Arc::new(understudy_serve::host_check::HostPolicy::new(
        !state.keys.is_empty(),
        &section.allowed_hosts,
    ));
    let app = understudy_view::router(Arc::new(state))
        .route(
            "/",
            axum::routing::get(|| async { axum::response::Redirect::temporary("/ui") }),
        )
        .layer(axum::middleware::from_fn_with_state(
            hosts,
            understudy_serve::host_check::check,
        ));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    output::note(&format!(
        "understudy view: http://{local}/ui · {location} · read-only · Ctrl-C stops"
    ));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
