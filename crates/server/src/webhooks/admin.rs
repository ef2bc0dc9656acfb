//! The admin API for a site's webhooks (owners only: a secret and where a
//! site's events go are the owner's to decide).
//!
//! - `GET`/`POST …/webhooks`: the endpoints; a new one (`{url, events,
//!   description?}`) answers with its secret.
//! - `GET`/`PUT`/`DELETE …/webhooks/{id}`: one endpoint with its secret and
//!   queue (`PUT` changes url, events, description and `enabled`).
//! - `POST …/webhooks/{id}/secret`: a new secret (the old one signs too for
//!   a day); `POST …/webhooks/{id}/test`: a `webhook.test` message.
//! - `GET …/webhooks/{id}/messages?state=&limit=`: the delivery log;
//!   `POST …/webhooks/{id}/messages/{msg}/replay`: send one again.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{EVENT_TYPES, Endpoint, Message};
use crate::AppState;
use crate::error::ApiError;

pub(crate) const WEBHOOKS: &str = "/v1/admin/sites/{site}/webhooks";
pub(crate) const WEBHOOK: &str = "/v1/admin/sites/{site}/webhooks/{id}";
pub(crate) const SECRET: &str = "/v1/admin/sites/{site}/webhooks/{id}/secret";
pub(crate) const TEST: &str = "/v1/admin/sites/{site}/webhooks/{id}/test";
pub(crate) const MESSAGES: &str = "/v1/admin/sites/{site}/webhooks/{id}/messages";
pub(crate) const REPLAY: &str = "/v1/admin/sites/{site}/webhooks/{id}/messages/{msg}/replay";

/// Most endpoints per site.
const MAX_ENDPOINTS: usize = 20;

/// `POST …/webhooks` and `PUT …/webhooks/{id}` bodies.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointBody {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    enabled: Option<bool>,
}

fn unknown_endpoint(site: &str, id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_webhook",
        format!("site `{site}` has no webhook endpoint `{id}`"),
    )
}

fn invalid(problems: Vec<String>) -> ApiError {
    crate::admin::sites::unprocessable("invalid_webhook", problems.join("; "), problems)
}

/// Checks what a body sets; every problem named.
fn check(url: Option<&str>, events: Option<&[String]>, description: Option<&str>) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(url) = url {
        match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                if url.len() > 2000 {
                    problems.push("`url` is longer than 2000 characters".to_string());
                }
                if !u.username().is_empty() || u.password().is_some() {
                    problems.push("`url` must not carry a user or password".to_string());
                }
            }
            Ok(_) => problems.push(format!("`url` `{url}` must be an http(s) URL with a host")),
            Err(e) => problems.push(format!("`url` `{url}` is not a URL ({e})")),
        }
    }
    if let Some(events) = events {
        if events.is_empty() {
            problems.push(format!(
                "`events` must name at least one of {}",
                EVENT_TYPES.join(", ")
            ));
        }
        for (i, e) in events.iter().enumerate() {
            if !EVENT_TYPES.contains(&e.as_str()) {
                problems.push(format!(
                    "`events[{i}]` `{e}` is not one of {}",
                    EVENT_TYPES.join(", ")
                ));
            }
        }
    }
    if description.is_some_and(|d| d.chars().count() > 200) {
        problems.push("`description` is longer than 200 characters".to_string());
    }
    problems
}

fn endpoint_json(e: &Endpoint, with_secret: bool) -> Value {
    let mut v = json!({
        "id": e.id,
        "url": e.url,
        "events": e.events,
        "description": e.description,
        "created_ms": e.created_ms,
        "enabled": e.disabled.is_none(),
        "disabled_ms": e.disabled.as_ref().map(|d| d.0),
        "disabled_reason": e.disabled.as_ref().map(|d| d.1.clone()),
    });
    if with_secret {
        v["secret"] = json!(e.secret);
        v["previous_secret_until_ms"] = json!(e.previous.as_ref().map(|p| p.1));
    }
    v
}

fn message_json(m: &Message) -> Value {
    json!({
        "id": m.id,
        "type": m.event_type,
        "payload": serde_json::from_str::<Value>(&m.payload).unwrap_or(Value::Null),
        "created_ms": m.created_ms,
        "state": m.state,
        "attempts": m.attempts,
        "next_ms": (m.state == "pending").then_some(m.next_ms),
        "delivered_ms": m.delivered_ms,
    })
}

async fn found(state: &AppState, site: &str, id: &str) -> Result<Endpoint, ApiError> {
    crate::routes::known_site(state, site).await?;
    state
        .store
        .endpoint(site, id)
        .await?
        .ok_or_else(|| unknown_endpoint(site, id))
}

/// `GET …/webhooks`: the site's endpoints (without secrets).
pub async fn list(
    State(state): State<AppState>,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    crate::routes::known_site(&state, &site).await?;
    let endpoints = state.store.endpoints(&site).await?;
    Ok(Json(json!({
        "endpoints": endpoints.iter().map(|e| endpoint_json(e, false)).collect::<Vec<_>>(),
        "event_types": EVENT_TYPES,
    })))
}

/// `POST …/webhooks`: a new endpoint; the answer carries its secret.
pub async fn create(
    State(state): State<AppState>,
    Path(site): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    crate::routes::known_site(&state, &site).await?;
    let req: EndpointBody = crate::error::json_body(
        &body,
        "the endpoint ({\"url\": \"https://...\", \"events\": [\"...\"], \"description\"?})",
    )?;
    let mut problems = Vec::new();
    if req.url.is_none() {
        problems.push("`url` is required".to_string());
    }
    if req.events.is_none() {
        problems.push(format!(
            "`events` is required (any of {})",
            EVENT_TYPES.join(", ")
        ));
    }
    problems.extend(check(
        req.url.as_deref(),
        req.events.as_deref(),
        req.description.as_deref(),
    ));
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    if state.store.endpoints(&site).await?.len() >= MAX_ENDPOINTS {
        return Err(invalid(vec![format!(
            "site `{site}` has {MAX_ENDPOINTS} endpoints already, the most it may have"
        )]));
    }
    let endpoint = Endpoint {
        site: site.clone(),
        id: super::endpoint_id(),
        url: req.url.unwrap_or_default(),
        events: req.events.unwrap_or_default(),
        description: req.description.unwrap_or_default(),
        secret: super::new_secret(),
        previous: None,
        created_ms: crate::now_ms(),
        disabled: (req.enabled == Some(false))
            .then(|| (crate::now_ms(), "disabled by an admin".to_string())),
    };
    state.store.put_endpoint(&endpoint).await?;
    Ok((StatusCode::CREATED, Json(endpoint_json(&endpoint, true))))
}

/// `GET …/webhooks/{id}`: one endpoint with its secret and its queue.
pub async fn get(
    State(state): State<AppState>,
    Path((site, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let endpoint = found(&state, &site, &id).await?;
    let mut out = endpoint_json(&endpoint, true);
    let [pending, delivered, failed] = state.store.message_counts(&site, &id).await?;
    out["messages"] = json!({"pending": pending, "delivered": delivered, "failed": failed});
    Ok(Json(out))
}

/// `PUT …/webhooks/{id}`: changes url, events, description, `enabled`
/// (enabling again sends what waited).
pub async fn put(
    State(state): State<AppState>,
    Path((site, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut endpoint = found(&state, &site, &id).await?;
    let req: EndpointBody = crate::error::json_body(
        &body,
        "the endpoint ({\"url\"?, \"events\"?, \"description\"?, \"enabled\"?})",
    )?;
    let problems = check(
        req.url.as_deref(),
        req.events.as_deref(),
        req.description.as_deref(),
    );
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    if let Some(url) = req.url {
        endpoint.url = url;
    }
    if let Some(events) = req.events {
        endpoint.events = events;
    }
    if let Some(description) = req.description {
        endpoint.description = description;
    }
    match req.enabled {
        Some(true) => endpoint.disabled = None,
        Some(false) if endpoint.disabled.is_none() => {
            endpoint.disabled = Some((crate::now_ms(), "disabled by an admin".to_string()));
        }
        _ => {}
    }
    state.store.put_endpoint(&endpoint).await?;
    Ok(Json(endpoint_json(&endpoint, true)))
}

/// `DELETE …/webhooks/{id}`: the endpoint goes, with its queue and log.
pub async fn delete(
    State(state): State<AppState>,
    Path((site, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    found(&state, &site, &id).await?;
    state.store.delete_endpoint(&site, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/webhooks/{id}/secret`: a new secret; the old one keeps signing
/// (as a second signature) for a day, so the receiver can switch over.
pub async fn rotate(
    State(state): State<AppState>,
    Path((site, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    found(&state, &site, &id).await?;
    let until = crate::now_ms() + super::ROTATION_OVERLAP_MS;
    state
        .store
        .rotate_secret(&site, &id, &super::new_secret(), until)
        .await?;
    let endpoint = found(&state, &site, &id).await?;
    Ok(Json(endpoint_json(&endpoint, true)))
}

/// `POST …/webhooks/{id}/test`: queues a `webhook.test` message for it.
pub async fn test(
    State(state): State<AppState>,
    Path((site, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    found(&state, &site, &id).await?;
    let now = crate::now_ms();
    let data = json!({"site": site, "endpoint": id});
    let queued = state
        .store
        .enqueue(&site, Some(&id), "webhook.test", &data, now)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"queued": queued}))))
}

/// `?state=&limit=` of the delivery log.
#[derive(Deserialize)]
pub struct LogQuery {
    state: Option<String>,
    limit: Option<u32>,
}

/// `GET …/webhooks/{id}/messages`: the newest messages with every attempt.
pub async fn messages(
    State(state): State<AppState>,
    Path((site, id)): Path<(String, String)>,
    Query(q): Query<LogQuery>,
) -> Result<Json<Value>, ApiError> {
    found(&state, &site, &id).await?;
    if let Some(s) = q.state.as_deref()
        && !matches!(s, "pending" | "delivered" | "failed")
    {
        return Err(ApiError::bad_request(format!(
            "`state` `{s}` is not one of pending, delivered, failed"
        )));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let list = state
        .store
        .messages(&site, &id, q.state.as_deref(), limit)
        .await?;
    let mut out = Vec::with_capacity(list.len());
    for m in &list {
        let mut v = message_json(m);
        let attempts = state.store.attempts(&site, &id, &m.id).await?;
        v["log"] = attempts
            .iter()
            .map(|a| {
                json!({"attempt": a.attempt, "at_ms": a.at_ms, "status": a.status,
                       "error": a.error, "took_ms": a.took_ms})
            })
            .collect();
        out.push(v);
    }
    Ok(Json(json!({"messages": out})))
}

/// `POST …/webhooks/{id}/messages/{msg}/replay`: sends a message again,
/// with the same `webhook-id`.
pub async fn replay(
    State(state): State<AppState>,
    Path((site, id, msg)): Path<(String, String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    found(&state, &site, &id).await?;
    if !state
        .store
        .replay(&site, &id, &msg, crate::now_ms())
        .await?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_message",
            format!("webhook endpoint `{id}` has no message `{msg}`"),
        ));
    }
    Ok((StatusCode::ACCEPTED, Json(json!({"replayed": msg}))))
}
