//! The prefix cache: which tokens one sequence (slot) holds in the model's KV cache, and how much
//! of a new prompt can keep them instead of being processed again — llama.cpp server's
//! `cache_prompt`, in process. Eval's rows share an instruction, few-shot examples and a role
//! prompt across items; a gateway profile shares its system prompt across requests.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::token::LlamaToken;

/// Reuse stops at a multiple of this many tokens.
pub(super) const ALIGN: usize = 8;

/// How many leading tokens of `prompt` can come from a cache holding `cached`: the prefix they
/// share, less two, so that at least two tokens are processed (llama.cpp computes a batch of one
/// token with other kernels, whose floats differ), rounded down to a multiple of [`ALIGN`] (its
/// repacked weight kernels take activation rows in blocks of four and the rows left over with
/// another kernel, so the kept rows must end where a block ends in a cold prompt too).
pub(super) fn shareable(cached: &[LlamaToken], prompt: &[LlamaToken]) -> usize {
    let common = cached
        .iter()
        .zip(prompt)
        .take_while(|(cached, new)| cached == new)
        .count();
    let keep = common.min(prompt.len().saturating_sub(2));
    keep - keep % ALIGN
}

/// The tokens whose keys and values sequence `seq` holds in the context's cache, in position
/// order.
pub(super) struct PrefixCache {
    enabled: bool,
    seq: u32,
    tokens: Vec<LlamaToken>,
}

impl PrefixCache {
    pub(super) fn new(enabled: bool, seq: u32) -> Self {
        Self {
            enabled,
            seq,
            tokens: Vec::new(),
        }
    }

    /// How many leading tokens of `prompt` can stay ([`shareable`] with what this sequence
    /// holds; none when reuse is off).
    pub(super) fn reusable(&self, prompt: &[LlamaToken]) -> usize {
        if !self.enabled {
            return 0;
        }
        shareable(&self.tokens, prompt)
    }

    /// The sequence this cache belongs to.
    pub(super) fn seq(&self) -> u32 {
        self.seq
    }

    /// Whether this sequence keeps prompts for reuse at all.
    pub(super) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Takes `held`, the leading tokens that sequence `donor` holds, in place of its own:
    /// llama.cpp copies the donor's whole KV stream into this sequence's at the next decode
    /// (each sequence has a stream of its own, so the copy puts every key where the donor had
    /// it, as a cold prompt puts it), and this sequence then drops what follows `held`. Returns
    /// how many tokens it holds (0 when the cut failed and the sequence was cleared instead).
    pub(super) fn adopt(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        donor: u32,
        held: Vec<LlamaToken>,
    ) -> usize {
        let (Ok(from), Ok(to)) = (i32::try_from(donor), i32::try_from(self.seq)) else {
            return self.keep(ctx, 0);
        };
        if ctx.copy_kv_cache_seq(from, to, None, None).is_err() {
            return self.keep(ctx, 0);
        }
        let keep = held.len();
        self.tokens = held;
        self.keep(ctx, keep)
    }

    /// The tokens this sequence holds.
    pub(super) fn held(&self) -> &[LlamaToken] {
        &self.tokens
    }

    /// Keeps the first `keep` cached tokens and drops the rest of this sequence from `ctx`
    /// (generated tokens included); returns how many were kept (0 when the cache could not be
    /// cut there and the sequence was cleared instead).
    pub(super) fn keep(&mut self, ctx: &mut LlamaContext<'_>, keep: usize) -> usize {
        let cut = u32::try_from(keep)
            .ok()
            .filter(|_| keep > 0)
            .map(|at| ctx.clear_kv_cache_seq(Some(self.seq), Some(at), None));
        if let Some(Ok(true)) = cut {
            self.tokens.truncate(keep);
            return keep;
        }
        // Removing a whole sequence always succeeds.
        let _ = ctx.clear_kv_cache_seq(Some(self.seq), None, None);
        self.tokens.clear();
        0
    }

    /// Records prompt tokens just processed, after those already there. Generated tokens are
    /// not recorded: they are decoded one at a time, with the other kernels, so reusing them
    /// would not give what processing them as a prompt gives.
    pub(super) fn push(&mut self, tokens: &[LlamaToken]) {
        self.tokens.extend_from_slice(tokens);
    }

    /// Forgets what the sequence held (after a failed decode, which clears the whole context).
    pub(super) fn forget(&mut self) {
        self.tokens.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(ids: &[i32]) -> Vec<LlamaToken> {
        ids.iter().map(|&i| LlamaToken(i)).collect()
    }

    #[test]
    fn the_shared_prefix_is_reused_but_the_last_prompt_token_always_decoded() {
        let mut cache = PrefixCache::new(true, 0);
        cache.push(&tokens(&[1, 2, 3, 4, 5]));
        let cached: Vec<i32> = (1..=20).collect();
        cache.push(&tokens(&cached[5..]));
        let with = |tail: &[i32]| [&cached[..], tail].concat();
        // Diverging after 19 shared tokens: 16 kept (a multiple of 8).
        assert_eq!(
            cache.reusable(&tokens(&[&cached[..19], &[99, 98]].concat())),
            16
        );
        // The same prompt again: at most all but its last two tokens, rounded down.
        assert_eq!(cache.reusable(&tokens(&cached)), 16);
        // A longer prompt that extends what is cached (a conversation's next turn).
        assert_eq!(cache.reusable(&tokens(&with(&[21, 22, 23, 24, 25]))), 16);
        assert_eq!(
            cache.reusable(&tokens(&with(&[21, 22, 23, 24, 25, 26]))),
            16
        );
        assert_eq!(cache.reusable(&tokens(&[7, 2, 3])), 0);
        assert_eq!(cache.reusable(&tokens(&cached[..7])), 0);
    }

    #[test]
    fn a_disabled_cache_reuses_nothing() {
        let mut cache = PrefixCache::new(false, 0);
        cache.push(&tokens(&[1, 2, 3]));
        assert_eq!(cache.reusable(&tokens(&[1, 2, 3, 4])), 0);
    }
}
