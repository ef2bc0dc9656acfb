//! HTTP through the browser's `fetch`, with timeouts. Requests are always
//! anonymous (`credentials: "omit"`, `referrerPolicy: "no-referrer"`): no
//! cookies go either way, and no page URL goes out.

use gloo::timers::callback::Timeout;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestCredentials, RequestInit, RequestMode, Response};

use super::describe;

/// How long a request may take before it counts as failed (the loader's
/// config request uses the same).
pub const TIMEOUT_MS: u32 = 8_000;

/// What a config fetch brought back.
#[derive(Debug)]
pub enum Fetched {
    /// A new body, as text, with its ETag.
    Body {
        /// The response body.
        text: String,
        /// The strong ETag, for revalidation.
        etag: Option<String>,
        /// The Ed25519 signature of the body (base64), if the server sent one.
        signature: Option<String>,
    },
    /// 304: the cached copy is current.
    NotModified,
}

/// `fetch(url, init)`, aborted after `timeout_ms`; or, given `started`,
/// that request instead (the loader's, which has its own timeout).
async fn send(
    url: &str,
    init: &RequestInit,
    timeout_ms: u32,
    started: Option<js_sys::Promise>,
) -> Result<Response, String> {
    let window = web_sys::window().ok_or("no window")?;
    let controller = AbortController::new().map_err(|e| describe(&e))?;
    init.set_signal(Some(&controller.signal()));
    init.set_credentials(RequestCredentials::Omit);
    init.set_mode(RequestMode::Cors);
    // No page URL in `Referer`: what the shopper is looking at is not the
    // server's business (and goes nowhere before consent).
    let _ = js_sys::Reflect::set(init, &"referrerPolicy".into(), &"no-referrer".into());
    // Dropping the timeout (when the request ends first) cancels it.
    let _timeout = Timeout::new(timeout_ms, move || controller.abort());
    let promise = started.unwrap_or_else(|| window.fetch_with_str_and_init(url, init));
    let value = JsFuture::from(promise).await.map_err(|e| {
        let aborted = e
            .dyn_ref::<js_sys::Error>()
            .is_some_and(|err| err.name() == "AbortError" || err.name() == "TimeoutError");
        if aborted {
            dangol_engine::cat::cat(&[
                "no answer within ",
                &dangol_engine::cat::uint(u64::from(timeout_ms)),
                " ms",
            ])
        } else {
            describe(&e)
        }
    })?;
    value
        .dyn_into::<Response>()
        .map_err(|_| "fetch did not return a Response".to_string())
}

/// GETs a config, revalidating with `etag` when there is one; `started` is
/// the same request already under way (the loader's, on a first visit).
pub async fn get_config(
    url: &str,
    etag: Option<&str>,
    timeout_ms: u32,
    started: Option<js_sys::Promise>,
) -> Result<Fetched, String> {
    let init = RequestInit::new();
    init.set_method("GET");
    if let Some(tag) = etag {
        let headers = Headers::new().map_err(|e| describe(&e))?;
        headers
            .set("If-None-Match", tag)
            .map_err(|e| describe(&e))?;
        init.set_headers(&headers);
    }
    let response = send(url, &init, timeout_ms, started).await?;
    match response.status() {
        304 => Ok(Fetched::NotModified),
        200 => {
            let etag = response.headers().get("ETag").ok().flatten();
            let signature = response.headers().get("X-Dangol-Signature").ok().flatten();
            let text = JsFuture::from(response.text().map_err(|e| describe(&e))?)
                .await
                .map_err(|e| describe(&e))?
                .as_string()
                .ok_or("the body is not text")?;
            Ok(Fetched::Body {
                text,
                etag,
                signature,
            })
        }
        status => Err(dangol_engine::cat::cat(&[
            "HTTP ",
            &dangol_engine::cat::uint(u64::from(status)),
        ])),
    }
}

/// POSTs JSON and returns the status and the body text.
#[cfg(feature = "full")]
pub async fn post_for_text(
    url: &str,
    body: &str,
    timeout_ms: u32,
) -> Result<(u16, String), String> {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    let headers = Headers::new().map_err(|e| describe(&e))?;
    headers
        .set("Content-Type", "application/json")
        .map_err(|e| describe(&e))?;
    init.set_headers(&headers);
    let response = send(url, &init, timeout_ms, None).await?;
    let status = response.status();
    let text = JsFuture::from(response.text().map_err(|e| describe(&e))?)
        .await
        .map_err(|e| describe(&e))?
        .as_string()
        .unwrap_or_default();
    Ok((status, text))
}

/// DELETEs a resource, proving ownership with `key`.
pub async fn delete(url: &str, key: &str, timeout_ms: u32) -> Result<u16, String> {
    let init = RequestInit::new();
    init.set_method("DELETE");
    let headers = Headers::new().map_err(|e| describe(&e))?;
    headers.set("X-Dangol-Key", key).map_err(|e| describe(&e))?;
    init.set_headers(&headers);
    let response = send(url, &init, timeout_ms, None).await?;
    match response.status() {
        s @ 200..=299 => Ok(s),
        s => Err(dangol_engine::cat::cat(&[
            "HTTP ",
            &dangol_engine::cat::uint(u64::from(s)),
        ])),
    }
}

/// POSTs a JSON body with `keepalive`, so it survives the page being left.
/// `key` is the id's erase key, sent so the server can tie it to the id.
pub async fn post_json(
    url: &str,
    body: &str,
    key: Option<&str>,
    timeout_ms: u32,
) -> Result<(u16, Option<i64>), String> {
    let init = RequestInit::new();
    init.set_method("POST");
    // `keepalive` is not in web-sys's stable API; set the dictionary field.
    js_sys::Reflect::set(&init, &JsValue::from_str("keepalive"), &JsValue::TRUE)
        .map_err(|e| describe(&e))?;
    init.set_body(&JsValue::from_str(body));
    let headers = Headers::new().map_err(|e| describe(&e))?;
    headers
        .set("Content-Type", "application/json")
        .map_err(|e| describe(&e))?;
    if let Some(key) = key {
        headers.set("X-Dangol-Key", key).map_err(|e| describe(&e))?;
    }
    init.set_headers(&headers);
    let response = send(url, &init, timeout_ms, None).await?;
    // `Retry-After` in seconds (the server never sends a date).
    let retry_after_ms = response
        .headers()
        .get("retry-after")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|s| s.saturating_mul(1000));
    Ok((response.status(), retry_after_ms))
}
