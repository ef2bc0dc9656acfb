//! The admin API for segments.
//!
//! - `GET`/`POST …/segments`: the site's segments (built-in ones included)
//!   with their member counts; `{id, name, condition}` makes one.
//! - `GET`/`PUT`/`DELETE …/segments/{seg}`: one, with its size per day.
//! - `POST …/segments/{seg}/refresh`: works membership out now.
//! - `GET …/segments/{seg}/members?format=jsonl|csv`: every member,
//!   streamed page by page from the store (constant memory however many).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dangol_engine::condition::{Condition, NativeRegex};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Segment;
use crate::AppState;
use crate::error::ApiError;

pub(crate) const SEGMENTS: &str = "/v1/admin/sites/{site}/segments";
pub(crate) const SEGMENT: &str = "/v1/admin/sites/{site}/segments/{seg}";
pub(crate) const REFRESH: &str = "/v1/admin/sites/{site}/segments/{seg}/refresh";
pub(crate) const REFRESH_ALL: &str = "/v1/admin/sites/{site}/segments/refresh";
pub(crate) const MEMBERS: &str = "/v1/admin/sites/{site}/segments/{seg}/members";

/// Members read from the store per page of an export.
const PAGE: u32 = 5_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentBody {
    id: Option<String>,
    name: Option<String>,
    condition: Option<Value>,
}

fn unknown(site: &str, id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_segment",
        format!("site `{site}` has no segment `{id}`"),
    )
}

fn invalid(problems: Vec<String>) -> ApiError {
    crate::admin::sites::unprocessable("invalid_segment", problems.join("; "), problems)
}

/// Checks a name and condition; every problem named.
fn check(name: Option<&str>, condition: Option<&Value>) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(name) = name
        && (name.trim().is_empty() || name.chars().count() > 100)
    {
        problems.push("`name` must be 1-100 characters".to_string());
    }
    if let Some(condition) = condition {
        match Condition::compile(&condition.into(), &NativeRegex) {
            Ok(c) => {
                let mut unknown = crate::insights::unknown_paths(&c);
                unknown.retain(|p| !crate::insights::CHURN_ROOTS.contains(&p.as_str()));
                if !unknown.is_empty() {
                    problems.push(format!(
                        "`condition` reads what only the browser knows ({}): the server cannot place shoppers by it",
                        unknown.join(", ")
                    ));
                }
            }
            Err(e) => problems.push(format!("`condition`: {}: {}", e.path, e.message)),
        }
    }
    problems
}

fn segment_json(s: &Segment) -> Value {
    json!({
        "id": s.id, "name": s.name, "condition": s.condition, "builtin": s.builtin,
        "created_ms": s.created_ms, "refreshed_ms": s.refreshed_ms, "members": s.members,
    })
}

async fn found(state: &AppState, site: &str, id: &str) -> Result<Segment, ApiError> {
    crate::routes::known_site(state, site).await?;
    super::of_site(state.store.as_ref(), site, crate::now_ms())
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| unknown(site, id))
}

/// `GET …/segments`.
pub async fn list(
    State(state): State<AppState>,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    crate::routes::known_site(&state, &site).await?;
    let list = super::of_site(state.store.as_ref(), &site, crate::now_ms()).await?;
    Ok(Json(
        json!({"segments": list.iter().map(segment_json).collect::<Vec<_>>()}),
    ))
}

/// `POST …/segments`: a new segment, filled at once.
pub async fn create(
    State(state): State<AppState>,
    Path(site): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    crate::routes::known_site(&state, &site).await?;
    let req: SegmentBody = crate::error::json_body(
        &body,
        "the segment ({\"id\": \"...\", \"name\": \"...\", \"condition\": {...}})",
    )?;
    let mut problems = Vec::new();
    let id = req.id.unwrap_or_default();
    if !dangol_engine::config::is_identifier(&id) {
        problems.push(format!(
            "`id` `{id}` must be 1-64 characters of letters, digits, `-` or `_`"
        ));
    }
    if req.name.is_none() {
        problems.push("`name` is required".to_string());
    }
    if req.condition.is_none() {
        problems.push("`condition` is required".to_string());
    }
    problems.extend(check(req.name.as_deref(), req.condition.as_ref()));
    let existing = super::of_site(state.store.as_ref(), &site, crate::now_ms()).await?;
    if existing.iter().any(|s| s.id == id) {
        problems.push(format!("site `{site}` has a segment `{id}` already"));
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let mut segment = Segment {
        site: site.clone(),
        id,
        name: req.name.unwrap_or_default(),
        condition: req.condition.unwrap_or(Value::Null),
        builtin: false,
        created_ms: crate::now_ms(),
        refreshed_ms: None,
        members: 0,
    };
    state.store.put_segment(&segment).await?;
    crate::rollups::before_read(state.store.as_ref()).await?;
    segment.members = super::refresh(state.store.as_ref(), &segment, crate::now_ms()).await?;
    segment.refreshed_ms = Some(crate::now_ms());
    Ok((StatusCode::CREATED, Json(segment_json(&segment))))
}

/// `?days=` of a segment's history.
#[derive(Deserialize)]
pub struct DaysQuery {
    days: Option<u32>,
}

/// `GET …/segments/{seg}`: one segment with its days (default 30).
pub async fn get(
    State(state): State<AppState>,
    Path((site, id)): Path<(String, String)>,
    Query(q): Query<DaysQuery>,
) -> Result<Json<Value>, ApiError> {
    let segment = found(&state, &site, &id).await?;
    let days = i64::from(q.days.unwrap_or(30).clamp(1, 366));
    let from = crate::now_ms().div_euclid(86_400_000) - days + 1;
    let history = state.store.segment_days(&site, &id, from).await?;
    let mut out = segment_json(&segment);
    out["days"] = history
        .iter()
        .map(
            |d| json!({"day": d.day, "entered": d.entered, "left": d.exited, "members": d.members}),
        )
        .collect();
    Ok(Json(out))
}

/// `PUT …/segments/{seg}`: a new name or condition (built-in segments keep
/// theirs), worked out again at once.
pub async fn put(
    State(state): State<AppState>,
    Path((site, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut segment = found(&state, &site, &id).await?;
    let req: SegmentBody =
        crate::error::json_body(&body, "the segment ({\"name\"?, \"condition\"?})")?;
    let mut problems = check(req.name.as_deref(), req.condition.as_ref());
    if req.id.as_deref().is_some_and(|i| i != id) {
        problems.push("`id` cannot change".to_string());
    }
    if segment.builtin && req.condition.is_some() {
        problems.push(format!(
            "`{id}` is built in: its condition is the product's; make a segment of your own instead"
        ));
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    if let Some(name) = req.name {
        segment.name = name;
    }
    if let Some(condition) = req.condition {
        segment.condition = condition;
    }
    state.store.put_segment(&segment).await?;
    segment.members = super::refresh(state.store.as_ref(), &segment, crate::now_ms()).await?;
    Ok(Json(segment_json(&segment)))
}

/// `DELETE …/segments/{seg}` (not a built-in one).
pub async fn delete(
    State(state): State<AppState>,
    Path((site, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let segment = found(&state, &site, &id).await?;
    if segment.builtin {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "builtin_segment",
            format!("`{id}` is built in and stays"),
        ));
    }
    state.store.delete_segment(&site, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/segments/{seg}/refresh`: membership worked out now.
pub async fn refresh(
    State(state): State<AppState>,
    Path((site, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let segment = found(&state, &site, &id).await?;
    crate::rollups::before_read(state.store.as_ref()).await?;
    let started = std::time::Instant::now();
    let members = super::refresh(state.store.as_ref(), &segment, crate::now_ms()).await?;
    Ok(Json(json!({
        "segment": id, "members": members, "took_ms": started.elapsed().as_millis() as u64,
    })))
}

/// `POST …/segments/refresh`: every segment of the site worked out now, in
/// one pass over its shoppers.
pub async fn refresh_all(
    State(state): State<AppState>,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    crate::routes::known_site(&state, &site).await?;
    let segments = super::of_site(state.store.as_ref(), &site, crate::now_ms()).await?;
    crate::rollups::before_read(state.store.as_ref()).await?;
    let started = std::time::Instant::now();
    let counts =
        super::refresh_site(state.store.as_ref(), &site, &segments, crate::now_ms()).await?;
    let members: serde_json::Map<String, Value> = segments
        .iter()
        .zip(counts)
        .map(|(s, n)| (s.id.clone(), json!(n)))
        .collect();
    Ok(Json(json!({
        "members": members, "took_ms": started.elapsed().as_millis() as u64,
    })))
}

/// A CSV field: quoted (quotes doubled) when it holds a comma, quote or
/// line break, and never read as a formula by a spreadsheet.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// `?format=jsonl|csv` of an export, and `limit` for a sample (the first
/// members by id, at most 5,000).
#[derive(Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
    limit: Option<u32>,
}

/// `GET …/segments/{seg}/members`: every member as JSON lines (`{"anon",
/// "customer_id", "entered_ms"}`) or CSV, streamed a page at a time.
pub async fn members(
    State(state): State<AppState>,
    Path((site, id)): Path<(String, String)>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    found(&state, &site, &id).await?;
    let csv = match q.format.as_deref().unwrap_or("jsonl") {
        "jsonl" => false,
        "csv" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "`format` `{other}` is not one of jsonl, csv"
            )));
        }
    };
    let page_size = match q.limit {
        None => PAGE,
        Some(n @ 1..=PAGE) => n,
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "`limit` {n} must be from 1 to {PAGE}"
            )));
        }
    };
    let sample = q.limit.is_some();
    let store = state.store.clone();
    // Keyset pages: each read starts after the last id sent.
    let pages = futures_util::stream::unfold((Some(String::new()), csv), move |(after, header)| {
        let store = store.clone();
        let (site, id) = (site.clone(), id.clone());
        async move {
            let after = after?;
            let page = match store.members(&site, &id, &after, page_size).await {
                Ok(page) => page,
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), (None, false))),
            };
            let mut text = String::new();
            if header {
                text.push_str("anon,customer_id,entered_ms\n");
            }
            for (anon, entered, customer) in &page {
                if csv {
                    // Ids are letters, digits, `-` and `_`; a customer id is
                    // the shop's own, quoted as CSV needs.
                    let customer = customer.as_deref().map(csv_field).unwrap_or_default();
                    text.push_str(&format!("{anon},{customer},{entered}\n"));
                } else {
                    text.push_str(
                        &json!({"anon": anon, "customer_id": customer, "entered_ms": entered})
                            .to_string(),
                    );
                    text.push('\n');
                }
            }
            let next = (!sample && page.len() == page_size as usize)
                .then(|| page.last().map(|l| l.0.clone()).unwrap_or_default());
            if text.is_empty() {
                return None;
            }
            Some((Ok::<_, std::io::Error>(text), (next, false)))
        }
    });
    let kind = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/x-ndjson"
    };
    Ok(([(header::CONTENT_TYPE, kind)], Body::from_stream(pages)).into_response())
}
