//! Sites and campaign drafts (and their coupon code pools), and the
//! helpers publishing shares (`super::publish`).
//!
//! A site's published config is composed from its settings (the config's
//! top level: placements, pressure, tiers, currency...) and its campaign
//! drafts; every check names the campaign and field.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use dangol_engine::condition::NativeRegex;
use dangol_engine::config::{SiteConfig, is_identifier};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::Admin;
use crate::error::ApiError;
use crate::store::{Site, Store, StoreError};
use crate::{AppState, now_ms};

/// Top-level keys that belong to a version, not to the settings.
pub(super) const NOT_SETTINGS: &[&str] = &["site", "version", "schema", "campaigns"];

fn unknown_campaign(site: &str, id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_campaign",
        format!("site `{site}` has no campaign `{id}`"),
    )
}

pub(super) fn unprocessable(
    code: &'static str,
    message: String,
    problems: Vec<String>,
) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_details(problems)
}

pub(super) fn parse_json(body: &[u8], what: &str) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("{what} is not JSON: {e}")))
}

pub(super) async fn site_or_404(state: &AppState, site: &str) -> Result<Site, ApiError> {
    crate::routes::known_site(state, site).await
}

pub(super) async fn settings_of(
    store: &dyn Store,
    site: &str,
) -> Result<(Map<String, Value>, u32), ApiError> {
    let (text, retention) = store
        .site_settings(site)
        .await?
        .ok_or_else(|| ApiError::unknown_site(site))?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok((map, retention)),
        _ => Err(StoreError::Corrupt(format!("settings of `{site}`")).into()),
    }
}

/// The config for `site` from settings and campaigns (version 0 until
/// published).
pub(super) fn compose(
    site: &str,
    settings: &Map<String, Value>,
    campaigns: Vec<Value>,
    version: u64,
) -> Value {
    let mut config = settings.clone();
    config.insert("schema".into(), json!(1));
    config.insert("site".into(), json!(site));
    config.insert("version".into(), json!(version));
    config.insert("campaigns".into(), Value::Array(campaigns));
    Value::Object(config)
}

/// Every problem the engine finds, each naming the campaign and field.
pub(super) fn check(config: &Value) -> Result<(), Vec<String>> {
    match SiteConfig::compile_value(config, &NativeRegex) {
        Err(e) => Err(vec![e.to_string()]),
        Ok(c) if !c.problems().is_empty() => {
            Err(c.problems().iter().map(ToString::to_string).collect())
        }
        Ok(_) => Ok(()),
    }
}

pub(super) async fn drafts(store: &dyn Store, site: &str) -> Result<Vec<Value>, ApiError> {
    store
        .campaigns(site)
        .await?
        .into_iter()
        .map(|d| {
            serde_json::from_str(&d.body)
                .map_err(|e| StoreError::Corrupt(format!("campaign `{}`: {e}", d.id)).into())
        })
        .collect()
}

/// `GET /v1/admin/sites`.
pub async fn list_sites(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Json<Value>, ApiError> {
    // Only the sites the admin has a role on.
    let mut sites = state.store.sites().await?;
    sites.retain(|s| admin.grants().sees(&s.id));
    Ok(Json(json!({"sites": sites})))
}

/// `GET /v1/admin/sites/{site}`: the site, its settings and retention.
pub async fn get_site(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let s = site_or_404(&state, &site).await?;
    let (settings, retention) = settings_of(state.store.as_ref(), &site).await?;
    Ok(Json(json!({
        "id": s.id, "name": s.name, "allowed_origins": s.allowed_origins,
        "retention_days": retention, "settings": settings,
    })))
}

/// `PUT /v1/admin/sites/{site}` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteBody {
    name: String,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    retention_days: Option<u32>,
    #[serde(default)]
    settings: Option<Map<String, Value>>,
}

fn check_origin(origin: &str) -> Result<(), String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("allowed origin `{origin}` must start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "allowed origin `{origin}` must be scheme://host[:port] with nothing after"
        ));
    }
    Ok(())
}

/// `PUT /v1/admin/sites/{site}`: creates or updates a site.
pub async fn put_site(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    if !is_identifier(&site) {
        return Err(ApiError::bad_request(format!(
            "site id `{site}` must be 1-64 characters of letters, digits, `-` or `_`"
        )));
    }
    let b: SiteBody = serde_json::from_value(parse_json(&body, "the site")?)
        .map_err(|e| ApiError::bad_request(format!("the site: {e}")))?;
    let mut problems = Vec::new();
    if b.name.trim().is_empty() || b.name.len() > 200 {
        problems.push("name: must be 1-200 characters".to_string());
    }
    problems.extend(
        b.allowed_origins
            .iter()
            .filter_map(|o| check_origin(o).err()),
    );
    let retention = b.retention_days.unwrap_or(90);
    if !(1..=3650).contains(&retention) {
        problems.push(format!(
            "retention_days: must be 1 to 3650, found {retention}"
        ));
    }
    let mut settings = b.settings.unwrap_or_default();
    settings.retain(|k, _| !NOT_SETTINGS.contains(&k.as_str()));
    if let Err(p) = check(&compose(&site, &settings, Vec::new(), 1)) {
        problems.extend(p.into_iter().map(|m| format!("settings: {m}")));
    }
    if !problems.is_empty() {
        return Err(unprocessable("invalid_site", problems.join("; "), problems));
    }
    let now = now_ms();
    state
        .store
        .put_site(
            &Site {
                id: site.clone(),
                name: b.name,
                allowed_origins: b.allowed_origins,
            },
            now,
        )
        .await?;
    let text = Value::Object(settings).to_string();
    state
        .store
        .put_site_settings(&site, &text, retention)
        .await?;
    // A new site gets its signing key at once.
    crate::signing::key_for(state.store.as_ref(), &site).await?;
    state.cache.invalidate(&site);
    Ok(Json(json!({"site": site, "saved": true})))
}

/// `GET /v1/admin/sites/{site}/campaigns`: drafts, with what is live.
pub async fn list_campaigns(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let live: Value = match state.store.published(&site).await? {
        Some(p) => serde_json::from_str(&p.body).unwrap_or(Value::Null),
        None => Value::Null,
    };
    let now = now_ms();
    let list: Vec<Value> = state
        .store
        .campaigns(&site)
        .await?
        .into_iter()
        .map(|d| {
            let body: Value = serde_json::from_str(&d.body).unwrap_or(Value::Null);
            let published = live["campaigns"]
                .as_array()
                .and_then(|l| l.iter().find(|c| c["id"] == body["id"]));
            json!({
                "id": d.id, "updated_ms": d.updated_ms,
                "published": published.is_some(),
                "status": status(&body, published.is_some(), now),
                // The draft differs from what is live (publishing would change it).
                "changed": published.is_none_or(|p| !same_campaign(p, &body)),
                "campaign": body,
            })
        })
        .collect();
    Ok(Json(json!({"campaigns": list})))
}

/// Whether a live campaign is its draft: the bandit posteriors publishing
/// adds are not the marketer's change.
fn same_campaign(live: &Value, draft: &Value) -> bool {
    let mut live = live.clone();
    if let Some(a) = live.get_mut("allocation").and_then(Value::as_object_mut) {
        a.remove("posteriors");
    }
    &live == draft
}

/// Where a campaign stands: `paused` (kept out of the published config),
/// `draft` (not published yet), `scheduled` (published, starts later),
/// `ended` (published, its end has passed) or `live`.
pub fn status(campaign: &Value, published: bool, now_ms: i64) -> &'static str {
    let schedule = &campaign["schedule"];
    if campaign["paused"] == json!(true) {
        "paused"
    } else if !published {
        "draft"
    } else if schedule["end_ms"].as_i64().is_some_and(|end| end <= now_ms) {
        "ended"
    } else if schedule["start_ms"]
        .as_i64()
        .is_some_and(|start| start > now_ms)
    {
        "scheduled"
    } else {
        "live"
    }
}

/// `GET /v1/admin/sites/{site}/campaigns/{id}`.
pub async fn get_campaign(
    State(state): State<AppState>,
    _: Admin,
    Path((site, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let draft = state
        .store
        .campaigns(&site)
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| unknown_campaign(&site, &id))?;
    let body: Value = serde_json::from_str(&draft.body)
        .map_err(|e| StoreError::Corrupt(format!("campaign `{id}`: {e}")))?;
    Ok(Json(body))
}

/// `PUT /v1/admin/sites/{site}/campaigns/{id}`: creates or replaces a draft,
/// after the engine checked it against the site's settings.
pub async fn put_campaign(
    State(state): State<AppState>,
    _: Admin,
    Path((site, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    if !is_identifier(&id) {
        return Err(ApiError::bad_request(format!(
            "campaign id `{id}` must be 1-64 characters of letters, digits, `-` or `_`"
        )));
    }
    let mut campaign = parse_json(&body, "the campaign")?;
    let Some(obj) = campaign.as_object_mut() else {
        return Err(ApiError::bad_request("the campaign must be a JSON object"));
    };
    match obj.get("id") {
        None => {
            obj.insert("id".into(), json!(id));
        }
        Some(v) if v == &json!(id) => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "the campaign's id {other} is not the `{id}` of its URL"
            )));
        }
    }
    let (settings, _) = settings_of(state.store.as_ref(), &site).await?;
    let mut others = drafts(state.store.as_ref(), &site).await?;
    others.retain(|c| c["id"] != json!(id));
    others.push(campaign.clone());
    if let Err(problems) = check(&compose(&site, &settings, others, 1)) {
        return Err(unprocessable(
            "invalid_campaign",
            problems.join("; "),
            problems,
        ));
    }
    state
        .store
        .put_campaign(&site, &id, &campaign.to_string(), now_ms())
        .await?;
    Ok(Json(json!({"campaign": id, "saved": true})))
}

/// `DELETE /v1/admin/sites/{site}/campaigns/{id}`.
pub async fn delete_campaign(
    State(state): State<AppState>,
    _: Admin,
    Path((site, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    site_or_404(&state, &site).await?;
    if state.store.delete_campaign(&site, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(unknown_campaign(&site, &id))
    }
}

/// `POST /v1/admin/sites/{site}/redeem-key`: a new secret key for the shop's
/// checkout to redeem coupons with. It is shown once; only its hash is kept,
/// and the old key stops working at once.
pub async fn rotate_redeem_key(
    State(state): State<AppState>,
    _: Admin,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let mut buf = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut buf);
    let key = hex::encode(buf);
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
    state.store.set_redeem_key(&site, &hash).await?;
    Ok(Json(json!({"site": site, "redeem_key": key})))
}

/// Most codes one upload may carry.
const MAX_UPLOAD: usize = 100_000;

/// `POST /v1/admin/sites/{site}/campaigns/{id}/codes` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Codes {
    codes: Vec<String>,
}

/// `POST /v1/admin/sites/{site}/campaigns/{id}/codes`: uploads codes from
/// the shop's own system for a coupon campaign; claims then hand these out
/// (one each) instead of generated codes, and the campaign is spent when
/// they run out.
pub async fn upload_codes(
    State(state): State<AppState>,
    _: Admin,
    Path((site, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let drafts = drafts(state.store.as_ref(), &site).await?;
    let Some(campaign) = drafts.iter().find(|c| c["id"] == json!(id)) else {
        return Err(unknown_campaign(&site, &id));
    };
    if campaign.get("coupon").is_none() {
        return Err(ApiError::bad_request(format!(
            "campaign `{id}` does not hand out coupons (it has no `coupon` policy)"
        )));
    }
    let upload: Codes = serde_json::from_value(parse_json(&body, "the upload")?).map_err(|e| {
        ApiError::bad_request(format!("the upload must be {{\"codes\": [\"...\"]}}: {e}"))
    })?;
    if upload.codes.is_empty() || upload.codes.len() > MAX_UPLOAD {
        return Err(ApiError::bad_request(format!(
            "an upload carries 1 to {MAX_UPLOAD} codes, found {}",
            upload.codes.len()
        )));
    }
    let bad: Vec<String> = upload
        .codes
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            c.is_empty()
                || c.len() > 64
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        })
        .take(20)
        .map(|(i, c)| format!("codes[{i}] `{c}` must be 1-64 of A-Z, 0-9 or `-`"))
        .collect();
    if !bad.is_empty() {
        return Err(unprocessable("invalid_codes", bad.join("; "), bad));
    }
    let mut codes = upload.codes;
    codes.sort_unstable();
    codes.dedup();
    let added = state.store.add_pool_codes(&site, &id, &codes).await?;
    let (total, free) = state.store.pool_size(&site, &id).await?;
    Ok(Json(
        json!({"campaign": id, "added": added, "skipped": codes.len() as u64 - added, "pool": {"total": total, "free": free}}),
    ))
}

/// `GET /v1/admin/sites/{site}/campaigns/{id}/codes`: the pool's size.
pub async fn pool(
    State(state): State<AppState>,
    _: Admin,
    Path((site, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    site_or_404(&state, &site).await?;
    let (total, free) = state.store.pool_size(&site, &id).await?;
    Ok(Json(
        json!({"campaign": id, "pool": {"total": total, "free": free}}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_campaign_status_follows_publication_schedule_and_pause() {
        let now = 1_000_000;
        let c = |v: Value| v;
        assert_eq!(status(&c(json!({"id": "x"})), false, now), "draft");
        assert_eq!(status(&c(json!({"id": "x"})), true, now), "live");
        assert_eq!(
            status(&c(json!({"id": "x", "paused": true})), true, now),
            "paused"
        );
        let later = json!({"id": "x", "schedule": {"start_ms": now + 1}});
        assert_eq!(status(&later, true, now), "scheduled");
        assert_eq!(status(&later, false, now), "draft");
        let over = json!({"id": "x", "schedule": {"start_ms": 0, "end_ms": now}});
        assert_eq!(status(&over, true, now), "ended");
    }

    #[test]
    fn a_bandit_campaign_is_unchanged_by_the_posteriors_publishing_adds() {
        let draft = json!({"id": "b", "allocation": {"type": "bandit", "min_share": 0.1}});
        let live = json!({"id": "b", "allocation": {"type": "bandit", "min_share": 0.1, "posteriors": [[3, 9], [1, 1]]}});
        assert!(same_campaign(&live, &draft));
        let edited = json!({"id": "b", "allocation": {"type": "bandit", "min_share": 0.2}});
        assert!(!same_campaign(&live, &edited));
    }
}
