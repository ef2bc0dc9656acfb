//! The dashboard's views of shoppers: the lifecycle mix, offers seen per
//! day, allocation over time (`GET …/insights`) and an audience's reach
//! (`POST …/reach`), from the events of the last days.

use axum::Json;
use axum::extract::{Path, Query, State};
use dangol_engine::condition::{Condition, NativeRegex};
use dangol_engine::config::SiteConfig;
use dangol_engine::profile::ProfileConfig;
use serde_json::{Value, json};

use super::auth::Admin;
use super::publish::Days;
use super::sites::{parse_json, settings_of, site_or_404};
use crate::error::ApiError;
use crate::{AppState, insights, now_ms};

const DAY_MS: i64 = 86_400_000;

/// The longest window a replay reads.
const MAX_DAYS: i64 = 365;

/// The profile thresholds of the site's settings (the engine's defaults
/// when the settings name none).
async fn profile_config(state: &AppState, site: &str) -> Result<(ProfileConfig, Value), ApiError> {
    let (settings, _) = settings_of(state.store.as_ref(), site).await?;
    let config = super::sites::compose(site, &settings, Vec::new(), 1);
    let cfg = SiteConfig::from_value(&config)
        .map(|c| c.profile)
        .unwrap_or_default();
    let groups = settings.get("saved_groups").cloned().unwrap_or(json!({}));
    Ok((cfg, groups))
}

/// Shoppers per page of a replay: memory stays bounded by one page.
const PAGE: u32 = 2_000;

/// Calls `each` with every page of the last `days` days' events the replay
/// reads, ordered by shopper and then time.
async fn pages(
    state: &AppState,
    site: &str,
    days: i64,
    mut each: impl FnMut(&[dangol_engine::event::Event]),
) -> Result<(), ApiError> {
    let now = now_ms();
    let window = (now - days * DAY_MS, now + DAY_MS);
    let mut after = String::new();
    loop {
        let (events, last) = state
            .store
            .next_subjects_events(site, insights::TYPES, window, &after, PAGE)
            .await?;
        each(&events);
        match last {
            Some(last) => after = last,
            None => return Ok(()),
        }
    }
}

/// `GET /v1/admin/sites/{site}/insights?days=30`.
pub async fn insights(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
    Query(q): Query<Days>,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let days = q.within(MAX_DAYS)?;
    let (cfg, _) = profile_config(&state, &site).await?;
    let mut replay = insights::Replay::new(&cfg);
    pages(&state, &site, days, |page| {
        insights::shoppers_of(page).for_each(|run| replay.shopper(run));
    })
    .await?;
    let computed = replay.finish();
    Ok(Json(json!({
        "site": site, "days": days, "stages": insights::STAGES, "insights": computed,
    })))
}

/// `POST /v1/admin/sites/{site}/reach?days=30` with `{"condition": {...}}`:
/// how many shoppers of the window the audience would have matched.
pub async fn reach(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
    Query(q): Query<Days>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let days = q.within(MAX_DAYS)?;
    let body = parse_json(&body, "the reach request")?;
    let condition = body.get("condition").cloned().unwrap_or(json!({}));
    // Checked (and what it reads the server cannot know, named) before
    // reading any event.
    let unknown = Condition::compile(&condition, &NativeRegex)
        .map(|c| insights::unknown_paths(&c))
        .map_err(|e| {
            let problem = format!("condition: {}: {}", e.path, e.message);
            super::sites::unprocessable("invalid_condition", problem.clone(), vec![problem])
        })?;
    let (cfg, groups) = profile_config(&state, &site).await?;
    let mut count = insights::ReachCount::new(&cfg, &groups, now_ms());
    pages(&state, &site, days, |page| {
        // Compiled per page: a compiled condition is not `Send`, so it may
        // not live across the store's awaits.
        if let Ok(compiled) = Condition::compile(&condition, &NativeRegex) {
            insights::shoppers_of(page).for_each(|run| count.shopper(run, &compiled));
        }
    })
    .await?;
    let r = count.finish(unknown);
    Ok(Json(json!({"site": site, "days": days, "reach": r})))
}
