//! Renders a conversation into a prompt with the model's own chat template, or with a named
//! fallback (`chatml`, `llama3`, `gemma`, …) when the GGUF carries none or the user asks for one.

use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use understudy_core::ChatMessage;

use crate::BackendError;

/// Template used when a GGUF has no chat template and the user named none.
pub const FALLBACK_TEMPLATE: &str = "chatml";

/// Names of templates built into llama.cpp that users are most likely to need.
pub const COMMON_TEMPLATE_NAMES: &[&str] = &[
    "chatml",
    "llama2",
    "llama3",
    "llama4",
    "mistral-v1",
    "mistral-v3",
    "mistral-v7",
    "gemma",
    "phi3",
    "phi4",
    "zephyr",
    "deepseek",
    "deepseek3",
    "command-r",
    "granite",
    "vicuna",
    "openchat",
];

/// The template chosen for a model and why.
pub struct ChosenTemplate {
    pub template: LlamaChatTemplate,
    /// Human-readable origin: "GGUF metadata", "--chat-template llama3", "fallback chatml".
    pub origin: String,
    /// The template text when it came from the GGUF (used to detect thinking support).
    pub source_text: Option<String>,
    /// Set when the fallback was used; the caller says it once.
    pub warning: Option<String>,
}

/// Picks the template: the user's named one, else the GGUF's, else the fallback.
pub fn choose(
    model: &LlamaModel,
    requested: Option<&str>,
    model_name: &str,
) -> Result<ChosenTemplate, BackendError> {
    if let Some(name) = requested {
        let template = LlamaChatTemplate::new(name).map_err(|_| {
            BackendError::ChatTemplate(format!("chat template name {name:?} contains a NUL byte"))
        })?;
        check_renders(model, &template, name)?;
        return Ok(ChosenTemplate {
            template,
            origin: format!("chat_template {name}"),
            source_text: None,
            warning: None,
        });
    }
    match model.chat_template(None) {
        Ok(template) => {
            let text = template.to_string().ok();
            if check_renders(model, &template, "from the GGUF").is_ok() {
                return Ok(ChosenTemplate {
                    template,
                    origin: "GGUF metadata".into(),
                    source_text: text,
                    warning: None,
                });
            }
            fallback(format!(
                "{model_name}: llama.cpp does not recognise the GGUF's chat template; using {FALLBACK_TEMPLATE} (set chat_template / --chat-template to choose another)"
            ))
        }
        Err(_) => fallback(format!(
            "{model_name} has no chat template in its GGUF; using {FALLBACK_TEMPLATE} (set chat_template / --chat-template to choose another)"
        )),
    }
}

fn fallback(warning: String) -> Result<ChosenTemplate, BackendError> {
    let template = LlamaChatTemplate::new(FALLBACK_TEMPLATE)
        .map_err(|e| BackendError::ChatTemplate(e.to_string()))?;
    Ok(ChosenTemplate {
        template,
        origin: format!("fallback {FALLBACK_TEMPLATE}"),
        source_text: None,
        warning: Some(warning),
    })
}

fn check_renders(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    label: &str,
) -> Result<(), BackendError> {
    let probe = [ChatMessage::user("hi")];
    render(model, template, &probe).map(|_| ()).map_err(|_| {
        BackendError::ChatTemplate(format!(
            "chat template {label} is not one llama.cpp knows; try one of: {}",
            COMMON_TEMPLATE_NAMES.join(", ")
        ))
    })
}

/// Renders `messages` followed by the assistant's opening tag.
pub fn render(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    messages: &[ChatMessage],
) -> Result<String, BackendError> {
    if let Some(i) = messages.iter().position(|m| m.content.contains('\0')) {
        return Err(BackendError::InvalidRequest(format!(
            "messages[{i}].content contains a NUL character (\\u0000), which the chat template cannot carry; remove it"
        )));
    }
    let chat = messages
        .iter()
        .map(|m| LlamaChatMessage::new(m.role.as_str().to_string(), m.content.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            BackendError::InvalidRequest("a message role contains a NUL character".into())
        })?;
    model
        .apply_chat_template(template, &chat, true)
        .map_err(|e| BackendError::ChatTemplate(format!("cannot apply chat template: {e}")))
}
