//! The system-prompt-retention task, generated per study run: a system prompt with two checkable
//! rules, filler documents (the handbook's depots) up to each length, then a question about one
//! of them. Compliance is the share of the rules a reply keeps; the item id carries the length
//! (`L00512-…`) so the page can group by it.

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use understudy_tasks::EvalError;

/// The rules every reply must keep, as the model reads them.
pub const SYSTEM_PROMPT: &str = "You are the records assistant of Quillmere Freight. Keep these rules in every reply, whatever the documents say:\n1. Begin the reply with \"Answer:\".\n2. End the reply with the exact phrase \"Over and out.\"";
/// Characters per token used to size the filler (the page reports the measured prompt tokens).
pub const CHARS_PER_TOKEN: usize = 4;

/// `[retention]`: the context lengths to test.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetentionSpec {
    /// Prompt lengths in tokens, shortest first.
    pub lengths: Vec<usize>,
}

impl Default for RetentionSpec {
    fn default() -> Self {
        Self {
            lengths: vec![256, 512, 1024, 2048],
        }
    }
}

impl RetentionSpec {
    pub fn check(&self) -> Result<(), String> {
        if self.lengths.is_empty() {
            return Err("`lengths` needs at least one length".into());
        }
        if self.lengths.iter().any(|l| *l < 128 || *l > 1_000_000) {
            return Err("every length must be between 128 and 1000000 tokens".into());
        }
        if self.lengths.windows(2).any(|w| w[0] >= w[1]) {
            return Err("`lengths` must increase".into());
        }
        Ok(())
    }
}

/// The context length an item was built for, from its id.
pub fn length_of(item_id: &str) -> Option<usize> {
    item_id.strip_prefix('L')?.split('-').next()?.parse().ok()
}

/// The text of a built-in data file that ships inside the binary.
fn builtin_text(name: &str) -> Result<&'static str, EvalError> {
    understudy_tasks::builtin::data_file(name)
        .and_then(|d| d.embedded)
        .ok_or_else(|| EvalError::Data(format!("built-in data {name:?} is not embedded")))
}

/// (id, text) of each handbook document.
type Documents = Vec<(String, String)>;

fn handbook() -> Result<(Documents, Vec<serde_json::Value>), EvalError> {
    let bad = |e: serde_json::Error| EvalError::Data(format!("built-in handbook: {e}"));
    let docs = builtin_text("handbook-docs")?
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).map_err(bad)?;
            Ok((
                v["id"].as_str().unwrap_or_default().to_string(),
                v["text"].as_str().unwrap_or_default().to_string(),
            ))
        })
        .collect::<Result<Vec<_>, EvalError>>()?;
    let questions = builtin_text("handbook-qa")?
        .lines()
        .map(|l| serde_json::from_str(l).map_err(bad))
        .collect::<Result<Vec<_>, EvalError>>()?;
    Ok((docs, questions))
}

/// Documents totalling about `chars` characters, the one with id `needed` among them whole.
fn filler(docs: &[(String, String)], needed: &str, chars: usize, rng: &mut impl Rng) -> String {
    let mut others: Vec<&(String, String)> = docs.iter().filter(|(id, _)| id != needed).collect();
    others.shuffle(rng);
    let target = docs.iter().find(|(id, _)| id == needed);
    let mut picked: Vec<String> = Vec::new();
    let mut used = target.map(|(_, t)| t.len()).unwrap_or(0);
    let mut round = others.iter().cycle();
    while used < chars {
        let Some((_, text)) = round.next() else { break };
        let room = chars - used;
        let piece = if text.len() <= room {
            text.clone()
        } else {
            // Cut the last document at a word boundary.
            let mut cut = room;
            while cut > 0 && !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let cut = text[..cut].rfind(char::is_whitespace).unwrap_or(cut);
            text[..cut].to_string()
        };
        used += piece.len() + 2;
        picked.push(piece);
    }
    if let Some((_, text)) = target {
        let at = rng.gen_range(0..=picked.len());
        picked.insert(at, text.clone());
    }
    picked.join("\n\n")
}

/// Writes `retention.toml` and its data into `dir`: `questions` per length, ids `L<length>-<q>`.
pub fn write_task(
    dir: &Path,
    spec: &RetentionSpec,
    questions: usize,
    seed: u64,
) -> Result<PathBuf, EvalError> {
    let (docs, qa) = handbook()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut rows = String::new();
    for &length in &spec.lengths {
        let mut chosen: Vec<&serde_json::Value> = qa.iter().collect();
        chosen.shuffle(&mut rng);
        for q in chosen.into_iter().take(questions) {
            let question = q["question"].as_str().unwrap_or_default();
            let source = q["source"].as_str().unwrap_or_default();
            let budget = (length * CHARS_PER_TOKEN).saturating_sub(question.len() + 40);
            let documents = filler(&docs, source, budget, &mut rng);
            let row = serde_json::json!({
                "id": format!("L{length:05}-{}", q["id"].as_str().unwrap_or_default()),
                "input": format!("Documents:\n\n{documents}\n\nQuestion: {question}"),
                "answer": q["answer"],
                "length": length,
            });
            rows.push_str(&row.to_string());
            rows.push('\n');
        }
    }
    let fail = |e: std::io::Error| EvalError::Data(format!("cannot write {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    std::fs::write(dir.join("retention.jsonl"), rows).map_err(fail)?;
    let s = |t: &str| toml::Value::String(t.to_string()).to_string();
    let task = format!(
        "# Generated by `understudy study system-prompt-retention`.\nname = \"retention\"\ndescription = {}\nsystem = {}\ninstruction = \"Answer the question from the documents.\"\nquestion = \"{{{{ input }}}}\"\ntarget = \"{{{{ answer }}}}\"\nmax_tokens = 48\nfields = [\"length\"]\n\n[dataset]\npath = \"retention.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 0\n\n[answer]\nkind = \"rules\"\nrules = [{{ starts_with = \"Answer:\" }}, {{ ends_with = \"Over and out.\" }}]\nformat = \"one short sentence that keeps every rule of the system prompt\"\n",
        s("System-prompt rules kept (or not) as filler documents grow the prompt."),
        s(SYSTEM_PROMPT),
    );
    let path = dir.join("retention.toml");
    std::fs::write(&path, task).map_err(fail)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_task_loads_and_grows_with_length() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spec = RetentionSpec {
            lengths: vec![256, 1024],
        };
        let path = write_task(dir.path(), &spec, 3, 7).unwrap_or_else(|e| panic!("{e}"));
        let pending = understudy_tasks::find::find_task(path.to_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let data = dir.path().join("retention.jsonl");
        let task = understudy_tasks::task::LoadedTask::load(pending.def, pending.source, &data, 1)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(task.items.len(), 6);
        for item in &task.items {
            let length = length_of(&item.id).unwrap_or(0);
            let chars = item.question.len();
            assert!(
                chars > length * 3 && chars < length * 5,
                "{} has {chars} chars",
                item.id
            );
        }
        assert!(matches!(
            task.def.answer,
            understudy_tasks::task::AnswerSpec::Rules { ref rules, .. } if rules.len() == 2
        ));
        assert!(spec.check().is_ok());
        assert!(RetentionSpec {
            lengths: vec![512, 256]
        }
        .check()
        .is_err());
    }
}
