//! The engine loop (continuous batching): requests wait in arrival order for one of the
//! context's sequence slots; a request takes the free slot whose cached prompt shares the longest
//! prefix with its own, or a copy of another slot's longer prefix (`share.rs`); every step
//! processes waiting prompt chunks (oldest first) and then the next token of every generating
//! sequence (in one batch, or each on its own so that every sequence is computed bit for bit as
//! it would be alone), and each sequence with logits picks its token. A sequence whose caller
//! went away frees its slot before the next step.

use std::collections::VecDeque;
use std::sync::mpsc;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;
use understudy_core::{TimingRecorder, ValidChatRequest};

use super::prefix::PrefixCache;
use super::prompt::{prepare, ModelFacts, Prepared, BATCH_SIZE};
use super::sequence::{Events, Sequence, Status, Work};
use super::tool_grammar::ToolPlan;
use crate::BackendError;

/// The closing event answering a count-only job.
fn counted(tokens: usize) -> understudy_core::StreamEvent {
    understudy_core::StreamEvent::End(understudy_core::stream::StreamEnd {
        model: String::new(),
        finish_reason: understudy_core::FinishReason::Stop,
        usage: understudy_core::Usage {
            prompt_tokens: u32::try_from(tokens).unwrap_or(u32::MAX),
            ..understudy_core::Usage::default()
        },
        timing: understudy_core::Timing::default(),
        confidence: None,
        unparsed_tool_calls: 0,
    })
}

/// One queued request.
pub(super) struct Job {
    pub(super) request: ValidChatRequest,
    pub(super) timing: TimingRecorder,
    pub(super) events: Events,
    /// Only count the prompt's tokens: answered with a closing event carrying the count.
    pub(super) count_only: bool,
    /// How its tools are generated (planned once, by the caller, who needs the opening too).
    pub(super) plan: ToolPlan,
}

/// A request waiting for a slot, its prompt templated and tokenized on arrival.
struct Queued {
    prepared: Prepared,
    timing: TimingRecorder,
    events: Events,
}

/// One sequence of the context: what its cache holds and the request running in it, if any.
pub(super) struct Slot {
    pub(super) cache: PrefixCache,
    /// When it was last given a request (older prompt chunks go first; ties in prefix reuse go
    /// to the slot unused the longest).
    last_used: u64,
    pub(super) running: Option<Sequence>,
}

/// The loop's state for one loaded model.
pub(super) struct Scheduler<'m> {
    facts: ModelFacts<'m>,
    pub(super) ctx: LlamaContext<'m>,
    pub(super) slots: Vec<Slot>,
    waiting: VecDeque<Queued>,
    batch: LlamaBatch<'m>,
    clock: u64,
    /// Decode the generating sequences' tokens in one batch (see [`EngineConfig::batch_decode`]).
    batch_decode: bool,
}

impl<'m> Scheduler<'m> {
    /// `parallel` slots over `ctx` (made with that many sequences, each in its own KV stream).
    pub(super) fn new(
        facts: ModelFacts<'m>,
        ctx: LlamaContext<'m>,
        parallel: u32,
        prefix_cache: bool,
        batch_decode: bool,
    ) -> Self {
        let slots = (0..parallel.max(1))
            .map(|seq| Slot {
                cache: PrefixCache::new(prefix_cache, seq),
                last_used: 0,
                running: None,
            })
            .collect();
        Self {
            facts,
            ctx,
            slots,
            waiting: VecDeque::new(),
            batch: LlamaBatch::new(BATCH_SIZE.max(parallel) as usize, 1),
            clock: 0,
            batch_decode,
        }
    }

    /// Runs until every handle to the engine is gone and no request is left.
    pub(super) fn run(mut self, queue: mpsc::Receiver<Job>) {
        while self.receive(&queue) {
            self.release_abandoned();
            self.admit();
            if self.running() > 0 {
                self.step();
            }
        }
    }

    fn running(&self) -> usize {
        self.slots.iter().filter(|s| s.running.is_some()).count()
    }

    /// Takes new requests: waits for one when idle, otherwise takes what has arrived. False when
    /// idle and the engine's handles are gone.
    fn receive(&mut self, queue: &mpsc::Receiver<Job>) -> bool {
        if self.running() == 0 && self.waiting.is_empty() {
            match queue.recv() {
                Ok(job) => self.enqueue(job),
                Err(_) => return false,
            }
        }
        while let Ok(job) = queue.try_recv() {
            self.enqueue(job);
        }
        true
    }

    /// Prepares a new request's prompt and queues it, or answers with the error it gets.
    fn enqueue(&mut self, job: Job) {
        match prepare(&self.facts, &job.request, &job.plan) {
            Ok(prepared) if job.count_only => {
                let _ = job.events.send(Ok(counted(prepared.tokens.len())));
            }
            Ok(prepared) => self.waiting.push_back(Queued {
                prepared,
                timing: job.timing,
                events: job.events,
            }),
            Err(e) => {
                let _ = job.events.send(Err(e));
            }
        }
    }

    /// Frees the slots of sequences whose callers went away (no event can reach them).
    fn release_abandoned(&mut self) {
        for slot in &mut self.slots {
            if slot.running.as_ref().is_some_and(Sequence::abandoned) {
                slot.running = None;
            }
        }
    }

    /// Moves waiting requests into free slots, oldest first, passing over those that had better
    /// wait for a prefix another slot is still processing.
    fn admit(&mut self) {
        self.waiting.retain(|queued| !queued.events.is_closed()); // cancelled while waiting
        let mut index = 0;
        while index < self.waiting.len() && self.slots.iter().any(|s| s.running.is_none()) {
            if self.worth_waiting(&self.waiting[index].prepared.tokens) {
                index += 1;
                continue;
            }
            let Some(Queued {
                prepared,
                mut timing,
                events,
            }) = self.waiting.remove(index)
            else {
                return;
            };
            timing.mark_started();
            self.clock += 1;
            let slot = self.best_free_slot(&prepared.tokens);
            let reused = self.take_prefix(slot, &prepared.tokens);
            let Slot {
                last_used, running, ..
            } = &mut self.slots[slot];
            *last_used = self.clock;
            *running = Some(Sequence::start(prepared, reused, events, timing));
        }
    }

    /// The free slot whose cache keeps the most of `prompt`; of equals, the one unused longest.
    fn best_free_slot(&self, prompt: &[LlamaToken]) -> usize {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.running.is_none())
            .max_by_key(|(_, s)| (s.cache.reusable(prompt), std::cmp::Reverse(s.last_used)))
            .map(|(i, _)| i)
            .unwrap_or(0)
    }

    /// One engine step: prompt chunks of waiting sequences (oldest first, up to [`BATCH_SIZE`]
    /// tokens in all), each decoded on its own — so that a chunk is computed exactly as the same
    /// chunk of a cold prompt is, which the prefix cache relies on — then one batch with the
    /// next token of every generating sequence. Each sequence with logits picks its next token.
    fn step(&mut self) {
        let running = self.running();
        for slot in &mut self.slots {
            if let Some(sequence) = &mut slot.running {
                sequence.note_step(running);
            }
        }
        if let Err(e) = self.prompt_chunks().and_then(|()| self.next_tokens()) {
            self.fail_all(&e.to_string());
        }
    }

    /// Processes prompt chunks, oldest request first, while they fit in one batch's worth.
    fn prompt_chunks(&mut self) -> Result<(), BackendError> {
        let mut order: Vec<usize> = (0..self.slots.len())
            .filter(|&i| {
                self.slots[i]
                    .running
                    .as_ref()
                    .is_some_and(Sequence::prefilling)
            })
            .collect();
        order.sort_by_key(|&i| self.slots[i].last_used);
        let mut room = BATCH_SIZE as usize;
        for slot in order {
            let Some(sequence) = &self.slots[slot].running else {
                continue;
            };
            let Some(Work::Prompt {
                tokens,
                position,
                last,
            }) = sequence.next_work(room)
            else {
                continue;
            };
            self.batch.clear();
            for (offset, token) in tokens.iter().enumerate() {
                let wants = last && offset + 1 == tokens.len();
                self.batch
                    .add(*token, (position + offset) as i32, &[slot as i32], wants)
                    .map_err(batch_error)?;
            }
            let (start, end) = (position, position + tokens.len());
            self.ctx
                .decode(&mut self.batch)
                .map_err(|e| BackendError::Inference(format!("prompt decode failed: {e}")))?;
            room -= end - start;
            let Slot { cache, running, .. } = &mut self.slots[slot];
            let Some(sequence) = running else { continue };
            cache.push(&sequence.prompt()[start..end]);
            sequence.chunk_done();
            if last {
                self.pick(slot, self.batch.n_tokens() - 1);
            }
        }
        Ok(())
    }

    /// Decodes the last token of every generating sequence — in one batch, or each on its own
    /// — then picks each one's next token.
    fn next_tokens(&mut self) -> Result<(), BackendError> {
        let generating: Vec<(usize, LlamaToken, usize)> = (0..self.slots.len())
            .filter_map(
                |slot| match self.slots[slot].running.as_ref()?.next_work(0)? {
                    Work::Token { token, position } => Some((slot, token, position)),
                    Work::Prompt { .. } => None,
                },
            )
            .collect();
        let groups: Vec<&[(usize, LlamaToken, usize)]> = if self.batch_decode {
            vec![&generating[..]]
        } else {
            generating.chunks(1).collect()
        };
        for group in groups.into_iter().filter(|g| !g.is_empty()) {
            self.batch.clear();
            for &(slot, token, position) in group {
                self.batch
                    .add(token, position as i32, &[slot as i32], true)
                    .map_err(batch_error)?;
            }
            self.ctx
                .decode(&mut self.batch)
                .map_err(|e| BackendError::Inference(format!("decode failed: {e}")))?;
            for (index, &(slot, _, _)) in group.iter().enumerate() {
                self.pick(slot, index as i32);
            }
        }
        Ok(())
    }

    /// The sequence in `slot` picks its next token from the logits at batch `index`; a
    /// finished sequence leaves its slot.
    fn pick(&mut self, slot: usize, index: i32) {
        let Some(sequence) = &mut self.slots[slot].running else {
            return;
        };
        let status = sequence.take_logits(self.facts.model, &self.ctx, index, &self.facts.name);
        if status == Status::Done {
            self.slots[slot].running = None;
        }
    }

    /// A failed decode leaves the cache's content unknown: every running request gets the
    /// error, and every slot starts again empty.
    fn fail_all(&mut self, reason: &str) {
        self.ctx.clear_kv_cache();
        for slot in &mut self.slots {
            slot.cache.forget();
            if let Some(mut sequence) = slot.running.take() {
                sequence.fail(BackendError::Inference(reason.to_string()));
            }
        }
    }
}

fn batch_error(e: llama_cpp_2::llama_batch::BatchAddError) -> BackendError {
    BackendError::Inference(e.to_string())
}
