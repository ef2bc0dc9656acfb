//! CORS: which origins may call the routes the widget uses, and the
//! answers to browsers' preflights.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;
use crate::routes::known_site;
use crate::store::Site;

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

pub(crate) async fn events_preflight(
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
pub(crate) fn preflight(methods: &'static str, headers: &'static str) -> Response {
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
