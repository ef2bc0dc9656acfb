//! Reading the page: its slots and its context for contextual decisions,
//! as the loader reads them (`host.page()`, `host.slots()`).

use dangol_engine::attributes::{PageContext, utm_from_query};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

use super::host::Host;

/// The attribute that marks a slot a shop reserved for offers.
pub const SLOT_ATTR: &str = "data-dangol-slot";

/// What the page says about itself at one moment.
#[derive(Default)]
pub struct Page {
    /// What decisions may use before consent (contextual, not
    /// behavioural).
    pub context: PageContext,
    /// Whether the browser sends Global Privacy Control.
    pub gpc: bool,
    /// The page's own language (`<html lang>`), for the widget's words.
    pub lang: String,
    /// Whether the page is hidden (a tab in the background).
    pub hidden: bool,
}

/// Every slot on the page with its placement id.
pub fn slots(host: Option<&Host>) -> Vec<(String, Element)> {
    let Some(list) = host.map(Host::slots) else {
        return Vec::new();
    };
    (0..list.length() / 2)
        .filter_map(|i| {
            Some((
                list.get(2 * i).as_string()?,
                list.get(2 * i + 1).dyn_into().ok()?,
            ))
        })
        .collect()
}

/// The page as the loader reads it: `[page type, category, URL, path,
/// query, referrer, viewport width, browser language, GPC, <html lang>,
/// hidden]`. Shops mark the page type and category with `<meta
/// name="dangol:page-type">` and `<meta name="dangol:category">`.
pub fn page(host: Option<&Host>) -> Page {
    let Some(list) = host.map(Host::page) else {
        return Page::default();
    };
    let at = |i: u32| js_sys::Reflect::get_u32(&list, i).unwrap_or(JsValue::UNDEFINED);
    let text = |i: u32| at(i).as_string().unwrap_or_default();
    let marked = |i: u32| at(i).as_string().filter(|c| !c.is_empty());
    let width = at(6).as_f64().unwrap_or(1024.0);
    let device = if width < 768.0 {
        "mobile"
    } else if width < 1024.0 {
        "tablet"
    } else {
        "desktop"
    };
    let search = text(4);
    Page {
        context: PageContext {
            page_type: marked(0),
            category: marked(1),
            url: text(2),
            path: text(3),
            utm: utm_from_query(&search),
            search,
            referrer: text(5),
            device: device.to_string(),
            locale: text(7),
        },
        gpc: at(8).as_bool() == Some(true),
        lang: text(9),
        hidden: at(10).as_bool() == Some(true),
    }
}
