//! The HTTP API on the embedded SQLite store, driven through `app(state)`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod common;

use std::sync::Arc;

use dangol_server::AppState;
use dangol_server::sqlite::SqliteStore;

async fn sqlite() -> Option<AppState> {
    let store = SqliteStore::in_memory().await.unwrap();
    Some(common::state_over(Arc::new(store)).await)
}

api_tests!(sqlite);
