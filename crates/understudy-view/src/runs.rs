//! The runs list (with the progress of running evals kept live by a small script polling
//! `/ui/api/runs`) and a run's page: its status and the report made from its cells so far.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use understudy_report::summary;
use understudy_store::RunInfo;

use crate::layout::{error, esc, page, page_with_head};
use crate::ViewState;

/// A run's progress as the list shows it.
#[derive(Debug, Serialize)]
pub struct Progress {
    pub id: i64,
    pub status: String,
    pub cells: i64,
    /// Cells the plan asks for (runs stored before plans counted them: none).
    pub planned: Option<i64>,
    pub text: String,
}

pub fn progress(run: &RunInfo) -> Progress {
    let planned = run.plan().planned_cells;
    let text = match planned {
        Some(p) if p > 0 => format!(
            "{} of {p} cells ({:.0}%)",
            run.cells,
            100.0 * run.cells as f64 / p as f64
        ),
        _ => format!("{} cells", run.cells),
    };
    Progress {
        id: run.id,
        status: run.status.clone(),
        cells: run.cells,
        planned,
        text,
    }
}

/// "models: a, b · strategies: … · reference: …" from the stored plan.
fn plan_text(run: &RunInfo) -> String {
    let join = |key: &str| run.plan_list(key).join(", ");
    format!(
        "models: {} · strategies: {} · formats: {} · tasks: {} · reference: {}",
        join("models"),
        join("strategies"),
        join("formats"),
        join("tasks"),
        run.plan_reference().as_deref().unwrap_or("none")
    )
}

const POLL_SCRIPT: &str = "<script>
(function(){
  function running(){return document.querySelectorAll('tr[data-status=\"running\"]').length>0;}
  async function tick(){
    if(!running()) return;
    try{
      const runs = await (await fetch('/ui/api/runs',{cache:'no-store'})).json();
      for(const r of runs){
        const tr=document.querySelector('tr[data-run=\"'+r.id+'\"]');
        if(!tr) continue;
        tr.dataset.status=r.status;
        const s=tr.querySelector('.status'); s.textContent=r.status; s.className='status status-'+r.status;
        tr.querySelector('.cells').textContent=r.text;
        const p=tr.querySelector('progress'); if(p&&r.planned){p.max=r.planned;p.value=r.cells;}
      }
    }catch(e){}
    setTimeout(tick,1000);
  }
  setTimeout(tick,1000);
})();
</script>";

pub async fn list_page(State(state): State<Arc<ViewState>>) -> Response {
    let runs = match state.store.runs.runs().await {
        Ok(runs) => runs,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let mut body = format!(
        "<h1>Runs</h1><p class=\"meta\">{} runs in {} · the progress of running evals updates by itself.</p><div class=\"scroll\"><table id=\"runs\"><thead><tr><th>run</th><th>created</th><th>status</th><th>progress</th><th></th><th>plan</th></tr></thead><tbody>",
        runs.len(),
        esc(&state.store.location().to_string())
    );
    for run in runs.iter().rev() {
        let p = progress(run);
        let bar = match p.planned {
            Some(planned) if planned > 0 => {
                format!(
                    "<progress max=\"{planned}\" value=\"{}\"></progress>",
                    p.cells
                )
            }
            _ => String::new(),
        };
        body.push_str(&format!(
            "<tr data-run=\"{id}\" data-status=\"{status}\"><td><a href=\"/ui/runs/{id}\">run {id}</a></td><td>{}</td><td class=\"status status-{status}\">{status}</td><td class=\"cells\">{}</td><td>{bar}</td><td>{}</td></tr>",
            esc(&run.created_at),
            esc(&p.text),
            esc(&plan_text(run)),
            id = run.id,
            status = esc(&run.status),
        ));
    }
    body.push_str("</tbody></table></div>");
    body.push_str(POLL_SCRIPT);
    page("Runs", "runs", &body).into_response()
}

pub async fn list_json(State(state): State<Arc<ViewState>>) -> Response {
    match state.store.runs.runs().await {
        Ok(runs) => Json(runs.iter().map(progress).collect::<Vec<_>>()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub async fn run_page(State(state): State<Arc<ViewState>>, Path(id): Path<i64>) -> Response {
    let info = match state.store.runs.run(id).await {
        Ok(info) => info,
        Err(e) => return error(StatusCode::NOT_FOUND, &format!("run {id}: {e}")),
    };
    let cells = match state.store.runs.cells(id).await {
        Ok(cells) => cells,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let p = progress(&info);
    let running = info.status == "running";
    let mut summary = summary::summarise(info.clone(), &cells);
    summary.price(&state.prices);
    let body = format!(
        "<p class=\"meta\"><span class=\"status status-{status}\">{status}</span> · {} · {}{} · <a href=\"/ui/runs/{id}/cells\">every cell with its prompt and answer</a> · <a href=\"/ui/compare?a={id}\">compare with…</a></p>{}",
        esc(&p.text),
        esc(&plan_text(&info)),
        if running { " · this page reloads every 3 s while the run is running" } else { "" },
        understudy_report::report::html_body(&summary, &cells),
        status = esc(&info.status),
    );
    let head = if running {
        "<meta http-equiv=\"refresh\" content=\"3\">"
    } else {
        ""
    };
    page_with_head(&format!("run {id}"), "runs", head, &body).into_response()
}
