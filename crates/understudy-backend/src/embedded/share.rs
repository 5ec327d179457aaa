//! Sharing a prompt prefix across the engine's sequences: a request whose prompt another slot
//! already holds (a row's instruction and examples, a profile's system prompt) takes a copy of
//! that slot's keys instead of processing them again, and a request whose prefix another slot is
//! still processing waits for it rather than start the same work cold beside it.

use llama_cpp_2::token::LlamaToken;

use super::prefix::shareable;
use super::scheduler::Scheduler;

/// Fewest tokens a copy from another slot must save over what the chosen slot keeps itself.
/// The copy moves the donor's whole KV stream (llama.cpp copies streams whole): 96 MiB for
/// qwen2.5-coder-0.5b at 8192 tokens, milliseconds, while 64 prompt tokens take a 2-core CPU
/// most of a second.
pub(super) const SHARE_MIN: usize = 64;

impl Scheduler<'_> {
    /// Puts `prompt`'s reusable prefix into free `slot`: what the slot keeps itself, or a copy
    /// of another slot's when that saves at least [`SHARE_MIN`] more tokens. Returns how many
    /// prompt tokens the slot now holds.
    pub(super) fn take_prefix(&mut self, slot: usize, prompt: &[LlamaToken]) -> usize {
        let own = self.slots[slot].cache.reusable(prompt);
        let donor = self
            .slots
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != slot)
            .map(|(i, s)| (i, s.cache.reusable(prompt)))
            .max_by_key(|&(_, shared)| shared)
            .filter(|&(_, shared)| shared >= own + SHARE_MIN);
        match donor {
            Some((donor, shared)) => {
                let held: Vec<LlamaToken> = self.slots[donor]
                    .cache
                    .held()
                    .iter()
                    .take(shared)
                    .copied()
                    .collect();
                let seq = self.slots[donor].cache.seq();
                self.slots[slot].cache.adopt(&mut self.ctx, seq, held)
            }
            None => self.slots[slot].cache.keep(&mut self.ctx, own),
        }
    }

    /// Whether `prompt` had better wait: a running sequence still processing its prompt will
    /// hold at least [`SHARE_MIN`] more of this prompt's prefix than any slot holds now. On a
    /// CPU the two prompts would share the cores anyway, so waiting costs little and saves the
    /// shared part; the wait ends once the shared part is processed (or that request ends).
    pub(super) fn worth_waiting(&self, prompt: &[LlamaToken]) -> bool {
        if !self.slots.iter().any(|s| s.cache.enabled()) {
            return false;
        }
        let now = self
            .slots
            .iter()
            .map(|s| s.cache.reusable(prompt))
            .max()
            .unwrap_or(0);
        self.slots
            .iter()
            .filter_map(|s| s.running.as_ref())
            .filter(|sequence| sequence.prefilling())
            .any(|sequence| shareable(sequence.prompt(), prompt) >= now + SHARE_MIN)
    }
}
