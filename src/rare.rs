//! The widget's third module (built with the `rare` feature into
//! `pkg/rare/`): the profile's JSON form, which almost no page needs. It
//! upgrades a profile an earlier widget stored as JSON (once per shopper)
//! and writes the profile out for `dangol.export()`. Kept apart from the
//! second module so that pages with overlays, coupons or prompts do not
//! load these readers and writers too.

use dangol_engine::profile::Profile;
use wasm_bindgen::prelude::*;

use crate::platform::json;

/// A profile an earlier widget stored as JSON, in the stored form
/// (`undefined`: unreadable, and the profile starts afresh).
#[wasm_bindgen]
pub fn upgrade(old: &str) -> Option<String> {
    json::upgrade_profile(old)
}

/// `dangol.export()`'s object, its `profile` the text storage keeps,
/// with the profile turned into JSON in place (`null`: unreadable).
#[wasm_bindgen]
pub fn expand(export: &JsValue) {
    let key = JsValue::from_str("profile");
    let text = js_sys::Reflect::get(export, &key)
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    let _ = js_sys::Reflect::set(export, &key, &json::to_js(&Profile::text_to_value(&text)));
}
