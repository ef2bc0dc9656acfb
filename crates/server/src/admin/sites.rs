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

pub(crate) fn unprocessable(
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
    stored_settings(store, site)
        .await?
        .ok_or_else(|| ApiError::unknown_site(site))
}

/// A site's settings (the config's top level) and retention, `None` for a
/// site that does not exist.
pub(crate) async fn stored_settings(
    store: &dyn Store,
    site: &str,
) -> Result<Option<(Map<String, Value>, u32)>, StoreError> {
    let Some(stored) = store.site_settings(site).await? else {
        return Ok(None);
    };
    match serde_json::from_str(&stored.settings) {
        Ok(Value::Object(map)) => Ok(Some((map, stored.retention_days))),
        _ => Err(StoreError::Corrupt(format!("settings of `{site}`"))),
    }
}

/// The config for `site` from settings and campaigns (version 0 until
/// published).
pub(crate) fn compose(
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
    match SiteConfig::compile_value(&config.into(), &NativeRegex) {
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
