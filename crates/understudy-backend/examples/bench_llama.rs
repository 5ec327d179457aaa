//! Bench (not a test): the embedded backend vs llama.cpp's own `llama-bench` on the same GGUF,
//! thread count and prompt/generation lengths, rounds alternating in one sitting. Prompt speed is
//! llama-bench's `pp` test at the prompt length our chat template produced; decode speed is its
//! `tg` test at that depth (the KV cache already holding the prompt), as ours decodes after it.
//! Prints medians and the ratio understudy/llama-bench. `bench/llama_bench.sh` builds llama-bench.
//!
//! cargo run --release -p understudy-backend --example bench_llama -- --llama-bench PATH
//!     [--rounds N] [--threads N] [--gen N] MODEL...
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use futures::StreamExt;
use understudy_backend::catalog;
use understudy_backend::embedded::{EmbeddedBackend, EmbeddedOptions};
use understudy_backend::install::{self, Silent};
use understudy_backend::Backend;
use understudy_core::{ChatMessage, ChatRequest, StreamEvent};

const CONTEXT: u32 = 2048;

/// About 500 prompt tokens once templated: a numbered list the model is asked to continue, so
/// that it keeps generating for the whole `--gen` budget.
fn prompt() -> String {
    let mut text = String::from(
        "Here is the start of a numbered list of short facts about lighthouses. Continue it with \
         at least sixty more numbered facts in the same style, one per line.\n\n",
    );
    let facts = [
        "A lighthouse marks a dangerous coast or a safe entry to a harbour.",
        "Its light turns so that ships see a flash at a known interval.",
        "Each lighthouse has its own pattern of flashes, called its character.",
        "Keepers once trimmed wicks and wound clockwork every few hours at night.",
        "Fresnel lenses bend light from a small lamp into a strong, narrow beam.",
    ];
    for i in 0..19 {
        text.push_str(&format!("{}. {}\n", i + 1, facts[i % facts.len()]));
    }
    text
}

struct Sample {
    prompt_tokens: u32,
    prompt_tps: f64,
    decode_tps: f64,
    generated: u32,
}

async fn ours_run(backend: &EmbeddedBackend, name: &str, generate: u32) -> Sample {
    let request = ChatRequest {
        max_tokens: Some(generate),
        temperature: Some(0.0),
        ..ChatRequest::new(name, vec![ChatMessage::user(prompt())])
    }
    .validate()
    .unwrap();
    let mut stream = backend.chat_stream(request).await.unwrap();
    while let Some(event) = stream.next().await {
        if let StreamEvent::End(end) = event.unwrap() {
            return Sample {
                prompt_tokens: end.usage.prompt_tokens,
                prompt_tps: end.timing.prompt_tokens_per_s.unwrap_or(f64::NAN),
                decode_tps: end.timing.decode_tokens_per_s.unwrap_or(f64::NAN),
                generated: end.usage.completion_tokens,
            };
        }
    }
    panic!("stream ended without an end event");
}

/// One llama-bench run of one test; its mean tokens/s.
fn llama_bench(bin: &Path, gguf: &Path, threads: usize, args: &[String]) -> f64 {
    let output = Command::new(bin)
        .arg("-m")
        .arg(gguf)
        .args(["-t", &threads.to_string(), "-r", "1", "-o", "json"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    assert!(
        output.status.success(),
        "llama-bench {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("llama-bench printed no JSON ({e})"));
    rows[0]["avg_ts"]
        .as_f64()
        .unwrap_or_else(|| panic!("no avg_ts in {rows}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut take = |flag: &str| -> Option<String> {
        let i = args.iter().position(|a| a == flag)?;
        let v = args.remove(i + 1);
        args.remove(i);
        Some(v)
    };
    let bin = PathBuf::from(take("--llama-bench").expect("--llama-bench PATH is required"));
    let rounds: usize = take("--rounds").map_or(5, |v| v.parse().unwrap());
    let threads: usize = take("--threads").map_or(2, |v| v.parse().unwrap());
    let generate: u32 = take("--gen").map_or(128, |v| v.parse().unwrap());
    let models = if args.is_empty() {
        vec!["smollm2-135m".to_string()]
    } else {
        args
    };
    let home = std::env::var_os("UNDERSTUDY_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/understudy"));
    println!(
        "bench_llama: {rounds} alternating rounds, {threads} threads, up to {generate} new tokens"
    );
    println!(
        "{:<22} {:>6} {:>11} {:>11} {:>8} {:>11} {:>11} {:>8}",
        "model",
        "pp",
        "l-b pp t/s",
        "ours pp t/s",
        "pp ratio",
        "l-b tg t/s",
        "ours tg t/s",
        "tg ratio"
    );
    for name in models {
        let known = catalog::find(&name).unwrap_or_else(|| panic!("{name} is not a default model"));
        let gguf = install::install(&known, &home, install::DEFAULT_INDEX_URL, &Silent)
            .await
            .unwrap();
        let ours = EmbeddedBackend::new(EmbeddedOptions {
            home: home.clone(),
            index_url: install::DEFAULT_INDEX_URL.into(),
            threads: threads as u32,
            context_length: Some(CONTEXT),
            progress: Arc::new(Silent),
        });
        ours.load(&name).await.unwrap();
        // Warm-up, not counted; it also fixes the prompt length llama-bench is given.
        let warm = ours_run(&ours, &name, generate).await;
        let pp = warm.prompt_tokens;
        let pp_args = vec!["-p".into(), pp.to_string(), "-n".into(), "0".into()];
        let tg_args = vec![
            "-p".into(),
            "0".into(),
            "-n".into(),
            generate.to_string(),
            "-d".into(),
            pp.to_string(),
        ];
        let (mut lp, mut ld, mut op, mut od) = (vec![], vec![], vec![], vec![]);
        for _ in 0..rounds {
            lp.push(llama_bench(&bin, &gguf, threads, &pp_args));
            ld.push(llama_bench(&bin, &gguf, threads, &tg_args));
            let o = ours_run(&ours, &name, generate).await;
            assert_eq!(
                o.prompt_tokens, pp,
                "the prompt must not change between rounds"
            );
            if o.generated < generate / 2 {
                eprintln!("{name}: only {} tokens generated", o.generated);
            }
            op.push(o.prompt_tps);
            od.push(o.decode_tps);
        }
        let (lp, ld, op, od) = (median(lp), median(ld), median(op), median(od));
        println!(
            "{name:<22} {pp:>6} {lp:>11.1} {op:>11.1} {:>8.3} {ld:>11.1} {od:>11.1} {:>8.3}",
            op / lp,
            od / ld
        );
    }
}
