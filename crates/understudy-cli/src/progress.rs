//! Progress bars for model installs and eval runs (indicatif on a terminal, plain lines
//! otherwise).

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use understudy_eval::runner::RunObserver;
use understudy_models::install::Progress;
use understudy_store::Cell;

use crate::output;

/// Draws one bar per install phase on stderr.
#[derive(Default)]
pub struct TerminalProgress {
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress for TerminalProgress {
    fn begin(&self, label: &str, total: u64) {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if bar.is_hidden() {
            output::note(&format!("{label} ({:.1} MB)...", total as f64 / 1e6));
        }
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, amount: u64) {
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.inc(amount);
            }
        }
    }

    fn end(&self) {
        if let Ok(mut slot) = self.bar.lock() {
            if let Some(bar) = slot.take() {
                let hidden = bar.is_hidden();
                bar.finish_and_clear();
                if hidden {
                    output::note("  done");
                }
            }
        }
    }

    fn note(&self, message: &str) {
        output::note(message);
    }
}

/// A progress bar with ETA and the running mean score (accuracy for right/wrong tasks).
#[derive(Default)]
pub struct RunBar {
    bar: Mutex<Option<ProgressBar>>,
    tally: Mutex<(usize, f64, usize)>,
}

impl RunObserver for RunBar {
    fn start(&self, total: usize, done: usize) {
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} cells · {msg} · {elapsed} elapsed, eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(done as u64);
        if done > 0 {
            bar.set_message(format!("resuming: {done} cells already stored"));
        }
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn cell(&self, cell: &Cell) {
        let Ok(mut tally) = self.tally.lock() else {
            return;
        };
        tally.0 += 1;
        tally.1 += cell.score;
        tally.2 += usize::from(cell.cached);
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.inc(1);
                // Without a terminal the bar is hidden: say where we are every tenth of the run.
                let total = bar.length().unwrap_or(0);
                let step = (total / 10).max(1);
                if bar.is_hidden() && (bar.position() % step == 0 || bar.position() == total) {
                    output::note(&format!(
                        "  {}/{} cells · running score {:.0}% (n={}) · {} cached · {:.0} s elapsed",
                        bar.position(),
                        total,
                        100.0 * tally.1 / tally.0 as f64,
                        tally.0,
                        tally.2,
                        bar.elapsed().as_secs_f64()
                    ));
                }
                bar.set_message(format!(
                    "running score {:.0}% (n={}) · {} cached",
                    100.0 * tally.1 / tally.0 as f64,
                    tally.0,
                    tally.2
                ));
            }
        }
    }

    fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock() {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
        }
    }
}
