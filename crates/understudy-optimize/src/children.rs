//! The children a search step makes from its parent: the teacher's reflective rewrite of the
//! instruction, bootstrapped demonstrations, the next prompt format, chain of thought switched.

use understudy_tasks::task::Item;

use crate::candidate::{Candidate, Origin};
use crate::error::OptimizeError;
use crate::measure::Measured;
use crate::reflect;
use crate::search::State;

impl State<'_, '_> {
    pub(crate) fn new_id(&mut self) -> usize {
        self.next_id += 1;
        self.next_id - 1
    }

    /// The teacher's rewrite of `parent`'s instruction from its failures on the minibatch.
    pub(crate) async fn rewrite(
        &mut self,
        parent: &Candidate,
        on_parent: &Measured,
    ) -> Result<Result<Candidate, String>, OptimizeError> {
        let failures: Vec<_> = on_parent
            .answers
            .iter()
            .filter(|a| a.score < 1.0)
            .cloned()
            .collect();
        if failures.is_empty() {
            return Ok(Err("no failures on the minibatch to learn from".into()));
        }
        let items: Vec<Item> = failures.iter().map(|a| a.item.clone()).collect();
        let teacher = self.settings.teacher.clone();
        let by_teacher = self
            .bench
            .measure(&teacher, parent, &items, &mut self.search.spent)
            .await?;
        self.demos.add(&by_teacher.answers);
        let messages = reflect::rewrite_request(
            parent.instruction.as_deref(),
            &self.bench.task().def.instruction,
            &failures,
            &by_teacher.answers,
        );
        let reply = self
            .bench
            .ask(&teacher, messages, &mut self.search.spent)
            .await?;
        let Some(instruction) = reflect::read_rewrite(&reply) else {
            return Ok(Err("the teacher's reply held no usable instruction".into()));
        };
        Ok(Ok(Candidate {
            id: self.new_id(),
            parent: Some(parent.id),
            origin: Origin::Rewrite,
            instruction: Some(instruction),
            demos: parent.demos.clone(),
            cot: parent.cot,
            format: parent.format,
        }))
    }

    /// `parent` with the next window of bootstrapped demonstrations.
    pub(crate) fn with_demos(&mut self, parent: &Candidate) -> Result<Candidate, String> {
        if self.demos.is_empty() {
            return Err("no right answers to bootstrap demonstrations from yet".into());
        }
        let demos = self.demos.pick(self.settings.demos, self.demo_turn);
        self.demo_turn += 1;
        Ok(Candidate {
            id: self.new_id(),
            parent: Some(parent.id),
            origin: Origin::Demos,
            instruction: parent.instruction.clone(),
            demos,
            cot: parent.cot,
            format: parent.format,
        })
    }

    /// `parent` in the format after its own among the searched ones.
    pub(crate) fn in_next_layout(&mut self, parent: &Candidate) -> Result<Candidate, String> {
        let formats = &self.settings.formats;
        let at = formats
            .iter()
            .position(|f| *f == parent.format)
            .unwrap_or(0);
        let format = formats[(at + 1) % formats.len()];
        if format == parent.format {
            return Err("one prompt format only".into());
        }
        Ok(Candidate {
            id: self.new_id(),
            parent: Some(parent.id),
            origin: Origin::Layout,
            format,
            ..parent.clone()
        })
    }

    /// `parent` with chain of thought switched (demonstrations show their reasoning when on).
    pub(crate) fn with_cot_flipped(&mut self, parent: &Candidate) -> Candidate {
        Candidate {
            id: self.new_id(),
            parent: Some(parent.id),
            origin: Origin::Cot,
            cot: !parent.cot,
            ..parent.clone()
        }
    }
}
