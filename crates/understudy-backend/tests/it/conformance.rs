//! One conformance suite, run against every real backend: the embedded llama.cpp backend and the
//! OpenAI-compatible client talking to llama-cpp-python's server (a server no one here wrote),
//! both on the smallest default model. Assertions are on real model behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use futures::StreamExt;
use understudy_backend::Backend;
use understudy_core::{ChatMessage, ChatRequest, FinishReason, StreamEvent, ValidChatRequest};

fn request(model: &str, prompt: &str) -> ChatRequest {
    ChatRequest::new(model, vec![ChatMessage::user(prompt)])
}

fn valid(r: ChatRequest) -> ValidChatRequest {
    r.validate().unwrap()
}

async fn answers_simple_arithmetic(backend: &dyn Backend, model: &str) {
    let r = backend
        .chat(valid(ChatRequest {
            max_tokens: Some(32),
            ..request(model, "What is 2+2? Answer with one number.")
        }))
        .await
        .unwrap();
    assert!(r.answer.contains('4'), "answer {:?} lacks 4", r.answer);
    // A server that streams no usage (llama-cpp-python ignores `stream_options`) leaves the
    // prompt count unknown; the client must then say the counts are estimated.
    assert!(
        r.usage.prompt_tokens > 0 || r.usage.estimated,
        "{:?}",
        r.usage
    );
    assert!(r.usage.completion_tokens > 0);
    assert!(r.timing.ttft_ms > 0.0 && r.timing.total_ms >= r.timing.ttft_ms);
}

async fn streams_deltas_then_one_end(backend: &dyn Backend, model: &str) {
    let req = valid(ChatRequest {
        max_tokens: Some(40),
        ..request(model, "Name three colors.")
    });
    let whole = backend.chat(req.clone()).await.unwrap();
    let mut stream = backend.chat_stream(req).await.unwrap();
    let mut text = String::new();
    let mut deltas = 0;
    let mut ends = 0;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            StreamEvent::Delta(understudy_core::Delta::Answer(t)) => {
                assert_eq!(ends, 0, "delta after the end event");
                deltas += 1;
                text.push_str(&t);
            }
            StreamEvent::Delta(_) => {}
            StreamEvent::End(end) => {
                ends += 1;
                assert!(end.usage.completion_tokens > 0);
            }
        }
    }
    assert_eq!(ends, 1);
    assert!(deltas >= 2, "only {deltas} deltas: not streamed");
    assert_eq!(text, whole.answer, "greedy stream and whole answer differ");
}

async fn honours_max_tokens(backend: &dyn Backend, model: &str) {
    let r = backend
        .chat(valid(ChatRequest {
            max_tokens: Some(5),
            ..request(
                model,
                "Write a long story about a dragon who learns to bake bread.",
            )
        }))
        .await
        .unwrap();
    assert_eq!(r.finish_reason, FinishReason::Length);
    assert!(
        r.usage.completion_tokens <= 5,
        "{} tokens",
        r.usage.completion_tokens
    );
}

async fn honours_stop_sequences(backend: &dyn Backend, model: &str) {
    let base = request(model, "List the numbers from 1 to 10, separated by commas.");
    let full = backend
        .chat(valid(ChatRequest {
            max_tokens: Some(60),
            ..base.clone()
        }))
        .await
        .unwrap()
        .answer;
    // Pick a stop string the model really produces, past the start of the answer.
    let stop = ["5", "4", "3", ","]
        .into_iter()
        .find(|s| full.find(s).is_some_and(|i| i > 0))
        .unwrap_or_else(|| panic!("no usable stop string in {full:?}"));
    let cut = backend
        .chat(valid(ChatRequest {
            max_tokens: Some(60),
            stop: vec![stop.to_string()],
            ..base
        }))
        .await
        .unwrap();
    assert_eq!(cut.finish_reason, FinishReason::Stop);
    assert!(
        !cut.answer.contains(stop),
        "{:?} still contains {stop:?}",
        cut.answer
    );
    let expected = &full[..full.find(stop).unwrap()];
    assert_eq!(cut.answer.trim_end(), expected.trim_end());
}

async fn rejects_unknown_model(backend: &dyn Backend) {
    let err = backend
        .chat(valid(request("no-such-model-xyz", "hi")))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("no-such-model-xyz"), "{text}");
    assert_eq!(err.http_status(), 404, "{err:?}");
}

async fn lists_the_model(backend: &dyn Backend, model: &str) {
    let models = backend.list_models().await.unwrap();
    assert!(models.iter().any(|m| m.id == model), "{models:?}");
}

/// Token log-probabilities, summarised; `required` for backends that must report them.
async fn reports_confidence_when_asked(backend: &dyn Backend, model: &str, required: bool) {
    let asked = backend
        .chat(valid(ChatRequest {
            max_tokens: Some(8),
            logprobs: true,
            ..request(model, "What is 2+2? Answer with one number.")
        }))
        .await
        .unwrap();
    match asked.confidence {
        Some(c) => assert!(
            c.tokens > 0 && c.mean_logprob <= 0.0 && c.min_logprob <= c.mean_logprob,
            "{c:?}"
        ),
        None => assert!(!required, "no confidence reported"),
    }
    let not_asked = backend
        .chat(valid(ChatRequest {
            max_tokens: Some(8),
            ..request(model, "What is 2+2? Answer with one number.")
        }))
        .await
        .unwrap();
    assert!(not_asked.confidence.is_none() || !required);
}

async fn suite(backend: &dyn Backend, model: &str) {
    answers_simple_arithmetic(backend, model).await;
    streams_deltas_then_one_end(backend, model).await;
    honours_max_tokens(backend, model).await;
    honours_stop_sequences(backend, model).await;
    rejects_unknown_model(backend).await;
    lists_the_model(backend, model).await;
}

#[cfg(feature = "embedded")]
mod embedded {
    use super::*;
    use understudy_backend::embedded::{EmbeddedBackend, EmbeddedOptions};

    fn backend() -> EmbeddedBackend {
        EmbeddedBackend::new(support::embedded_options())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded_backend_reports_confidence() {
        support::smallest_model().await;
        reports_confidence_when_asked(&backend(), "smollm2-135m", true).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded_backend_conforms() {
        support::smallest_model().await;
        suite(&backend(), "smollm2-135m").await;
    }

    /// Requests that share a long system prompt, then one whose system prompt changes halfway
    /// (the cache diverges mid-prefix), then the first again.
    fn shared_prefix_requests() -> Vec<ValidChatRequest> {
        let system = "You are a careful assistant for a small bookshop. Answer in one short \
                      sentence. The shop opens at nine, closes at six, is shut on Sundays, sells \
                      new and used books, orders any book in print within three days, and gives \
                      students ten percent off with a card.";
        let changed = system.replace("closes at six", "closes at eight");
        let ask = |system: &str, question: &str| {
            valid(ChatRequest {
                max_tokens: Some(24),
                logprobs: true,
                ..ChatRequest::new(
                    "smollm2-135m",
                    vec![ChatMessage::system(system), ChatMessage::user(question)],
                )
            })
        };
        vec![
            ask(system, "When does the shop close?"),
            ask(system, "When does the shop close?"),
            ask(system, "Do students get a discount?"),
            ask(&changed, "When does the shop close?"),
            ask(system, "When does the shop close?"),
        ]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn prefix_reuse_gives_the_tokens_a_cold_engine_gives() {
        support::smallest_model().await;
        let warm = backend();
        let cold = EmbeddedBackend::new(EmbeddedOptions {
            prefix_cache: false,
            parallel: None,
            batch_decode: false,
            ..support::embedded_options()
        });
        let mut reused = Vec::new();
        for request in shared_prefix_requests() {
            let with = warm.chat(request.clone()).await.unwrap();
            let without = cold.chat(request).await.unwrap();
            assert_eq!(with.answer, without.answer, "reuse changed an answer");
            assert_eq!(
                with.confidence, without.confidence,
                "reuse changed log-probabilities"
            );
            assert_eq!(with.usage.prompt_tokens, without.usage.prompt_tokens);
            assert_eq!(
                without.usage.cached_tokens, 0,
                "a cold engine reused tokens"
            );
            reused.push((with.usage.cached_tokens, with.usage.prompt_tokens));
        }
        // The first prompt finds nothing; the same prompt again reuses all but its last two
        // tokens, rounded down to a multiple of eight; the third shares the system prompt; the fourth diverges inside it (less is
        // reused); the fifth repeats the first, but the cache holds the fourth, so it reuses up
        // to the divergence again.
        assert_eq!(reused[0].0, 0, "{reused:?}");
        assert_eq!(reused[1].0, (reused[1].1 - 2) / 8 * 8, "{reused:?}");
        assert!(reused[2].0 > reused[2].1 / 2, "{reused:?}");
        assert!(reused[3].0 > 0 && reused[3].0 < reused[2].0, "{reused:?}");
        assert_eq!(reused[4].0, reused[3].0, "{reused:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn json_schema_response_format_gives_valid_json() {
        support::smallest_model().await;
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"answer": {"type": "integer"}},
            "required": ["answer"]
        });
        let r = backend()
            .chat(valid(ChatRequest {
                max_tokens: Some(40),
                response_format: understudy_core::ResponseFormat::JsonSchema { schema },
                ..request("smollm2-135m", "What is 2+2? Reply in JSON.")
            }))
            .await
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(&r.answer)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", r.answer));
        assert!(value["answer"].is_i64(), "{value}");
    }
}

mod openai_server {
    use super::*;
    use understudy_backend::openai::OpenAiBackend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn openai_backend_conforms_against_llama_cpp_python() {
        let model = support::smallest_model().await;
        let Some(server) = support::start_llama_server(&model).await else {
            return;
        };
        let backend = OpenAiBackend::new("llama-cpp-python", &server.base_url, None, 120).unwrap();
        suite(&backend, "smollm2-135m").await;
        reports_confidence_when_asked(&backend, "smollm2-135m", false).await;

        // The non-streaming path gives the same greedy answer as the streaming one.
        let req = valid(ChatRequest {
            max_tokens: Some(32),
            ..request("smollm2-135m", "What is 2+2? Answer with one number.")
        });
        let unary = backend.chat_unary(req.clone()).await.unwrap();
        let streamed = backend.chat(req).await.unwrap();
        assert_eq!(unary.answer, streamed.answer);
        assert!(!unary.usage.estimated);
    }

    /// A loopback server that returns `logprobs` (as OpenAI, vLLM and llama.cpp's server do)
    /// when, and only when, asked: the HTTP path from logprobs to confidence is asserted with
    /// exact values, not skipped as it is against a peer that returns none.
    async fn logprob_server() -> String {
        use axum::routing::{get, post};
        let app = axum::Router::new()
            .route(
                "/v1/models",
                get(|| async { axum::Json(serde_json::json!({"data": [{"id": "m"}]})) }),
            )
            .route(
                "/v1/chat/completions",
                post(|body: String| async move {
                    let request: serde_json::Value = serde_json::from_str(&body).unwrap();
                    let asked = request["logprobs"].as_bool().unwrap_or(false);
                    let logprobs = |token: &str, lp: f64| {
                        if asked {
                            serde_json::json!({"content": [{"token": token, "logprob": lp}]})
                        } else {
                            serde_json::Value::Null
                        }
                    };
                    let chunk = |content: &str, lp: f64, finish: Option<&str>| {
                        serde_json::json!({"model": "m", "choices": [{"index": 0, "delta": {"content": content}, "logprobs": logprobs(content, lp), "finish_reason": finish}]})
                    };
                    let body = format!(
                        "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
                        chunk("4", -0.25, None),
                        chunk(".", -0.75, Some("stop"))
                    );
                    ([("content-type", "text/event-stream")], body)
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}/v1")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn openai_backend_reads_logprobs_from_a_server_that_returns_them() {
        let base = logprob_server().await;
        let backend = OpenAiBackend::new("logprobs", &base, None, 30).unwrap();
        reports_confidence_when_asked(&backend, "m", true).await;
        let answer = backend
            .chat(valid(ChatRequest {
                logprobs: true,
                ..request("m", "What is 2+2?")
            }))
            .await
            .unwrap();
        let confidence = answer.confidence.unwrap();
        assert_eq!(confidence.tokens, 2);
        assert!(
            (confidence.mean_logprob - -0.5).abs() < 1e-12,
            "{confidence:?}"
        );
        assert!(
            (confidence.min_logprob - -0.75).abs() < 1e-12,
            "{confidence:?}"
        );
    }
}
