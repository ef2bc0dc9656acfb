//! The same HTTP API test bodies on PostgreSQL. `cargo xtask test` starts a
//! throwaway cluster and passes its URL in `DANGOL_TEST_POSTGRES_URL`; each
//! test gets a database of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use dangol_server::AppState;
use dangol_server::postgres::PgStore;
use sqlx::Connection;

static NEXT: AtomicU32 = AtomicU32::new(0);

async fn postgres() -> Option<AppState> {
    let Ok(url) = std::env::var("DANGOL_TEST_POSTGRES_URL") else {
        eprintln!(
            "NOTICE: DANGOL_TEST_POSTGRES_URL is not set: the PostgreSQL suite is skipped \
             (cargo xtask test runs it against a throwaway cluster)"
        );
        return None;
    };
    let store = PgStore::connect(&fresh_database(&url).await).await.unwrap();
    Some(common::state_over(Arc::new(store)).await)
}

/// A new, empty database on the cluster at `url`: its URL.
async fn fresh_database(url: &str) -> String {
    let name = format!(
        "dangol_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

api_tests!(postgres);

/// Raw events sit in monthly partitions, and the retention drops a month
/// past every site's retention whole instead of deleting its rows.
#[tokio::test]
async fn events_are_partitioned_by_month_and_old_months_are_dropped_whole() {
    let Ok(url) = std::env::var("DANGOL_TEST_POSTGRES_URL") else {
        eprintln!("NOTICE: DANGOL_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let db_url = fresh_database(&url).await;
    let store = PgStore::connect(&db_url).await.unwrap();
    let now = dangol_server::now_ms();
    dangol_server::demo::seed(&store, now).await.unwrap();
    use dangol_server::store::EventStore;
    let day = 86_400_000;
    let old = dangol_engine::event::Event::page_view(
        "evt_part_old".into(),
        now - 200 * day,
        "anonpart00000001".into(),
    );
    let new = dangol_engine::event::Event::page_view(
        "evt_part_new".into(),
        now,
        "anonpart00000001".into(),
    );
    let stored = store
        .insert_events("demo", &[old.clone(), new], now)
        .await
        .unwrap();
    assert_eq!(stored, vec![true, true]);
    // The same event again (a retried batch) is stored once.
    assert_eq!(
        store.insert_events("demo", &[old], now).await.unwrap(),
        vec![false]
    );

    let mut conn = sqlx::PgConnection::connect(&db_url).await.unwrap();
    let partition =
        |id: &'static str| format!("SELECT tableoid::regclass::text FROM events WHERE id = '{id}'");
    let old_part: String = sqlx::query_scalar(&partition("evt_part_old"))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let new_part: String = sqlx::query_scalar(&partition("evt_part_new"))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(old_part.starts_with("events_2") && new_part.starts_with("events_2"));
    assert_ne!(old_part, new_part);

    // The demo keeps 90 days: the month of the 200-day-old event goes whole.
    let purged = dangol_server::purge_once(&store, None).await.unwrap();
    assert!(purged >= 1, "{purged}");
    let exists = |name: String| format!("SELECT to_regclass('{name}') IS NOT NULL");
    let old_left: bool = sqlx::query_scalar(&exists(old_part))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let new_left: bool = sqlx::query_scalar(&exists(new_part))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(!old_left && new_left);
    let left = store.events("demo", None, 10).await.unwrap();
    let ids: Vec<&str> = left.iter().map(|e| e.event.id.as_str()).collect();
    assert_eq!(ids, ["evt_part_new"]);
    // The months ahead are there before their first event.
    store.maintain(now + 40 * day).await.unwrap();
    let ahead: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(ahead >= 3, "{ahead} partitions");
}
