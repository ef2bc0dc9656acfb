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
    let name = format!(
        "dangol_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    let store = PgStore::connect(&format!("{base}/{name}")).await.unwrap();
    Some(common::state_over(Arc::new(store)).await)
}

api_tests!(postgres);
