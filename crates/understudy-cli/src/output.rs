//! Everything the CLI writes to the terminal goes through here, so the rest of the code stays
//! free of print statements. Answers go to stdout; timing, progress and errors to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

use understudy_core::ChatResponse;

/// Writes streamed answer text to stdout immediately.
pub fn answer_text(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes streamed reasoning text to stderr, so it never mixes with the answer.
pub fn reasoning_text(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\x1b[2m{text}\x1b[0m");
    let _ = err.flush();
}

/// Ends the answer line.
pub fn answer_end() {
    println!();
}

/// A line for the human on stderr.
pub fn note(line: &str) {
    eprintln!("{line}");
}

/// A prompt for interactive input, without a newline.
pub fn prompt(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{text}");
    let _ = err.flush();
}

/// A line of machine-readable output on stdout.
pub fn data_line(line: &str) {
    println!("{line}");
}

/// The one-line timing summary after an answer.
pub fn timing_line(response: &ChatResponse) {
    let t = &response.timing;
    let rate = |r: Option<f64>| {
        r.map(|v| format!("{v:.1} tok/s"))
            .unwrap_or_else(|| "n/a".into())
    };
    eprintln!(
        "[{model} · TTFT {ttft:.0} ms · decode {decode} · prompt {prompt} · {pt} prompt + {ct} completion tokens{est} · {total:.2} s total · finish {finish:?}]",
        model = response.model,
        ttft = t.ttft_ms,
        decode = rate(t.decode_tokens_per_s),
        prompt = rate(t.prompt_tokens_per_s),
        pt = response.usage.prompt_tokens,
        ct = response.usage.completion_tokens,
        est = if response.usage.estimated { " (estimated)" } else { "" },
        total = t.total_ms / 1000.0,
        finish = response.finish_reason,
    );
}

/// The single error line: the error and its causes joined, no backtrace.
pub fn error_line(err: &anyhow::Error) {
    eprintln!("error: {err:#}");
}
