//! Everything the CLI writes to the terminal goes through here, so the rest of the code stays
//! free of print statements. Answers go to stdout; timing, progress and errors to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

use understudy_core::ChatResponse;

/// Writes to stdout now. A reader that went away (`| head -1`, `| true`) is normal use, not an
/// error: the command stops quietly with success, as ripgrep and coreutils do. (Rust ignores
/// SIGPIPE, so without this `println!` would panic with "Broken pipe".)
fn stdout_write(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let result = out.write_all(bytes).and_then(|()| out.flush());
    if let Err(err) = result {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// Writes streamed answer text to stdout immediately.
pub fn answer_text(text: &str) {
    stdout_write(text.as_bytes());
}

/// Writes streamed reasoning text to stderr, so it never mixes with the answer.
pub fn reasoning_text(text: &str) {
    use std::io::IsTerminal;
    let mut err = std::io::stderr().lock();
    if err.is_terminal() {
        let _ = write!(err, "\x1b[2m{text}\x1b[0m");
    } else {
        let _ = write!(err, "{text}");
    }
    let _ = err.flush();
}

/// Ends the answer line.
pub fn answer_end() {
    stdout_write(b"\n");
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
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    stdout_write(&bytes);
}

/// The one-line timing summary after an answer.
pub fn timing_line(response: &ChatResponse, threads: Option<u32>) {
    let t = &response.timing;
    let rate = |r: Option<f64>| {
        r.map(|v| format!("{v:.1} tok/s"))
            .unwrap_or_else(|| "n/a".into())
    };
    eprintln!(
        "[{model}{threads} · TTFT {ttft:.0} ms · decode {decode} · prompt {prompt} · {pt} prompt + {ct} completion tokens{est} · {total:.2} s total · finish {finish:?}]",
        model = response.model,
        threads = threads
            .map(|n| format!(" · {n} thread{}", if n == 1 { "" } else { "s" }))
            .unwrap_or_default(),
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

/// `n` with the singular or plural noun: "1 model", "3 strategies".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The single error line: the error and its causes joined, no backtrace.
pub fn error_line(err: &anyhow::Error) {
    eprintln!("error: {}", error_text(err));
}

/// The error and its causes joined with ": ", leaving out a cause whose words the line already
/// holds (many errors put their source in their own message: "unable to open database file"
/// should be said once, not twice).
pub fn error_text(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("store x.db: {source}")]
    struct Wrapped {
        source: std::io::Error,
    }

    #[test]
    fn counts_take_the_right_noun() {
        assert_eq!(plural(1, "strategy", "strategies"), "1 strategy");
        assert_eq!(plural(0, "strategy", "strategies"), "0 strategies");
        assert_eq!(plural(2, "chunk", "chunks"), "2 chunks");
    }

    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let err = anyhow::Error::new(Wrapped {
            source: std::io::Error::other("unable to open database file"),
        });
        assert_eq!(error_text(&err), "store x.db: unable to open database file");
        let err = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_text(&err), "outer: inner");
    }
}
