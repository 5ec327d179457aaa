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

mod embedded_bench;

use std::path::{Path, PathBuf};
use std::process::Command;

use embedded_bench::{median, take};

/// About 380 prompt tokens once templated: a numbered list the model is asked to continue, so
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

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let bin =
        PathBuf::from(take(&mut args, "--llama-bench").expect("--llama-bench PATH is required"));
    let rounds: usize = take(&mut args, "--rounds").map_or(5, |v| v.parse().unwrap());
    let threads: usize = take(&mut args, "--threads").map_or(2, |v| v.parse().unwrap());
    let generate: u32 = take(&mut args, "--gen").map_or(128, |v| v.parse().unwrap());
    let models = embedded_bench::models(args);
    let prompt = prompt();
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
        let (ours, gguf) = embedded_bench::load(&name, threads).await;
        // Warm-up, not counted; it also fixes the prompt length llama-bench is given.
        let warm = embedded_bench::generate(&ours, &name, &prompt, generate).await;
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
            let o = embedded_bench::generate(&ours, &name, &prompt, generate).await;
            assert_eq!(
                o.prompt_tokens, pp,
                "the prompt must not change between rounds"
            );
            if o.generated < generate as usize / 2 {
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
