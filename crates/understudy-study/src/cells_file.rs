//! A study's cells beside its page, so the page can be re-derived without a model: `run.json`
//! (the command that made it, the run and its stored plan) and `cells.jsonl` (one scored cell
//! per line). Prompts are left out to keep the files small; everything the page is computed
//! from is kept.

use std::io::{BufRead, Write};
use std::path::Path;

use understudy_store::{Cell, RunInfo};
use understudy_tasks::EvalError;

/// The run file's name in a study directory.
pub const RUN_FILE: &str = "run.json";
/// The cells file's name in a study directory.
pub const CELLS_FILE: &str = "cells.jsonl";

fn fail(path: &Path, e: impl std::fmt::Display) -> EvalError {
    EvalError::Data(format!("{}: {e}", path.display()))
}

/// What `run.json` holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct RunFile {
    /// The command that produced the run.
    command: String,
    run: RunInfo,
}

/// A cell exactly as the cells file will give it back. serde_json (without its slower
/// `float_roundtrip` parser) can read a 17-digit float one ulp off; printing and reading again
/// reaches a fixed point within a step or two, after which the file and the values agree.
fn as_read_back(cell: &Cell) -> Result<Cell, serde_json::Error> {
    let mut cell = cell.clone();
    cell.prompt_json = String::new();
    cell.program = None;
    for _ in 0..4 {
        let back: Cell = serde_json::from_str(&serde_json::to_string(&cell)?)?;
        if back == cell {
            break;
        }
        cell = back;
    }
    Ok(cell)
}

/// Writes `run.json` and `cells.jsonl` into `dir`; returns the cells as the file gives them back
/// (prompts left out, floats as read), which is what a page must be computed from to be
/// re-derivable from the file.
pub fn write(
    dir: &Path,
    command: &str,
    run: &RunInfo,
    cells: &[Cell],
) -> Result<Vec<Cell>, EvalError> {
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let run_path = dir.join(RUN_FILE);
    let file = RunFile {
        command: command.to_string(),
        run: run.clone(),
    };
    let text = serde_json::to_string_pretty(&file).map_err(|e| fail(&run_path, e))?;
    std::fs::write(&run_path, text + "\n").map_err(|e| fail(&run_path, e))?;
    let cells_path = dir.join(CELLS_FILE);
    let file = std::fs::File::create(&cells_path).map_err(|e| fail(&cells_path, e))?;
    let mut out = std::io::BufWriter::new(file);
    let mut written = Vec::with_capacity(cells.len());
    for cell in cells {
        let cell = as_read_back(cell).map_err(|e| fail(&cells_path, e))?;
        let line = serde_json::to_string(&cell).map_err(|e| fail(&cells_path, e))?;
        writeln!(out, "{line}").map_err(|e| fail(&cells_path, e))?;
        written.push(cell);
    }
    out.flush().map_err(|e| fail(&cells_path, e))?;
    Ok(written)
}

/// Reads what [`write`] wrote: the command, the run and its cells; a bad line is named by file
/// and line number.
pub fn read(dir: &Path) -> Result<(String, RunInfo, Vec<Cell>), EvalError> {
    let run_path = dir.join(RUN_FILE);
    let text = std::fs::read_to_string(&run_path).map_err(|e| fail(&run_path, e))?;
    let RunFile { command, run } = serde_json::from_str(&text).map_err(|e| fail(&run_path, e))?;
    let cells_path = dir.join(CELLS_FILE);
    let file = std::fs::File::open(&cells_path).map_err(|e| fail(&cells_path, e))?;
    let mut cells = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| fail(&cells_path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let cell: Cell = serde_json::from_str(&line)
            .map_err(|e| EvalError::Data(format!("{}:{}: {e}", cells_path.display(), i + 1)))?;
        cells.push(cell);
    }
    if cells.is_empty() {
        return Err(fail(&cells_path, "no cells"));
    }
    Ok((command, run, cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_round_trip_and_a_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunInfo {
            id: 3,
            plan_key: "k".into(),
            created_at: "2026-11-29T20:00:00Z".into(),
            finished_at: Some("2026-11-29T20:10:00Z".into()),
            status: "finished".into(),
            plan_json: r#"{"reference":null,"tasks":[{"name":"t","answer":{"kind":"label","labels":["a","b"]}}]}"#.into(),
            cells: 1,
        };
        let cell = Cell {
            model: "m".into(),
            strategy: "zero-shot".into(),
            format: "plain".into(),
            task: "t".into(),
            item_id: "i#1".into(),
            prompt_json: "[{\"role\":\"user\",\"content\":\"q\"}]".into(),
            answer: "a".into(),
            reasoning: None,
            parsed: Some("a".into()),
            gold: "a".into(),
            score: 1.0,
            format_failure: false,
            ttft_ms: 10.0,
            total_ms: 20.0,
            decode_tps: Some(30.0),
            prompt_tokens: 5,
            completion_tokens: 1,
            cached_prompt_tokens: 0,
            cached: true,
            detail: Some("{\"mean_logprob\":-0.1}".into()),
            conditions: None,
            program: None,
        };
        let written = write(
            dir.path(),
            "understudy study x",
            &run,
            std::slice::from_ref(&cell),
        )
        .unwrap();
        let (command, back_run, back_cells) = read(dir.path()).unwrap();
        assert_eq!(command, "understudy study x");
        // The plan is the same JSON (its keys may come back in another order).
        let json = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
        assert_eq!(json(&back_run.plan_json), json(&run.plan_json));
        assert_eq!(
            RunInfo {
                plan_json: run.plan_json.clone(),
                ..back_run
            },
            run
        );
        let mut expected = cell;
        expected.prompt_json = String::new();
        assert_eq!(back_cells, vec![expected]);
        assert_eq!(back_cells, written);
        // A float the default parser reads one ulp off still comes back as written.
        let mut awkward = back_cells[0].clone();
        awkward.total_ms = 1957.3940429999998;
        let written = write(dir.path(), "c", &run, std::slice::from_ref(&awkward)).unwrap();
        assert_eq!(read(dir.path()).unwrap().2, written);
        let path = dir.path().join(CELLS_FILE);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"model\": 1}\n");
        std::fs::write(&path, text).unwrap();
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("cells.jsonl:2:"), "{err}");
    }
}
