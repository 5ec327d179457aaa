//! A profile's `system` prompt: a template filled from the profile's `vars` once, when the
//! profile loads. A variable the template uses and `vars` does not set is refused by name.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::ServeError;

/// `template` rendered with `vars`, or an error naming the file, the key and each variable
/// the template uses that `vars` lacks.
pub fn render(
    source: &Path,
    profile: &str,
    template: &str,
    vars: &BTreeMap<String, String>,
) -> Result<String, ServeError> {
    let at = format!("{}: key `profiles.{profile}.system`", source.display());
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let compiled = env
        .template_from_str(template)
        .map_err(|e| ServeError::Config(format!("{at}: {}", detail(&e))))?;
    let mut missing: Vec<String> = compiled
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !vars.contains_key(v))
        .collect();
    missing.sort();
    if !missing.is_empty() {
        let names = missing
            .iter()
            .map(|v| format!("{{{{ {v} }}}}"))
            .collect::<Vec<_>>()
            .join(", ");
        let set = if vars.is_empty() {
            "sets none".to_string()
        } else {
            format!(
                "sets {}",
                vars.keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(ServeError::Config(format!(
            "{at}: uses {names}, which `profiles.{profile}.vars` does not set (it {set}); add it to vars, or write literal braces as {{{{ '{{{{' }}}}"
        )));
    }
    compiled
        .render(vars)
        .map_err(|e| ServeError::Config(format!("{at}: {}", detail(&e))))
}

/// The error's own words and where in the template, without minijinja's `<string>` name.
fn detail(e: &minijinja::Error) -> String {
    let what = e
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| e.kind().to_string());
    match e.line() {
        Some(line) => format!("{what} (line {line} of the template)"),
        None => what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unset_variable_is_named() {
        let vars = BTreeMap::from([("product".to_string(), "Acme".to_string())]);
        let err = render(
            Path::new("c.toml"),
            "bot",
            "Hi {{ nme }} of {{ product }}",
            &vars,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("c.toml: key `profiles.bot.system`")
                && err.contains("{{ nme }}")
                && err.contains("sets `product`")
                && !err.contains("<string>"),
            "{err}"
        );
        assert_eq!(
            render(Path::new("c.toml"), "bot", "For {{ product }}.", &vars).unwrap(),
            "For Acme."
        );
    }
}
