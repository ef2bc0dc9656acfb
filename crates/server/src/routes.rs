//! The route table: the browser API under `/v1`, the admin API and pages,
//! and static files with their caching. The handlers live by concern:
//! `configs` (serving configs), `ingest` (events and erasure), `cors`,
//! `coupons` and `admin`.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get};
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;
use crate::admin;
use crate::configs::{
    compact_config, config, config_preflight, public_key, weak_etag_when_encoded,
};
use crate::cors::events_preflight;
use crate::error::ApiError;
use crate::ingest::{admin_events, erase_subject, ingest_events};
use crate::store::Site;

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
    admin::ADMINS,
    admin::ADMIN,
    admin::INSIGHTS,
    admin::ROLLUPS,
    admin::REACH,
    crate::webhooks::admin::WEBHOOKS,
    crate::webhooks::admin::WEBHOOK,
    crate::webhooks::admin::SECRET,
    crate::webhooks::admin::TEST,
    crate::webhooks::admin::MESSAGES,
    crate::webhooks::admin::REPLAY,
    crate::segments::admin::SEGMENTS,
    crate::segments::admin::SEGMENT,
    crate::segments::admin::REFRESH,
    crate::segments::admin::REFRESH_ALL,
    crate::identity::IDENTIFY,
    crate::identity::SECRET,
    crate::identity::CUSTOMER,
    crate::segments::admin::MEMBERS,
    crate::orders::ORDERS,
    crate::catalog::CATALOG,
    crate::recs::ADMIN,
    crate::recs::PUBLIC,
    crate::churn::MODEL,
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
            crate::recs::PUBLIC,
            get(crate::recs::serve)
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
        .route(
            crate::identity::IDENTIFY,
            axum::routing::post(crate::identity::identify).options(events_preflight),
        )
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
