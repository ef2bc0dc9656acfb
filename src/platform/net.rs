//! HTTP through the browser's `fetch`, with timeouts, for coupon claims and
//! the recommendations model in the modules that render them (the first module asks the loader, see
//! [`super::host`]). Requests are always anonymous (`credentials:
//! "omit"`, `referrerPolicy: "no-referrer"`): no cookies go either way, and
//! no page URL goes out.

use gloo::timers::callback::Timeout;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestCredentials, RequestInit, RequestMode, Response};

use super::describe;

pub use super::host::TIMEOUT_MS;

/// `fetch(url, init)`, aborted after `timeout_ms`.
async fn send(url: &str, init: &RequestInit, timeout_ms: u32) -> Result<Response, String> {
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
    let promise = window.fetch_with_str_and_init(url, init);
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

/// GETs `url` (through the browser's HTTP cache, which revalidates by
/// ETag) and returns the status, the body text and its
/// `X-Dangol-Signature`.
pub async fn get_signed(
    url: &str,
    timeout_ms: u32,
) -> Result<(u16, String, Option<String>), String> {
    let init = RequestInit::new();
    init.set_method("GET");
    let response = send(url, &init, timeout_ms).await?;
    let signature = response.headers().get("X-Dangol-Signature").ok().flatten();
    let (status, text) = text_of(response).await?;
    Ok((status, text, signature))
}

async fn text_of(response: Response) -> Result<(u16, String), String> {
    let status = response.status();
    let text = JsFuture::from(response.text().map_err(|e| describe(&e))?)
        .await
        .map_err(|e| describe(&e))?
        .as_string()
        .unwrap_or_default();
    Ok((status, text))
}

/// POSTs JSON and returns the status and the body text.
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
    let response = send(url, &init, timeout_ms).await?;
    text_of(response).await
}
