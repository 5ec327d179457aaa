//! `understudy chat`: one prompt (streamed, or `--json`), or an interactive multi-turn session.

use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use understudy_backend::Backend;
use understudy_core::stream::{Delta, ResponseCollector};
use understudy_core::{ChatMessage, ChatRequest, ChatResponse, StreamEvent};

use crate::cli::{ChatArgs, OnOff};
use crate::output;
use crate::setup::{self, EmbeddedOverrides};

pub async fn run(config_path: Option<&Path>, args: ChatArgs) -> Result<()> {
    let config = setup::load_config(config_path)?;
    let model = args
        .model
        .clone()
        .unwrap_or_else(|| config.default_model.clone());
    // Decided once, so that the timing line names what the engine ran with.
    let threads = setup::threads(
        &config,
        &EmbeddedOverrides {
            threads: args.threads,
            ..Default::default()
        },
    );
    let overrides = EmbeddedOverrides {
        threads: Some(threads),
        chat_template: args.chat_template.clone().map(|t| (model.clone(), t)),
        serving: false,
        prefix_cache: None,
        parallel: None,
        // One conversation needs one sequence: no KV cache for others unless configured.
        default_parallel: Some(1),
    };
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    let router = setup::build_router(&config, &overrides)?;
    // The timing line names the threads when the model runs in this process.
    let threads = match router.route(&model) {
        Ok((backend, _)) if backend.name() == "embedded" => Some(threads),
        _ => None,
    };
    let mut history = Vec::new();
    if let Some(system) = &args.system {
        history.push(ChatMessage::system(system.clone()));
    }
    match &args.prompt {
        Some(prompt) => {
            history.push(ChatMessage::user(prompt.clone()));
            let request = build_request(&args, &model, history)?;
            if args.json {
                let response = router.chat(request).await?;
                output::data_line(&serde_json::to_string_pretty(&response)?);
            } else {
                let response = stream_answer(&router, request).await?;
                output::timing_line(&response, threads);
            }
            Ok(())
        }
        None => interactive(&router, &args, &model, history, threads).await,
    }
}

fn build_request(
    args: &ChatArgs,
    model: &str,
    messages: Vec<ChatMessage>,
) -> Result<understudy_core::ValidChatRequest> {
    let request = ChatRequest {
        model: model.to_string(),
        messages,
        max_tokens: Some(args.max_tokens),
        temperature: Some(args.temperature),
        top_p: args.top_p,
        seed: args.seed,
        stop: args.stop.clone(),
        thinking: args.thinking.map(|t| t == OnOff::On),
        ..ChatRequest::default()
    };
    Ok(request.validate()?)
}

/// Streams one answer to the terminal; Ctrl-C stops generation and keeps what came so far.
async fn stream_answer(
    backend: &dyn Backend,
    request: understudy_core::ValidChatRequest,
) -> Result<ChatResponse> {
    let mut stream = backend.chat_stream(request).await?;
    let mut collector = ResponseCollector::default();
    let mut in_reasoning = false;
    loop {
        let next = tokio::select! {
            event = stream.next() => event,
            _ = tokio::signal::ctrl_c() => {
                output::note("\n[cancelled]");
                break;
            }
        };
        let Some(event) = next else { break };
        let event = event?;
        match &event {
            StreamEvent::Delta(Delta::Answer(text)) => {
                if in_reasoning {
                    output::note("");
                    in_reasoning = false;
                }
                output::answer_text(text);
            }
            StreamEvent::Delta(Delta::Reasoning(text)) => {
                in_reasoning = true;
                output::reasoning_text(text);
            }
            // `chat` offers no tools, so no call can come back.
            StreamEvent::Delta(Delta::ToolCall(_) | Delta::Logprobs(_)) | StreamEvent::End(_) => {}
        }
        collector.push(event);
    }
    output::answer_end();
    drop(stream);
    collector
        .finish()
        .context("the answer was interrupted before it finished")
}

async fn interactive(
    backend: &dyn Backend,
    args: &ChatArgs,
    model: &str,
    mut history: Vec<ChatMessage>,
    threads: Option<u32>,
) -> Result<()> {
    // Load an in-process model now, so its load line (and any load error) comes before the
    // first prompt rather than after the user typed at it.
    backend.parallel(model).await?;
    output::note(&format!(
        "chatting with {model}; /reset clears the conversation, /exit or Ctrl-D ends it"
    ));
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        output::prompt(">>> ");
        let Some(line) = lines.next() else {
            output::note("");
            return Ok(());
        };
        let line = line.context("cannot read from stdin")?;
        let text = line.trim();
        match text {
            "" => continue,
            "/exit" | "/quit" => return Ok(()),
            "/reset" => {
                history.retain(|m| m.role == understudy_core::Role::System);
                output::note("(conversation cleared)");
                continue;
            }
            _ => {}
        }
        history.push(ChatMessage::user(text));
        let request = build_request(args, model, history.clone())?;
        let result = if args.json {
            backend
                .chat(request)
                .await
                .map_err(anyhow::Error::from)
                .and_then(|r| {
                    output::data_line(&serde_json::to_string(&r)?);
                    Ok(r)
                })
        } else {
            stream_answer(backend, request)
                .await
                .inspect(|r| output::timing_line(r, threads))
        };
        match result {
            Ok(response) => history.push(ChatMessage::assistant(response.answer)),
            Err(err) => {
                // Keep the session: drop the unanswered turn and report the error.
                history.pop();
                output::error_line(&err);
            }
        }
    }
}
