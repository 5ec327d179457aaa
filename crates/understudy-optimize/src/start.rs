//! The search's starting set: the hand-written strategies and, when the teacher got train
//! items right (bootstrap.rs), the baseline in each format with those demonstrations (and
//! chain of thought under `--bootstrap-cot`) —
//! validated while the budget pays, in an order that leaves the other hand-written strategies
//! out first; when it pays for no validation pass, the bootstrapped candidate wins unvalidated.

use crate::candidate::{Candidate, Origin};
use crate::error::OptimizeError;
use crate::search::{Evaluated, State};

/// The order the starting candidates are validated in — the baseline, the teacher-bootstrapped
/// candidates, then the other hand-written strategies — so that a budget that runs short
/// leaves out the other hand-written strategies first.
fn order(seeds: Vec<Candidate>, bootstrapped: Vec<Candidate>) -> Vec<Candidate> {
    let mut seeds = seeds.into_iter();
    seeds
        .next()
        .into_iter()
        .chain(bootstrapped)
        .chain(seeds)
        .collect()
}

impl State<'_, '_> {
    /// The teacher's demonstrations (bootstrap.rs) in every format's baseline: a child of
    /// each baseline seed; none when the teacher got no train item right. Under
    /// `bootstrap_cot` the teacher answers step by step and the children reason too, so their
    /// demonstrations show the teacher's reasoning.
    pub(crate) async fn bootstrapped(
        &mut self,
        seeds: &[Candidate],
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<Vec<Candidate>, OptimizeError> {
        let Some(baseline) = seeds.first() else {
            return Ok(Vec::new());
        };
        let cot = self.settings.bootstrap_cot;
        let program = Candidate {
            cot: cot || baseline.cot,
            ..baseline.clone()
        };
        let demos = self.teacher_demos(&program).await?;
        // The first demonstration step tries the pool's next window, not these again.
        self.demo_turn = 1;
        progress(&format!(
            "optimize: the teacher's demonstrations: {} of {} wanted ({}); {} calls spent",
            demos.len(),
            self.settings.demos,
            demos
                .iter()
                .map(|d| format!("{} → {}", d.id, d.target))
                .collect::<Vec<_>>()
                .join(", "),
            self.search.spent.calls
        ));
        if demos.is_empty() {
            return Ok(Vec::new());
        }
        let mut children = Vec::new();
        for seed in seeds.iter().filter(|s| s.origin == baseline.origin) {
            children.push(Candidate {
                id: self.new_id(),
                parent: Some(seed.id),
                origin: Origin::Demos,
                demos: demos.clone(),
                cot: cot || seed.cot,
                ..seed.clone()
            });
        }
        Ok(children)
    }

    /// Measures the starting candidates on validation, in [`order`], while the budget pays
    /// for it: the set the search starts from. Those it cannot pay for are kept as not
    /// validated.
    pub(crate) async fn measure_start(
        &mut self,
        seeds: Vec<Candidate>,
        bootstrapped: Vec<Candidate>,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<(), OptimizeError> {
        let pass = self.search.split.validation.len();
        for candidate in order(seeds, bootstrapped) {
            if !self.settings.budget.allows(&self.search.spent, pass) {
                progress(&format!(
                    "optimize: {}: not validated (a pass takes {pass} calls; {} of {} spent)",
                    candidate.label(),
                    self.search.spent.calls,
                    self.settings.budget.calls
                ));
                self.search.unvalidated.push(candidate);
                continue;
            }
            let validation = self.validate(&candidate).await?;
            progress(&format!(
                "optimize: {}: validation {:.0}/{} ({:.0} ms per item); {} calls spent",
                candidate.label(),
                validation.total(),
                validation.answers.len(),
                validation.mean_ms(),
                self.search.spent.calls
            ));
            self.search.set.push(Evaluated {
                candidate,
                validation,
            });
        }
        Ok(())
    }

    /// When the budget paid for no validation pass: the winner is the teacher-bootstrapped
    /// candidate in the first format (DSPy's BootstrapFewShot result), else the baseline.
    pub(crate) fn choose_unvalidated(&mut self) {
        let search = &mut self.search;
        let chosen = search
            .unvalidated
            .iter()
            .find(|c| c.origin == Origin::Demos)
            .or_else(|| search.unvalidated.first())
            .map(|c| (c.id, c.label()));
        let Some((id, label)) = chosen else {
            return;
        };
        search.chosen = Some(id);
        search.stopped = format!(
            "budget: {} of {} calls spent and a validation pass takes {}, so nothing was validated; the winner, {label}, was chosen without validation",
            search.spent.calls,
            self.settings.budget.calls,
            search.split.validation.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_tasks::strategy::{Format, Strategy};

    #[test]
    fn the_bootstrapped_candidates_are_validated_right_after_the_baseline() {
        let seeds: Vec<Candidate> = ["zero-shot", "role", "cot"]
            .iter()
            .enumerate()
            .filter_map(|(id, name)| {
                let strategy = Strategy::parse(name).ok()?;
                Some(Candidate::seed(
                    id,
                    &strategy,
                    Format::Plain,
                    "Be exact.",
                    &[],
                ))
            })
            .collect();
        let boot = Candidate {
            id: 3,
            parent: Some(0),
            origin: Origin::Demos,
            ..seeds[0].clone()
        };
        let ids: Vec<usize> = order(seeds, vec![boot]).iter().map(|c| c.id).collect();
        assert_eq!(ids, [0, 3, 1, 2]);
    }
}
