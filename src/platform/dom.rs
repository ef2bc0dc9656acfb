//! Reading the page: its slots and its context for contextual decisions.

use dangol_engine::attributes::{PageContext, utm_from_query};
use wasm_bindgen::JsCast;
use web_sys::Element;

/// The attribute that marks a slot a shop reserved for offers.
pub const SLOT_ATTR: &str = "data-dangol-slot";

/// Every slot on the page with its placement id.
pub fn slots() -> Vec<(String, Element)> {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return Vec::new();
    };
    let Ok(list) = document.query_selector_all(&dangol_engine::cat::cat(&["[", SLOT_ATTR, "]"]))
    else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|node| node.dyn_into::<Element>().ok())
        .filter_map(|el| el.get_attribute(SLOT_ATTR).map(|id| (id, el)))
        .collect()
}

fn meta(document: &web_sys::Document, name: &str) -> Option<String> {
    document
        .query_selector(&dangol_engine::cat::cat(&["meta[name=\"", name, "\"]"]))
        .ok()
        .flatten()
        .and_then(|m| m.get_attribute("content"))
        .filter(|c| !c.is_empty())
}

/// What the current page says about itself (contextual, not behavioural):
/// usable before consent. Shops mark the page type and category with
/// `<meta name="dangol:page-type">` and `<meta name="dangol:category">`.
pub fn page_context() -> PageContext {
    let Some(window) = web_sys::window() else {
        return PageContext::default();
    };
    let location = window.location();
    let document = window.document();
    let navigator = window.navigator();
    let search = location.search().unwrap_or_default();
    let width = window
        .inner_width()
        .ok()
        .and_then(|w| w.as_f64())
        .unwrap_or(1024.0);
    let device = if width < 768.0 {
        "mobile"
    } else if width < 1024.0 {
        "tablet"
    } else {
        "desktop"
    };
    PageContext {
        page_type: document.as_ref().and_then(|d| meta(d, "dangol:page-type")),
        category: document.as_ref().and_then(|d| meta(d, "dangol:category")),
        url: location.href().unwrap_or_default(),
        path: location.pathname().unwrap_or_default(),
        utm: utm_from_query(&search),
        search,
        referrer: document.map(|d| d.referrer()).unwrap_or_default(),
        device: device.to_string(),
        locale: navigator.language().unwrap_or_default(),
    }
}
