//! Rendering offers into slots, inside Shadow DOM so styles leak neither way.
//!
//! Safe by construction: text goes through `textContent`, links were checked
//! by the engine (http(s) or relative only), no HTML from the config is ever
//! parsed, and styles use a constructable stylesheet so a strict CSP without
//! `unsafe-inline` still works.

mod style;

use dangol_engine::config::{Banner, Content};
use wasm_bindgen::JsValue;
use web_sys::{Document, Element, ShadowRoot, ShadowRootInit, ShadowRootMode};

use crate::platform::describe;

/// Marks a slot the widget rendered into.
pub const RENDERED_ATTR: &str = "data-dangol-rendered";

/// Renders `content` into `slot`, replacing what the slot shows. The slot's
/// own children stay in the light DOM untouched, so removing the shadow
/// content (or never rendering) leaves the shop's fallback in place.
pub fn render(slot: &Element, content: &Content, campaign: &str) -> Result<(), String> {
    let document = slot
        .owner_document()
        .ok_or("the slot is not in a document")?;
    let Content::Banner(banner) = content else {
        return Err(format!(
            "`{}` offers cannot be rendered by this widget version",
            content.kind()
        ));
    };
    let root = shadow_root(slot)?;
    style::adopt(&root)?;
    let node = banner_node(&document, banner).map_err(|e| describe(&e))?;
    root.replace_children_with_node_1(&node);
    slot.set_attribute(RENDERED_ATTR, campaign)
        .map_err(|e| describe(&e))?;
    Ok(())
}

fn shadow_root(slot: &Element) -> Result<ShadowRoot, String> {
    if let Some(root) = slot.shadow_root() {
        // Only reuse a root the widget made itself; never touch the shop's.
        return if slot.has_attribute(RENDERED_ATTR) {
            Ok(root)
        } else {
            Err("the slot already has a shadow root of its own".into())
        };
    }
    slot.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
        .map_err(|e| describe(&e))
}

fn el(document: &Document, tag: &str, class: &str) -> Result<Element, JsValue> {
    let e = document.create_element(tag)?;
    e.set_class_name(class);
    e.set_attribute("part", class)?;
    Ok(e)
}

fn banner_node(document: &Document, banner: &Banner) -> Result<Element, JsValue> {
    let theme = banner.theme.as_deref().unwrap_or("light");
    let root = el(document, "div", "banner")?;
    root.set_attribute("data-theme", theme)?;
    root.set_attribute("role", "region")?;
    root.set_attribute("aria-label", &banner.headline)?;
    if let Some(src) = &banner.image {
        let img = el(document, "img", "image")?;
        img.set_attribute("src", src)?;
        img.set_attribute("alt", "")?;
        root.append_child(&img)?;
    }
    let text = el(document, "div", "text")?;
    let headline = el(document, "p", "headline")?;
    headline.set_text_content(Some(&banner.headline));
    text.append_child(&headline)?;
    if !banner.body.is_empty() {
        let body = el(document, "p", "body")?;
        body.set_text_content(Some(&banner.body));
        text.append_child(&body)?;
    }
    root.append_child(&text)?;
    if let Some(cta) = &banner.cta {
        let link = el(document, "a", "cta")?;
        link.set_attribute("href", &cta.url)?;
        link.set_text_content(Some(&cta.text));
        root.append_child(&link)?;
    }
    Ok(root)
}
