//! One loaded GGUF model on its own OS thread. Requests queue on a channel and run one at a time
//! (never interleaved), so async callers are never blocked and concurrent requests are safe.
//! Deltas go back over a channel; when the caller drops its stream, generation stops.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{mpsc, OnceLock};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use tokio::sync::{mpsc as tmpsc, oneshot};
use understudy_core::{StreamEvent, TimingRecorder, ValidChatRequest};

use super::generate::{generate, Loaded};
use super::prefix::PrefixCache;
use super::template::{self, ChosenTemplate};
use crate::BackendError;

/// llama.cpp's `LLAMA_FLASH_ATTN_TYPE_DISABLED`.
const FLASH_ATTENTION_OFF: i32 = 0;
/// Tokens per prompt-processing batch.
pub(super) const BATCH_SIZE: u32 = 512;
/// Context window when neither the model spec nor the config sets one (capped at the model's own).
pub const DEFAULT_CONTEXT: u32 = 8192;

/// The process-wide llama.cpp backend (llama.cpp allows one initialisation per process).
pub fn llama_backend() -> Result<&'static LlamaBackend, BackendError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut backend = LlamaBackend::init().map_err(|e| e.to_string())?;
            if std::env::var_os("UNDERSTUDY_LLAMA_LOG").is_none() {
                backend.void_logs();
            }
            Ok(backend)
        })
        .as_ref()
        .map_err(|e| BackendError::Inference(format!("cannot initialise llama.cpp: {e}")))
}

/// Loads only a GGUF's vocabulary (for counting tokens outside the engine thread).
pub fn load_vocab(path: &std::path::Path) -> Result<LlamaModel, BackendError> {
    let backend = llama_backend()?;
    LlamaModel::load_from_file(
        backend,
        path,
        &LlamaModelParams::default().with_vocab_only(true),
    )
    .map_err(|e| BackendError::ModelLoad {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Tokens in `text` (no BOS), as the model's tokenizer splits it.
pub fn count_tokens(model: &LlamaModel, text: &str) -> usize {
    model.vocab().tokenize(text.as_bytes(), false, false).len()
}

/// How to load one model.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The name requests use; reported back in responses.
    pub name: String,
    pub path: PathBuf,
    pub chat_template: Option<String>,
    pub context_length: Option<u32>,
    pub threads: u32,
    /// Keep the KV cache between requests and reuse the prompt prefix they share.
    pub prefix_cache: bool,
}

/// Facts about a loaded model.
#[derive(Debug, Clone)]
pub struct LoadedInfo {
    pub template_origin: String,
    pub template_warning: Option<String>,
    pub context: u32,
    pub threads: u32,
    /// The chat template has a native thinking mode (it knows `<think>`).
    pub native_thinking: bool,
}

/// One queued request.
struct Job {
    request: ValidChatRequest,
    timing: TimingRecorder,
    events: tmpsc::UnboundedSender<Result<StreamEvent, BackendError>>,
}

/// A handle to a model's worker thread; dropping the last handle ends the thread.
pub struct Engine {
    jobs: mpsc::Sender<Job>,
    pub info: LoadedInfo,
}

impl Engine {
    /// Starts the worker thread and waits (without blocking the runtime) for the model to load.
    pub async fn start(config: EngineConfig) -> Result<Self, BackendError> {
        if !config.path.is_file() {
            return Err(BackendError::ModelFileMissing { path: config.path });
        }
        check_gguf_magic(&config.path)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let thread_name = format!("llama-{}", config.name);
        std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || worker(config, queue, ready_tx))
            .map_err(|e| BackendError::Inference(format!("cannot start inference thread: {e}")))?;
        let info = ready_rx.await.map_err(|_| {
            BackendError::Inference("the inference thread stopped while loading".into())
        })??;
        Ok(Self { jobs, info })
    }

    /// Queues a request; events arrive on the returned receiver.
    pub fn submit(
        &self,
        request: ValidChatRequest,
        timing: TimingRecorder,
    ) -> Result<tmpsc::UnboundedReceiver<Result<StreamEvent, BackendError>>, BackendError> {
        let (events, receiver) = tmpsc::unbounded_channel();
        self.jobs
            .send(Job {
                request,
                timing,
                events,
            })
            .map_err(|_| BackendError::Inference("the inference thread has stopped".into()))?;
        Ok(receiver)
    }
}

fn check_gguf_magic(path: &std::path::Path) -> Result<(), BackendError> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic));
    match read {
        Ok(()) if &magic == b"GGUF" => Ok(()),
        Ok(()) => Err(BackendError::ModelLoad {
            path: path.to_path_buf(),
            reason: "not a GGUF file (bad magic bytes)".into(),
        }),
        Err(e) => Err(BackendError::ModelLoad {
            path: path.to_path_buf(),
            reason: format!("cannot read the file: {e}"),
        }),
    }
}

fn worker(
    config: EngineConfig,
    queue: mpsc::Receiver<Job>,
    ready: oneshot::Sender<Result<LoadedInfo, BackendError>>,
) {
    let backend = match llama_backend() {
        Ok(b) => b,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let model = match load_model(backend, &config) {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let (ctx, context, template) = match context_and_template(backend, &model, &config) {
        Ok(parts) => parts,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let info = LoadedInfo {
        template_origin: template.origin.clone(),
        template_warning: template.warning.clone(),
        context,
        threads: config.threads,
        native_thinking: template
            .source_text
            .as_deref()
            .is_some_and(|t| t.contains("<think>")),
    };
    if ready.send(Ok(info)).is_err() {
        return;
    }
    let mut loaded = Loaded {
        model: &model,
        ctx,
        template,
        context,
        name: config.name,
        cache: PrefixCache::new(config.prefix_cache),
    };
    while let Ok(job) = queue.recv() {
        let Job {
            request,
            mut timing,
            events,
        } = job;
        if events.is_closed() {
            continue; // cancelled while queued
        }
        timing.mark_started();
        let result = generate(&mut loaded, &request, &mut timing, &events);
        let _ = events.send(result);
    }
}

/// The GGUF file loaded, or why llama.cpp refused it (with the file's size: a truncated
/// download is the usual cause).
fn load_model(backend: &LlamaBackend, config: &EngineConfig) -> Result<LlamaModel, BackendError> {
    LlamaModel::load_from_file(backend, &config.path, &LlamaModelParams::default()).map_err(|e| {
        let size = std::fs::metadata(&config.path)
            .map(|m| m.len())
            .unwrap_or(0);
        BackendError::ModelLoad {
            path: config.path.clone(),
            reason: format!(
                "llama.cpp rejected the file ({e}); it may be truncated or corrupt ({size} bytes)"
            ),
        }
    })
}

/// The context (its size capped at what the model was trained on) and the chat template.
fn context_and_template<'m>(
    backend: &LlamaBackend,
    model: &'m LlamaModel,
    config: &EngineConfig,
) -> Result<(LlamaContext<'m>, u32, ChosenTemplate), BackendError> {
    let context = config
        .context_length
        .unwrap_or(DEFAULT_CONTEXT)
        .min(model.n_ctx_train().max(1));
    let threads = i32::try_from(config.threads).unwrap_or(1);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(context))
        .with_n_batch(BATCH_SIZE)
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
        // Off: llama.cpp's CPU flash-attention kernel gives different floats when a prompt is
        // processed in two pieces, which would let the prefix cache change answers; without it
        // any split into batches of two or more tokens is bit-exact (about 5% slower prompt
        // processing at 470 tokens, decode unchanged; docs/benchmarks.md).
        .with_flash_attention_policy(FLASH_ATTENTION_OFF);
    let ctx = model
        .new_context(backend, params)
        .map_err(|e| BackendError::ModelLoad {
            path: config.path.clone(),
            reason: format!("cannot create a {context}-token context: {e}"),
        })?;
    let template = template::choose(model, config.chat_template.as_deref(), &config.name)?;
    Ok((ctx, context, template))
}
