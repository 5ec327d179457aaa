//! The search: the starting set (start.rs: the hand-written strategies, and the baseline with
//! the teacher's bootstrapped demonstrations) is measured on validation first; then each step picks
//! a parent from the per-item Pareto set, measures it on a minibatch of train items, and makes a
//! child (see children.rs and demo_shape.rs) — in turn the teacher's rewrite of its instruction
//! from the minibatch's failures, the parent with demonstrations bootstrapped from right answers,
//! with one demonstration fewer or more, with its demonstrations in another order, in the next
//! prompt format, and with chain of thought switched. A child
//! that beats its parent on the minibatch is measured on validation and joins the set. It
//! stops when the budget would be overrun.

use serde::Serialize;

use understudy_tasks::strategy::{Format, Strategy};
use understudy_tasks::task::Item;

use crate::budget::{Budget, Spent};
use crate::candidate::Candidate;
use crate::demos::DemoPool;
use crate::error::OptimizeError;
use crate::measure::{Bench, Measured};
use crate::pareto::{self, Point};
use crate::split::Split;

/// What the search is asked to do.
#[derive(Debug, Clone)]
pub struct Settings {
    pub student: String,
    pub teacher: String,
    pub budget: Budget,
    /// Train items per step.
    pub minibatch: usize,
    /// Demonstrations a demonstration step puts in.
    pub demos: usize,
    /// The teacher's demonstrations are made, and its bootstrapped candidates run, with chain
    /// of thought (the demonstrations then show the teacher's reasoning).
    pub bootstrap_cot: bool,
    /// The hand-written strategies the search starts from (and the test compares against).
    pub seeds: Vec<Strategy>,
    /// Prompt formats: every seed runs in the first; the first seed (the baseline) also in
    /// each of the others.
    pub formats: Vec<Format>,
}

/// A candidate measured on validation.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub candidate: Candidate,
    pub validation: Measured,
}

impl Evaluated {
    pub fn point(&self) -> Point {
        Point {
            id: self.candidate.id,
            scores: self.validation.scores(),
            mean_ms: self.validation.mean_ms(),
        }
    }
}

/// One step of the search, as the page's trace shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub parent: usize,
    pub child: Option<usize>,
    pub kind: &'static str,
    /// Right answers on the minibatch: parent, child.
    pub minibatch: (f64, Option<f64>),
    pub size: usize,
    pub accepted: bool,
    pub note: String,
    pub spent: Spent,
}

/// The search's result.
#[derive(Debug, Clone)]
pub struct Search {
    pub split: Split,
    /// Every candidate measured on validation, in the order measured.
    pub set: Vec<Evaluated>,
    /// Children made but not accepted (measured on a minibatch only).
    pub rejected: Vec<Candidate>,
    /// Starting candidates the budget could not pay a validation pass for.
    pub unvalidated: Vec<Candidate>,
    /// The winner when none could be validated: the teacher-bootstrapped candidate (else the
    /// baseline), chosen without validation as DSPy's BootstrapFewShot chooses.
    pub chosen: Option<usize>,
    pub steps: Vec<Step>,
    pub spent: Spent,
    pub stopped: String,
}

impl Search {
    pub fn points(&self) -> Vec<Point> {
        self.set.iter().map(Evaluated::point).collect()
    }

    pub fn get(&self, id: usize) -> Option<&Evaluated> {
        self.set.iter().find(|e| e.candidate.id == id)
    }

    /// Candidate `id`, validated or not.
    pub fn candidate(&self, id: usize) -> Option<&Candidate> {
        self.get(id)
            .map(|e| &e.candidate)
            .or_else(|| self.unvalidated.iter().find(|c| c.id == id))
    }
}

/// Whether `a` and `b` send the same program.
fn same(a: &Candidate, b: &Candidate) -> bool {
    a.instruction == b.instruction
        && a.cot == b.cot
        && a.format == b.format
        && a.demos
            .iter()
            .map(|d| &d.id)
            .eq(b.demos.iter().map(|d| &d.id))
}

pub(crate) struct State<'b, 'a> {
    pub(crate) bench: &'b Bench<'a>,
    pub(crate) settings: &'b Settings,
    pub(crate) search: Search,
    pub(crate) demos: DemoPool,
    pub(crate) next_id: usize,
    cursor: usize,
    pub(crate) demo_turn: usize,
    pub(crate) count_turn: usize,
    pub(crate) order_turn: usize,
}

/// What a step changes in its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepKind {
    /// The teacher rewrites the instruction from the parent's failures.
    Rewrite,
    /// Bootstrapped demonstrations replace the parent's.
    Demos,
    /// One demonstration fewer or one more.
    Count,
    /// The parent's demonstrations in another order.
    Order,
    /// The parent in the next prompt format.
    Layout,
    /// Chain of thought switched.
    Cot,
}

impl StepKind {
    fn name(self) -> &'static str {
        match self {
            Self::Rewrite => "rewrite",
            Self::Demos => "demos",
            Self::Count => "count",
            Self::Order => "order",
            Self::Layout => "layout",
            Self::Cot => "cot",
        }
    }
}

/// The kinds of step the search takes in turn: rewrite, demonstrations, their number and their
/// order always (see `kind_for` for a parent whose order cannot change); the layout
/// when several formats are searched; chain of thought switched when the seeds have it both
/// on and off (so a search asked not to try CoT never pays for it).
pub(crate) fn step_kinds(settings: &Settings) -> Vec<StepKind> {
    let mut kinds = vec![
        StepKind::Rewrite,
        StepKind::Demos,
        StepKind::Count,
        StepKind::Order,
    ];
    if settings.formats.len() > 1 {
        kinds.push(StepKind::Layout);
    }
    let cot: Vec<bool> = settings.seeds.iter().map(Strategy::cot).collect();
    if cot.contains(&true) && cot.contains(&false) {
        kinds.push(StepKind::Cot);
    }
    kinds
}

/// The kind of step `turn` takes on `parent`: a parent with fewer than two demonstrations,
/// whose order cannot change, gets bootstrapped demonstrations on its order turn instead.
fn kind_for(settings: &Settings, turn: usize, parent: &Candidate) -> StepKind {
    let kinds = step_kinds(settings);
    match kinds[turn % kinds.len()] {
        StepKind::Order if parent.demos.len() < 2 => StepKind::Demos,
        kind => kind,
    }
}

/// The most calls one step makes: the parent and the child on the minibatch, the teacher on
/// the parent's failures, the teacher's rewrite, and the child's validation pass should it win —
/// so a step that starts can always validate what it finds, and no call goes to a child that
/// could never be chosen.
fn step_cost(settings: &Settings, validation: usize) -> usize {
    3 * settings.minibatch + 1 + validation
}

/// The hand-written candidates: every seed strategy (that the pool has examples for) in the
/// first format, then the baseline in each other format.
fn seeds(bench: &Bench<'_>, settings: &Settings) -> Vec<Candidate> {
    let task = bench.task();
    let first = settings.formats.first().copied().unwrap_or(Format::Plain);
    let mut rows: Vec<(&Strategy, Format)> = settings
        .seeds
        .iter()
        .filter(|s| s.few_shot() <= task.pool.len())
        .map(|s| (s, first))
        .collect();
    if let Some(baseline) = settings.seeds.first() {
        rows.extend(settings.formats.iter().skip(1).map(|f| (baseline, *f)));
    }
    rows.into_iter()
        .enumerate()
        .map(|(id, (s, f))| Candidate::seed(id, s, f, &bench.base.role_prompt, &task.pool))
        .collect()
}

/// Runs the search on the bench's task; `progress` hears one line per step.
pub async fn search(
    bench: &Bench<'_>,
    settings: &Settings,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Search, OptimizeError> {
    let task = bench.task();
    let split = Split::of(task);
    if let Some(why) = split.too_small(&task.def.name) {
        return Err(OptimizeError::Config(why));
    }
    let seeds = seeds(bench, settings);
    let mut state = State {
        bench,
        settings,
        next_id: seeds.len(),
        search: Search {
            split,
            set: Vec::new(),
            rejected: Vec::new(),
            unvalidated: Vec::new(),
            chosen: None,
            steps: Vec::new(),
            spent: Spent::default(),
            stopped: String::new(),
        },
        demos: DemoPool::default(),
        cursor: 0,
        demo_turn: 0,
        count_turn: 0,
        order_turn: 0,
    };
    let bootstrapped = state.bootstrapped(&seeds, progress).await?;
    state.measure_start(seeds, bootstrapped, progress).await?;
    if state.search.set.is_empty() {
        state.choose_unvalidated();
        return Ok(state.search);
    }
    let cost = step_cost(settings, state.search.split.validation.len());
    for turn in 0.. {
        if !settings.budget.allows(&state.search.spent, cost) {
            state.search.stopped = format!(
                "budget: {} of {} calls spent, the next step needs up to {}",
                state.search.spent.calls, settings.budget.calls, cost
            );
            break;
        }
        let step = state.step(turn).await?;
        progress(&step_line(turn, &step));
        state.search.steps.push(step);
    }
    Ok(state.search)
}

/// The progress line of one step.
fn step_line(turn: usize, step: &Step) -> String {
    format!(
        "optimize: step {}: {} of #{}: minibatch {:.0} → {}{}; {} calls spent",
        turn + 1,
        step.kind,
        step.parent,
        step.minibatch.0,
        step.minibatch
            .1
            .map(|c| format!("{c:.0}"))
            .unwrap_or_else(|| "-".into()),
        if step.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", step.note)
        },
        step.spent.calls
    )
}

impl State<'_, '_> {
    pub(crate) async fn validate(&mut self, c: &Candidate) -> Result<Measured, OptimizeError> {
        let items = self.search.split.validation.clone();
        self.bench
            .measure(&self.settings.student, c, &items, &mut self.search.spent)
            .await
    }

    /// The next `minibatch` train items, cycling.
    fn minibatch(&mut self) -> Vec<Item> {
        let train = &self.search.split.train;
        let n = self.settings.minibatch.min(train.len());
        let batch = (0..n)
            .map(|i| train[(self.cursor + i) % train.len()].clone())
            .collect();
        self.cursor = (self.cursor + n) % train.len();
        batch
    }

    async fn step(&mut self, turn: usize) -> Result<Step, OptimizeError> {
        let parent_id = pareto::parent(&self.search.points(), turn).unwrap_or(0);
        let parent = self
            .search
            .get(parent_id)
            .map(|e| e.candidate.clone())
            .ok_or_else(|| OptimizeError::Config(format!("no candidate #{parent_id}")))?;
        let batch = self.minibatch();
        let student = self.settings.student.clone();
        let on_parent = self
            .bench
            .measure(&student, &parent, &batch, &mut self.search.spent)
            .await?;
        self.demos.add(&on_parent.answers);
        let kind = kind_for(self.settings, turn, &parent);
        let mut step = Step {
            parent: parent_id,
            child: None,
            kind: kind.name(),
            minibatch: (on_parent.total(), None),
            size: batch.len(),
            accepted: false,
            note: String::new(),
            spent: self.search.spent,
        };
        let child = match kind {
            StepKind::Rewrite => self.rewrite(&parent, &on_parent).await?,
            StepKind::Demos => self.with_demos(&parent),
            StepKind::Count => self.with_other_count(&parent),
            StepKind::Order => self.with_demos_reordered(&parent),
            StepKind::Layout => self.in_next_layout(&parent),
            StepKind::Cot => Ok(self.with_cot_flipped(&parent)),
        };
        let child = match child {
            Ok(c) => c,
            Err(note) => {
                step.note = note;
                step.spent = self.search.spent;
                return Ok(step);
            }
        };
        let known = self.search.set.iter().map(|e| &e.candidate);
        if let Some(twin) = known.chain(&self.search.rejected).find(|c| same(c, &child)) {
            step.note = format!("same program as #{}", twin.id);
            step.spent = self.search.spent;
            return Ok(step);
        }
        let on_child = self
            .bench
            .measure(&student, &child, &batch, &mut self.search.spent)
            .await?;
        step.child = Some(child.id);
        step.minibatch.1 = Some(on_child.total());
        step.accepted = on_child.total() > on_parent.total()
            && self
                .settings
                .budget
                .allows(&self.search.spent, self.search.split.validation.len());
        if step.accepted {
            let validation = self.validate(&child).await?;
            step.note = format!(
                "validation {:.0}/{}",
                validation.total(),
                validation.answers.len()
            );
            self.search.set.push(Evaluated {
                candidate: child,
                validation,
            });
        } else {
            if on_child.total() > on_parent.total() {
                step.note = "no budget left to validate it".into();
            }
            self.search.rejected.push(child);
        }
        step.spent = self.search.spent;
        Ok(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(seeds: &[&str], formats: &[Format]) -> Settings {
        Settings {
            student: "s".into(),
            teacher: "t".into(),
            budget: Budget {
                calls: 10,
                tokens: None,
            },
            minibatch: 4,
            demos: 3,
            bootstrap_cot: false,
            seeds: seeds
                .iter()
                .filter_map(|s| Strategy::parse(s).ok())
                .collect(),
            formats: formats.to_vec(),
        }
    }

    #[test]
    fn layout_and_cot_steps_come_only_when_there_is_something_to_switch() {
        use StepKind::*;
        let plain = settings(&["zero-shot", "role"], &[Format::Plain]);
        assert_eq!(step_kinds(&plain), [Rewrite, Demos, Count, Order]);
        let both = settings(&["zero-shot", "cot"], &[Format::Plain, Format::Fields]);
        assert_eq!(
            step_kinds(&both),
            [Rewrite, Demos, Count, Order, Layout, Cot]
        );
        let all_cot = settings(&["cot", "role+cot"], &[Format::Plain]);
        assert_eq!(step_kinds(&all_cot), [Rewrite, Demos, Count, Order]);
    }

    #[test]
    fn a_parent_with_fewer_than_two_demonstrations_gets_new_ones_on_its_order_turn() {
        let plain = settings(&["zero-shot", "role"], &[Format::Plain]);
        let pool: Vec<Item> = ["a", "b"]
            .iter()
            .map(|id| Item {
                id: (*id).into(),
                ..Item::default()
            })
            .collect();
        let seed = |s: &str| {
            let strategy = Strategy::parse(s).unwrap();
            Candidate::seed(0, &strategy, Format::Plain, "", &pool)
        };
        assert_eq!(kind_for(&plain, 3, &seed("few-shot:2")), StepKind::Order);
        assert_eq!(kind_for(&plain, 3, &seed("few-shot:1")), StepKind::Demos);
        assert_eq!(kind_for(&plain, 2, &seed("zero-shot")), StepKind::Count);
    }
}
