//! The OpenAI chat-completions spelling of a streamed answer: `chat.completion.chunk` frames
//! (role first, `content`, `reasoning_content`, `tool_calls` pieces, `logprobs` on request), the
//! finish chunk, the usage
//! chunk on request, an error as OpenAI's error object, and `[DONE]`.

use axum::response::sse::Event;
use understudy_core::response::TokenLogprob;
use understudy_core::stream::StreamEnd;
use understudy_core::ToolCallDelta;

use crate::error::ApiError;
use crate::responses::{CallBody, ChatCompletionChunk, ChunkDelta, LogprobsBody, Named};
use crate::stream::Encoder;

pub(crate) struct ChatEncoder {
    pub id: String,
    pub named: Named,
    pub include_usage: bool,
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
        let mut out = self.chunk(ChunkDelta::default(), Some(end.finish_reason.as_openai()));
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
