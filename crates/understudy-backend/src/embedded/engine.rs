//! One loaded GGUF model on its own OS thread. Requests queue on a channel and run one at a time
//! (never interleaved), so async callers are never blocked and concurrent requests are safe.
//! Deltas go back over a channel; when the caller drops its stream, generation stops.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{mpsc, OnceLock};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use tokio::sync::{mpsc as tmpsc, oneshot};
use understudy_core::response::{logprob_of, ConfidenceAccumulator};
use understudy_core::stream::{Delta, StreamEnd};
use understudy_core::think::ThinkSplitter;
use understudy_core::{FinishReason, StreamEvent, TimingRecorder, Usage, ValidChatRequest};

use super::pick::Picker;
use super::template::{self, ChosenTemplate};
use super::utf8::Utf8Decoder;
use crate::stop::StopMatcher;
use crate::BackendError;

/// Tokens per prompt-processing batch.
const BATCH_SIZE: u32 = 512;
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

/// Everything the worker needs that lives as long as the model.
struct Loaded<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    template: ChosenTemplate,
    context: u32,
    name: String,
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
    let model = match LlamaModel::load_from_file(
        backend,
        &config.path,
        &LlamaModelParams::default(),
    ) {
        Ok(m) => m,
        Err(e) => {
            let size = std::fs::metadata(&config.path)
                .map(|m| m.len())
                .unwrap_or(0);
            let _ = ready.send(Err(BackendError::ModelLoad {
                path: config.path.clone(),
                reason: format!("llama.cpp rejected the file ({e}); it may be truncated or corrupt ({size} bytes)"),
            }));
            return;
        }
    };
    let context = config
        .context_length
        .unwrap_or(DEFAULT_CONTEXT)
        .min(model.n_ctx_train().max(1));
    let threads = i32::try_from(config.threads).unwrap_or(1);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(context))
        .with_n_batch(BATCH_SIZE)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(BackendError::ModelLoad {
                path: config.path.clone(),
                reason: format!("cannot create a {context}-token context: {e}"),
            }));
            return;
        }
    };
    let template = match template::choose(&model, config.chat_template.as_deref(), &config.name) {
        Ok(t) => t,
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

/// Opening text that makes a thinking model skip its reasoning (Qwen3 convention).
const EMPTY_THOUGHT: &str = "<think>\n\n</think>\n\n";

fn build_prompt(
    loaded: &Loaded<'_>,
    request: &ValidChatRequest,
) -> Result<(String, bool), BackendError> {
    let mut prompt = template::render(loaded.model, &loaded.template.template, &request.messages)?;
    let thinks = loaded
        .template
        .source_text
        .as_deref()
        .is_some_and(|t| t.contains("<think>"));
    if thinks && request.thinking == Some(false) && !prompt.trim_end().ends_with("<think>") {
        prompt.push_str(EMPTY_THOUGHT);
    }
    let starts_in_thought = prompt.trim_end().ends_with("<think>");
    Ok((prompt, starts_in_thought))
}

/// Runs one request to completion and returns its closing event (deltas are sent as they come).
fn generate(
    loaded: &mut Loaded<'_>,
    request: &ValidChatRequest,
    timing: &mut TimingRecorder,
    events: &tmpsc::UnboundedSender<Result<StreamEvent, BackendError>>,
) -> Result<StreamEvent, BackendError> {
    let (prompt, starts_in_thought) = build_prompt(loaded, request)?;
    let vocab = loaded.model.vocab();
    let bos_text = vocab
        .text(vocab.bos())
        .and_then(|t| t.to_str().ok())
        .unwrap_or("")
        .to_string();
    let add_special = bos_text.is_empty() || !prompt.starts_with(&bos_text);
    let tokens = vocab.tokenize(prompt.as_bytes(), add_special, true);
    let context = loaded.context as usize;
    if tokens.is_empty() {
        return Err(BackendError::InvalidRequest(
            "the prompt is empty after templating".into(),
        ));
    }
    if tokens.len() >= context {
        return Err(BackendError::ContextOverflow {
            model: loaded.name.clone(),
            prompt_tokens: tokens.len(),
            max_tokens: request.max_tokens,
            context: loaded.context,
        });
    }
    let budget = (request.max_tokens as usize).min(context - tokens.len());

    loaded.ctx.clear_kv_cache();
    timing.mark_prompt_start();
    let mut batch = LlamaBatch::new(BATCH_SIZE as usize, 1);
    let last = tokens.len() - 1;
    for (chunk_index, chunk) in tokens.chunks(BATCH_SIZE as usize).enumerate() {
        batch.clear();
        for (offset, token) in chunk.iter().enumerate() {
            let pos = chunk_index * BATCH_SIZE as usize + offset;
            batch
                .add(*token, pos as i32, &[0], pos == last)
                .map_err(|e| BackendError::Inference(e.to_string()))?;
        }
        loaded
            .ctx
            .decode(&mut batch)
            .map_err(|e| BackendError::Inference(format!("prompt decode failed: {e}")))?;
        if events.is_closed() {
            return Ok(cancelled_end(loaded, tokens.len(), timing));
        }
    }
    timing.mark_prompt_done();

    let mut picker = Picker::for_request(loaded.model, request)?;
    let mut decoder = Utf8Decoder::default();
    let mut stops = StopMatcher::new(&request.stop);
    let mut splitter = if starts_in_thought {
        ThinkSplitter::starting_in_thought()
    } else {
        ThinkSplitter::default()
    };
    let mut position = tokens.len();
    let mut generated = 0usize;
    let mut finish = FinishReason::Length;
    let mut stopped_by_sequence = false;
    let send = |deltas: Vec<Delta>| -> bool {
        deltas
            .into_iter()
            .all(|d| events.send(Ok(StreamEvent::Delta(d))).is_ok())
    };
    let mut confidence = ConfidenceAccumulator::default();
    while generated < budget {
        let token = picker.pick(&loaded.ctx, batch.n_tokens() - 1);
        if vocab.is_eog(token) {
            finish = FinishReason::Stop;
            break;
        }
        if request.logprobs {
            let logits = loaded.ctx.get_logits_ith(batch.n_tokens() - 1);
            if let Some(lp) = usize::try_from(token.0)
                .ok()
                .and_then(|i| logprob_of(logits, i))
            {
                confidence.push(lp);
            }
        }
        generated += 1;
        timing.mark_token();
        let text = decoder.push(&vocab.token_to_piece(token, false, None));
        let step = stops.push(&text);
        if !send(splitter.push(&step.emit)) {
            finish = FinishReason::Cancelled;
            break;
        }
        if step.stopped {
            finish = FinishReason::Stop;
            stopped_by_sequence = true;
            break;
        }
        if generated == budget {
            break;
        }
        batch.clear();
        batch
            .add(token, position as i32, &[0], true)
            .map_err(|e| BackendError::Inference(e.to_string()))?;
        position += 1;
        loaded
            .ctx
            .decode(&mut batch)
            .map_err(|e| BackendError::Inference(format!("decode failed: {e}")))?;
    }
    if finish != FinishReason::Cancelled && !stopped_by_sequence {
        let step = stops.push(&decoder.finish());
        let mut tail = step.emit;
        if !step.stopped {
            tail.push_str(&stops.finish());
        }
        let mut deltas = splitter.push(&tail);
        deltas.extend(splitter.finish());
        send(deltas);
    } else if stopped_by_sequence {
        send(splitter.finish());
    }
    let prompt_tokens = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
    Ok(StreamEvent::End(StreamEnd {
        model: loaded.name.clone(),
        finish_reason: finish,
        usage: Usage {
            prompt_tokens,
            completion_tokens: timing.tokens(),
            estimated: false,
        },
        timing: timing.finish(Some(prompt_tokens), None),
        confidence: confidence.finish(),
    }))
}

fn cancelled_end(
    loaded: &Loaded<'_>,
    prompt_tokens: usize,
    timing: &TimingRecorder,
) -> StreamEvent {
    StreamEvent::End(StreamEnd {
        model: loaded.name.clone(),
        finish_reason: FinishReason::Cancelled,
        usage: Usage {
            prompt_tokens: u32::try_from(prompt_tokens).unwrap_or(u32::MAX),
            completion_tokens: 0,
            estimated: false,
        },
        timing: timing.finish(None, None),
        confidence: None,
    })
}
