//! `dangol-server`: the backend a shop runs itself.
//!
//! The server is a function: [`app`] builds the whole HTTP API from an
//! [`AppState`], so tests drive it with `oneshot` or over a real socket.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use dangol_server::{app, AppState, sqlite::SqliteStore};
//! let store = SqliteStore::open(std::path::Path::new("data/dangol.db")).await?;
//! let state = AppState::new(Arc::new(store));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app(state)).await?;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod cache;
pub mod catalog;
pub mod churn;
mod configs;
mod cors;
pub mod coupons;
pub mod demo;
pub mod error;
pub mod identity;
mod ingest;
pub mod insights;
pub mod limits;
mod migrations;
pub mod orders;
pub mod postgres;
pub mod recs;
pub mod results;
pub mod rollups;
mod routes;
pub mod segments;
pub mod signing;
mod sql;
pub mod sqlite;
pub mod store;
pub(crate) mod upload;
pub mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;

pub use routes::{API_PATHS, MAX_EVENTS_BODY, OPENAPI_JSON};
use store::Store;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    /// Sites, configs and events.
    pub store: Arc<dyn Store>,
    /// Where `dangol.js` and the demo storefront live (`www/`).
    pub www_dir: Option<PathBuf>,
    /// Where the built widget lives (`pkg/`).
    pub pkg_dir: Option<PathBuf>,
    /// The bearer token for admin reads; admin routes are off without one.
    pub admin_token: Option<String>,
    /// Requests allowed per minute.
    pub limits: limits::Limits,
    /// The rate-limit counters.
    pub limiter: Arc<limits::Limiter>,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` name the client.
    pub proxies: Arc<limits::TrustedProxies>,
    /// Sites and served configs, for a second.
    pub cache: Arc<cache::Cache>,
}

impl AppState {
    /// State with storage only: the API, no static files, no admin.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            www_dir: None,
            pkg_dir: None,
            admin_token: None,
            limits: limits::Limits::default(),
            limiter: Arc::default(),
            proxies: Arc::default(),
            cache: Arc::default(),
        }
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}

/// Milliseconds since the Unix epoch, from the server's clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Purges each site's raw events older than its retention (default 90
/// days, at most `max_days` when given); returns how many went.
pub async fn purge_once(
    store: &dyn Store,
    max_days: Option<u32>,
) -> Result<u64, store::StoreError> {
    purge_once_at(store, max_days, now_ms()).await
}

/// [`purge_once`] as of `now_ms`. Besides raw events, the retention covers
/// everything else tied to a pseudonymous id ([`Store::purge_identities`]).
pub async fn purge_once_at(
    store: &dyn Store,
    max_days: Option<u32>,
    now_ms: i64,
) -> Result<u64, store::StoreError> {
    let mut purged = 0;
    let sites = store.sites().await?;
    let mut cutoffs = Vec::new();
    for site in &sites {
        let days = store
            .site_settings(&site.id)
            .await?
            .map_or(90, |s| s.retention_days);
        let days = max_days.map_or(days, |m| days.min(m));
        let cutoff = now_ms - i64::from(days) * 86_400_000;
        cutoffs.push((site.id.clone(), cutoff));
        // Rollups of days past the retention go; the shoppers whose oldest
        // events go are made again from what stays.
        let trimmed = store.purge_rollups(&site.id, cutoff).await?;
        if trimmed > 0 {
            tracing::info!(site = %site.id, trimmed, "deleted rollups past the retention");
        }
        // What results count is rolled up into daily counts before it goes.
        let old = store
            .events_between(&site.id, results::TYPES, i64::MIN, cutoff)
            .await?;
        if !old.is_empty() {
            let rows = results::daily_rows(&old);
            let ids: Vec<String> = old.into_iter().map(|e| e.id).collect();
            purged += store.archive_events(&site.id, &rows, &ids).await?;
        }
    }
    // Whole months past every site's retention go at once (PostgreSQL);
    // the rest row by row.
    if let Some(oldest) = cutoffs.iter().map(|(_, c)| *c).min() {
        purged += store.drop_partitions_before(oldest).await?;
    }
    for (site, cutoff) in &cutoffs {
        purged += store
            .purge_site_events(site, *cutoff, results::TYPES)
            .await?;
        let changed = store.purge_identities(site, *cutoff, now_ms).await?;
        if changed > 0 {
            tracing::info!(site = %site, changed, "retired erase keys, coupon ids and tombstones past the retention");
        }
    }
    Ok(purged)
}

/// Purges old raw events now and then every hour, for as long as the
/// server runs (see [`purge_once`]).
pub async fn retention_loop(store: Arc<dyn Store>, max_days: Option<u32>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match purge_once(store.as_ref(), max_days).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "purged old events"),
            Err(e) => tracing::error!(error = %e, "could not purge old events"),
        }
    }
}
