//! Everything the widget needs from the browser, as `Result`/`Option`.
//!
//! Browsers fail in many ways (storage blocked in private mode or sandboxed
//! iframes, network errors, missing APIs). Each failure surfaces here as a
//! value, never as a panic or an exception thrown into the shop's page.

pub mod clock;
pub mod consent;
pub mod dom;
pub mod format;
pub mod host;
pub mod json;
pub mod log;
#[cfg(target_arch = "wasm32")]
mod math;
#[cfg(not(feature = "full"))]
pub mod more;
#[cfg(feature = "full")]
pub mod net;
pub mod random;
pub mod regex;
pub mod storage;

use wasm_bindgen::JsValue;

/// A short, readable description of a JS error value.
pub fn describe(err: &JsValue) -> String {
    if let Some(e) = err.dyn_ref::<js_sys::Error>() {
        return e.message().as_string().unwrap_or_default();
    }
    err.as_string()
        .unwrap_or_else(|| "unknown error".to_string())
}

use wasm_bindgen::JsCast;
