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

/// The profile stored as `text`, as JSON (`null`: unreadable): what
/// `dangol.export()` shows.
#[wasm_bindgen]
pub fn profile(text: &str) -> JsValue {
    json::to_js(&Profile::text_to_value(text))
}
