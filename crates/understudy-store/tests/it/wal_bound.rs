//! The SQLite store's write-ahead log stays bounded under a flood of request-log rows: the
//! checkpoint thread folds it into the database every second, and `journal_size_limit` makes
//! SQLite cut the file back once it starts over, instead of leaving it at its largest size.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use understudy_store::{RequestRow, Store};

const LIMIT: u64 = 4 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_rows_leaves_a_bounded_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let store = Store::open_path(&db).await.unwrap();
    let row = |i: usize| RequestRow {
        model: format!("m{i}"),
        status: 401,
        error_type: Some("invalid_request_error".into()),
        prompt_json: Some("x".repeat(2000)),
        ..Default::default()
    };
    // One commit each: about 12,000 WAL pages, far past the limit, between checkpoints.
    for i in 0..6000 {
        store.log.log_request(&row(i)).await.unwrap();
    }
    let wal = dir.path().join("log.db-wal");
    let peak = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(
        peak > LIMIT,
        "the flood did not grow the WAL past the limit ({peak} bytes)"
    );
    // A checkpoint (every second), then a write that starts the WAL over.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    store.log.log_request(&row(0)).await.unwrap();
    let after = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(
        after <= LIMIT + 64 * 1024,
        "the WAL stayed at {after} bytes after a checkpoint (peak {peak})"
    );
}
