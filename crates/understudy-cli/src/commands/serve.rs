//! `understudy serve`: loads profiles and keys from the config, checks every profile's model,
//! then serves the OpenAI-compatible API until Ctrl-C or SIGTERM (in-flight requests finish).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use understudy_backend::Backend;
use understudy_serve::config::{listen_addr, ServeSection, DEFAULT_LISTEN};
use understudy_serve::resilience::Resilient;
use understudy_serve::{profile, AppState, DEFAULT_BODY_LIMIT};

use crate::cli::ServeArgs;
use crate::output;
use crate::setup::{self, EmbeddedOverrides};

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    output::note("shutting down: finishing in-flight requests");
}

pub async fn run(config_path: Option<&Path>, args: ServeArgs) -> Result<()> {
    let config = setup::load_config(config_path)?;
    let source = config
        .source
        .clone()
        .unwrap_or_else(|| PathBuf::from("<no config file>"));
    let section = setup::serve_section(&config)?;
    let profiles = match &config.profiles {
        Some(t) => profile::parse_profiles(t.clone(), &source)?,
        None => Default::default(),
    };
    let keys = section.keys(&|v| std::env::var(v).ok())?;
    let listen = args
        .listen
        .clone()
        .or(section.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let addr = listen_addr(
        &listen,
        !keys.is_empty(),
        args.allow_public || section.allow_public,
    )?;
    refuse_public_ui(&section, &keys, addr)?;
    let canaries = canaries_of(&section, &profiles, &source)?;
    install_named_defaults(&profiles, &section).await?;
    let router = Arc::new(setup::build_router(
        &config,
        &EmbeddedOverrides {
            threads: args.threads,
            chat_template: None,
            serving: true,
            prefix_cache: None,
            parallel: None,
            default_parallel: None,
        },
    )?);
    check_models(&router, &profiles, &section).await?;
    let n_profiles = profiles.len();
    let auth = match (keys.is_empty(), addr.ip().is_loopback()) {
        (false, _) => "API keys required",
        (true, true) => "no API keys (localhost only)",
        (true, false) => "NO API KEYS: anyone who can reach this address can use it",
    };
    let served = served_models(&config, &router);
    let n_models = served.names().count();
    let resilient = Resilient::new(router as Arc<dyn Backend>, section.policy());
    let ui_keys = keys.clone();
    let (body_idle, conn_limits) = section.slow_client_limits();
    let state = AppState::new(
        Arc::new(resilient) as Arc<dyn Backend>,
        profiles,
        keys,
        section.body_limit_bytes.unwrap_or(DEFAULT_BODY_LIMIT),
    )
    .with_served(served)
    .with_allowed_hosts(section.allowed_hosts.clone())
    .with_slow_client_limits(body_idle, conn_limits)
    .with_max_queue(
        section
            .max_queue
            .unwrap_or(understudy_serve::DEFAULT_MAX_QUEUE),
    );
    let state = state.with_canaries(canaries);
    let (state, store) = with_stores(state, &config, &args, &section).await?;
    let state = Arc::new(state);
    let (extra, ui) = mounted_ui(section.ui, store, &config, ui_keys);
    let drain = section
        .drain_secs
        .map(std::time::Duration::from_secs)
        .unwrap_or(understudy_serve::DEFAULT_DRAIN);
    understudy_serve::serve(addr, state, extra, shutdown_signal(), drain, move |local| {
        output::note(&format!(
            "understudy serve: listening on http://{local}/v1 · {} · {} · {auth}{ui} (GET /v1/models lists them)",
            output::plural(n_profiles, "profile", "profiles"),
            output::plural(n_models, "model", "models"),
        ));
    })
    .await?;
    Ok(())
}

/// The `[serve.canary]` served names, their arms checked against the profiles.
fn canaries_of(
    section: &ServeSection,
    profiles: &std::collections::BTreeMap<String, understudy_serve::Profile>,
    source: &Path,
) -> Result<understudy_serve::canary::Canaries> {
    understudy_serve::canary::Canaries::new(&section.canary, profiles)
        .map_err(|e| anyhow::anyhow!("{}: {e}", source.display()))
}

/// `[serve] ui = true`: the web UI over the same store, behind the same keys, at `/ui`; and the
/// words the start-up line adds.
fn mounted_ui(
    on: bool,
    store: understudy_store::Store,
    config: &understudy_core::config::Config,
    keys: Vec<String>,
) -> (axum::Router, &'static str) {
    if !on {
        return (axum::Router::new(), "");
    }
    let view = understudy_view::ViewState {
        store,
        prices: config.prices.clone(),
        keys,
    };
    (understudy_view::router(Arc::new(view)), " · web UI at /ui")
}

/// Every model a profile or a fallback names is known (and installed), and every cascade's
/// signals can run on its models, before the gateway listens.
async fn check_models(
    router: &understudy_backend::router::Router,
    profiles: &std::collections::BTreeMap<String, understudy_serve::Profile>,
    section: &ServeSection,
) -> Result<()> {
    for p in profiles.values() {
        router
            .check_model(&p.model)
            .await
            .map_err(|e| anyhow::anyhow!("profile {}: model {}: {e}", p.name, p.model))?;
        if let Some(shadow) = &p.shadow {
            router.check_model(&shadow.model).await.map_err(|e| {
                anyhow::anyhow!("profile {}: shadow model {}: {e}", p.name, shadow.model)
            })?;
        }
    }
    understudy_serve::signal_checks::check_cascade_signals(router, profiles.values()).await?;
    for (model, fallbacks) in &section.fallback {
        for fallback in fallbacks {
            router
                .check_model(fallback)
                .await
                .map_err(|e| anyhow::anyhow!("serve.fallback.{model}: {fallback}: {e}"))?;
        }
    }
    Ok(())
}

/// The request log, memory collections and conversations, all in one store: a SQLite file, or
/// a PostgreSQL database that several gateway replicas share.
async fn with_stores(
    state: AppState,
    config: &understudy_core::config::Config,
    args: &ServeArgs,
    section: &ServeSection,
) -> Result<(AppState, understudy_store::Store)> {
    let location = setup::store_location(args.db.as_deref(), config, section.log_db.as_deref());
    let store = understudy_store::Store::open(&location).await?;
    let shadows = state.profiles.values().any(|p| p.shadow.is_some());
    let state = if section.request_log.unwrap_or(true) {
        section.retention().spawn(store.log.clone());
        state.with_log(understudy_serve::log::RequestLog::new(store.log.clone()))
    } else if shadows {
        anyhow::bail!(
            "a profile has `shadow`, whose pairs are kept in the request log's store: drop `request_log = false` from [serve]"
        );
    } else {
        state
    };
    // Moved canary weights are read from the same store.
    if !state.canaries.is_empty() {
        state.canaries.clone().poll(store.log.clone());
    }
    // Shadow pairs go to the same store, written by one background worker.
    let state = if shadows {
        state.with_shadow_queue(section.shadow_queue.unwrap_or(64), store.log.clone())
    } else {
        state
    };
    // Memory (retrieval, /v1/embeddings) reads the same store; the embedding model loads on
    // first use.
    let state = state.with_memory(understudy_serve::memory::MemoryRuntime::new(
        store.vectors.clone(),
        Box::new(|| Box::pin(load_embedder())),
    ));
    let state = state.with_conversations(store.conversations.clone());
    Ok((state, store))
}

/// The web UI shows the whole store, logged prompts included: never on a public address
/// without keys (`understudy view` refuses the same).
fn refuse_public_ui(
    section: &ServeSection,
    keys: &[String],
    addr: std::net::SocketAddr,
) -> Result<()> {
    if section.ui && keys.is_empty() && !addr.ip().is_loopback() {
        anyhow::bail!(
            "refusing to serve the web UI (the whole store, logged prompts included) on {addr} without API keys: configure [serve] api_keys / api_keys_env / api_keys_file, set ui = false, or listen on 127.0.0.1 (`understudy view` refuses the same)"
        );
    }
    Ok(())
}

/// Installs the default models that profiles and fallbacks name, so that a client's request never
/// starts a download (a gateway serves installed models only).
async fn install_named_defaults(
    profiles: &std::collections::BTreeMap<String, understudy_serve::Profile>,
    section: &ServeSection,
) -> Result<()> {
    let home = setup::home_dir()?;
    let missing: std::collections::BTreeSet<String> = profiles
        .values()
        .flat_map(|p| p.models())
        .chain(
            profiles
                .values()
                .filter_map(|p| p.shadow.as_ref().map(|s| s.model.clone())),
        )
        .chain(section.fallback.values().flatten().cloned())
        .filter(|name| {
            understudy_models::catalog::find(name)
                .is_some_and(|known| !understudy_models::install::is_installed(&known, &home))
        })
        .collect();
    let missing: Vec<String> = missing.into_iter().collect();
    crate::install::install_models(&missing).await
}

/// What metrics label by name: configured models, installed default models, the HTTP backends
/// (`backend/<model>`); profiles are added by the gateway itself.
fn served_models(
    config: &understudy_core::config::Config,
    router: &understudy_backend::router::Router,
) -> understudy_serve::served::ServedModels {
    let home = setup::home_dir().ok();
    let installed = understudy_models::catalog::known_models()
        .into_iter()
        .filter(|known| {
            home.as_ref()
                .is_some_and(|h| understudy_models::install::is_installed(known, h))
        })
        .map(|known| known.name.to_string());
    let mut served = understudy_serve::served::ServedModels::new()
        .with_names(config.models.keys().cloned())
        .with_names(installed);
    for (name, _) in router.backends() {
        if name != "embedded" {
            served = served.with_prefix(name.clone());
        }
    }
    served
}

/// The in-process embedding model, installed on first use (silently: the gateway is running).
async fn load_embedder() -> Result<Arc<dyn understudy_memory::Embedder>, String> {
    crate::embedder::local_embedder(&understudy_models::install::Silent)
        .await
        .map_err(|e| e.to_string())
}
