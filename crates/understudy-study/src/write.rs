//! A study's outputs from its run: the cells written beside the page (so the page can be
//! rederived from them with `understudy study NAME --from CELLS_DIR`), and the page computed from
//! the cells as the file gives them back.

use std::path::{Path, PathBuf};

use understudy_store::{Cell, RunInfo};
use understudy_tasks::EvalError;

use crate::{analysis, cells_file, page, StudyKind};

/// What was written: the page and its conclusions.
pub struct Written {
    pub page: PathBuf,
    pub conclusions: Vec<String>,
}

/// Writes the cells into `out` and the page computed from them as the file gives them back; the
/// page cites `understudy study NAME --from CELLS_DIR` as the way to rewrite it.
pub fn write_page(
    kind: StudyKind,
    command: &str,
    info: RunInfo,
    cells: &[Cell],
    out: &Path,
    cells_dir: &Path,
) -> Result<Written, EvalError> {
    let cells = cells_file::write(out, command, &info, cells)?;
    let summary = understudy_report::summary::summarise(info, &cells);
    let page = analysis::analyse(kind, &summary, &cells);
    let regenerate = format!(
        "understudy study {} --from {}",
        kind.name(),
        cells_dir.display()
    );
    let path = page::write(&page, &summary, command, &regenerate, out)?;
    Ok(Written {
        page: path,
        conclusions: page.conclusions,
    })
}
