//! The search's budget, in model calls and tokens. Every call the search asks for counts —
//! a cached one too, because it was spent when first made — so a rerun replays the same
//! search instead of going further; how many calls were fresh is reported beside it.

use serde::Serialize;

/// The most the search may spend (the test-split measurement after it is not counted).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Budget {
    pub calls: usize,
    pub tokens: Option<u64>,
}

/// What has been spent.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Spent {
    pub calls: usize,
    /// Prompt plus completion tokens.
    pub tokens: u64,
    /// Calls a model answered in this invocation (the rest came from the response cache).
    pub fresh: usize,
}

impl Spent {
    pub fn add(&mut self, calls: usize, tokens: u64, fresh: usize) {
        self.calls += calls;
        self.tokens += tokens;
        self.fresh += fresh;
    }
}

impl Budget {
    /// Whether `calls` more calls fit after `spent`.
    pub fn allows(&self, spent: &Spent, calls: usize) -> bool {
        spent.calls + calls <= self.calls && self.tokens.is_none_or(|t| spent.tokens < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_tokens_both_bound_the_search() {
        let b = Budget {
            calls: 10,
            tokens: Some(1000),
        };
        let mut s = Spent::default();
        assert!(b.allows(&s, 10));
        assert!(!b.allows(&s, 11));
        s.add(4, 1000, 0);
        assert!(!b.allows(&s, 1), "the token budget is spent");
    }
}
