//! The dashboard's views of shoppers: the lifecycle mix, offers seen per
//! day, allocation over time (`GET …/insights`) and an audience's reach
//! (`POST …/reach`), from the events of the last days.

use axum::Json;
use axum::extract::{Path, Query, State};
use dangol_engine::condition::{Condition, NativeRegex};
use dangol_engine::profile::Profile;
use serde_json::{Value, json};

use super::auth::Admin;
use super::publish::Days;
use super::sites::{parse_json, site_or_404};
use crate::error::ApiError;
use crate::{AppState, insights, now_ms, rollups};

const DAY_MS: i64 = 86_400_000;

/// The longest window a replay reads.
const MAX_DAYS: i64 = 365;

/// Sampling buckets (of 1024) a reach count reads at once.
const BUCKETS_PER_READ: u32 = 128;

/// The first UTC day (days since the epoch) of a window of `days` days
/// ending now: whole days, today included.
fn first_day(days: i64) -> i64 {
    (now_ms() - days * DAY_MS).div_euclid(DAY_MS)
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
    rollups::before_read(state.store.as_ref()).await?;
    let from = first_day(days);
    let counts = state.store.counts(&site, from).await?;
    let computed = insights::Counts::of(&counts).insights();
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
    let condition =
        dangol_engine::json::Value::from(body.get("condition").cloned().unwrap_or(json!({})));
    // Checked (and what it reads the server cannot know, named) before
    // reading any event.
    let unknown = Condition::compile(&condition, &NativeRegex)
        .map(|c| insights::unknown_paths(&c))
        .map_err(|e| {
            let problem = format!("condition: {}: {}", e.path, e.message);
            super::sites::unprocessable("invalid_condition", problem.clone(), vec![problem])
        })?;
    let (cfg, groups) = rollups::profile_config(state.store.as_ref(), &site).await?;
    rollups::before_read(state.store.as_ref()).await?;
    let mut count = insights::ReachCount::new(&cfg, &groups, now_ms());
    let since = first_day(days) * DAY_MS;
    // Every shopper up to the sample size; beyond, the sampling buckets
    // (a hash of the id, 1024 of them) that hold about that many.
    let total = insights::shoppers_in(&state.store.counts(&site, first_day(days)).await?);
    let buckets = if total <= insights::SAMPLE {
        1024
    } else {
        u32::try_from((1024 * insights::SAMPLE).div_ceil(total)).unwrap_or(1024)
    };
    // A few buckets at a time: memory stays bounded by about a sample.
    for from in (0..buckets).step_by(BUCKETS_PER_READ as usize) {
        let to = (from + BUCKETS_PER_READ).min(buckets);
        let page = state.store.profiles(&site, since, (from, to)).await?;
        // Compiled per read: a compiled condition is not `Send`, so it may
        // not live across the store's awaits (checked above, so it compiles).
        let Ok(compiled) = Condition::compile(&condition, &NativeRegex) else {
            break;
        };
        for (_, stored) in &page {
            let profile = serde_json::from_str::<dangol_engine::json::Value>(stored)
                .ok()
                .and_then(|v| Profile::from_value(&v).ok())
                .unwrap_or_default();
            count.profile(&profile, &compiled);
        }
    }
    let r = if buckets == 1024 {
        count.finish(unknown)
    } else {
        count.finish_of(total, unknown)
    };
    Ok(Json(json!({"site": site, "days": days, "reach": r})))
}

/// `GET /v1/admin/sites/{site}/rollups`: how far the rollups are behind
/// the stored events (shoppers waiting), and how many shoppers they hold.
pub async fn rollups(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let (pending, shoppers) = state.store.rollup_status(&site).await?;
    Ok(Json(
        json!({"site": site, "pending": pending, "shoppers": shoppers}),
    ))
}
