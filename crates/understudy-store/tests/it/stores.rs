//! One set of checks for both stores: SQLite (a file) and PostgreSQL (a real server started by
//! `understudy_store::test_server`). Each check opens two handles on the same store, as two
//! processes or two gateway replicas would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Duration;

use understudy_core::ChatMessage;
use understudy_store::{cell_key, Cell, Location, RequestRow, Store};

/// Two handles on a fresh SQLite file and, when a server is available, two on a fresh
/// PostgreSQL database.
async fn stores() -> Vec<(String, Store, Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let mut out = vec![(
        "sqlite".to_string(),
        Store::open_path(&path).await.unwrap(),
        Store::open_path(&path).await.unwrap(),
        Some(dir),
    )];
    if let Some(url) = understudy_store::test_server::fresh_database().await {
        let location = Location::parse(&url);
        let (a, b) = tokio::join!(Store::open(&location), Store::open(&location));
        out.push(("postgres".to_string(), a.unwrap(), b.unwrap(), None));
    }
    out
}

fn cell(item: &str, model: &str) -> Cell {
    Cell {
        model: model.into(),
        ..Cell::for_test(item, 1.0)
    }
}

#[tokio::test]
async fn runs_open_once_and_keep_each_cell_once_in_order() {
    for (name, a, b, _dir) in stores().await {
        let (x, y) = tokio::join!(a.runs.open_run("plan", "{}"), b.runs.open_run("plan", "{}"));
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x.0, y.0, "{name}: two workers on one plan join one run");
        assert_ne!(x.1, y.1, "{name}: one made it, the other resumed it");
        let run = x.0;
        for item in ["i2", "i1", "i3"] {
            assert!(a.runs.insert_cell(run, &cell(item, "m")).await.unwrap());
        }
        assert!(
            !b.runs.insert_cell(run, &cell("i1", "m")).await.unwrap(),
            "{name}: a duplicate is ignored"
        );
        let cells = b.runs.cells(run).await.unwrap();
        let items: Vec<&str> = cells.iter().map(|c| c.item_id.as_str()).collect();
        assert_eq!(items, ["i2", "i1", "i3"], "{name}");
        assert_eq!(
            cells[0],
            cell("i2", "m"),
            "{name}: a cell reads back as written"
        );
        let keys: HashSet<String> = ["i1", "i2", "i3"]
            .iter()
            .map(|i| cell_key("m", "zero-shot", "plain", "t", i))
            .collect();
        assert_eq!(a.runs.done_keys(run).await.unwrap(), keys, "{name}");
        assert!(a.runs.insert_cell(run, &cell("i1", "n")).await.unwrap());
        assert!(a.runs.insert_cell(run, &cell("i4", "m")).await.unwrap());
        let row = |model: &str| (model.to_string(), "zero-shot".into(), "plain".into());
        assert_eq!(
            b.runs.row_keys(run).await.unwrap(),
            [row("m"), row("n")],
            "{name}: rows in the order of their first cell"
        );
        assert!(b.runs.row_keys(999).await.unwrap().is_empty(), "{name}");
        let keys: HashSet<String> = keys
            .into_iter()
            .chain([
                cell_key("n", "zero-shot", "plain", "t", "i1"),
                cell_key("m", "zero-shot", "plain", "t", "i4"),
            ])
            .collect();
        assert_eq!(a.runs.done_keys(run).await.unwrap(), keys, "{name}");
        let info = a.runs.run(run).await.unwrap();
        assert_eq!((info.cells, info.status.as_str()), (5, "running"), "{name}");
        a.runs.set_status(run, "finished").await.unwrap();
        let info = b.runs.run(run).await.unwrap();
        assert!(info.finished_at.is_some(), "{name}");
        let (next, resumed) = b.runs.open_run("plan", "{}").await.unwrap();
        assert!(
            next != run && !resumed,
            "{name}: a finished run is not resumed"
        );
        assert_eq!(a.runs.runs().await.unwrap().len(), 2, "{name}");
        assert!(a.runs.run(999).await.is_err(), "{name}");
    }
}

#[tokio::test]
async fn a_claim_is_held_until_it_expires_or_its_cell_is_stored() {
    for (name, a, b, _dir) in stores().await {
        let (run, _) = a.runs.open_run("plan", "{}").await.unwrap();
        let key = cell_key("m", "zero-shot", "plain", "t", "i1");
        let long = Duration::from_secs(60);
        assert!(a.runs.claim(run, &key, "A", long).await.unwrap(), "{name}");
        assert!(
            !b.runs.claim(run, &key, "B", long).await.unwrap(),
            "{name}: held by A"
        );
        assert!(
            a.runs.claim(run, &key, "A", long).await.unwrap(),
            "{name}: A's own"
        );
        // Of many workers racing for one free cell, exactly one gets it.
        let other = cell_key("m", "zero-shot", "plain", "t", "i2");
        let racers: Vec<_> = (0..8)
            .map(|w| {
                let store = if w % 2 == 0 { a.clone() } else { b.clone() };
                let other = other.clone();
                tokio::spawn(async move {
                    store
                        .runs
                        .claim(run, &other, &format!("w{w}"), long)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut won = 0;
        for r in racers {
            won += usize::from(r.await.unwrap());
        }
        assert_eq!(won, 1, "{name}: one winner");
        // A dead worker's claim expires; a live one's is renewed.
        let short = Duration::from_millis(300);
        let third = cell_key("m", "zero-shot", "plain", "t", "i3");
        assert!(a.runs.claim(run, &third, "dead", short).await.unwrap());
        assert!(a.runs.claim(run, &key, "A", short).await.unwrap());
        tokio::time::sleep(Duration::from_millis(150)).await;
        a.runs.renew_claims(run, "A", short).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(
            b.runs.claim(run, &third, "B", long).await.unwrap(),
            "{name}: expired"
        );
        assert!(
            !b.runs.claim(run, &key, "B", long).await.unwrap(),
            "{name}: renewed"
        );
        // Stored: done for everyone, whoever claims.
        a.runs.insert_cell(run, &cell("i1", "m")).await.unwrap();
        assert!(
            !a.runs.claim(run, &key, "A", long).await.unwrap(),
            "{name}: done"
        );
        // Released: free at once.
        b.runs.release_claims(run, "B").await.unwrap();
        assert!(
            a.runs.claim(run, &third, "A", long).await.unwrap(),
            "{name}: released"
        );
    }
}

#[tokio::test]
async fn the_cache_and_the_request_log_are_shared() {
    for (name, a, b, _dir) in stores().await {
        assert_eq!(a.cache.cache_get("k").await.unwrap(), None, "{name}");
        a.cache.cache_put("k", "v1").await.unwrap();
        b.cache.cache_put("k", "v2").await.unwrap();
        assert_eq!(
            a.cache.cache_get("k").await.unwrap().as_deref(),
            Some("v2"),
            "{name}"
        );
        for (i, store) in [&a, &b, &a].into_iter().enumerate() {
            let row = RequestRow {
                model: format!("m{i}"),
                status: 200,
                total_ms: 1.5,
                prompt_tokens: Some(7),
                cached_tokens: Some(3),
                concurrency: Some(2),
                route: Some("{}".into()),
                ..Default::default()
            };
            store.log.log_request(&row).await.unwrap();
        }
        let rows = b.log.requests("2000-01-01T00:00:00Z", 2).await.unwrap();
        let models: Vec<&str> = rows.iter().map(|r| r.model.as_str()).collect();
        assert_eq!(models, ["m1", "m2"], "{name}: the newest two, oldest first");
        assert_eq!(rows[0].cached_tokens, Some(3), "{name}");
        assert!(
            rows[0].at.as_deref().is_some_and(|t| t.ends_with('Z')),
            "{name}"
        );
        let later = b.log.requests("2999-01-01T00:00:00Z", 10).await.unwrap();
        assert!(later.is_empty(), "{name}");
        // Nothing logged before 2000 to drop; everything logged before the year 2999.
        assert_eq!(a.log.drop_requests_before("2000-01-01").await.unwrap(), 0);
        assert_eq!(
            a.log.drop_requests_before("2999-01-01").await.unwrap(),
            3,
            "{name}"
        );
        let left = b.log.requests("2000-01-01T00:00:00Z", 10).await.unwrap();
        assert!(left.is_empty(), "{name}: {left:?}");
        // A row cap keeps the newest rows, whichever replica wrote them.
        for (i, store) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
            let row = RequestRow {
                model: format!("r{i}"),
                status: 200,
                ..Default::default()
            };
            store.log.log_request(&row).await.unwrap();
        }
        assert_eq!(a.log.keep_newest_requests(2).await.unwrap(), 3, "{name}");
        assert_eq!(b.log.keep_newest_requests(2).await.unwrap(), 0, "{name}");
        let left = b.log.requests("2000-01-01T00:00:00Z", 10).await.unwrap();
        let models: Vec<&str> = left.iter().map(|r| r.model.as_str()).collect();
        assert_eq!(models, ["r3", "r4"], "{name}");
    }
}

#[tokio::test]
async fn replicas_appending_to_one_conversation_keep_every_turn_in_one_piece() {
    for (name, a, b, _dir) in stores().await {
        let mut tasks = Vec::new();
        for replica in 0..2 {
            let store = if replica == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                for i in 0..20 {
                    let turns = [
                        ChatMessage::user(format!("q{replica}-{i}")),
                        ChatMessage::assistant(format!("a{replica}-{i}")),
                    ];
                    store.conversations.append("c", &turns).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let history = b.conversations.load("c").await.unwrap();
        assert_eq!(history.turns.len(), 80, "{name}");
        for pair in history.turns.chunks(2) {
            assert_eq!(
                pair[0].content.replacen('q', "a", 1),
                pair[1].content,
                "{name}: a call's turns stay together"
            );
        }
        a.conversations.fold("c", 70, "summary").await.unwrap();
        let folded = b.conversations.load("c").await.unwrap();
        assert_eq!(folded.summary.as_deref(), Some("summary"), "{name}");
        assert_eq!(folded.turns.len(), 10, "{name}");
        assert_eq!(folded.turns[..], history.turns[70..], "{name}");
        assert!(a.conversations.load("none").await.unwrap().turns.is_empty());
    }
}

#[tokio::test]
async fn a_kept_tool_loop_reads_back_with_its_calls() {
    for (name, a, b, _dir) in stores().await {
        let call = understudy_core::ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris"}"#.into(),
        };
        let turns = [
            ChatMessage::user("Weather in Paris?"),
            ChatMessage::assistant_calls("", vec![call]),
            ChatMessage::tool_result("call_1", "18C"),
            ChatMessage::assistant("It is 18C."),
        ];
        a.conversations.append("loop", &turns).await.unwrap();
        let back = b.conversations.load("loop").await.unwrap();
        assert_eq!(back.turns, turns, "{name}");
    }
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

#[tokio::test]
async fn a_collection_changed_through_one_handle_is_searched_by_the_other() {
    for (name, a, b, _dir) in stores().await {
        let chunks = vec!["east".to_string(), "north".to_string()];
        let vectors = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        a.vectors
            .put_document("c", "e", "doc", &chunks, &vectors)
            .await
            .unwrap();
        let hits = b.vectors.search("c", &unit(&[0.6, 0.8]), 1).await.unwrap();
        assert_eq!(hits[0].text, "north", "{name}");
        // Changed through `a` after `b` searched (and, in SQLite, loaded the vectors).
        let swapped = vec![vec![0.0, 1.0], vec![1.0, 0.0]];
        a.vectors
            .put_document("c", "e", "doc", &chunks, &swapped)
            .await
            .unwrap();
        let hits = b.vectors.search("c", &unit(&[0.6, 0.8]), 2).await.unwrap();
        assert_eq!(hits[0].text, "east", "{name}: no stale copy");
        assert!(
            (hits[0].score - 0.8).abs() < 1e-5,
            "{name}: {}",
            hits[0].score
        );
        assert_eq!(hits.len(), 2, "{name}: re-adding replaced, not duplicated");
        assert_eq!(b.vectors.chunk_texts("c", "doc").await.unwrap(), chunks);
        let listed = b.vectors.collections().await.unwrap();
        assert_eq!((listed.len(), listed[0].chunks), (1, 2), "{name}");
        assert_eq!(
            b.vectors.collection_embedder("c").await.unwrap().as_deref(),
            Some("e")
        );
        assert!(a
            .vectors
            .put_document("c", "other", "doc2", &chunks, &vectors)
            .await
            .is_err());
        assert!(b
            .vectors
            .search("nope", &[1.0, 0.0], 3)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn a_large_postgres_collection_is_searched_through_its_hnsw_index() {
    let Some(url) = understudy_store::test_server::fresh_database().await else {
        return;
    };
    let store = Store::open(&Location::parse(&url)).await.unwrap();
    // A reproducible spread of unit vectors (a small LCG: no test-only dependency).
    let mut seed: u64 = 7;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let dim = 16;
    for doc in 0..11 {
        let vectors: Vec<Vec<f32>> = (0..1000)
            .map(|_| unit(&(0..dim).map(|_| next()).collect::<Vec<_>>()))
            .collect();
        let chunks: Vec<String> = (0..1000).map(|i| format!("{doc}-{i}")).collect();
        store
            .vectors
            .put_document("big", "e", &format!("d{doc}"), &chunks, &vectors)
            .await
            .unwrap();
    }
    let (mut found, mut wanted) = (0, 0);
    for _ in 0..20 {
        let query = unit(&(0..dim).map(|_| next()).collect::<Vec<_>>());
        let approximate = store.vectors.search("big", &query, 10).await.unwrap();
        let exact = store.vectors.search_exact("big", &query, 10).await.unwrap();
        assert_eq!(exact.len(), 10);
        assert!(exact.windows(2).all(|w| w[0].score >= w[1].score));
        let truth: HashSet<&str> = exact.iter().map(|h| h.id.as_str()).collect();
        found += approximate
            .iter()
            .filter(|h| truth.contains(h.id.as_str()))
            .count();
        wanted += truth.len();
    }
    let recall = found as f64 / wanted as f64;
    assert!(recall >= 0.9, "HNSW recall@10 {recall:.3}");
    let plan = query_plan(&url).await;
    assert!(
        plan.contains("memory_chunks_hnsw_16"),
        "the HNSW index is used: {plan}"
    );
}

/// The plan PostgreSQL picks for the store's approximate query on `big`.
async fn query_plan(url: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // The settings the store's approximate search runs under.
    client
        .batch_execute("SET hnsw.iterative_scan = relaxed_order; SET enable_sort = off")
        .await
        .unwrap();
    let query = format!("[{}]", vec!["0.25"; 16].join(","));
    let rows = client
        .query(
            &format!(
                "EXPLAIN SELECT id FROM memory_chunks WHERE collection = 'big' AND dim = 16
                 ORDER BY embedding::vector(16) <#> '{query}'::vector(16) LIMIT 10"
            ),
            &[],
        )
        .await
        .unwrap();
    let plan: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    plan.join("\n")
}

#[tokio::test]
async fn request_filters_run_in_the_query_past_any_burst() {
    for (name, a, b, _dir) in stores().await {
        let row = |profile: &str, status: u16| RequestRow {
            model: "m".into(),
            profile: Some(profile.into()),
            status,
            ..Default::default()
        };
        a.log.log_request(&row("rare", 503)).await.unwrap();
        for i in 0..60 {
            let store = if i % 2 == 0 { &a } else { &b };
            store.log.log_request(&row("busy", 200)).await.unwrap();
        }
        let since = "2000-01-01T00:00:00Z".to_string();
        let only = |profile: Option<&str>, status: Option<u16>, class: Option<u16>| {
            understudy_store::RequestFilter {
                since: since.clone(),
                profile: profile.map(str::to_string),
                status,
                status_class: class,
                ..Default::default()
            }
        };
        // The newest 10 rows are all "busy": the rare one is found by the query itself.
        let found = b
            .log
            .requests_where(&only(Some("rare"), None, None), 10)
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{name}");
        assert_eq!(found[0].status, 503, "{name}");
        let found = b
            .log
            .requests_where(&only(None, None, Some(5)), 10)
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{name}");
        let found = b
            .log
            .requests_where(&only(None, Some(200), None), 10)
            .await
            .unwrap();
        assert_eq!(found.len(), 10, "{name}");
        assert!(
            found.iter().all(|r| r.profile.as_deref() == Some("busy")),
            "{name}"
        );
        assert_eq!(
            a.log.request_profiles(&since).await.unwrap(),
            ["busy", "rare"],
            "{name}"
        );
    }
}

#[tokio::test]
async fn captured_rows_are_filtered_and_their_capture_cleared_by_age_alone() {
    for (name, a, b, _dir) in stores().await {
        let row = |model: &str, capture: Option<&str>| RequestRow {
            model: "client".into(),
            backend_model: Some(model.into()),
            profile: Some("ref".into()),
            status: 200,
            capture: capture.map(str::to_string),
            ..Default::default()
        };
        a.log
            .log_request(&row("gpt", Some("{\"api\":\"chat\"}")))
            .await
            .unwrap();
        b.log.log_request(&row("gpt", None)).await.unwrap();
        b.log
            .log_request(&row("local", Some("{\"api\":\"chat\"}")))
            .await
            .unwrap();
        let filter = |model: Option<&str>, until: Option<&str>| understudy_store::RequestFilter {
            since: "2000-01-01T00:00:00Z".into(),
            until: until.map(str::to_string),
            model: model.map(str::to_string),
            captured: true,
            ..Default::default()
        };
        let found = a.log.requests_where(&filter(None, None), 10).await.unwrap();
        assert_eq!(found.len(), 2, "{name}");
        assert!(found.iter().all(|r| r.capture.is_some()), "{name}");
        let gpt = a
            .log
            .requests_where(&filter(Some("gpt"), None), 10)
            .await
            .unwrap();
        assert_eq!(gpt.len(), 1, "{name}");
        let before = filter(None, Some("2000-01-02T00:00:00Z"));
        assert!(
            a.log.requests_where(&before, 10).await.unwrap().is_empty(),
            "{name}"
        );
        // Nothing is older than today; then everything is, and only captures go.
        assert_eq!(
            a.log.clear_captures_before("2000-01-01").await.unwrap(),
            0,
            "{name}"
        );
        assert_eq!(
            b.log.clear_captures_before("2999-01-01").await.unwrap(),
            2,
            "{name}"
        );
        assert!(a
            .log
            .requests_where(&filter(None, None), 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            a.log
                .requests("2000-01-01T00:00:00Z", 10)
                .await
                .unwrap()
                .len(),
            3,
            "{name}"
        );
    }
}

#[tokio::test]
async fn shadowed_pairs_from_two_writers_are_read_back_by_profile_and_time() {
    for (name, a, b, _dir) in stores().await {
        let pair = |profile: &str, candidate: Option<&str>| understudy_store::ShadowRow {
            profile: profile.into(),
            conversation: "c1".into(),
            request: "{\"messages\":[]}".into(),
            reference_model: "openai/gpt".into(),
            reference: "{\"content\":\"ref\"}".into(),
            reference_ms: 12.5,
            reference_tokens: Some(7),
            candidate_model: "local".into(),
            candidate: candidate.map(str::to_string),
            candidate_ms: 250.0,
            candidate_tokens: candidate.map(|_| 9),
            error: candidate.is_none().then(|| "timed out".to_string()),
            ..Default::default()
        };
        a.log
            .log_shadow(&pair("support", Some("{\"content\":\"x\"}")))
            .await
            .unwrap();
        b.log.log_shadow(&pair("support", None)).await.unwrap();
        b.log.log_shadow(&pair("other", Some("{}"))).await.unwrap();
        let read = a
            .log
            .shadows("support", "2000-01-01T00:00:00Z")
            .await
            .unwrap();
        assert_eq!(read.len(), 2, "{name}");
        assert!(
            read[0].at.as_deref().is_some_and(|at| at.starts_with("20")),
            "{name}"
        );
        assert_eq!(read[0].candidate_tokens, Some(9), "{name}");
        assert_eq!(read[0].reference_ms, 12.5, "{name}");
        assert_eq!(read[1].error.as_deref(), Some("timed out"), "{name}");
        let later = a
            .log
            .shadows("support", "2999-01-01T00:00:00Z")
            .await
            .unwrap();
        assert!(later.is_empty(), "{name}");
    }
}

#[tokio::test]
async fn canary_weights_set_by_one_writer_are_read_by_another_and_replaced() {
    for (name, a, b, _dir) in stores().await {
        assert!(b.log.canary_weights().await.unwrap().is_empty(), "{name}");
        a.log
            .set_canary_weights("support", "{\"local\":10,\"ref\":90}")
            .await
            .unwrap();
        a.log
            .set_canary_weights("support", "{\"local\":50,\"ref\":50}")
            .await
            .unwrap();
        let read = b.log.canary_weights().await.unwrap();
        assert_eq!(
            read,
            vec![(
                "support".to_string(),
                "{\"local\":50,\"ref\":50}".to_string()
            )],
            "{name}"
        );
    }
}
