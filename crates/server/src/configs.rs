//! Serving the published config: the JSON form for people and tools and
//! the compact form the widget reads, each with its ETag, signature and
//! revalidation, and the public key that verifies them.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dangol_engine::condition::NativeRegex;
use dangol_engine::config::SiteConfig;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::cache::{Form, Served};
use crate::cors::preflight;
use crate::error::ApiError;
use crate::routes::known_site;

/// The site's newest config as served (body, ETag, signature), from the
/// cache when it is fresh.
pub(crate) async fn served_config(state: &AppState, site: &str) -> Result<Arc<Served>, ApiError> {
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
    // The site's churn model, as last fitted, goes out with the config: the
    // widget works out the shopper's figures from their own history.
    let model = crate::churn::stored_model(state.store.as_ref(), site).await?;
    let body = with_churn_model(&published.body, model.as_ref());
    // The same version under the same key (and model): its forms, compiled
    // and signed already, are served again (only their freshness expired).
    if let Some(old) = state.cache.config_stale(site)
        && old.version == published.version
        && old.lineage == lineage
        && old.json.body == body
    {
        state.cache.put_config(site, old.clone());
        return Ok(old);
    }
    let compact = compact_form(site, &body, &lineage)?;
    let form = |body: String, tag: &str| signed_form(&key, body, tag, published.version);
    let served = Arc::new(Served {
        version: published.version,
        lineage,
        compact: form(compact, "c"),
        json: form(body, "v"),
    });
    state.cache.put_config(site, served.clone());
    Ok(served)
}

/// `body` as served: signed with the site's `key`, with a strong ETag of
/// `tag`, `number` (a version, a build time) and the body's digest.
pub(crate) fn signed_form(
    key: &ed25519_dalek::SigningKey,
    body: String,
    tag: &str,
    number: impl std::fmt::Display,
) -> Form {
    let signature = crate::signing::sign(key, body.as_bytes());
    let digest = Sha256::digest(body.as_bytes());
    let etag = format!("\"{tag}{number}-{}\"", hex::encode(&digest[..12]));
    Form {
        etag_header: HeaderValue::from_str(&etag).ok(),
        signature_header: HeaderValue::from_str(&signature).ok(),
        etag,
        signature,
        body,
    }
}

/// The published config's text with the fitted churn model as its
/// `profile.churn` (the text as it is without a model, or when it is not an
/// object, which compiling then reports).
pub(crate) fn with_churn_model(
    body: &str,
    model: Option<&dangol_engine::churn::ChurnModel>,
) -> String {
    let Some(model) = model else {
        return body.to_string();
    };
    let Ok(serde_json::Value::Object(mut config)) = serde_json::from_str(body) else {
        return body.to_string();
    };
    let b = model.bgnbd;
    let mut churn = json!({"r": b.r, "alpha": b.alpha, "a": b.a, "b": b.b});
    if let Some(g) = model.spend {
        churn["p"] = json!(g.p);
        churn["q"] = json!(g.q);
        churn["v"] = json!(g.v);
    }
    let profile = config.entry("profile").or_insert_with(|| json!({}));
    if let Some(profile) = profile.as_object_mut() {
        profile.insert("churn".into(), churn);
    }
    serde_json::Value::Object(config).to_string()
}

/// The compact form of a published config (compiled regexes are not
/// `Send`, so this stays out of the async handlers' state).
pub(crate) fn compact_form(site: &str, body: &str, lineage: &str) -> Result<String, ApiError> {
    let value: dangol_engine::json::Value = serde_json::from_str(body).map_err(|e| {
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
pub(crate) async fn config(
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
pub(crate) async fn compact_config(
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

pub(crate) fn serve_form(form: &Form, content_type: &'static str, headers: &HeaderMap) -> Response {
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
pub(crate) async fn config_preflight() -> Response {
    let mut response = preflight("GET", "if-none-match");
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// `If-None-Match` against the config's tag, by weak comparison (RFC 9110
/// 13.1.2): a tag the server weakened for a compressed copy still matches.
pub(crate) fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    fn bare(tag: &str) -> &str {
        tag.trim().trim_start_matches("W/")
    }
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

/// A compressed config is not the same bytes as the uncompressed one, so
/// its tag is weak (`W/"…"`), as a strong tag must differ per encoding.
pub(crate) async fn weak_etag_when_encoded(mut response: Response) -> Response {
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
pub(crate) async fn public_key(
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
