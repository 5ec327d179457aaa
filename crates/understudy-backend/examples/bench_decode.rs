//! Bench (not a test): embedded backend vs a bare llama-cpp-2 generation loop — the algorithm of
//! llama-cpp-2's `simple` example (one prompt batch, greedy sampling, one token per decode) — on
//! the same GGUF, thread count, context size and prompt, alternating in one process. Prints prompt
//! and decode tok/s medians and the ratio understudy/bare.
//!
//! cargo run --release -p understudy-backend --example bench_decode -- [--rounds N] [--threads N] MODEL...
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod embedded_bench;

use std::num::NonZeroU32;
use std::time::Instant;

use embedded_bench::{median, take, CONTEXT};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use understudy_backend::embedded::llama_backend;

const GENERATE: usize = 128;
const PROMPT: &str = "You are reviewing a short design note. The note proposes a command-line tool that \
measures how close a small local language model comes to a larger reference model on a user's own \
tasks, under several prompt strategies such as zero-shot, few-shot, chain-of-thought and a detailed \
system prompt, and reports quality next to latency. It also proposes a gateway that serves the small \
model behind an OpenAI-compatible API and applies whatever closed the gap. Write a detailed, \
well-structured review of this note: its strengths, its risks, the measurements you would want to \
see, and the questions you would ask its authors before approving it.";

struct Sample {
    prompt_tps: f64,
    decode_tps: f64,
    tokens: usize,
}

fn bare_run(model: &LlamaModel, threads: i32) -> Sample {
    let backend = llama_backend().unwrap();
    let template = model.chat_template(None).unwrap();
    let chat = [LlamaChatMessage::new("user".into(), PROMPT.into()).unwrap()];
    let prompt = model.apply_chat_template(&template, &chat, true).unwrap();
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(CONTEXT))
        .with_n_batch(512)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = model.new_context(backend, params).unwrap();
    let vocab = model.vocab();
    let tokens = vocab.tokenize(prompt.as_bytes(), true, true);
    let mut batch = LlamaBatch::new(512, 1);
    let last = tokens.len() - 1;
    for (i, t) in tokens.iter().enumerate() {
        batch.add(*t, i as i32, &[0], i == last).unwrap();
    }
    let start = Instant::now();
    ctx.decode(&mut batch).unwrap();
    let prompt_secs = start.elapsed().as_secs_f64();
    let mut sampler = LlamaSampler::greedy();
    let mut pos = tokens.len() as i32;
    let mut first = None;
    let mut last_at = Instant::now();
    let mut n = 0;
    while n < GENERATE {
        let token = sampler.sample(&ctx, batch.n_tokens() - 1);
        if vocab.is_eog(token) {
            break;
        }
        let now = Instant::now();
        first.get_or_insert(now);
        last_at = now;
        n += 1;
        let _piece = vocab.token_to_piece(token, false, None);
        if n == GENERATE {
            break;
        }
        batch.clear();
        batch.add(token, pos, &[0], true).unwrap();
        pos += 1;
        ctx.decode(&mut batch).unwrap();
    }
    let decode_secs = last_at.duration_since(first.unwrap()).as_secs_f64();
    Sample {
        prompt_tps: tokens.len() as f64 / prompt_secs,
        decode_tps: (n - 1) as f64 / decode_secs,
        tokens: n,
    }
}

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = take(&mut args, "--rounds").map_or(5, |v| v.parse().unwrap());
    let threads: usize = take(&mut args, "--threads").map_or(2, |v| v.parse().unwrap());
    let models = embedded_bench::models(args);
    println!("bench_decode: {rounds} alternating rounds, {threads} threads, context {CONTEXT}, up to {GENERATE} new tokens");
    println!(
        "{:<22} {:>12} {:>12} {:>8} {:>12} {:>12} {:>8}",
        "model", "bare pp t/s", "ours pp t/s", "pp ratio", "bare tg t/s", "ours tg t/s", "tg ratio"
    );
    for name in models {
        let (ours, path) = embedded_bench::load(&name, threads).await;
        let bare_model = LlamaModel::load_from_file(
            llama_backend().unwrap(),
            &path,
            &LlamaModelParams::default(),
        )
        .unwrap();
        // Warm-up of both, not counted.
        bare_run(&bare_model, threads as i32);
        embedded_bench::generate(&ours, &name, PROMPT, GENERATE as u32).await;
        let (mut bp, mut bd, mut op, mut od) = (vec![], vec![], vec![], vec![]);
        for _ in 0..rounds {
            let b = bare_run(&bare_model, threads as i32);
            let o = embedded_bench::generate(&ours, &name, PROMPT, GENERATE as u32).await;
            assert_eq!(
                b.tokens, o.generated,
                "both must generate the same greedy tokens"
            );
            bp.push(b.prompt_tps);
            bd.push(b.decode_tps);
            op.push(o.prompt_tps);
            od.push(o.decode_tps);
        }
        let (bp, bd, op, od) = (median(bp), median(bd), median(op), median(od));
        println!(
            "{name:<22} {bp:>12.1} {op:>12.1} {:>8.3} {bd:>12.1} {od:>12.1} {:>8.3}",
            op / bp,
            od / bd
        );
    }
}
