//! Reading the page: its slots and its context for contextual decisions.

use serde_json::{Map, Value};
use wasm_bindgen::JsCast;
use web_sys::Element;

/// The attribute that marks a slot a shop reserved for offers.
pub const SLOT_ATTR: &str = "data-dangol-slot";

/// Every slot on the page with its placement id.
pub fn slots() -> Vec<(String, Element)> {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return Vec::new();
    };
    let Ok(list) = document.query_selector_all(&format!("[{SLOT_ATTR}]")) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|node| node.dyn_into::<Element>().ok())
        .filter_map(|el| el.get_attribute(SLOT_ATTR).map(|id| (id, el)))
        .collect()
}

/// What the current page says about itself (contextual, not behavioural):
/// usable before consent.
pub fn page_context() -> Value {
    let mut page = Map::new();
    if let Some(window) = web_sys::window() {
        let location = window.location();
        let mut put = |key: &str, value: String| {
            page.insert(key.to_string(), Value::String(value));
        };
        put("path", location.pathname().unwrap_or_default());
        put("search", location.search().unwrap_or_default());
        put(
            "referrer",
            window.document().map(|d| d.referrer()).unwrap_or_default(),
        );
    }
    let mut context = Map::new();
    context.insert("page".to_string(), Value::Object(page));
    Value::Object(context)
}
