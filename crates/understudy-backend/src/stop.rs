//! Stop sequences over streamed text: holds back text that might be the start of a stop string
//! and reports when one is complete. Used by backends that generate locally.

/// Streaming matcher of stop sequences.
#[derive(Debug, Clone)]
pub struct StopMatcher {
    stops: Vec<String>,
    pending: String,
}

/// The outcome of feeding text to a [`StopMatcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopStep {
    /// Text that is safe to emit.
    pub emit: String,
    /// A stop sequence was found: generation must end and the rest is dropped.
    pub stopped: bool,
}

impl StopMatcher {
    pub fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            pending: String::new(),
        }
    }

    /// Feeds newly generated text.
    pub fn push(&mut self, text: &str) -> StopStep {
        self.pending.push_str(text);
        if self.stops.is_empty() {
            return StopStep {
                emit: std::mem::take(&mut self.pending),
                stopped: false,
            };
        }
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|s| self.pending.find(s.as_str()))
            .min()
        {
            let emit = self.pending[..at].to_string();
            self.pending.clear();
            return StopStep {
                emit,
                stopped: true,
            };
        }
        let keep = self
            .stops
            .iter()
            .map(|s| held_back(&self.pending, s))
            .max()
            .unwrap_or(0);
        let cut = self.pending.len() - keep;
        let emit = self.pending[..cut].to_string();
        self.pending.drain(..cut);
        StopStep {
            emit,
            stopped: false,
        }
    }

    /// Text still held back when generation ends for another reason.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `stop`.
fn held_back(text: &str, stop: &str) -> usize {
    (1..stop.len())
        .rev()
        .find(|&n| {
            n <= text.len()
                && text.is_char_boundary(text.len() - n)
                && stop.starts_with(&text[text.len() - n..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_across_chunks_and_drops_the_rest() {
        let mut m = StopMatcher::new(&["\n\nQ:".to_string()]);
        let mut out = String::new();
        let mut stopped = false;
        for chunk in ["The answer", " is 4.\n", "\nQ", ": next", " question"] {
            let step = m.push(chunk);
            out.push_str(&step.emit);
            if step.stopped {
                stopped = true;
                break;
            }
        }
        assert!(stopped);
        assert_eq!(out, "The answer is 4.");
    }

    #[test]
    fn false_start_is_released() {
        let mut m = StopMatcher::new(&["END".to_string()]);
        assert_eq!(m.push("xEN").emit, "x");
        assert_eq!(m.push("D?").emit, "");
        let mut m = StopMatcher::new(&["END".to_string()]);
        m.push("EN");
        assert_eq!(m.push("X").emit, "ENX");
        assert_eq!(m.finish(), "");
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        let mut m = StopMatcher::new(&["b".to_string(), "a".to_string()]);
        let step = m.push("xxaxb");
        assert_eq!(step.emit, "xx");
        assert!(step.stopped);
    }
}
