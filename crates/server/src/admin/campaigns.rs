//! Campaign drafts: the list with what is live, one draft, and changing or
//! deleting it after the engine checked it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use dangol_engine::config::is_identifier;
use serde_json::{Value, json};

use super::auth::Admin;
use super::sites::*;
use crate::error::ApiError;
use crate::store::StoreError;
use crate::{AppState, now_ms};

/// 404 naming the campaign and the site.
pub(super) fn unknown_campaign(site: &str, id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_campaign",
        format!("site `{site}` has no campaign `{id}`"),
    )
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
