//! The embedded engine's parallel sequences, on the real smallest model: requests that run at
//! once each keep their own sampling, grammar, stop sequences and budget (with and without
//! batched decoding), get the answer they get alone (without), take a prompt prefix another
//! slot holds instead of processing it again, and a cancelled one frees its slot without
//! disturbing the others.
#![cfg(feature = "embedded")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::sync::Arc;

use futures::StreamExt;
use understudy_backend::embedded::{EmbeddedBackend, EmbeddedOptions};
use understudy_backend::Backend;
use understudy_core::stream::ResponseCollector;
use understudy_core::{
    ChatMessage, ChatRequest, ChatResponse, FinishReason, ResponseFormat, StreamEvent,
    ValidChatRequest,
};

const MODEL: &str = "smollm2-135m";

fn engine(parallel: u32) -> Arc<EmbeddedBackend> {
    Arc::new(EmbeddedBackend::new(EmbeddedOptions {
        parallel: Some(parallel),
        ..support::embedded_options()
    }))
}

/// An engine that decodes its sequences' tokens in one batch.
fn batching_engine(parallel: u32) -> Arc<EmbeddedBackend> {
    Arc::new(EmbeddedBackend::new(EmbeddedOptions {
        parallel: Some(parallel),
        batch_decode: true,
        ..support::embedded_options()
    }))
}

/// Runs `requests` at once on `backend`.
async fn all_at_once(
    backend: &Arc<EmbeddedBackend>,
    requests: Vec<ValidChatRequest>,
) -> Vec<ChatResponse> {
    let handles: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let backend = backend.clone();
            tokio::spawn(async move { backend.chat(request).await.unwrap() })
        })
        .collect();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.unwrap());
    }
    answers
}

/// Each of [`mixed_requests`] got what its own settings ask for.
fn check_settings(i: usize, got: &ChatResponse) {
    match i {
        0 => {
            assert!(!got.answer.contains(['.', ',', '\n']), "{:?}", got.answer);
            assert_eq!(got.finish_reason, FinishReason::Stop);
        }
        1 => {
            let value: serde_json::Value = serde_json::from_str(got.answer.trim())
                .unwrap_or_else(|e| panic!("{e}: {:?}", got.answer));
            assert!(value.is_object(), "{value}");
        }
        3 => {
            assert_eq!(got.usage.completion_tokens, 5);
            assert!(got.confidence.is_some());
        }
        _ => {}
    }
}

fn ask(prompt: &str, change: impl FnOnce(&mut ChatRequest)) -> ValidChatRequest {
    let mut request = ChatRequest::new(MODEL, vec![ChatMessage::user(prompt)]);
    request.max_tokens = Some(24);
    change(&mut request);
    request.validate().unwrap()
}

/// Requests with different settings: a stop sequence, a JSON grammar, seeded sampling, a small
/// budget with log-probabilities, and a plain greedy one.
fn mixed_requests() -> Vec<ValidChatRequest> {
    vec![
        ask("Write three short sentences about cats.", |r| {
            r.stop = vec![".".into(), ",".into(), "\n".into()];
            r.max_tokens = Some(48);
        }),
        ask(
            "Give a JSON object with a field `answer` holding 2+2.",
            |r| {
                r.response_format = ResponseFormat::JsonObject;
                r.max_tokens = Some(32);
            },
        ),
        ask("Name a colour.", |r| {
            r.temperature = Some(0.9);
            r.seed = Some(7);
        }),
        ask("Count from one to twenty.", |r| {
            r.max_tokens = Some(5);
            r.logprobs = true;
        }),
        ask("What is the capital of France?", |_| {}),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_requests_keep_their_own_settings_and_answers() {
    support::smallest_model().await;
    let alone = engine(1);
    let mut expected = Vec::new();
    for request in mixed_requests() {
        expected.push(alone.chat(request).await.unwrap());
    }
    let together = all_at_once(&engine(4), mixed_requests()).await;
    let mut shared = 0;
    for (i, (got, alone)) in together.iter().zip(&expected).enumerate() {
        // Each sequence is computed as it would be alone: the very same answer.
        assert_eq!(got.answer, alone.answer, "request {i} changed in company");
        assert_eq!(got.finish_reason, alone.finish_reason, "request {i}");
        assert_eq!(got.confidence, alone.confidence, "request {i}");
        assert_eq!(alone.timing.concurrency, Some(1), "request {i} alone");
        check_settings(i, got);
        if got.timing.concurrency.unwrap_or(0) > 1 {
            shared += 1;
        }
    }
    assert!(shared >= 2, "no request ran beside another");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_decoding_keeps_each_requests_settings() {
    support::smallest_model().await;
    let together = all_at_once(&batching_engine(4), mixed_requests()).await;
    for (i, got) in together.iter().enumerate() {
        check_settings(i, got);
    }
    assert!(together
        .iter()
        .any(|r| r.timing.concurrency.unwrap_or(0) > 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_one_sequence_frees_its_slot_and_leaves_the_other_alone() {
    support::smallest_model().await;
    let backend = engine(2);
    let other = || {
        ask("Describe a sunny day in two sentences.", |r| {
            r.max_tokens = Some(40)
        })
    };
    let alone = backend.chat(other()).await.unwrap();

    let essay = ask("Write a long essay about the history of bread.", |r| {
        r.max_tokens = Some(400);
    });
    let mut long = backend.chat_stream(essay).await.unwrap();
    let mut short = backend.chat_stream(other()).await.unwrap();
    // Both are generating; then the essay's caller goes away.
    let mut collector = ResponseCollector::default();
    collector.push(short.next().await.unwrap().unwrap());
    for _ in 0..4 {
        assert!(matches!(
            long.next().await.unwrap().unwrap(),
            StreamEvent::Delta(_)
        ));
    }
    drop(long);
    while let Some(event) = short.next().await {
        collector.push(event.unwrap());
    }
    let finished = collector.finish().unwrap();
    assert_eq!(
        finished.answer, alone.answer,
        "the cancel disturbed the other"
    );
    assert_eq!(
        finished.usage.completion_tokens,
        alone.usage.completion_tokens
    );
    assert_eq!(
        finished.timing.concurrency,
        Some(2),
        "they did not run together"
    );

    // Had the 400-token essay kept its slot, this request would run beside it.
    let next = backend
        .chat(ask("Say hi.", |r| r.max_tokens = Some(8)))
        .await
        .unwrap();
    assert!(!next.answer.is_empty());
    assert_eq!(
        next.timing.concurrency,
        Some(1),
        "the cancelled essay still runs"
    );
}

/// A long system prompt shared by every request (what an eval row's instruction and examples, or
/// a gateway profile's system prompt, are), and different questions after it.
fn shared_prefix_requests() -> Vec<ValidChatRequest> {
    let rules = "Answer in one short sentence. Never use lists. Prefer plain words to jargon. \
                 If a question is ambiguous, answer its most likely reading. Do not apologise. \
                 Do not repeat the question. Write numbers as digits. ";
    let system = format!(
        "You are a careful assistant for a science museum. {}",
        rules.repeat(8)
    );
    [
        "Why is the sky blue?",
        "What is a black hole?",
        "How do plants make food?",
        "Why do magnets attract iron?",
    ]
    .into_iter()
    .map(|question| {
        let mut request = ChatRequest::new(
            MODEL,
            vec![
                ChatMessage::system(system.clone()),
                ChatMessage::user(question),
            ],
        );
        request.max_tokens = Some(12);
        request.logprobs = true;
        request.validate().unwrap()
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_another_slot_holds_is_copied_and_changes_no_answer() {
    support::smallest_model().await;
    let cold = Arc::new(EmbeddedBackend::new(EmbeddedOptions {
        prefix_cache: false,
        parallel: Some(1),
        ..support::embedded_options()
    }));
    let mut expected = Vec::new();
    for request in shared_prefix_requests() {
        expected.push(cold.chat(request).await.unwrap());
    }
    let together = all_at_once(&engine(4), shared_prefix_requests()).await;
    for (i, (got, alone)) in together.iter().zip(&expected).enumerate() {
        assert_eq!(
            got.answer, alone.answer,
            "request {i}: a copied prefix changed it"
        );
        assert_eq!(
            got.confidence, alone.confidence,
            "request {i}: log-probabilities"
        );
        assert_eq!(got.usage.prompt_tokens, alone.usage.prompt_tokens);
    }
    // The four arrive together at four free slots. One processes the system prompt; the others
    // wait for it and take a copy of its keys instead of processing it again beside it.
    let shared = expected[0].usage.prompt_tokens / 2;
    let reused: Vec<u32> = together.iter().map(|r| r.usage.cached_tokens).collect();
    assert_eq!(
        reused.iter().filter(|&&n| n == 0).count(),
        1,
        "one request processes the shared prompt: {reused:?}"
    );
    assert_eq!(
        reused.iter().filter(|&&n| n > shared).count(),
        3,
        "the others take it from that slot: {reused:?}"
    );
}
