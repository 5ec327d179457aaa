//! The SQLite schema, as migrations applied in order; `PRAGMA user_version` records how many ran.
//! Conversations and memory tables were once created on the side (`IF NOT EXISTS`), so files
//! made then migrate too.

/// Schema migrations, applied in order; the index + 1 is the schema version they produce.
pub(super) const MIGRATIONS: &[&str] = &[
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
    r#"
ALTER TABLE cells ADD COLUMN cached_prompt_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN cached_tokens INTEGER;
"#,
    r#"
ALTER TABLE requests ADD COLUMN concurrency INTEGER;
"#,
    r#"
CREATE TABLE IF NOT EXISTS conversation_turns (
    conversation TEXT NOT NULL,
    position INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    PRIMARY KEY (conversation, position)
);
CREATE TABLE IF NOT EXISTS conversation_summaries (
    conversation TEXT PRIMARY KEY,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS memory_collections (
    name TEXT PRIMARY KEY,
    embedder TEXT NOT NULL,
    dim INTEGER NOT NULL
);
ALTER TABLE memory_collections ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS memory_chunks (
    id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    source TEXT NOT NULL,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS memory_chunks_source ON memory_chunks(collection, source);
CREATE TABLE claims (
    run_id INTEGER NOT NULL,
    cell TEXT NOT NULL,
    worker TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, cell)
);
"#,
    // A kept turn's tool calls or the call it answers (JSON; NULL for plain text turns), so a
    // stored response keeps a tool loop whole.
    r#"
ALTER TABLE conversation_turns ADD COLUMN calls TEXT;
"#,
    // Captured traffic (redacted request and answer, JSON). No index of its own: a second
    // B-tree to update in every captured row's commit measurably slowed the gateway under load,
    // and readers scan a time range through `requests_at` anyway.
    r#"
ALTER TABLE requests ADD COLUMN capture TEXT;
"#,
    // Shadowed requests: the reference's answer and a candidate's answer to the same request,
    // written by the gateway's background shadow worker (never on a request's path).
    r#"
CREATE TABLE shadow_pairs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    profile TEXT NOT NULL,
    conversation TEXT NOT NULL,
    request TEXT NOT NULL,
    reference_model TEXT NOT NULL,
    reference TEXT NOT NULL,
    reference_ms REAL NOT NULL,
    reference_tokens INTEGER,
    candidate_model TEXT NOT NULL,
    candidate TEXT,
    candidate_ms REAL NOT NULL,
    candidate_tokens INTEGER,
    error TEXT
);
CREATE INDEX shadow_pairs_profile_at ON shadow_pairs (profile, at);
"#,
    // A canary profile's arm weights as last moved (`understudy canary`); gateways poll them.
    r#"
CREATE TABLE canary_weights (
    profile TEXT PRIMARY KEY,
    weights TEXT NOT NULL,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"#,
];
