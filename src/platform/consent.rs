//! Consent signals the page already carries: an IAB TCF v2.2 consent
//! manager's answers (`__tcfapi`, which the loader listens to). Global
//! Privacy Control comes with the page's context (`dom::page`).

use dangol_engine::consent::{Purposes, from_tc_data};
use js_sys::Reflect;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Reads a TCF `tcData` for [`from_tc_data`], which decides what it says:
/// `None` while the CMP has not answered (or GDPR does not apply).
pub fn purposes_from(tc_data: &JsValue) -> Option<Purposes> {
    let status = get(tc_data, "eventStatus").as_string().unwrap_or_default();
    let publisher = get(&get(tc_data, "publisher"), "consents");
    let purpose = get(&get(tc_data, "purpose"), "consents");
    let publisher_listed = publisher.is_object()
        && js_sys::Object::keys(publisher.unchecked_ref::<js_sys::Object>()).length() > 0;
    from_tc_data(
        &status,
        get(tc_data, "gdprApplies").as_bool(),
        publisher_listed,
        |from_publisher, n| {
            let list = if from_publisher { &publisher } else { &purpose };
            Reflect::get(list, &JsValue::from(u32::from(n)))
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false)
        },
    )
}
