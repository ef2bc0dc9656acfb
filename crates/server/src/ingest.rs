//! Events in and out: ingesting the widget's batches (inflating, checking,
//! storing each once, refusing erased ids), the admin's read of stored
//! events, and erasing a pseudonymous id.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dangol_engine::event::parse_batch;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::admin::auth::Admin;
use crate::cors::{allowed_origin, with_cors};
use crate::error::ApiError;
use crate::routes::{MAX_EVENTS_BODY, known_site};
use crate::store::Site;
use crate::{AppState, now_ms};

/// `POST /v1/sites/{site}/events`: a batch of up to 100 events. Each id is
/// stored once, so retries are harmless; the answer accounts for every event.
pub(crate) async fn ingest_events(
    State(state): State<AppState>,
    Path(site): Path<String>,
    axum::Extension(ip): axum::Extension<crate::limits::ClientIp>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let site = known_site(&state, &site).await?;
    let origin = allowed_origin(&headers, &site)?;
    // Refusals carry CORS too, so the page can read them (and Retry-After).
    match store_batch(&state, &site, &ip, &headers, body).await {
        Ok(response) => Ok(with_cors(response, origin)),
        Err(e) => Ok(with_cors(e.into_response(), origin)),
    }
}

pub(crate) async fn store_batch(
    state: &AppState,
    site: &Site,
    ip: &crate::limits::ClientIp,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    state.limiter.check(
        &format!("events:{}", ip.0),
        state.limits.events_per_ip,
        "event batches from this address",
    )?;
    let body = inflate(headers, body)?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    let now = now_ms();
    let parsed = parse_batch(&value, now).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut valid = Vec::new();
    let mut rejected = Vec::new();
    for (index, result) in parsed.into_iter().enumerate() {
        match result {
            // An imported order's id is the shop's: a page that took it
            // first would make the import skip that order as a duplicate.
            Ok(event) if crate::orders::is_import_id(&event.id) => rejected.push(json!({
                "index": index,
                "error": format!(
                    "`id` {:?} starts with `o-` or `ord_`, which are kept for imported orders",
                    event.id
                ),
            })),
            Ok(event) => valid.push(event),
            Err(err) => rejected.push(json!({"index": index, "error": err.to_string()})),
        }
    }

    // The first batch of an id registers its erase key (see erase_subject).
    if let Some(key) = headers.get("x-dangol-key").and_then(|v| v.to_str().ok())
        && (16..=128).contains(&key.len())
        && let Some(first) = valid.first()
        && valid.iter().all(|e| e.anon == first.anon)
    {
        let hash = hex::encode(Sha256::digest(key.as_bytes()));
        state
            .store
            .register_subject(&site.id, &first.anon, &hash, now)
            .await?;
    }
    // Events a browser's full outbox had to drop are counted per day, so
    // the shop sees what was lost.
    if let Some(dropped) = value
        .get("dropped")
        .and_then(Value::as_u64)
        .filter(|d| *d > 0)
    {
        tracing::warn!(site = %site.id, dropped, "a browser reported events dropped from a full outbox");
        let row = crate::store::DailyRow {
            day: crate::results::utc_day(now),
            campaign: String::new(),
            variant: String::new(),
            kind: "outbox_dropped".into(),
            n: dropped.min(1_000_000),
            revenue: 0.0,
        };
        state.store.archive_events(&site.id, &[row], &[]).await?;
    }
    let fresh = state.store.insert_events(&site.id, &valid, now).await?;
    // Events of an erased id are taken out again at once: a batch still on
    // its way when its shopper asked to be forgotten, or another tab's
    // outbox, adds nothing. Checked after storing, so an erase that commits
    // meanwhile is caught too (the erase deletes what was stored before its
    // tombstone; this catches the rest). One lookup per id in the batch.
    let erased = erased_ids(state, &site.id, &valid).await?;
    for anon in &erased {
        state.store.erase_subject(&site.id, anon).await?;
    }
    let is_erased = |e: &dangol_engine::event::Event| erased.contains(&e.anon);
    let stored = valid
        .iter()
        .zip(&fresh)
        .filter(|(e, new)| **new && !is_erased(e))
        .count();
    let refused_erased = valid.iter().filter(|e| is_erased(e)).count();
    let body = json!({
        "accepted": valid.len() - refused_erased,
        "stored": stored,
        "duplicates": valid.len() - refused_erased - stored,
        "erased": refused_erased,
        "rejected": rejected,
    });
    Ok(Json(body).into_response())
}

/// The ids among `events` that were erased.
pub(crate) async fn erased_ids(
    state: &AppState,
    site: &str,
    events: &[dangol_engine::event::Event],
) -> Result<Vec<String>, ApiError> {
    let mut ids: Vec<&str> = events.iter().map(|e| e.anon.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut erased = Vec::new();
    for anon in ids {
        let hash = hex::encode(Sha256::digest(anon.as_bytes()));
        if state.store.is_erased(site, &hash).await? {
            erased.push(anon.to_string());
        }
    }
    Ok(erased)
}

/// Inflates a gzip body (`Content-Encoding: gzip`); the size limit applies
/// to the inflated bytes too, so a small bomb cannot grow past it.
pub(crate) fn inflate(headers: &HeaderMap, body: Bytes) -> Result<Bytes, ApiError> {
    use std::io::Read;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "identity" => Ok(body),
        "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body.as_ref())
                .take(MAX_EVENTS_BODY as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| ApiError::bad_request(format!("the gzip body is corrupt: {e}")))?;
            if out.len() > MAX_EVENTS_BODY {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("the batch inflates past {MAX_EVENTS_BODY} bytes"),
                ));
            }
            Ok(Bytes::from(out))
        }
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            format!("content encoding `{other}` is not supported (gzip is)"),
        )),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct EventsQuery {
    anon: Option<String>,
    limit: Option<u32>,
}

/// `GET /v1/sites/{site}/events`: stored events, for admins only.
pub(crate) async fn admin_events(
    State(state): State<AppState>,
    Path(site): Path<String>,
    Query(query): Query<EventsQuery>,
    admin: Admin,
) -> Result<Response, ApiError> {
    known_site(&state, &site).await?;
    crate::admin::roles::require(&admin, &site, crate::admin::roles::Role::Viewer)?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let events = state
        .store
        .events(&site, query.anon.as_deref(), limit)
        .await?;
    Ok(Json(json!({"events": events})).into_response())
}

/// `DELETE /v1/sites/{site}/subjects/{anon}`: erases everything tied to a
/// pseudonymous id. The widget proves it holds the id with the erase key it
/// registered with the id's first events (`X-Dangol-Key`); admins may erase
/// any id.
pub(crate) async fn erase_subject(
    State(state): State<AppState>,
    Path((site, anon)): Path<(String, String)>,
    axum::Extension(ip): axum::Extension<crate::limits::ClientIp>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let site = known_site(&state, &site).await?;
    let origin = allowed_origin(&headers, &site)?;
    // An admin (token, API token or session with its CSRF token) may erase
    // any id; otherwise the id's own erase key is needed.
    // An admin erases ids of sites they edit.
    let admin =
        crate::admin::auth::authenticate(&state, &axum::http::Method::DELETE, &headers, Some(&ip))
            .await;
    if let Ok(admin) = &admin {
        crate::admin::roles::require(admin, &site.id, crate::admin::roles::Role::Editor)?;
    }
    if admin.is_err() {
        let given = headers
            .get("x-dangol-key")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "erasing an id needs its erase key (X-Dangol-Key) or an admin token",
                )
            })?;
        let stored = state.store.subject_key(&site.id, &anon).await?;
        let hash = hex::encode(Sha256::digest(given.as_bytes()));
        // An id the server never registered (its browser sent nothing yet,
        // or it was erased already) holds nothing to protect: erasing it
        // only makes sure nothing is ever stored for it.
        if stored.is_some() && stored.as_deref() != Some(hash.as_str()) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_key",
                format!("the erase key does not belong to id `{anon}`"),
            ));
        }
    }
    // An id that identified as a customer takes every id of that customer
    // with it: forgetting in one browser forgets the person.
    let ids = match state.store.customer_of(&site.id, &anon).await? {
        Some(customer) => state.store.ids_of(&site.id, &customer).await?,
        None => vec![anon.clone()],
    };
    let mut erased = 0;
    for id in &ids {
        erased += state.store.erase_subject(&site.id, id).await?;
    }
    Ok(with_cors(
        Json(json!({"erased_events": erased, "erased_ids": ids.len()})).into_response(),
        origin,
    ))
}
