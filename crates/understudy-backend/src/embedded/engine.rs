//! One loaded GGUF model on its own OS thread, with one llama.cpp context of `parallel` sequences.
//! Requests queue on a channel and the scheduler runs up to `parallel` of them at once in shared
//! batches, so async callers are never blocked. Deltas go back over a channel; when the caller
//! drops its stream, its sequence stops and frees its slot.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{mpsc, OnceLock};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use tokio::sync::{mpsc as tmpsc, oneshot};

use crate::tool_calls::CallForm;
use understudy_core::{StreamEvent, TimingRecorder, ValidChatRequest};

use super::prompt::{ModelFacts, BATCH_SIZE};
use super::scheduler::{Job, Scheduler};
use super::template::{self, ChosenTemplate};
use super::tool_grammar::ToolPlan;
use crate::BackendError;

/// llama.cpp's `LLAMA_FLASH_ATTN_TYPE_DISABLED`.
const FLASH_ATTENTION_OFF: i32 = 0;
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
    /// Requests run at once (sequences of the context); `None`: [`default_parallel`].
    pub parallel: Option<u32>,
    /// Decode the next token of all generating sequences in one batch: one read of the weights
    /// for all of them (faster where decoding is memory-bound), but llama.cpp's kernels round a
    /// row of a several-row batch differently from a lone row, so answers can differ from a
    /// one-at-a-time run. Off: each sequence's token is decoded on its own, and every answer is
    /// bit for bit the one it gets alone.
    pub batch_decode: bool,
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
    /// Requests run at once, each with `context` tokens of its own.
    pub parallel: u32,
    /// Bytes of KV cache the context holds (`parallel` × `context` tokens).
    pub kv_bytes: u64,
    /// How the model is asked to write tool calls.
    pub call_form: CallForm,
}

impl LoadedInfo {
    /// The start-up line: what was loaded and the memory its KV cache takes.
    pub fn budget_line(&self, name: &str) -> String {
        format!(
            "{name}: {} parallel sequence{} × {} tokens of context, KV cache {:.0} MiB",
            self.parallel,
            if self.parallel == 1 { "" } else { "s" },
            self.context,
            self.kv_bytes as f64 / (1024.0 * 1024.0)
        )
    }
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
        plan: ToolPlan,
    ) -> Result<tmpsc::UnboundedReceiver<Result<StreamEvent, BackendError>>, BackendError> {
        let (events, receiver) = tmpsc::unbounded_channel();
        self.jobs
            .send(Job {
                request,
                timing,
                events,
                count_only: false,
                plan,
            })
            .map_err(|_| BackendError::Inference("the inference thread has stopped".into()))?;
        Ok(receiver)
    }
}

impl Engine {
    /// The prompt tokens `request` takes, rendered and tokenized as it would be answered.
    pub async fn count_prompt(&self, request: ValidChatRequest) -> Result<u32, BackendError> {
        let (events, mut receiver) = tmpsc::unbounded_channel();
        // Counting renders the prompt (a forced call's opening included); no grammar is needed.
        let plan = super::tool_grammar::plan(&request.tools, self.info.call_form, false);
        self.jobs
            .send(Job {
                request,
                timing: TimingRecorder::start(),
                events,
                count_only: true,
                plan,
            })
            .map_err(|_| BackendError::Inference("the inference thread has stopped".into()))?;
        match receiver.recv().await {
            Some(Ok(StreamEvent::End(end))) => Ok(end.usage.prompt_tokens),
            Some(Err(e)) => Err(e),
            _ => Err(BackendError::Inference(
                "the inference thread did not count the prompt".into(),
            )),
        }
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
    let loaded = llama_backend().and_then(|backend| {
        let model = load_model(backend, &config)?;
        Ok((backend, model))
    });
    let (backend, model) = match loaded {
        Ok(parts) => parts,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let context = config
        .context_length
        .unwrap_or(DEFAULT_CONTEXT)
        .min(model.n_ctx_train().max(1));
    let per_token = kv_bytes_per_token(&model);
    let parallel = config
        .parallel
        .unwrap_or_else(|| default_parallel(per_token * u64::from(context), total_memory()))
        .max(1);
    let (ctx, template) = match context_and_template(backend, &model, &config, context, parallel) {
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
        parallel,
        kv_bytes: per_token * u64::from(context) * u64::from(parallel),
        call_form: CallForm::of_template(template.source_text.as_deref()),
    };
    if ready.send(Ok(info)).is_err() {
        return;
    }
    let facts = ModelFacts {
        model: &model,
        jinja: super::jinja::for_model(template.source_text.as_deref()),
        template,
        context,
        name: config.name,
    };
    Scheduler::new(
        facts,
        ctx,
        parallel,
        config.prefix_cache,
        config.batch_decode,
    )
    .run(queue);
}

/// Bytes of keys and values one token takes in the cache (f16, every layer).
fn kv_bytes_per_token(model: &LlamaModel) -> u64 {
    let head_dim = u64::from(model.n_embd().unsigned_abs()) / u64::from(model.n_head().max(1));
    2 * 2 * u64::from(model.n_layer()) * u64::from(model.n_head_kv()) * head_dim
}

/// Requests run at once when the configuration sets no number: four, as llama.cpp's server
/// chooses on its own, fewer when their KV caches would take more than a quarter of memory.
pub fn default_parallel(kv_per_sequence: u64, memory: Option<u64>) -> u32 {
    const MOST: u32 = 4;
    let Some(memory) = memory else {
        return MOST;
    };
    let fits = (memory / 4) / kv_per_sequence.max(1);
    u32::try_from(fits).unwrap_or(MOST).clamp(1, MOST)
}

/// Physical memory in bytes (Linux `/proc/meminfo`; `None` elsewhere). Read by hand: one line of
/// one file, not worth a system-information crate.
fn total_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
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

/// The context — `parallel` sequences of `context` tokens, each in its own KV stream (a
/// sequence's keys sit where they would sit were it alone, so its attention sums add in the
/// same order as a cold run's; one shared cache would place them among other sequences') — and
/// the chat template.
fn context_and_template<'m>(
    backend: &LlamaBackend,
    model: &'m LlamaModel,
    config: &EngineConfig,
    context: u32,
    parallel: u32,
) -> Result<(LlamaContext<'m>, ChosenTemplate), BackendError> {
    let threads = i32::try_from(config.threads).unwrap_or(1);
    let batch = BATCH_SIZE.max(parallel);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(context.saturating_mul(parallel)))
        .with_n_seq_max(parallel)
        .with_kv_unified(false)
        .with_n_batch(batch)
        .with_n_ubatch(batch)
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
            reason: format!("cannot create a context of {parallel} × {context} tokens: {e}"),
        })?;
    let template = template::choose(model, config.chat_template.as_deref(), &config.name)?;
    Ok((ctx, template))
}

#[cfg(test)]
mod tests {
    use super::default_parallel;

    #[test]
    fn the_default_parallelism_is_four_unless_memory_is_short() {
        const GIB: u64 = 1 << 30;
        assert_eq!(default_parallel(100 << 20, Some(24 * GIB)), 4);
        assert_eq!(default_parallel(100 << 20, None), 4);
        assert_eq!(default_parallel(GIB, Some(8 * GIB)), 2);
        assert_eq!(default_parallel(4 * GIB, Some(8 * GIB)), 1);
    }
}
