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

fn window(days: Option<i64>) -> Result<i64, ApiError> {
    let days = days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(ApiError::bad_request(format!(
            "days must be 1 to 365, found {days}"
        )));
    }
    Ok(days)
}

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

/// The events the replay reads, of the last `days` days.
async fn recent_events(
    state: &AppState,
    site: &str,
    days: i64,
) -> Result<Vec<dangol_engine::event::Event>, ApiError> {
    let now = now_ms();
    Ok(state
        .store
        .events_between(site, insights::TYPES, now - days * DAY_MS, now + DAY_MS)
        .await?)
}

/// `GET /v1/admin/sites/{site}/insights?days=30`.
pub async fn insights(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
    Query(q): Query<Days>,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let days = window(q.days)?;
    let (cfg, _) = profile_config(&state, &site).await?;
    let events = recent_events(&state, &site, days).await?;
    let computed = insights::compute(&events, &cfg);
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
    let days = window(q.days)?;
    let body = parse_json(&body, "the reach request")?;
    let condition = body.get("condition").cloned().unwrap_or(json!({}));
    // Checked before reading events; compiled again after (a compiled
    // condition is not `Send`, so it cannot live across an await).
    let invalid = |e: dangol_engine::condition::ConditionError| {
        let problem = format!("condition: {}: {}", e.path, e.message);
        super::sites::unprocessable("invalid_condition", problem.clone(), vec![problem])
    };
    Condition::compile(&condition, &NativeRegex).map_err(invalid)?;
    let (cfg, groups) = profile_config(&state, &site).await?;
    let events = recent_events(&state, &site, days).await?;
    let compiled = Condition::compile(&condition, &NativeRegex).map_err(invalid)?;
    let r = insights::reach(&events, &compiled, &groups, &cfg, now_ms());
    Ok(Json(json!({"site": site, "days": days, "reach": r})))
}
