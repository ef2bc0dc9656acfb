//! Rendering offers into slots, inside Shadow DOM so styles leak neither way.
//!
//! Safe by construction: text goes through `textContent`, links were checked
//! by the engine (http(s) or relative only), no HTML from the config is ever
//! parsed, and styles use a constructable stylesheet so a strict CSP without
//! `unsafe-inline` still works.

pub mod coupon;
pub mod prompts;
mod style;

use dangol_engine::config::{Banner, Content};
use gloo::events::EventListener;
use wasm_bindgen::JsValue;
use web_sys::{Document, Element, ShadowRoot, ShadowRootInit, ShadowRootMode};

use crate::platform::describe;

/// Marks a slot the widget rendered into.
pub const RENDERED_ATTR: &str = "data-dangol-rendered";

/// The event a shopper's "turn off personalised offers" fires on `window`.
pub const OFF_EVENT: &str = "dangol:personalisation-off";

/// The event a click on an offer's call to action fires on `window`; its
/// `detail` is `"campaign/variant"`.
pub const CLICK_EVENT: &str = "dangol:offer-click";

fn announce_click(detail: &str) {
    let init = web_sys::CustomEventInit::new();
    init.set_detail(&JsValue::from_str(detail));
    if let Some(window) = web_sys::window()
        && let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict(CLICK_EVENT, &init)
    {
        let _ = window.dispatch_event(&event);
    }
}

/// Renders `content` into `slot`, replacing what the slot shows. The slot's
/// own children stay in the light DOM untouched, so removing the shadow
/// content (or never rendering) leaves the shop's fallback in place.
///
/// `why` holds the plain-words reasons: when there are any, the offer gets
/// a "Why this offer?" button that shows them with a control to switch
/// personalisation off. The returned listeners must live as long as the
/// offer.
pub fn render(
    slot: &Element,
    content: &Content,
    campaign: &str,
    variant: &str,
    why: &[String],
    loyalty: Option<&dangol_engine::loyalty::Progress>,
) -> Result<Vec<EventListener>, String> {
    let document = slot
        .owner_document()
        .ok_or("the slot is not in a document")?;
    let node = match content {
        Content::Banner(banner) => banner_node(&document, banner),
        Content::Coupon(c) => coupon::node(&document, c),
        Content::LoyaltyPrompt(prompt) => match loyalty {
            Some(progress) => prompts::loyalty_node(&document, prompt, progress),
            None => {
                return Err(
                    "a loyalty prompt needs the shopper's points (`dangol.set({ points })`)"
                        .to_string(),
                );
            }
        },
        Content::FeedbackQuestion(q) => prompts::feedback_node(&document, q),
    }
    .map_err(|e| describe(&e))?;
    let root = shadow_root(slot)?;
    style::adopt(&root)?;
    root.replace_children_with_node_1(&node);
    let mut listeners = if why.is_empty() {
        Vec::new()
    } else {
        why_this_offer(&document, &root, &node, why).map_err(|e| describe(&e))?
    };
    if matches!(content, Content::Coupon(_)) {
        listeners.extend(coupon::wire(slot, &root, campaign, variant));
    } else if matches!(content, Content::FeedbackQuestion(_)) {
        listeners.extend(prompts::wire_feedback(&root, campaign, variant));
    } else if let Ok(Some(cta)) = node.query_selector(".cta") {
        let detail = format!("{campaign}/{variant}");
        listeners.push(EventListener::new(&cta, "click", move |_| {
            announce_click(&detail);
        }));
    }
    slot.set_attribute(RENDERED_ATTR, campaign)
        .map_err(|e| describe(&e))?;
    Ok(listeners)
}

/// The "Why this offer?" button, its explanation and the switch-off control.
fn why_this_offer(
    document: &Document,
    root: &ShadowRoot,
    banner: &Element,
    why: &[String],
) -> Result<Vec<EventListener>, JsValue> {
    let button = el(document, "button", "why")?;
    button.set_attribute("type", "button")?;
    button.set_attribute("aria-expanded", "false")?;
    button.set_text_content(Some("Why this offer?"));
    banner.append_child(&button)?;
    let panel = el(document, "div", "explain")?;
    panel.set_attribute("hidden", "")?;
    let text = el(document, "p", "explain-text")?;
    text.set_text_content(Some(&format!(
        "You see this because {}.",
        why.join(", and ")
    )));
    panel.append_child(&text)?;
    let off = el(document, "button", "off")?;
    off.set_attribute("type", "button")?;
    off.set_text_content(Some("Turn off personalised offers"));
    panel.append_child(&off)?;
    root.append_child(&panel)?;

    let toggle = {
        let (button, panel) = (button.clone(), panel.clone());
        EventListener::new(&button.clone(), "click", move |_| {
            let open = panel.has_attribute("hidden");
            let _ = if open {
                panel.remove_attribute("hidden")
            } else {
                panel.set_attribute("hidden", "")
            };
            let _ = button.set_attribute("aria-expanded", if open { "true" } else { "false" });
        })
    };
    let switch_off = {
        let root = root.clone();
        EventListener::new(&off, "click", move |_| {
            if let Some(window) = web_sys::window()
                && let Ok(event) = web_sys::Event::new(OFF_EVENT)
            {
                let _ = window.dispatch_event(&event);
            }
            // Give the slot back to the shop's own content.
            if let Some(document) = root.owner_document()
                && let Ok(slot) = document.create_element("slot")
            {
                root.replace_children_with_node_1(&slot);
            }
        })
    };
    Ok(vec![toggle, switch_off])
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

pub(crate) fn el(document: &Document, tag: &str, class: &str) -> Result<Element, JsValue> {
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
