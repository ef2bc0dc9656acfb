//! The loader's I/O for the widget (`www/dangol.js`): HTTP requests, the
//! config's signature check, a later task, the second module, the page's
//! listeners and consent manager, and banners in slots. Each request is
//! asked for with an id and answered through the widget's `call(ANSWER,
//! id, value)` (`dangol_engine::calls`), always in a later microtask, so
//! no answer ever runs inside the call that asked. One entry point for
//! every answer keeps the wasm free of futures and of a closure per
//! request; the plain JavaScript is smaller than the same work through
//! `web-sys`.

use wasm_bindgen::prelude::*;

/// How long a request may take before it counts as failed (the loader's
/// `TIMEOUT_MS`).
pub const TIMEOUT_MS: u32 = 8_000;

#[wasm_bindgen]
extern "C" {
    /// The loader's host functions.
    #[derive(Clone)]
    pub type Host;

    /// `fetch(url)`: anonymous (`credentials: "omit"`), with no page URL
    /// (`referrerPolicy: "no-referrer"`), aborted after [`TIMEOUT_MS`].
    /// `body` (JSON, sent with `keepalive`), `key` (`X-Dangol-Key`) and
    /// `etag` (`If-None-Match`) are left out when empty. With `lock`, the
    /// request runs only if no other page of the site holds the Web Lock of
    /// that name. The first config request may be the one the loader
    /// started while the wasm loaded. Answers `[status, body, etag,
    /// signature, retryAfterMs]` (the body is read for a 200 to a GET only;
    /// `Retry-After` in seconds, as milliseconds, or `null`),
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

    /// The same check as a function answering a promise of `1`, `0` or
    /// `2` (for the second module, which holds no host).
    #[wasm_bindgen(method, getter)]
    pub fn check(this: &Host) -> js_sys::Function;

    /// Answers (`undefined`) after `ms`, or with `0` in a later task
    /// (`scheduler.yield()`, else a zero timeout), so the page's input and
    /// paint run in between.
    #[wasm_bindgen(method)]
    pub fn later(this: &Host, id: u32, ms: u32);

    /// The page's IAB TCF v2.2 consent manager (`__tcfapi`): `false`
    /// without one; else listens to it (each later answer is reported as
    /// the page signal `TCF` with its `tcData`) and returns the answer it
    /// gave at once, or `true` while it has not answered.
    #[wasm_bindgen(method)]
    pub fn tcf(this: &Host) -> JsValue;

    /// A function `(code, arg)` that reports an action on the offer
    /// `handle` through the widget's `call(OFFER, handle, [code, arg])`,
    /// for the second module.
    #[wasm_bindgen(method)]
    pub fn sink(this: &Host, handle: u32) -> js_sys::Function;

    /// Reports the offer `handle` as seen (action 7), once, when `node` has
    /// been at least half in view for a second while the page was visible.
    #[wasm_bindgen(method)]
    pub fn seen(this: &Host, node: &web_sys::Element, handle: u32);

    /// Renders a banner into `slot`, in Shadow DOM styled by `css`, its
    /// text as text: `headline`, `body`, `image` (a URL), the call to action
    /// (`cta_text`, `cta_url`), and "Why this offer?" with the words `why`
    /// and `off` when `why` is not empty. Marks the slot rendered with
    /// `campaign`; actions come back for `handle`. Returns the banner's
    /// element, or throws why not (a shadow root of the shop's own).
    #[wasm_bindgen(method, catch)]
    pub fn banner(
        this: &Host,
        slot: &web_sys::Element,
        handle: u32,
        campaign: &str,
        css: &str,
        theme: &str,
        headline: &str,
        body: &str,
        image: &str,
        cta_text: &str,
        cta_url: &str,
        why: &str,
        off: &str,
    ) -> Result<web_sys::Element, JsValue>;

    /// Takes an offer off the page, as `render::clear` does: an overlay
    /// (`data-dangol-overlay`) is removed; a slot the widget rendered
    /// into gets the shop's own content back and loses
    /// `data-dangol-rendered`.
    #[wasm_bindgen(method)]
    pub fn clear(this: &Host, element: &web_sys::Element);

    /// Starts a tick every second and the observer of elements added to
    /// the page. They, and the page's listeners the loader added while the
    /// wasm loaded (scroll, exit intent, clicks inside elements marked
    /// `data-dangol-track`, visibility, input and other tabs' storage
    /// changes), report through the widget's `call(PAGE, kind, value)` (the
    /// kinds are in `widget::watch::signal`); the loader removes them all
    /// on `destroy()`.
    #[wasm_bindgen(method)]
    pub fn watch(this: &Host);

    /// Imports the widget's second module once and answers with it, or with
    /// the error as a string.
    #[wasm_bindgen(method)]
    pub fn more(this: &Host, id: u32);

    /// Imports the widget's third module (the profile's JSON form) once
    /// and answers with it, or with the error as a string.
    #[wasm_bindgen(method)]
    pub fn rare(this: &Host, id: u32);

    /// What the page says about itself, read afresh (see
    /// [`crate::platform::dom::page`]).
    #[wasm_bindgen(method)]
    pub fn page(this: &Host) -> JsValue;

    /// Every slot on the page: `[placement, element, placement, element…]`.
    #[wasm_bindgen(method)]
    pub fn slots(this: &Host) -> js_sys::Array;

    /// Whether the browser thinks it is online (`navigator.onLine`).
    #[wasm_bindgen(method)]
    pub fn online(this: &Host) -> bool;

    /// `bytes` random bytes from the browser's cryptographic generator, as
    /// lowercase hex; empty where `crypto` is missing.
    #[wasm_bindgen(method)]
    pub fn hex(this: &Host, bytes: u32) -> String;

    /// `n` in the language `tag` by `Intl.NumberFormat`: an amount in
    /// `currency` (an ISO 4217 code) unless it is empty, else at most two
    /// decimals.
    #[wasm_bindgen(method)]
    pub fn num(this: &Host, tag: &str, n: f64, currency: &str) -> String;

    /// The site's keys in localStorage (`dangol:{site}:{name}`), by `op`
    /// (see [`crate::platform::storage::SiteStorage`]).
    #[wasm_bindgen(method)]
    pub fn store(this: &Host, op: u32, name: &str, value: &str) -> JsValue;
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
            retry_after_ms: list.get(4).as_f64().map(|ms| ms as i64),
        }
    }
}
