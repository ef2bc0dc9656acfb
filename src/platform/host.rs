//! The loader's I/O for the widget (`www/dangol.js`): HTTP requests, the
//! config's signature check, a later task, the second module and the
//! page's listeners. Each request is asked for with an id and answered
//! through the widget's `call("answer", id, value)`, always in a later
//! microtask, so no answer ever runs inside the call that asked. One entry
//! point for every answer keeps the wasm free of futures and of a closure
//! per request; the plain JavaScript is smaller than the same work through
//! `web-sys`.

use wasm_bindgen::prelude::*;

/// How long a request may take before it counts as failed (the loader's
/// `TIMEOUT_MS`).
pub const TIMEOUT_MS: u32 = 8_000;

#[wasm_bindgen]
extern "C" {
    /// The loader's host functions.
    pub type Host;

    /// `fetch(url)`: anonymous (`credentials: "omit"`), with no page URL
    /// (`referrerPolicy: "no-referrer"`), aborted after [`TIMEOUT_MS`].
    /// `body` (JSON, sent with `keepalive`), `key` (`X-Dangol-Key`) and
    /// `etag` (`If-None-Match`) are left out when empty. With `lock`, the
    /// request runs only if no other page of the site holds the Web Lock of
    /// that name. The first config request may be the one the loader
    /// started while the wasm loaded. Answers `[status, body, etag,
    /// signature, retryAfter]` (the body is read for a 200 to a GET only),
    /// `-1` when the lock is held elsewhere, or the error as a string.
    #[wasm_bindgen(method)]
    pub fn req(
        this: &Host,
        id: u32,
        method: &str,
        url: &str,
        body: &str,
        key: &str,
        etag: &str,
        lock: &str,
    );

    /// Whether `signature` (base64) signs `text` under `key` (base64) with
    /// Ed25519 in WebCrypto: answers `1` (it does), `0` (it does not), `2`
    /// (this browser cannot check Ed25519) or the error as a string.
    #[wasm_bindgen(method)]
    pub fn verify(this: &Host, id: u32, key: &str, signature: &str, text: &str);

    /// Answers (`undefined`) in a later task (`scheduler.yield()`, else a
    /// zero timeout), so the page's input and paint run in between.
    #[wasm_bindgen(method)]
    pub fn later(this: &Host, id: u32);

    /// Starts the page's listeners: scroll, exit intent, clicks inside
    /// elements marked `data-dangol-track`, visibility, input, a tick every
    /// second, elements added to the page and other tabs' storage changes. Each reports through the
    /// widget's `call("page", kind, value)` (the kinds are in
    /// `widget::watch::signal`); the loader removes them on `destroy()`.
    #[wasm_bindgen(method)]
    pub fn watch(this: &Host);

    /// Imports the widget's second module once and answers with it, or with
    /// the error as a string.
    #[wasm_bindgen(method)]
    pub fn more(this: &Host, id: u32);
}

/// What a request brought back.
pub enum Reply {
    /// The server answered.
    Http {
        /// The HTTP status.
        status: u16,
        /// The body (a 200 to a GET only).
        body: String,
        /// The `ETag` header.
        etag: Option<String>,
        /// The `X-Dangol-Signature` header.
        signature: Option<String>,
        /// `Retry-After` in milliseconds (the server sends seconds).
        retry_after_ms: Option<i64>,
    },
    /// Another page of the site holds the lock.
    Busy,
    /// No answer (network error, timeout): why.
    Failed(String),
}

impl Reply {
    /// Reads the loader's answer to [`Host::req`].
    pub fn read(value: &JsValue) -> Reply {
        if let Some(error) = value.as_string() {
            return Reply::Failed(error);
        }
        if value.as_f64() == Some(-1.0) {
            return Reply::Busy;
        }
        if !js_sys::Array::is_array(value) {
            return Reply::Failed("the loader gave no answer".into());
        }
        let list: &js_sys::Array = value.unchecked_ref();
        let text = |i: u32| list.get(i).as_string();
        Reply::Http {
            status: list.get(0).as_f64().unwrap_or(0.0) as u16,
            body: text(1).unwrap_or_default(),
            etag: text(2),
            signature: text(3),
            retry_after_ms: text(4)
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map(|s| s.saturating_mul(1000)),
        }
    }
}
