//! Publishing: a site's settings and campaign drafts become a new immutable
//! config version (checked by the engine, with fresh bandit posteriors and
//! a readable diff), rollback, versions, results and bandit updates.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Admin;
use super::sites::{
    NOT_SETTINGS, check, compose, drafts, parse_json, settings_of, site_or_404, unprocessable,
};
use crate::error::ApiError;
use crate::results::{self, Results};
use crate::store::{Store, StoreError};
use crate::{AppState, now_ms};

/// Days of events the bandit posteriors learn from.
const BANDIT_DAYS: i64 = 30;

/// The results of the last `days` days.
pub async fn results_for(store: &dyn Store, site: &str, days: i64) -> Result<Results, ApiError> {
    let now = now_ms();
    crate::rollups::before_read(store).await?;
    let first_day = (now - days * 86_400_000).div_euclid(86_400_000);
    let redemptions = store.redemptions(site).await?;
    let counts = store.counts(site, first_day).await?;
    let mut computed = results::from_counts(&counts, &redemptions);
    // Days past the retention survive as daily counts.
    let archived = store
        .daily_stats(
            site,
            &results::utc_day(now - days * 86_400_000),
            &results::utc_day(now),
        )
        .await?;
    results::add_archived(&mut computed, &archived);
    Ok(computed)
}

/// Bandit campaigns get the posteriors the results give (Beta(1, 1) for a
/// variant nobody saw yet).
fn with_posteriors(mut campaigns: Vec<Value>, results: &Results) -> Vec<Value> {
    for c in &mut campaigns {
        if c["allocation"]["type"] != "bandit" {
            continue;
        }
        let id = c["id"].as_str().unwrap_or_default().to_string();
        let found = results.campaigns.iter().find(|r| r.campaign == id);
        let posteriors: Vec<Value> = c["variants"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|v| {
                let vid = v["id"].as_str().unwrap_or_default();
                let (a, b) = found
                    .and_then(|r| r.variants.iter().find(|x| x.variant == vid))
                    .map_or((1.0, 1.0), |x| x.posterior);
                json!([a, b])
            })
            .collect();
        c["allocation"]["posteriors"] = Value::Array(posteriors);
    }
    campaigns
}

/// What changes between two configs, in words.
pub fn changes(before: Option<&Value>, after: &Value) -> Vec<String> {
    let empty = Value::Null;
    let before = before.unwrap_or(&empty);
    let mut out = Vec::new();
    let list = |v: &Value| -> Vec<(String, Value)> {
        v["campaigns"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|c| (c["id"].as_str().unwrap_or_default().to_string(), c.clone()))
            .collect()
    };
    let (old, new) = (list(before), list(after));
    for (id, c) in &new {
        match old.iter().find(|(o, _)| o == id) {
            None => out.push(format!("campaign `{id}` added")),
            Some((_, prev)) if prev != c => {
                let mut fields: Vec<&str> = c
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, v)| prev.get(k.as_str()) != Some(*v))
                    .map(|(k, _)| k.as_str())
                    .collect();
                fields.extend(
                    prev.as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(k, _)| c.get(k.as_str()).is_none())
                        .map(|(k, _)| k.as_str()),
                );
                out.push(format!("campaign `{id}`: {} changed", fields.join(", ")));
            }
            Some(_) => {}
        }
    }
    for (id, _) in &old {
        if !new.iter().any(|(n, _)| n == id) {
            out.push(format!("campaign `{id}` removed"));
        }
    }
    let keys = |v: &Value| -> Vec<String> {
        v.as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .filter(|k| !NOT_SETTINGS.contains(&k.as_str()))
            .collect()
    };
    let mut settings = keys(after);
    settings.extend(keys(before));
    settings.sort();
    settings.dedup();
    for k in settings {
        if before.get(&k) != after.get(&k) {
            out.push(format!("`{k}` changed"));
        }
    }
    out
}

/// What a publish did.
#[derive(Debug)]
pub struct Publish {
    /// The live version afterwards.
    pub version: u64,
    /// What changed, in words.
    pub changes: Vec<String>,
    /// Whether a new version was stored: publishing what is already live
    /// stores nothing, so browsers and CDNs keep their cached copy.
    pub published: bool,
}

/// Publishes the drafts as a new version, unless the engine finds a
/// problem or nothing changed.
pub async fn publish_site(store: &dyn Store, site: &str) -> Result<Publish, ApiError> {
    let (candidate, changes, live) = candidate(store, site).await?;
    if let Some(live) = live
        && changes.is_empty()
    {
        return Ok(Publish {
            version: live,
            changes,
            published: false,
        });
    }
    let render = |version: u64| {
        let mut c = candidate.clone();
        c["version"] = json!(version);
        c.to_string()
    };
    let version = store.publish(site, &render, now_ms()).await?;
    Ok(Publish {
        version,
        changes,
        published: true,
    })
}

/// The config the drafts would publish (paused campaigns left out), what
/// it changes against the live one, and the live version.
async fn candidate(
    store: &dyn Store,
    site: &str,
) -> Result<(Value, Vec<String>, Option<u64>), ApiError> {
    let (settings, _) = settings_of(store, site).await?;
    let mut campaigns = drafts(store, site).await?;
    campaigns.retain(|c| c["paused"] != json!(true));
    // Reading a month of events is only worth it for bandit campaigns.
    if campaigns
        .iter()
        .any(|c| c["allocation"]["type"] == "bandit")
    {
        let results = results_for(store, site, BANDIT_DAYS).await?;
        campaigns = with_posteriors(campaigns, &results);
    }
    let candidate = compose(site, &settings, campaigns, 1);
    check(&candidate).map_err(|problems| {
        unprocessable(
            "invalid_config",
            format!("site `{site}` cannot be published: {}", problems.join("; ")),
            problems,
        )
    })?;
    let live = store.published(site).await?;
    let before = live
        .as_ref()
        .and_then(|p| serde_json::from_str::<Value>(&p.body).ok());
    let changes = changes(before.as_ref(), &candidate);
    Ok((candidate, changes, live.map(|l| l.version)))
}

/// `GET /v1/admin/sites/{site}/publish`: what publishing now would change,
/// without publishing (a refusal lists every problem, as `POST` would).
pub async fn pending(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let (_, changes, live) = candidate(state.store.as_ref(), &site).await?;
    Ok(Json(json!({"live_version": live, "changes": changes})))
}

/// Republishes when a bandit campaign's posteriors moved; returns the new
/// version if there was one.
pub async fn refresh_bandits(store: &dyn Store, site: &str) -> Result<Option<u64>, ApiError> {
    let Some(published) = store.published(site).await? else {
        return Ok(None);
    };
    let current: Value = serde_json::from_str(&published.body)
        .map_err(|e| StoreError::Corrupt(format!("published config of `{site}`: {e}")))?;
    let live: Vec<Value> = current["campaigns"].as_array().cloned().unwrap_or_default();
    if !live.iter().any(|c| c["allocation"]["type"] == "bandit") {
        return Ok(None);
    }
    let results = results_for(store, site, BANDIT_DAYS).await?;
    let fresh = with_posteriors(live.clone(), &results);
    if fresh == live {
        return Ok(None);
    }
    let mut next = current;
    next["campaigns"] = Value::Array(fresh);
    let render = |version: u64| {
        let mut c = next.clone();
        c["version"] = json!(version);
        c.to_string()
    };
    Ok(Some(store.publish(site, &render, now_ms()).await?))
}

/// Every hour: bandit posteriors recomputed for every site.
pub async fn bandit_loop(store: std::sync::Arc<dyn Store>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let Ok(sites) = store.sites().await else {
            continue;
        };
        for site in sites {
            match refresh_bandits(store.as_ref(), &site.id).await {
                Ok(Some(v)) => {
                    tracing::info!(site = %site.id, version = v, "published new bandit posteriors")
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(site = %site.id, error = ?e, "could not update bandit posteriors")
                }
            }
        }
    }
}

/// `POST /v1/admin/sites/{site}/publish`.
pub async fn publish(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let p = publish_site(state.store.as_ref(), &site).await?;
    state.cache.invalidate(&site);
    Ok(Json(
        json!({"version": p.version, "changes": p.changes, "published": p.published}),
    ))
}

/// `GET /v1/admin/sites/{site}/versions`.
pub async fn versions(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let list: Vec<Value> = state
        .store
        .versions(&site)
        .await?
        .into_iter()
        .map(|v| json!({"version": v.version, "published_ms": v.published_ms}))
        .collect();
    Ok(Json(json!({"versions": list})))
}

async fn version_body(state: &AppState, site: &str, version: u64) -> Result<Value, ApiError> {
    let p = state.store.version(site, version).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_version",
            format!("site `{site}` has no version {version}"),
        )
    })?;
    serde_json::from_str(&p.body)
        .map_err(|e| StoreError::Corrupt(format!("version {version} of `{site}`: {e}")).into())
}

/// `GET /v1/admin/sites/{site}/versions/{version}`: the config as published.
pub async fn get_version(
    State(state): State<AppState>,
    _: Admin,
    Path((site, version)): Path<(String, u64)>,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    version_body(&state, &site, version).await.map(Json)
}

/// `POST /v1/admin/sites/{site}/rollback` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rollback {
    version: u64,
}

/// `POST /v1/admin/sites/{site}/rollback`: publishes an older version's
/// config again as a new version, and makes its settings and campaigns the
/// drafts, so the next publish starts from it.
pub async fn rollback(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let r: Rollback = serde_json::from_value(parse_json(&body, "the rollback")?).map_err(|e| {
        ApiError::bad_request(format!("the rollback must be {{\"version\": n}}: {e}"))
    })?;
    let old = version_body(&state, &site, r.version).await?;
    let store = state.store.as_ref();
    let mut settings = old.as_object().cloned().unwrap_or_default();
    settings.retain(|k, _| !NOT_SETTINGS.contains(&k.as_str()));
    let (_, retention) = settings_of(store, &site).await?;
    store
        .put_site_settings(&site, &Value::Object(settings).to_string(), retention)
        .await?;
    for d in store.campaigns(&site).await? {
        store.delete_campaign(&site, &d.id).await?;
    }
    let now = now_ms();
    for (i, c) in old["campaigns"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let id = c["id"].as_str().unwrap_or_default();
        // Creation order is config order.
        store
            .put_campaign(&site, id, &c.to_string(), now + i as i64)
            .await?;
    }
    let p = publish_site(store, &site).await?;
    state.cache.invalidate(&site);
    Ok(Json(json!({
        "version": p.version,
        "rolled_back_to": r.version,
        "changes": p.changes,
        "published": p.published,
    })))
}

/// `?days=`: the window results and replays read (30 when absent).
#[derive(Deserialize)]
pub struct Days {
    days: Option<i64>,
}

impl Days {
    /// The window, refused by name unless it is 1 to `max` days.
    pub(super) fn within(&self, max: i64) -> Result<i64, ApiError> {
        let days = self.days.unwrap_or(30);
        if (1..=max).contains(&days) {
            Ok(days)
        } else {
            Err(ApiError::bad_request(format!(
                "days must be 1 to {max}, found {days}"
            )))
        }
    }
}

/// `GET /v1/admin/sites/{site}/results?days=30`.
pub async fn results(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
    Query(q): Query<Days>,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let days = q.within(3650)?;
    let r = results_for(state.store.as_ref(), &site, days).await?;
    Ok(Json(json!({"site": site, "days": days, "results": r})))
}

/// `POST /v1/admin/sites/{site}/bandits`: recomputes the bandit posteriors
/// now and publishes them if they moved.
pub async fn bandits(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let version = refresh_bandits(state.store.as_ref(), &site).await?;
    state.cache.invalidate(&site);
    Ok(Json(
        json!({"published": version.is_some(), "version": version}),
    ))
}
