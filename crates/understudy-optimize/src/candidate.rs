//! A candidate prompt for the local model: an instruction (the system prompt the `role`
//! component sends), demonstrations (few-shot turns, with worked reasoning under CoT), the
//! chain-of-thought switch and the prompt format. Each is measured as an eval row — the task with the demonstrations
//! as its pool, strategy `role+few-shot:K+cot` and the instruction as the role prompt — so the
//! program stored with its cells is exactly what a profile serves.

use serde::Serialize;

use understudy_tasks::strategy::{Component, Format, Strategy, MAX_COUNT};
use understudy_tasks::task::{Item, LoadedTask};

/// How a candidate came about.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A hand-written strategy, as `eval --strategies` runs it.
    Seed { strategy: String },
    /// The teacher rewrote the parent's instruction from its failures on a minibatch.
    Rewrite,
    /// The parent with demonstrations bootstrapped from answers that scored right.
    Demos,
    /// The parent with one demonstration fewer or one more.
    Count,
    /// The parent with its demonstrations in another order.
    Order,
    /// The parent in another prompt format.
    Layout,
    /// The parent with chain of thought switched on or off.
    Cot,
}

/// One point of the search.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub id: usize,
    pub parent: Option<usize>,
    pub origin: Origin,
    /// The system prompt added after the task's own (`None`: the task's own alone).
    pub instruction: Option<String>,
    /// Demonstrations in the order sent (nearest the input last).
    pub demos: Vec<Item>,
    pub cot: bool,
    /// The layout of the prompt (plain, markdown, json, yaml, fields).
    #[serde(serialize_with = "format_name")]
    pub format: Format,
}

fn format_name<S: serde::Serializer>(f: &Format, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(f.as_str())
}

impl Candidate {
    /// The hand-written strategy `strategy` as a candidate: the role prompt as its instruction
    /// and the first K pool rows as its demonstrations, as eval sends them.
    pub fn seed(
        id: usize,
        strategy: &Strategy,
        format: Format,
        role_prompt: &str,
        pool: &[Item],
    ) -> Self {
        Candidate {
            id,
            parent: None,
            origin: Origin::Seed {
                strategy: strategy.to_string(),
            },
            instruction: strategy.role().then(|| role_prompt.to_string()),
            demos: pool.iter().take(strategy.few_shot()).cloned().collect(),
            cot: strategy.cot(),
            format,
        }
    }

    /// The eval strategy this candidate runs as.
    pub fn strategy(&self) -> Strategy {
        let mut components = Vec::new();
        if self.instruction.is_some() {
            components.push(Component::Role);
        }
        if !self.demos.is_empty() {
            components.push(Component::FewShot(self.demos.len().min(MAX_COUNT)));
        }
        if self.cot {
            components.push(Component::Cot);
        }
        if components.is_empty() {
            components.push(Component::ZeroShot);
        }
        Strategy { components }
    }

    /// `task` asking `items`, with this candidate's demonstrations as its few-shot pool.
    pub fn task_for(&self, task: &LoadedTask, items: &[Item]) -> LoadedTask {
        LoadedTask {
            items: items.to_vec(),
            pool: self.demos.iter().take(MAX_COUNT).cloned().collect(),
            ..task.clone()
        }
    }

    /// A short name for tables: `#3 rewrite of #1 (role)`; the format when it is not plain.
    pub fn label(&self) -> String {
        let label = self.origin_label();
        match self.format {
            Format::Plain => label,
            other => format!("{label} [{}]", other.as_str()),
        }
    }

    fn origin_label(&self) -> String {
        match (&self.origin, self.parent) {
            (Origin::Seed { strategy }, _) => format!("#{} {strategy}", self.id),
            (Origin::Rewrite, Some(p)) => {
                format!("#{} rewrite of #{p} ({})", self.id, self.strategy())
            }
            (Origin::Demos, Some(p)) => format!(
                "#{} #{p} with {} bootstrapped demos ({})",
                self.id,
                self.demos.len(),
                self.strategy()
            ),
            (Origin::Count, Some(p)) => format!(
                "#{} #{p} with {} demo{} ({})",
                self.id,
                self.demos.len(),
                if self.demos.len() == 1 { "" } else { "s" },
                self.strategy()
            ),
            (Origin::Order, Some(p)) => format!(
                "#{} #{p} with its demos reordered ({})",
                self.id,
                self.strategy()
            ),
            (Origin::Layout, Some(p)) => format!(
                "#{} #{p} in {} ({})",
                self.id,
                self.format.as_str(),
                self.strategy()
            ),
            (Origin::Cot, Some(p)) => format!(
                "#{} #{p} with chain of thought {} ({})",
                self.id,
                if self.cot { "on" } else { "off" },
                self.strategy()
            ),
            (_, None) => format!("#{}", self.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> Item {
        Item {
            id: id.into(),
            question: "q".into(),
            target: "a".into(),
            ..Item::default()
        }
    }

    #[test]
    fn a_seed_runs_as_the_strategy_it_came_from() {
        let pool = vec![item("p1"), item("p2"), item("p3")];
        for name in [
            "zero-shot",
            "role",
            "cot",
            "role+cot",
            "few-shot:2",
            "role+few-shot:3+cot",
        ] {
            let s = Strategy::parse(name).unwrap();
            let c = Candidate::seed(0, &s, Format::Plain, "Be exact.", &pool);
            assert_eq!(c.strategy().to_string(), name);
        }
        let c = Candidate::seed(
            0,
            &Strategy::parse("role+few-shot:2").unwrap(),
            Format::Markdown,
            "Be exact.",
            &pool,
        );
        assert!(c.label().ends_with("[markdown]"), "{}", c.label());
        assert_eq!(c.instruction.as_deref(), Some("Be exact."));
        let ids: Vec<&str> = c.demos.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["p1", "p2"]);
    }
}
