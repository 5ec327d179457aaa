//! The SQLite store (WAL): runs, cells, the response cache and the gateway's request log.
//! Versioned schema with migrations. Each cell is committed on its own, so a killed run loses
//! at most the cell in flight.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::StoreError;

/// Schema migrations, applied in order; the index + 1 is the schema version they produce.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    plan_key TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    finished_at TEXT,
    status TEXT NOT NULL,
    plan_json TEXT NOT NULL
);
CREATE INDEX runs_plan_key ON runs(plan_key);
CREATE TABLE cells (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    model TEXT NOT NULL,
    strategy TEXT NOT NULL,
    format TEXT NOT NULL,
    task TEXT NOT NULL,
    item_id TEXT NOT NULL,
    prompt_json TEXT NOT NULL,
    answer TEXT NOT NULL,
    reasoning TEXT,
    parsed TEXT,
    gold TEXT NOT NULL,
    score REAL NOT NULL,
    format_failure INTEGER NOT NULL,
    ttft_ms REAL NOT NULL,
    total_ms REAL NOT NULL,
    decode_tps REAL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    PRIMARY KEY (run_id, model, strategy, format, task, item_id)
);
CREATE TABLE cache (
    key TEXT PRIMARY KEY,
    response_json TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
"#,
    r#"
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    model TEXT NOT NULL,
    profile TEXT,
    backend_model TEXT,
    status INTEGER NOT NULL,
    error_type TEXT,
    stream INTEGER NOT NULL,
    total_ms REAL NOT NULL,
    ttft_ms REAL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    prompt_json TEXT,
    answer TEXT
);
CREATE INDEX requests_at ON requests(at);
"#,
    r#"
ALTER TABLE cells ADD COLUMN detail TEXT;
"#,
    r#"
ALTER TABLE requests ADD COLUMN route TEXT;
"#,
    r#"
ALTER TABLE cells ADD COLUMN conditions TEXT;
"#,
    r#"
ALTER TABLE cells ADD COLUMN program TEXT;
ALTER TABLE cells ADD COLUMN program_hash TEXT;
"#,
];

/// One scored answer.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Cell {
    pub model: String,
    pub strategy: String,
    pub format: String,
    pub task: String,
    pub item_id: String,
    pub prompt_json: String,
    pub answer: String,
    pub reasoning: Option<String>,
    pub parsed: Option<String>,
    pub gold: String,
    pub score: f64,
    pub format_failure: bool,
    pub ttft_ms: f64,
    pub total_ms: f64,
    pub decode_tps: Option<f64>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub cached: bool,
    /// Scorer-specific results as JSON (ROUGE parts, per-instruction verdicts, judge ratings,
    /// sandbox outcome, truncation).
    pub detail: Option<String>,
    /// The machine's state while the answer was produced; `None` for cached answers (produced
    /// earlier, under conditions not recorded here) and where `/proc` cannot be read.
    pub conditions: Option<crate::Conditions>,
    /// The prompt program the cell was sent (`understudy_prompt::Program` as canonical JSON);
    /// `None` for cells stored before programs were recorded, and in a study's cells file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
}

impl Cell {
    /// A fresh zero-shot, plain-format cell of model `m` on task `t` scoring `score` on `item`
    /// (gold = item id), for tests to adjust with struct-update syntax.
    pub fn for_test(item: &str, score: f64) -> Cell {
        Cell {
            model: "m".into(),
            strategy: "zero-shot".into(),
            format: "plain".into(),
            task: "t".into(),
            item_id: item.into(),
            prompt_json: "[]".into(),
            answer: String::new(),
            reasoning: None,
            parsed: None,
            gold: item.into(),
            score,
            format_failure: false,
            ttft_ms: 1.0,
            total_ms: 1.0,
            decode_tps: None,
            prompt_tokens: 1,
            completion_tokens: 1,
            cached: false,
            detail: None,
            conditions: None,
            program: None,
        }
    }
}

/// One gateway request, as the request log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, Default)]
pub struct RequestRow {
    pub at: Option<String>,
    pub model: String,
    pub profile: Option<String>,
    pub backend_model: Option<String>,
    pub status: u16,
    pub error_type: Option<String>,
    pub stream: bool,
    pub total_ms: f64,
    pub ttft_ms: Option<f64>,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    /// Prompt and answer text, only when the profile opts in.
    pub prompt_json: Option<String>,
    pub answer: Option<String>,
    /// How the request was served (thinking decision, cascade, plan steps), as JSON.
    #[serde(default)]
    pub route: Option<String>,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RunInfo {
    pub id: i64,
    pub plan_key: String,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    /// The plan as stored; JSON output shows it as the object it is, under `plan`.
    #[serde(
        rename = "plan",
        serialize_with = "json_text_as_object",
        deserialize_with = "json_object_as_text"
    )]
    pub plan_json: String,
    pub cells: i64,
}

/// Writes JSON text as the JSON value it holds (text that does not parse stays a string).
fn json_text_as_object<S: serde::Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => serde::Serialize::serialize(&value, serializer),
        Err(_) => serializer.serialize_str(text),
    }
}

/// Reads what [`json_text_as_object`] wrote back into JSON text.
fn json_object_as_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    let value: serde_json::Value = serde::Deserialize::deserialize(deserializer)?;
    Ok(match value {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    })
}

/// The store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating and migrating) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;")
            .map_err(err)?;
        let store = Self {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.err())?;
        if version as usize > MIGRATIONS.len() {
            return Err(StoreError::Newer {
                path: self.path.clone(),
                version,
            });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.unchecked_transaction().map_err(self.err())?;
            tx.execute_batch(sql).map_err(self.err())?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))
                .map_err(self.err())?;
            tx.commit().map_err(self.err())?;
        }
        Ok(())
    }

    /// The newest unfinished run with this plan, if any.
    pub fn unfinished_run(&self, plan_key: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT id FROM runs WHERE plan_key = ?1 AND status != 'finished' ORDER BY id DESC LIMIT 1",
                [plan_key],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    pub fn create_run(&self, plan_key: &str, plan_json: &str) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO runs (plan_key, status, plan_json) VALUES (?1, 'running', ?2)",
                params![plan_key, plan_json],
            )
            .map_err(self.err())?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn set_status(&self, run: i64, status: &str) -> Result<(), StoreError> {
        let finished = status == "finished";
        self.conn
            .execute(
                "UPDATE runs SET status = ?2, finished_at = CASE WHEN ?3 THEN strftime('%Y-%m-%dT%H:%M:%SZ', 'now') ELSE finished_at END WHERE id = ?1",
                params![run, status, finished],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Keys (model, strategy, format, task, item) of the cells already stored for `run`.
    pub fn done_keys(&self, run: i64) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT model, strategy, format, task, item_id FROM cells WHERE run_id = ?1")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(cell_key(
                    &r.get::<_, String>(0)?,
                    &r.get::<_, String>(1)?,
                    &r.get::<_, String>(2)?,
                    &r.get::<_, String>(3)?,
                    &r.get::<_, String>(4)?,
                ))
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Stores a cell; a duplicate key is ignored, so a retried cell is never stored twice.
    pub fn insert_cell(&self, run: i64, c: &Cell) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO cells (run_id, model, strategy, format, task, item_id, prompt_json, answer, reasoning, parsed, gold, score, format_failure, ttft_ms, total_ms, decode_tps, prompt_tokens, completion_tokens, cached, detail, conditions, program, program_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    run, c.model, c.strategy, c.format, c.task, c.item_id, c.prompt_json, c.answer, c.reasoning, c.parsed, c.gold,
                    c.score, c.format_failure, c.ttft_ms, c.total_ms, c.decode_tps, c.prompt_tokens, c.completion_tokens, c.cached, c.detail,
                    c.conditions.and_then(|k| serde_json::to_string(&k).ok()),
                    c.program, c.program.as_deref().map(understudy_prompt::program::hash_of)
                ])
            })
            .map_err(self.err())?;
        Ok(())
    }

    /// Speeds measured on generated (not cached) cells, per model: (decode tok/s, prompt tok/s).
    pub fn measured_speeds(&self) -> Result<Vec<(String, f64, f64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT model, AVG(decode_tps), SUM(prompt_tokens) * 1000.0 / SUM(ttft_ms) FROM cells \
                 WHERE cached = 0 AND decode_tps > 0 AND ttft_ms > 0 GROUP BY model",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Mean output tokens of generated (not cached) cells per (model, strategy): what a cell
    /// of that kind is expected to decode.
    pub fn measured_output_tokens(&self) -> Result<Vec<(String, String, f64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT model, strategy, AVG(completion_tokens) FROM cells \
                 WHERE cached = 0 GROUP BY model, strategy",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    pub fn cells(&self, run: i64) -> Result<Vec<Cell>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT model, strategy, format, task, item_id, prompt_json, answer, reasoning, parsed, gold, score, format_failure, ttft_ms, total_ms, decode_tps, prompt_tokens, completion_tokens, cached, detail, conditions, program
                 FROM cells WHERE run_id = ?1 ORDER BY rowid",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(Cell {
                    model: r.get(0)?,
                    strategy: r.get(1)?,
                    format: r.get(2)?,
                    task: r.get(3)?,
                    item_id: r.get(4)?,
                    prompt_json: r.get(5)?,
                    answer: r.get(6)?,
                    reasoning: r.get(7)?,
                    parsed: r.get(8)?,
                    gold: r.get(9)?,
                    score: r.get(10)?,
                    format_failure: r.get(11)?,
                    ttft_ms: r.get(12)?,
                    total_ms: r.get(13)?,
                    decode_tps: r.get(14)?,
                    prompt_tokens: r.get(15)?,
                    completion_tokens: r.get(16)?,
                    cached: r.get(17)?,
                    detail: r.get(18)?,
                    conditions: r
                        .get::<_, Option<String>>(19)?
                        .and_then(|text| serde_json::from_str(&text).ok()),
                    program: r.get(20)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Runs with their cell counts, oldest first; only run `id` when given.
    fn query_runs(&self, id: Option<i64>) -> Result<Vec<RunInfo>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.id, r.plan_key, r.created_at, r.finished_at, r.status, r.plan_json, (SELECT COUNT(*) FROM cells c WHERE c.run_id = r.id)
                 FROM runs r WHERE ?1 IS NULL OR r.id = ?1 ORDER BY r.id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(RunInfo {
                    id: r.get(0)?,
                    plan_key: r.get(1)?,
                    created_at: r.get(2)?,
                    finished_at: r.get(3)?,
                    status: r.get(4)?,
                    plan_json: r.get(5)?,
                    cells: r.get(6)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    pub fn runs(&self) -> Result<Vec<RunInfo>, StoreError> {
        self.query_runs(None)
    }

    pub fn run(&self, id: i64) -> Result<RunInfo, StoreError> {
        self.query_runs(Some(id))?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NoSuchRun(id.to_string()))
    }

    pub fn cache_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT response_json FROM cache WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(self.err())
    }

    pub fn cache_put(&self, key: &str, response_json: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO cache (key, response_json) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![key, response_json]))
            .map_err(self.err())?;
        Ok(())
    }
}

impl Store {
    /// Stops this connection from checkpointing the WAL after its own commits, so that a commit
    /// someone waits on never includes a checkpoint's fsync; call [`Store::checkpoint`] from
    /// another connection instead.
    pub fn defer_checkpoints(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA wal_autocheckpoint=0;")
            .map_err(self.err())
    }

    /// Copies committed WAL pages into the database file, then lets the WAL start over. The
    /// passive pass copies nearly everything without blocking writers; the restart then copies
    /// only what was committed meanwhile, holding writers for that short moment. Under steady
    /// writes a passive checkpoint alone never catches up, and the WAL (and its mapped index)
    /// would grow without end.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        for mode in ["PASSIVE", "RESTART"] {
            self.conn
                .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// Appends and commits one row of the request log.
    pub fn log_request(&self, r: &RequestRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO requests (model, profile, backend_model, status, error_type, stream, total_ms, ttft_ms, prompt_tokens, completion_tokens, prompt_json, answer, route)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    r.model, r.profile, r.backend_model, r.status, r.error_type, r.stream, r.total_ms, r.ttft_ms, r.prompt_tokens, r.completion_tokens,
                    r.prompt_json, r.answer, r.route
                ])
            })
            .map_err(self.err())?;
        Ok(())
    }

    /// Logged requests at or after `since` (an ISO-8601 UTC time), oldest first, at most `limit`.
    pub fn requests(&self, since: &str, limit: usize) -> Result<Vec<RequestRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT at, model, profile, backend_model, status, error_type, stream, total_ms, ttft_ms, prompt_tokens, completion_tokens, prompt_json, answer, route
                 FROM requests WHERE at >= ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![since, limit as i64], |r| {
                Ok(RequestRow {
                    at: r.get(0)?,
                    model: r.get(1)?,
                    profile: r.get(2)?,
                    backend_model: r.get(3)?,
                    status: r.get(4)?,
                    error_type: r.get(5)?,
                    stream: r.get(6)?,
                    total_ms: r.get(7)?,
                    ttft_ms: r.get(8)?,
                    prompt_tokens: r.get(9)?,
                    completion_tokens: r.get(10)?,
                    prompt_json: r.get(11)?,
                    answer: r.get(12)?,
                    route: r.get(13)?,
                })
            })
            .map_err(self.err())?;
        let mut out: Vec<RequestRow> = rows.collect::<Result<_, _>>().map_err(self.err())?;
        out.reverse();
        Ok(out)
    }
}

/// The identity of a cell within a run.
pub fn cell_key(model: &str, strategy: &str, format: &str, task: &str, item: &str) -> String {
    format!("{model}\u{1f}{strategy}\u{1f}{format}\u{1f}{task}\u{1f}{item}")
}
