//! A coupon campaign's pool of codes uploaded from the shop's own system.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Admin;
use super::campaigns::unknown_campaign;
use super::sites::*;
use crate::AppState;
use crate::error::ApiError;
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
