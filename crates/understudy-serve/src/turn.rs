//! One request's turn: what it sends and how its answer is read, built from the profile the
//! client named without changing it. The profile is configuration; the turn holds what this
//! request adds to it: its copy of the prompt program (the solved examples found for its input,
//! chain of thought switched on by the thinking fallback) and the client's input a template
//! wrapped. Requests to a plain model get a turn with an empty program.

use understudy_core::{ChatRequest, ResponseFormat, Role};
use understudy_prompt::{Program, Read};

use crate::profile::{Profile, ReasoningPolicy};

#[derive(Debug, Clone)]
pub struct Turn {
    profile: Option<Profile>,
    /// The program this request is served with.
    pub program: Program,
    /// The client's last user turn (the input a template wraps), once the request is built.
    input: Option<String>,
}

impl Turn {
    /// A turn for a request naming `profile` (or a plain model).
    pub fn new(profile: Option<Profile>) -> Self {
        let program = profile
            .as_ref()
            .map(|p| p.program.clone())
            .unwrap_or_default();
        Self {
            profile,
            program,
            input: None,
        }
    }

    /// The profile the client named, as configured.
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref()
    }

    /// Rewrites a client request for a profile: the backend model, the messages the program
    /// builds from the client's (see `Program::messages`) and defaults for whatever the client
    /// left unset; keeps the client's last user turn as this turn's input. A plain model's
    /// request goes as it came.
    pub fn apply(&mut self, mut request: ChatRequest) -> ChatRequest {
        let Some(profile) = &self.profile else {
            return request;
        };
        self.input = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.clone());
        request.model = profile.model.clone();
        request.messages = self.program.messages(std::mem::take(&mut request.messages));
        request.temperature = request.temperature.or(profile.temperature);
        request.top_p = request.top_p.or(profile.top_p);
        request.max_tokens = request.max_tokens.or(self.program.max_tokens);
        if let (true, Some(tools)) = (request.tools.is_empty(), &profile.added.tools) {
            request.tools = tools.clone();
        }
        if let (ResponseFormat::Text, Some(schema)) =
            (&request.response_format, &profile.added.schema)
        {
            request.response_format = ResponseFormat::JsonSchema {
                schema: schema.clone(),
            };
        }
        if profile.json && request.response_format == ResponseFormat::Text {
            request.response_format = ResponseFormat::JsonObject;
        }
        request
    }

    /// What retrieval searches for: under a template the input's question (as eval searches an
    /// item's question), otherwise the client's last user turn.
    pub fn retrieval_query(&self) -> Option<String> {
        let input = self.input.as_deref()?;
        Some(match &self.program.template {
            Some(_) => understudy_prompt::Input::parse(input).question,
            None => input.to_string(),
        })
    }

    /// Reads the answer from a model's text as eval reads it: split at the last final-answer
    /// marker under chain of thought, then the template's contract.
    pub fn read(&self, text: &str) -> Read {
        self.program
            .read(text, self.input.as_deref().unwrap_or(""), self.program.cot)
    }

    /// The answer is read (chain of thought split, or a template's contract), not passed on as
    /// the model wrote it.
    pub fn reads_answer(&self) -> bool {
        self.program.cot || self.program.template.is_some()
    }

    /// The profile requires a JSON answer.
    pub fn json(&self) -> bool {
        self.profile.as_ref().is_some_and(|p| p.json)
    }

    /// The profile drops reasoning instead of returning it as `reasoning_content`.
    pub fn strips_reasoning(&self) -> bool {
        self.profile
            .as_ref()
            .is_some_and(|p| p.reasoning == ReasoningPolicy::Strip)
    }

    /// The profile's name, for errors.
    pub fn name(&self) -> &str {
        self.profile.as_ref().map_or("", |p| p.name.as_str())
    }
}
