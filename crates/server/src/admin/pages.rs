//! The dashboard under `/admin/`: static pages from `www/admin/` and the
//! preview build of the widget from `pkg/preview/`. Only the sign-in page
//! and what it needs are public; every other page or asset needs a
//! signed-in admin (or the bearer token). A page asked for without one is
//! redirected to the sign-in page; any other file is refused with 401.

use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tower_http::services::ServeDir;

use crate::AppState;

/// What the sign-in page loads; everything else under `/admin/` is private.
const PUBLIC: &[&str] = &[
    "/admin/login",
    "/admin/login.html",
    "/admin/login.js",
    "/admin/admin.css",
];

/// The dashboard's Content-Security-Policy: only its own scripts, styles
/// and wasm; no inline code; framed only by itself (the preview).
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; \
form-action 'self'; object-src 'none'";

/// The `/admin/` routes, or none when the server has no `www` directory.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let Some(www) = state.www_dir.clone() else {
        return Router::new();
    };
    let admin_dir = www.join("admin");
    let mut router = Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route_service(
            "/admin/login",
            tower_http::services::ServeFile::new(admin_dir.join("login.html")),
        )
        .nest_service("/admin/", ServeDir::new(&admin_dir));
    if let Some(pkg) = &state.pkg_dir {
        router = router.nest_service("/admin/preview", ServeDir::new(preview_dir(pkg)));
    }
    // `route_layer`: only the dashboard's own paths are guarded; a path
    // that matches nothing stays the server's plain 404.
    router
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .route_layer(axum::middleware::map_response(headers))
}

fn preview_dir(pkg: &std::path::Path) -> PathBuf {
    pkg.join("preview")
}

/// Lets through the public sign-in files and signed-in admins; redirects
/// other page requests to the sign-in page and refuses the rest.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if PUBLIC.contains(&path.as_str()) {
        return next.run(request).await;
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let client = request
        .extensions()
        .get::<crate::limits::ClientIp>()
        .cloned();
    match super::auth::authenticate(&state, request.method(), request.headers(), client.as_ref())
        .await
    {
        Ok(_) => next.run(request).await,
        Err(_) if path == "/admin/" || path.ends_with(".html") => {
            Redirect::to("/admin/login").into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// Security headers for every dashboard response; nothing is cached, so a
/// page never outlives the session it was served to.
async fn headers(mut response: Response<Body>) -> Response<Body> {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
