//! Rendering offers into slots, inside Shadow DOM so styles leak neither way.
//!
//! Safe by construction: text goes through `textContent`, links were checked
//! by the engine (http(s) or relative only), no HTML from the config is ever
//! parsed, and styles use a constructable stylesheet so a strict CSP without
//! `unsafe-inline` still works.

#[cfg(feature = "full")]
pub mod coupon;
#[cfg(feature = "full")]
pub mod overlay;
#[cfg(feature = "full")]
pub mod prompts;
#[cfg(feature = "full")]
pub mod recs;
pub mod style;

#[cfg(feature = "full")]
use dangol_engine::config::Banner;
#[cfg(feature = "full")]
use dangol_engine::config::Content;
#[cfg(feature = "full")]
use dangol_engine::loyalty::Progress;
#[cfg(feature = "full")]
use gloo::events::EventListener;
#[cfg(feature = "full")]
use wasm_bindgen::JsValue;
use web_sys::Element;
#[cfg(feature = "full")]
use web_sys::{Document, ShadowRoot, ShadowRootInit, ShadowRootMode};

#[cfg(feature = "full")]
use crate::platform::describe;

/// Marks a slot the widget rendered into.
pub const RENDERED_ATTR: &str = "data-dangol-rendered";

/// Marks the element an overlay lives in; its value is the placement.
pub const OVERLAY_ATTR: &str = "data-dangol-overlay";

/// Marks a slot whose shadow root the widget made.
#[cfg(feature = "full")]
const HOST_ATTR: &str = "data-dangol-host";

/// What the shopper did with an offer. Render tells the widget through the
/// offer's sink; the widget decides what follows.
pub enum Action {
    /// Clicked the call to action.
    Click,
    /// Closed an overlay (its button or Esc).
    Dismiss,
    /// Answered the feedback question.
    Answer(u8),
    /// Asked for the coupon's code; the slot shows the outcome.
    Claim(Element),
    /// Switched personalised offers off.
    PersonalisationOff,
    /// The second module showed the claimed coupon code.
    #[cfg(not(feature = "full"))]
    Claimed,
    /// Opened "Why this offer?" for the first time: this element is to
    /// get the words (worked out by the second module, on demand).
    #[cfg(not(feature = "full"))]
    Explain(Element),
    /// Seen: half in view for a second while the page was visible.
    Seen,
}

impl Action {
    /// An action as the loader and the second module report it: `code`
    /// (0 click, 1 dismiss, 2 answer, 3 claim, 4 personalisation off,
    /// 5 coupon code shown, 6 "Why this offer?" opened, 7 seen) with `arg`
    /// (the rating, or the element concerned).
    pub fn from_code(code: u32, arg: wasm_bindgen::JsValue) -> Option<Action> {
        use wasm_bindgen::JsCast;
        Some(match code {
            0 => Action::Click,
            1 => Action::Dismiss,
            2 => Action::Answer(arg.as_f64().unwrap_or(0.0) as u8),
            3 => Action::Claim(arg.dyn_into().ok()?),
            4 => Action::PersonalisationOff,
            #[cfg(not(feature = "full"))]
            5 => Action::Claimed,
            #[cfg(not(feature = "full"))]
            6 => Action::Explain(arg.dyn_into().ok()?),
            7 => Action::Seen,
            _ => return None,
        })
    }
}

/// Where an offer's actions go (the widget knows which offer it is for).
#[cfg(feature = "full")]
pub type Sink = std::rc::Rc<dyn Fn(Action)>;

/// One offer to render. Its text tokens are already filled.
#[cfg(feature = "full")]
pub struct Offer<'a> {
    /// What to show.
    pub content: &'a Content,
    /// The campaign.
    pub campaign: &'a str,
    /// The variant.
    pub variant: &'a str,
    /// Plain-words reasons; an offer with any gets "Why this offer?".
    pub why: &'a [String],
    /// The shopper's loyalty standing, for loyalty prompts.
    pub loyalty: Option<&'a Progress>,
    /// The widget's own words and number formats.
    pub lang: dangol_engine::i18n::Lang,
    /// Where the shopper's actions on it go.
    pub sink: Sink,
}

/// A rendered offer. Dropping `listeners` unwires it.
#[cfg(feature = "full")]
pub struct Rendered {
    /// The slot, or the overlay's own element in `<body>`.
    pub host: Element,
    /// The offer's element inside the shadow root (what must be seen).
    pub node: Element,
    /// Its listeners; they must live as long as the offer.
    pub listeners: Vec<EventListener>,
}

/// `content` with its text tokens filled from `attributes`, numbers and
/// amounts formatted by `numbers` (the browser's `Intl`, in the widget's
/// language). Tokens become text; nothing is ever parsed as HTML.
#[cfg(feature = "full")]
pub fn filled(
    content: &Content,
    attributes: &dangol_engine::json::Value,
    currency: Option<&str>,
    numbers: &impl dangol_engine::text::NumberFormat,
) -> Content {
    content.map_text(|t| fill(t, attributes, currency, numbers))
}

/// One text of an offer with its tokens filled (see [`filled`]).
pub fn fill(
    text: &str,
    attributes: &dangol_engine::json::Value,
    currency: Option<&str>,
    numbers: &impl dangol_engine::text::NumberFormat,
) -> String {
    if dangol_engine::text::has_tokens(text) {
        dangol_engine::text::fill(text, attributes, currency, numbers)
    } else {
        text.to_string()
    }
}

/// Renders `offer` into `slot`, replacing what the slot shows. The slot's
/// own children stay in the light DOM untouched, so removing the shadow
/// content (or never rendering) leaves the shop's fallback in place.
#[cfg(feature = "full")]
pub fn inline(slot: &Element, offer: &Offer<'_>) -> Result<Rendered, String> {
    let document = slot
        .owner_document()
        .ok_or("the slot is not in a document")?;
    let node = content_node(&document, offer)?;
    let root = shadow_root(slot)?;
    style::adopt(&root)?;
    root.replace_children_with_node_1(&node);
    let listeners = wire(slot, &root, &node, offer)?;
    slot.set_attribute(RENDERED_ATTR, offer.campaign)
        .map_err(|e| describe(&e))?;
    Ok(Rendered {
        host: slot.clone(),
        node,
        listeners,
    })
}

/// Takes an offer off the page: a slot gets the shop's own content back,
/// an overlay is removed. (The first module asks the loader, `Host::clear`,
/// which does the same.)
#[cfg(feature = "full")]
pub fn clear(host: &Element) {
    if host.has_attribute(OVERLAY_ATTR) {
        host.remove();
        return;
    }
    if let Some(root) = host.shadow_root()
        && host.has_attribute(RENDERED_ATTR)
        && let Some(document) = host.owner_document()
        && let Ok(slot) = document.create_element("slot")
    {
        root.replace_children_with_node_1(&slot);
    }
    let _ = host.remove_attribute(RENDERED_ATTR);
}

/// The offer's element, by content type.
#[cfg(feature = "full")]
fn content_node(document: &Document, offer: &Offer<'_>) -> Result<Element, String> {
    match offer.content {
        Content::Banner(banner) => banner_node(document, banner),
        Content::Coupon(c) => coupon::node(document, c),
        Content::LoyaltyPrompt(prompt) => match offer.loyalty {
            Some(progress) => prompts::loyalty_node(document, prompt, progress, offer.lang),
            None => {
                return Err(
                    "a loyalty prompt needs the shopper's points (`dangol.set({ points })`)"
                        .to_string(),
                );
            }
        },
        Content::FeedbackQuestion(q) => prompts::feedback_node(document, q, offer.lang),
        Content::Recommendations(row) => recs::node(document, row),
    }
    .map_err(|e| describe(&e))
}

/// "Why this offer?" and the offer's own controls.
#[cfg(feature = "full")]
fn wire(
    host: &Element,
    root: &ShadowRoot,
    node: &Element,
    offer: &Offer<'_>,
) -> Result<Vec<EventListener>, String> {
    let document = host
        .owner_document()
        .ok_or("the offer is not in a document")?;
    let personal = !offer.why.is_empty();
    let mut listeners = if personal {
        why_this_offer(&document, root, node, offer).map_err(|e| describe(&e))?
    } else {
        Vec::new()
    };
    let sink = offer.sink.clone();
    match offer.content {
        Content::Coupon(_) => listeners.extend(coupon::wire(host, root, sink)),
        Content::FeedbackQuestion(_) => {
            listeners.extend(prompts::wire_feedback(root, sink, offer.lang))
        }
        _ => {
            if let Ok(Some(cta)) = node.query_selector(".cta") {
                listeners.push(EventListener::new(&cta, "click", move |_| {
                    sink(Action::Click);
                }));
            }
        }
    }
    Ok(listeners)
}

/// The "Why this offer?" button, its explanation and the switch-off control.
#[cfg(feature = "full")]
fn why_this_offer(
    document: &Document,
    root: &ShadowRoot,
    banner: &Element,
    offer: &Offer<'_>,
) -> Result<Vec<EventListener>, JsValue> {
    let lang = offer.lang;
    let words = lang.words();
    let button = el(document, "button", "why")?;
    button.set_attribute("type", "button")?;
    button.set_attribute("aria-expanded", "false")?;
    button.set_text_content(Some(words.why));
    banner.append_child(&button)?;
    let panel = el(document, "div", "explain")?;
    panel.set_attribute("hidden", "")?;
    let text = el(document, "p", "explain-text")?;
    text.set_text_content(Some(&lang.because(offer.why)));
    panel.append_child(&text)?;
    let off = el(document, "button", "off")?;
    off.set_attribute("type", "button")?;
    off.set_text_content(Some(words.off));
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
        let sink = offer.sink.clone();
        EventListener::new(&off, "click", move |_| {
            sink(Action::PersonalisationOff);
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

#[cfg(feature = "full")]
fn shadow_root(slot: &Element) -> Result<ShadowRoot, String> {
    if let Some(root) = slot.shadow_root() {
        // Only reuse a root the widget made itself; never touch the shop's.
        return if slot.has_attribute(HOST_ATTR) {
            Ok(root)
        } else {
            Err("the slot already has a shadow root of its own".into())
        };
    }
    let root = slot
        .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
        .map_err(|e| describe(&e))?;
    // A shadow root cannot be taken off again: mark it as ours for reuse.
    let _ = slot.set_attribute(HOST_ATTR, "");
    Ok(root)
}

#[cfg(feature = "full")]
pub(crate) fn el(document: &Document, tag: &str, class: &str) -> Result<Element, JsValue> {
    let e = document.create_element(tag)?;
    e.set_class_name(class);
    e.set_attribute("part", class)?;
    Ok(e)
}

#[cfg(feature = "full")]
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
