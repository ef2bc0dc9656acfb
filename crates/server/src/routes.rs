//! Routes: the browser API under `/v1`, admin reads, and static files.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use dangol_engine::condition::NativeRegex;
use dangol_engine::config::SiteConfig;
use dangol_engine::event::parse_batch;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::admin::{self, auth::Admin};
use crate::cache::{Form, Served};
use crate::error::ApiError;
use crate::store::Site;
use crate::{AppState, now_ms};

/// Largest accepted event batch body: 100 events fit with ample room.
pub const MAX_EVENTS_BODY: usize = 256 * 1024;

/// The API's paths, as routed and as documented in `/v1/openapi.json` (a
/// test keeps the two in step).
pub const API_PATHS: &[&str] = &[
    CONFIG,
    COMPACT,
    KEY,
    EVENTS,
    CLAIM,
    REDEEM,
    SUBJECT,
    OPENAPI,
    HEALTH,
    admin::LOGIN,
    admin::LOGOUT,
    admin::SESSION,
    admin::TOKENS,
    admin::TOKEN,
    admin::SITES,
    admin::SITE,
    admin::CAMPAIGNS,
    admin::CAMPAIGN,
    admin::PUBLISH,
    admin::VERSIONS,
    admin::VERSION,
    admin::ROLLBACK,
    admin::RESULTS,
    admin::BANDITS,
    admin::REDEEM_KEY,
    admin::CODES,
    admin::INSIGHTS,
    admin::REACH,
];
const CONFIG: &str = "/v1/sites/{site}/config";
const COMPACT: &str = "/v1/sites/{site}/config/compact";
const KEY: &str = "/v1/sites/{site}/key";
const EVENTS: &str = "/v1/sites/{site}/events";
const CLAIM: &str = "/v1/sites/{site}/coupons/claim";
const REDEEM: &str = "/v1/sites/{site}/coupons/redeem";
const SUBJECT: &str = "/v1/sites/{site}/subjects/{anon}";
const OPENAPI: &str = "/v1/openapi.json";
const HEALTH: &str = "/healthz";

/// The OpenAPI document, served as is.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

pub(crate) fn router(state: AppState) -> Router {
    let mut router = Router::new()
        // Configs are public (no secret to leak through compression) and
        // grow with the campaigns: brotli or gzip when the browser accepts.
        .route(
            CONFIG,
            get(config)
                .options(config_preflight)
                .layer(CompressionLayer::new())
                .layer(axum::middleware::map_response(weak_etag_when_encoded)),
        )
        .route(
            COMPACT,
            get(compact_config)
                .options(config_preflight)
                .layer(CompressionLayer::new())
                .layer(axum::middleware::map_response(weak_etag_when_encoded)),
        )
        .route(
            OPENAPI,
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON) }),
        )
        .route(
            EVENTS,
            get(admin_events)
                .post(ingest_events)
                .options(events_preflight)
                .layer(DefaultBodyLimit::max(MAX_EVENTS_BODY)),
        )
        .route(
            CLAIM,
            axum::routing::post(crate::coupons::claim)
                .options(events_preflight)
                .layer(DefaultBodyLimit::max(4096)),
        )
        .route(
            REDEEM,
            axum::routing::post(crate::coupons::redeem).layer(DefaultBodyLimit::max(4096)),
        )
        .route(SUBJECT, delete(erase_subject).options(events_preflight))
        .route(KEY, get(public_key))
        .route(HEALTH, get(|| async { "ok" }))
        .merge(admin::router(&state));
    if let Some(www) = &state.www_dir {
        let www_files = || tower::ServiceBuilder::new().layer(CompressionLayer::new());
        // The build's minified loader (with brotli and gzip copies) when
        // there is one, else the loader's source.
        let built = state.pkg_dir.as_ref().map(|pkg| pkg.join("loader.js"));
        router = match built.filter(|loader| loader.is_file()) {
            Some(loader) => router.route_service(
                "/dangol.js",
                tower::ServiceBuilder::new()
                    .layer(loader_cache())
                    .layer(SetResponseHeaderLayer::overriding(
                        header::VARY,
                        HeaderValue::from_static("accept-encoding"),
                    ))
                    .service(
                        ServeFile::new(loader)
                            .precompressed_br()
                            .precompressed_gzip(),
                    ),
            ),
            None => router.route_service(
                "/dangol.js",
                www_files()
                    .layer(loader_cache())
                    .service(ServeFile::new(www.join("dangol.js"))),
            ),
        };
        router = router
            .nest_service(
                "/demo",
                www_files().service(ServeDir::new(www.join("demo"))),
            )
            .route("/", get(|| async { Redirect::temporary("/demo/") }));
    }
    if let Some(pkg) = &state.pkg_dir {
        // The widget's module and wasm are public and load cross-origin from
        // shops' pages (module scripts and streaming wasm need CORS). The
        // build writes brotli and gzip copies next to them; a browser that
        // accepts either gets it (the wasm is about 40 % of its size).
        let assets = tower::ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::VARY,
                HeaderValue::from_static("accept-encoding"),
            ))
            .layer(axum::middleware::from_fn(versioned))
            .service(ServeDir::new(pkg).precompressed_br().precompressed_gzip());
        router = router.nest_service("/pkg", assets);
    }
    router
        .layer(axum::middleware::from_fn_with_state(
            state.proxies.clone(),
            crate::limits::client_ip,
        ))
        .with_state(state)
}

/// The loader is cached for five minutes: an upgrade reaches every page
/// within that.
fn loader_cache() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    )
}

/// The loader asks for the widget's files with `?v=<build id>`, and they
/// are served from that build's directory, `builds/<id>/`. The build keeps
/// its files there and the last few builds stay, so a loader cached from
/// before an upgrade still gets the glue and the wasm of its own build. A
/// build's files never change, so browsers may keep them for good
/// (`immutable`). A build that is not kept is a 404, not a glue and a wasm
/// that do not fit each other: the loader gives up quietly until its short
/// cache runs out. Without `v`, browsers revalidate.
async fn versioned(mut request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let asked = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("v=")))
        .map(str::to_string);
    let Some(asked) = asked else {
        let mut response = next.run(request).await;
        if response.status().is_success() {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        return response;
    };
    let not_kept = || {
        (
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, "no-store")],
            format!("build `{asked}` is not a widget this server keeps"),
        )
            .into_response()
    };
    if !is_build_id(&asked) {
        return not_kept();
    }
    match format!("/builds/{asked}{}", request.uri().path()).parse() {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return not_kept(),
    }
    let mut response = next.run(request).await;
    if response.status() == StatusCode::NOT_FOUND {
        return not_kept();
    }
    if response.status().is_success() {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    response
}

/// A build id as the build writes it: eight lowercase hex digits.
fn is_build_id(id: &str) -> bool {
    id.len() == 8 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub(crate) async fn known_site(state: &AppState, site: &str) -> Result<Site, ApiError> {
    let found = match state.cache.site(site) {
        Some(found) => found,
        None => {
            let found = state.store.site(site).await?;
            state.cache.put_site(site, found.clone());
            found
        }
    };
    found.ok_or_else(|| ApiError::unknown_site(site))
}

/// The site's newest config as served (body, ETag, signature), from the
/// cache when it is fresh.
async fn served_config(state: &AppState, site: &str) -> Result<Arc<Served>, ApiError> {
    if let Some(served) = state.cache.config(site) {
        return Ok(served);
    }
    known_site(state, site).await?;
    let Some(published) = state.store.published(site).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_published",
            format!("site `{site}` has no published config yet"),
        ));
    };
    // The widget's form: read, checked and compiled once here, so the
    // browser carries no validator and decides right after one read.
    let key = crate::signing::key_for(state.store.as_ref(), site).await?;
    // The line of publishes: one per signing key, so a database started
    // afresh (versions from 1 again) is never taken for a replay.
    let lineage = hex::encode(&Sha256::digest(key.verifying_key().as_bytes())[..8]);
    let compact = compact_form(site, &published.body, &lineage)?;
    let form = |body: String, tag: &str| {
        let signature = crate::signing::sign(&key, body.as_bytes());
        let digest = Sha256::digest(body.as_bytes());
        let etag = format!(
            "\"{tag}{}-{}\"",
            published.version,
            hex::encode(&digest[..12])
        );
        Form {
            etag_header: HeaderValue::from_str(&etag).ok(),
            signature_header: HeaderValue::from_str(&signature).ok(),
            etag,
            signature,
            body,
        }
    };
    let served = Arc::new(Served {
        version: published.version,
        compact: form(compact, "c"),
        json: form(published.body, "v"),
    });
    state.cache.put_config(site, served.clone());
    Ok(served)
}

/// The compact form of a published config (compiled regexes are not
/// `Send`, so this stays out of the async handlers' state).
fn compact_form(site: &str, body: &str, lineage: &str) -> Result<String, ApiError> {
    let value: Value = serde_json::from_str(body).map_err(|e| {
        ApiError::internal(format!("the published config of `{site}` is not JSON: {e}"))
    })?;
    let compiled = SiteConfig::compile_value(&value, &NativeRegex).map_err(|e| {
        ApiError::internal(format!(
            "the published config of `{site}` does not compile: {e}"
        ))
    })?;
    Ok(dangol_engine::config::compact::write(&compiled, lineage))
}

/// `GET /v1/sites/{site}/config`: the published config, anonymous and
/// cacheable by any CDN; a strong ETag answers revalidations with 304.
async fn config(
    State(state): State<AppState>,
    Path(site): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let served = served_config(&state, &site).await?;
    Ok(serve_form(&served.json, "application/json", &headers))
}

/// `GET /v1/sites/{site}/config/compact`: the same config checked and
/// compiled into the compact form the widget reads (base64 text), with its
/// own ETag and signature.
async fn compact_config(
    State(state): State<AppState>,
    Path(site): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let served = served_config(&state, &site).await?;
    Ok(serve_form(
        &served.compact,
        "text/plain; charset=utf-8",
        &headers,
    ))
}

fn serve_form(form: &Form, content_type: &'static str, headers: &HeaderMap) -> Response {
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, &form.etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], form.body.clone()).into_response()
    };
    let h = response.headers_mut();
    if let Some(v) = form.etag_header.clone() {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = form.signature_header.clone() {
        h.insert("x-dangol-signature", v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60, stale-while-revalidate=600"),
    );
    // The config is public and anonymous: any page may read it.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag, X-Dangol-Signature"),
    );
    response
}

/// `OPTIONS /v1/sites/{site}/config`: the CORS preflight of a revalidation
/// (`If-None-Match` is not a CORS-safelisted header, so a browser may ask
/// before sending it from a shop's page on another origin). The config is
/// public: any origin may read it.
async fn config_preflight() -> Response {
    let mut response = preflight("GET", "if-none-match");
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// `If-None-Match` against the config's tag, by weak comparison (RFC 9110
/// 13.1.2): a tag the server weakened for a compressed copy still matches.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    fn bare(tag: &str) -> &str {
        tag.trim().trim_start_matches("W/")
    }
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

/// A compressed config is not the same bytes as the uncompressed one, so
/// its tag is weak (`W/"…"`), as a strong tag must differ per encoding.
async fn weak_etag_when_encoded(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if headers.contains_key(header::CONTENT_ENCODING) {
        let weak = headers
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.starts_with("W/"))
            .and_then(|v| HeaderValue::from_str(&format!("W/{v}")).ok());
        if let Some(weak) = weak {
            headers.insert(header::ETAG, weak);
        }
    }
    response
}

/// `GET /v1/sites/{site}/key`: the public key that verifies the site's
/// configs; shops put it in the script tag's `data-key`.
async fn public_key(
    State(state): State<AppState>,
    Path(site): Path<String>,
) -> Result<Response, ApiError> {
    known_site(&state, &site).await?;
    let key = crate::signing::key_for(state.store.as_ref(), &site).await?;
    let mut response = Json(json!({
        "site": site, "algorithm": "Ed25519", "public_key": crate::signing::public_key(&key)
    }))
    .into_response();
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(response)
}

/// The origin a browser request came from, when it is allowed to send
/// events: the server's own origin or one the site lists.
pub(crate) fn allowed_origin(
    headers: &HeaderMap,
    site: &Site,
) -> Result<Option<HeaderValue>, ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Not a cross-origin browser request (a server or same-origin GET).
        return Ok(None);
    };
    let text = origin.to_str().unwrap_or("");
    let same_origin = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| {
            text.strip_prefix("http://")
                .or_else(|| text.strip_prefix("https://"))
                == Some(host)
        });
    if same_origin || site.allowed_origins.iter().any(|o| o == text) {
        Ok(Some(origin.clone()))
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            format!("origin `{text}` may not send events to site `{}`", site.id),
        ))
    }
}

pub(crate) fn with_cors(mut response: Response, origin: Option<HeaderValue>) -> Response {
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        // The widget backs off by it, also on a refusal.
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After"),
        );
    }
    response
}

async fn events_preflight(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let site = params
        .into_iter()
        .find(|(k, _)| k == "site")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let site = known_site(&state, &site).await?;
    let origin = allowed_origin(&headers, &site)?;
    let response = preflight("POST, DELETE", "content-type, x-dangol-key");
    Ok(with_cors(response, origin))
}

/// A CORS preflight's answer: these methods and request headers, for a day.
fn preflight(methods: &'static str, headers: &'static str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(headers),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

/// `POST /v1/sites/{site}/events`: a batch of up to 100 events. Each id is
/// stored once, so retries are harmless; the answer accounts for every event.
async fn ingest_events(
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

async fn store_batch(
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
async fn erased_ids(
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
fn inflate(headers: &HeaderMap, body: Bytes) -> Result<Bytes, ApiError> {
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
struct EventsQuery {
    anon: Option<String>,
    limit: Option<u32>,
}

/// `GET /v1/sites/{site}/events`: stored events, for admins only.
async fn admin_events(
    State(state): State<AppState>,
    Path(site): Path<String>,
    Query(query): Query<EventsQuery>,
    _: Admin,
) -> Result<Response, ApiError> {
    known_site(&state, &site).await?;
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
async fn erase_subject(
    State(state): State<AppState>,
    Path((site, anon)): Path<(String, String)>,
    axum::Extension(ip): axum::Extension<crate::limits::ClientIp>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let site = known_site(&state, &site).await?;
    let origin = allowed_origin(&headers, &site)?;
    // An admin (token, API token or session with its CSRF token) may erase
    // any id; otherwise the id's own erase key is needed.
    if crate::admin::auth::authenticate(&state, &axum::http::Method::DELETE, &headers, Some(&ip))
        .await
        .is_err()
    {
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
    let erased = state.store.erase_subject(&site.id, &anon).await?;
    Ok(with_cors(
        Json(json!({"erased_events": erased})).into_response(),
        origin,
    ))
}
