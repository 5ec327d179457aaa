//! The prefix cache: which tokens sit in the model's KV cache (sequence 0), and how much of a
//! new prompt can keep them instead of being processed again — llama.cpp server's
//! `cache_prompt`, in process. Eval's rows share an instruction, few-shot examples and a role
//! prompt across items; a gateway profile shares its system prompt across requests.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::token::LlamaToken;

/// The tokens whose keys and values are in the context's cache, in position order.
pub(super) struct PrefixCache {
    enabled: bool,
    tokens: Vec<LlamaToken>,
}

impl PrefixCache {
    pub(super) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            tokens: Vec::new(),
        }
    }

    /// How many leading tokens of `prompt` can stay: the prefix shared with the cache, less
    /// one, so that the prompt's last token is always decoded again for its logits.
    pub(super) fn reusable(&self, prompt: &[LlamaToken]) -> usize {
        if !self.enabled {
            return 0;
        }
        let common = self
            .tokens
            .iter()
            .zip(prompt)
            .take_while(|(cached, new)| cached == new)
            .count();
        common.min(prompt.len().saturating_sub(1))
    }

    /// Keeps the first `keep` cached tokens and drops the rest from `ctx`; returns how many were
    /// kept (0 when the cache could not be cut there and was cleared instead).
    pub(super) fn keep(&mut self, ctx: &mut LlamaContext<'_>, keep: usize) -> usize {
        let cut = u32::try_from(keep)
            .ok()
            .filter(|_| keep > 0)
            .map(|at| ctx.clear_kv_cache_seq(Some(0), Some(at), None));
        if let Some(Ok(true)) = cut {
            self.tokens.truncate(keep);
            return keep;
        }
        self.forget(ctx);
        0
    }

    /// Records tokens just decoded into the cache, after those already there.
    pub(super) fn push(&mut self, tokens: &[LlamaToken]) {
        self.tokens.extend_from_slice(tokens);
    }

    /// Clears the cache (after a failed decode its content is unknown).
    pub(super) fn forget(&mut self, ctx: &mut LlamaContext<'_>) {
        ctx.clear_kv_cache();
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
        let mut cache = PrefixCache::new(true);
        cache.push(&tokens(&[1, 2, 3, 4, 5]));
        assert_eq!(cache.reusable(&tokens(&[1, 2, 3, 9, 9])), 3);
        // The same prompt again: all but its last token.
        assert_eq!(cache.reusable(&tokens(&[1, 2, 3, 4, 5])), 4);
        // A longer prompt that extends what is cached (a conversation's next turn).
        assert_eq!(cache.reusable(&tokens(&[1, 2, 3, 4, 5, 6, 7])), 5);
        assert_eq!(cache.reusable(&tokens(&[7, 2, 3])), 0);
        assert_eq!(cache.reusable(&tokens(&[1])), 0);
    }

    #[test]
    fn a_disabled_cache_reuses_nothing() {
        let mut cache = PrefixCache::new(false);
        cache.push(&tokens(&[1, 2, 3]));
        assert_eq!(cache.reusable(&tokens(&[1, 2, 3, 4])), 0);
    }
}
