//! Claims on a run's cells in SQLite, so that several eval processes on one file share a run:
//! a claim is a lease that its worker renews while it answers; a cell stored marks its claim
//! done; an expired claim can be taken over.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Takes the claim when it is free, the worker's own, or expired, and the cell is not done.
pub(super) fn claim(
    conn: &Connection,
    run: i64,
    key: &str,
    worker: &str,
    lease: Duration,
) -> rusqlite::Result<bool> {
    let now = now_ms();
    let held: Option<String> = conn
        .prepare_cached(
            "INSERT INTO claims (run_id, cell, worker, expires_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (run_id, cell) DO UPDATE SET worker = excluded.worker, expires_ms = excluded.expires_ms
             WHERE claims.done = 0 AND (claims.worker = excluded.worker OR claims.expires_ms < ?5)
             RETURNING worker",
        )?
        .query_row(
            params![run, key, worker, now + lease.as_millis() as i64, now],
            |r| r.get(0),
        )
        .optional()?;
    Ok(held.is_some())
}

pub(super) fn renew(
    conn: &Connection,
    run: i64,
    worker: &str,
    lease: Duration,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE claims SET expires_ms = ?3 WHERE run_id = ?1 AND worker = ?2 AND done = 0",
    )?
    .execute(params![run, worker, now_ms() + lease.as_millis() as i64])?;
    Ok(())
}

pub(super) fn holders(conn: &Connection, run: i64) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT worker FROM claims WHERE run_id = ?1 AND done = 0 ORDER BY worker",
    )?;
    let rows = stmt.query_map([run], |r| r.get(0))?;
    rows.collect()
}

pub(super) fn release(conn: &Connection, run: i64, worker: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM claims WHERE run_id = ?1 AND worker = ?2 AND done = 0")?
        .execute(params![run, worker])?;
    Ok(())
}

/// Marks cell `key` done (claimed or not), in the transaction that stores it.
pub(super) fn mark_done(conn: &Connection, run: i64, key: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO claims (run_id, cell, worker, expires_ms, done) VALUES (?1, ?2, '', 0, 1)
         ON CONFLICT (run_id, cell) DO UPDATE SET done = 1",
    )?
    .execute(params![run, key])?;
    Ok(())
}
