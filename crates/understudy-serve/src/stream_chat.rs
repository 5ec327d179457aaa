//! The OpenAI chat-completions spelling of a streamed answer: `chat.completion.chunk` frames
//! (role first, `content`, `reasoning_content`, `tool_calls` pieces, `logprobs` on request), the
//! finish chunk, the usage
//! chunk on request, an error as OpenAI's error object, and `[DONE]`.

use axum::response::sse::Event;
use understudy_core::response::TokenLogprob;
use understudy_core::stream::StreamEnd;
use understudy_core::ToolCallDelta;

use crate::error::ApiError;
use crate::responses::{
    finish_reason, CallBody, ChatCompletionChunk, ChunkDelta, FunctionBody, LogprobsBody, Named,
};
use crate::stream::Encoder;

pub(crate) struct ChatEncoder {
    pub id: String,
    pub named: Named,
    pub include_usage: bool,
    /// The request used legacy `functions`: the call streams as `function_call`.
    pub legacy_functions: bool,
}

impl ChatEncoder {
    fn chunk(&self, delta: ChunkDelta<'_>, finish: Option<&str>) -> Vec<Event> {
        let chunk = ChatCompletionChunk::delta(&self.id, &self.named, delta, finish);
        vec![data(&chunk)]
    }
}

fn data(chunk: &ChatCompletionChunk<'_>) -> Event {
    Event::default().data(serde_json::to_string(chunk).unwrap_or_default())
}

impl Encoder for ChatEncoder {
    fn start(&mut self) -> Vec<Event> {
        self.chunk(
            ChunkDelta {
                role: Some("assistant"),
                content: Some(""),
                ..ChunkDelta::default()
            },
            None,
        )
    }

    fn text(&mut self, text: &str) -> Vec<Event> {
        self.chunk(
            ChunkDelta {
                content: Some(text),
                ..ChunkDelta::default()
            },
            None,
        )
    }

    fn reasoning(&mut self, text: &str) -> Vec<Event> {
        self.chunk(
            ChunkDelta {
                reasoning_content: Some(text),
                ..ChunkDelta::default()
            },
            None,
        )
    }

    fn tool_call(&mut self, piece: &ToolCallDelta) -> Vec<Event> {
        if self.legacy_functions {
            // One call per legacy answer (parallel calls are off for such requests).
            if piece.index != 0 {
                return Vec::new();
            }
            return self.chunk(
                ChunkDelta {
                    function_call: Some(FunctionBody {
                        name: piece.name.as_deref(),
                        arguments: &piece.arguments,
                    }),
                    ..ChunkDelta::default()
                },
                None,
            );
        }
        self.chunk(
            ChunkDelta {
                tool_calls: Some([CallBody::piece(piece)]),
                ..ChunkDelta::default()
            },
            None,
        )
    }

    fn logprobs(&mut self, tokens: &[TokenLogprob]) -> Vec<Event> {
        let mut chunk =
            ChatCompletionChunk::delta(&self.id, &self.named, ChunkDelta::default(), None);
        if let Some(choice) = chunk.choices.first_mut() {
            choice.logprobs = Some(LogprobsBody::new(tokens));
        }
        vec![data(&chunk)]
    }

    fn end(&mut self, end: &StreamEnd) -> Vec<Event> {
        let finish = finish_reason(end.finish_reason, self.legacy_functions);
        let mut out = self.chunk(ChunkDelta::default(), Some(finish));
        if self.include_usage {
            out.push(data(&ChatCompletionChunk::usage(
                &self.id,
                &self.named,
                &end.usage,
            )));
        }
        out
    }

    fn error(&mut self, error: &ApiError) -> Vec<Event> {
        vec![Event::default().data(error.body().to_string())]
    }

    fn closing(&mut self) -> Vec<Event> {
        vec![Event::default().data("[DONE]")]
    }
}
