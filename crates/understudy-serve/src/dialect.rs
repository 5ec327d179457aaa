//! Which API a request came in through — OpenAI chat completions, Anthropic messages or OpenAI
//! responses — and so how its answer, its streamed events and its errors are spelled. Everything
//! between reading the request and spelling the answer is one path for all three.

use axum::response::{IntoResponse, Response};
use axum::Json;
use understudy_core::ChatResponse;

use crate::messages_body::{message_body, MessagesEncoder};
use crate::responses::{ChatCompletion, Named};
use crate::responses_body::{ResponseBody, ResponsesEcho, ResponsesEncoder};
use crate::stream::Encoder;
use crate::stream_chat::ChatEncoder;

#[derive(Debug, Clone)]
pub(crate) enum Dialect {
    /// `/v1/chat/completions`; usage chunk when `stream_options.include_usage`; calls in the
    /// legacy `function_call` shape when the request used `functions`.
    Chat {
        include_usage: bool,
        legacy_functions: bool,
    },
    /// `/v1/messages` (Anthropic).
    Messages,
    /// `/v1/responses`, with the request's settings the response object repeats.
    Responses(Box<ResponsesEcho>),
}

impl Dialect {
    /// The prefix of the ids answers get (`chatcmpl-`, `msg_`, `resp_`).
    pub fn id_prefix(&self) -> &'static str {
        match self {
            Dialect::Chat { .. } => "chatcmpl-",
            Dialect::Messages => "msg_",
            Dialect::Responses(_) => "resp_",
        }
    }

    /// The streamed spelling of an answer.
    pub fn encoder(self, id: String, named: Named) -> Box<dyn Encoder> {
        match self {
            Dialect::Chat {
                include_usage,
                legacy_functions,
            } => Box::new(ChatEncoder {
                id,
                named,
                include_usage,
                legacy_functions,
            }),
            Dialect::Messages => Box::new(MessagesEncoder::new(id, named)),
            Dialect::Responses(echo) => Box::new(ResponsesEncoder::new(id, named, *echo)),
        }
    }

    /// The unary body of a whole answer.
    pub fn body(&self, id: &str, named: &Named, response: &ChatResponse) -> Response {
        match self {
            Dialect::Chat {
                legacy_functions, ..
            } => Json(ChatCompletion::new(id, named, response, *legacy_functions)).into_response(),
            Dialect::Messages => Json(message_body(id, named, response)).into_response(),
            Dialect::Responses(echo) => {
                Json(ResponseBody::completed(id, named, response, echo)).into_response()
            }
        }
    }
}
