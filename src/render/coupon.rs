//! The coupon offer: value, a reveal button that asks the shop's server for
//! a unique code, then the code with copy-to-clipboard and its expiry.

use dangol_engine::config::Coupon;
use dangol_engine::i18n::Lang;
use gloo::events::EventListener;
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use web_sys::Element;
use web_sys::{Document, ShadowRoot};

use super::el;
use crate::platform::log::{Problem, warn_once};
use crate::platform::{json, net};

/// The coupon before it is revealed.
pub fn node(document: &Document, coupon: &Coupon) -> Result<Element, JsValue> {
    let root = el(document, "div", "banner coupon")?;
    root.set_attribute("data-theme", "accent")?;
    root.set_attribute("role", "region")?;
    root.set_attribute("aria-label", &coupon.headline)?;
    let text = el(document, "div", "text")?;
    let headline = el(document, "p", "headline")?;
    headline.set_text_content(Some(&coupon.headline));
    text.append_child(&headline)?;
    let value = el(document, "p", "value")?;
    value.set_text_content(Some(&coupon.value));
    text.append_child(&value)?;
    if !coupon.body.is_empty() {
        let body = el(document, "p", "body")?;
        body.set_text_content(Some(&coupon.body));
        text.append_child(&body)?;
    }
    if !coupon.terms.is_empty() {
        let terms = el(document, "p", "terms")?;
        terms.set_text_content(Some(&coupon.terms));
        text.append_child(&terms)?;
    }
    let status = el(document, "p", "status")?;
    status.set_attribute("role", "status")?;
    status.set_attribute("aria-live", "polite")?;
    text.append_child(&status)?;
    root.append_child(&text)?;
    let reveal = el(document, "button", "cta reveal")?;
    reveal.set_attribute("type", "button")?;
    reveal.set_text_content(Some(&coupon.reveal));
    root.append_child(&reveal)?;
    Ok(root)
}

/// Wires the reveal button: it asks the widget for the code.
pub fn wire(slot: &Element, root: &ShadowRoot, sink: super::Sink) -> Vec<EventListener> {
    let Ok(Some(reveal)) = root.query_selector(".reveal") else {
        return Vec::new();
    };
    let slot = slot.clone();
    let button = reveal.clone();
    vec![EventListener::new(&reveal, "click", move |_| {
        let _ = button.set_attribute("disabled", "");
        sink(super::Action::Claim(slot.clone()));
    })]
}

/// Shows the claimed code, with a copy button and when it expires.
pub fn show_code(slot: &Element, code: &str, expires_ms: f64, lang: Lang) -> Vec<EventListener> {
    let Some(root) = slot.shadow_root() else {
        return Vec::new();
    };
    let Some(document) = slot.owner_document() else {
        return Vec::new();
    };
    let build = || -> Result<Vec<EventListener>, JsValue> {
        let status = root.query_selector(".status")?.ok_or("no status")?;
        let days = ((expires_ms - js_sys::Date::now()) / 86_400_000.0)
            .ceil()
            .max(0.0) as u32;
        let until = js_sys::Date::new(&JsValue::from_f64(expires_ms))
            .to_locale_date_string(lang.tag(), &JsValue::UNDEFINED);
        status.set_text_content(Some(&lang.valid_until(&String::from(until), days)));
        let code_el = el(&document, "code", "code")?;
        code_el.set_text_content(Some(code));
        let copy = el(&document, "button", "cta copy")?;
        copy.set_attribute("type", "button")?;
        copy.set_text_content(Some(lang.words().copy));
        if let Some(reveal) = root.query_selector(".reveal")? {
            reveal.replace_with_with_node_1(&code_el)?;
        }
        if let Some(banner) = root.query_selector(".coupon")? {
            banner.append_child(&copy)?;
        }
        let text = code.to_string();
        let button = copy.clone();
        let copied = lang.words().copied;
        Ok(vec![EventListener::new(&copy, "click", move |_| {
            if let Some(window) = web_sys::window() {
                let _ = window.navigator().clipboard().write_text(&text);
            }
            button.set_text_content(Some(copied));
        })])
    };
    build().unwrap_or_default()
}

/// Asks the shop's server for the coupon's code (`url` and `body` as the
/// shopper's session makes them) and shows it in `slot`, or a friendly word
/// instead. The copy button's listeners when a code was shown.
pub async fn claim(
    slot: &Element,
    url: &str,
    body: &str,
    lang: Lang,
) -> Option<Vec<EventListener>> {
    let words = lang.words();
    match net::post_for_text(url, body, net::TIMEOUT_MS).await {
        Ok((200, text)) => {
            let answer = js_sys::JSON::parse(&text)
                .map(|v| json::from_parsed(&v))
                .unwrap_or_default();
            let code = answer["code"].as_str().unwrap_or_default();
            let expires = answer["expires_ms"].as_f64().unwrap_or(0.0);
            return Some(show_code(slot, code, expires, lang));
        }
        Ok((409, _)) => show_failure(slot, words.claim_exhausted),
        Ok((status, _)) => {
            warn_once(
                Problem::Send,
                &format!("could not claim a coupon (HTTP {status})"),
            );
            show_failure(slot, words.claim_failed);
        }
        Err(e) => {
            warn_once(Problem::Send, &format!("could not claim a coupon ({e})"));
            show_failure(slot, words.claim_failed);
        }
    }
    None
}

/// A friendly word instead of a code (budget spent, offline, no consent).
pub fn show_failure(slot: &Element, message: &str) {
    let Some(root) = slot.shadow_root() else {
        return;
    };
    if let Ok(Some(status)) = root.query_selector(".status") {
        status.set_text_content(Some(message));
    }
    if let Ok(Some(reveal)) = root.query_selector(".reveal") {
        let _ = reveal.remove_attribute("disabled");
        if let Some(button) = reveal.dyn_ref::<web_sys::HtmlElement>() {
            button.set_hidden(true);
        }
    }
}
