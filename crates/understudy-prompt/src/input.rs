//! One input to a templated prompt: the question and, for multiple choice, its lettered
//! options. Eval builds it from an item; the gateway reads it back from the client's text with
//! [`Input::parse`], so both see the same options.

/// A question and its options (`A. text` lines).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Input {
    pub question: String,
    pub options: Vec<(char, String)>,
}

impl Input {
    pub fn new(question: impl Into<String>, options: Vec<(char, String)>) -> Self {
        Self {
            question: question.into(),
            options,
        }
    }

    /// The text the model (and a gateway client) sees: the question, then one `A. text` line per
    /// option.
    pub fn text(&self) -> String {
        if self.options.is_empty() {
            return self.question.clone();
        }
        let options: Vec<String> = self
            .options
            .iter()
            .map(|(l, t)| format!("{l}. {t}"))
            .collect();
        format!("{}\n{}", self.question, options.join("\n"))
    }

    /// Reads a text written by [`Input::text`] back: the trailing lines `A. …`, `B. …` (letters in
    /// order from A, at least two) are the options; anything else is all question.
    pub fn parse(text: &str) -> Self {
        let lines: Vec<&str> = text.split('\n').collect();
        let option = |line: &str| -> Option<(char, String)> {
            let mut chars = line.chars();
            let letter = chars.next().filter(char::is_ascii_uppercase)?;
            let rest = chars.as_str().strip_prefix(". ")?;
            Some((letter, rest.to_string()))
        };
        let mut options: Vec<(char, String)> = Vec::new();
        for line in lines.iter().skip(1).rev() {
            match option(line) {
                Some(o) => options.push(o),
                None => break,
            }
        }
        options.reverse();
        let lettered_from_a = options
            .iter()
            .enumerate()
            .all(|(i, (l, _))| u32::from(*l) == u32::from('A') + i as u32);
        if options.len() < 2 || !lettered_from_a {
            return Self::new(text, Vec::new());
        }
        let question = lines[..lines.len() - options.len()].join("\n");
        Self::new(question, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_back_as_written() {
        let input = Input::new(
            "Which is a prime?\nPick one.",
            vec![('A', "4".into()), ('B', "7".into()), ('C', "9".into())],
        );
        assert_eq!(Input::parse(&input.text()), input);
        let plain = Input::new("A. one line only", Vec::new());
        assert_eq!(Input::parse(&plain.text()), plain);
        let not_from_a = "q\nB. x\nC. y";
        assert_eq!(Input::parse(not_from_a), Input::new(not_from_a, Vec::new()));
    }
}
