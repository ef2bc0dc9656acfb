//! Overlays: a modal dialog, a toast in a corner, or a bar along the bottom
//! edge, each in its own element at the end of `<body>` with a shadow root.
//!
//! Every overlay closes with its close button or Esc, which counts as a
//! dismissal. A modal traps Tab inside itself and gives focus back to what
//! had it before; toasts and bars leave focus alone.

use dangol_engine::config::PlacementKind;
use gloo::events::EventListener;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, KeyboardEvent};

use super::{Action, OVERLAY_ATTR, Offer, Rendered, content_node, el, style, wire};
use crate::platform::describe;

/// What can take focus inside an overlay.
const FOCUSABLE: &str = "button:not([disabled]):not([hidden]),a[href]";

/// Opens `offer` as an overlay of `kind` for `placement`.
pub fn open(kind: PlacementKind, placement: &str, offer: &Offer<'_>) -> Result<Rendered, String> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("there is no document")?;
    let body = document.body().ok_or("the page has no <body>")?;
    let class = match kind {
        PlacementKind::Modal => "overlay modal",
        PlacementKind::Toast => "overlay toast",
        PlacementKind::Bar | PlacementKind::Inline => "overlay bar",
    };
    let modal = kind == PlacementKind::Modal;
    let node = content_node(&document, offer)?;
    let build =
        || -> Result<(Element, Element, Element, web_sys::ShadowRoot), wasm_bindgen::JsValue> {
            let host = document.create_element("div")?;
            host.set_attribute(OVERLAY_ATTR, placement)?;
            let root =
                host.attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))?;
            let frame = el(&document, "div", class)?;
            frame.set_attribute(
                "role",
                if kind == PlacementKind::Bar {
                    "region"
                } else {
                    "dialog"
                },
            )?;
            if modal {
                frame.set_attribute("aria-modal", "true")?;
                let backdrop = el(&document, "div", "backdrop")?;
                root.append_child(&backdrop)?;
            }
            if let Some(label) = node.get_attribute("aria-label") {
                frame.set_attribute("aria-label", &label)?;
            }
            let close = el(&document, "button", "close")?;
            close.set_attribute("type", "button")?;
            close.set_attribute("aria-label", offer.lang.words().close)?;
            close.set_text_content(Some("×"));
            frame.append_child(&close)?;
            frame.append_child(&node)?;
            root.append_child(&frame)?;
            Ok((host, frame, close, root))
        };
    let (host, frame, close, root) = build().map_err(|e| describe(&e))?;
    style::adopt(&root)?;
    // Focus goes back where it was when a modal closes.
    let before = document
        .active_element()
        .and_then(|e| e.dyn_into::<HtmlElement>().ok());
    body.append_child(&host).map_err(|e| describe(&e))?;
    let mut listeners = wire(&host, &root, &node, offer)?;

    let shut = {
        let host = host.clone();
        let sink = offer.sink.clone();
        move || {
            if !host.is_connected() {
                return;
            }
            host.remove();
            if modal && let Some(before) = &before {
                let _ = before.focus();
            }
            sink(Action::Dismiss);
        }
    };
    let on_close = shut.clone();
    listeners.push(EventListener::new(&close, "click", move |_| on_close()));
    let (keys_frame, keys_host) = (frame.clone(), host.clone());
    // Not passive: Tab must be able to cancel the browser's own move.
    let active = gloo::events::EventListenerOptions::enable_prevent_default();
    listeners.push(EventListener::new_with_options(
        &document,
        "keydown",
        active,
        move |event| {
            let Some(key) = event.dyn_ref::<KeyboardEvent>() else {
                return;
            };
            // Only the overlay opened last (the one on top) answers the keyboard.
            if !is_topmost(&keys_host) {
                return;
            }
            match key.key().as_str() {
                "Escape" | "Esc" => shut(),
                "Tab" if modal => trap_tab(&keys_frame, key),
                _ => {}
            }
        },
    ));
    if modal && let Some(first) = first_focusable(&frame) {
        let _ = first.focus();
    }
    Ok(Rendered {
        host,
        node,
        listeners,
    })
}

fn is_topmost(host: &Element) -> bool {
    host.owner_document()
        .and_then(|d| d.query_selector_all(&format!("[{OVERLAY_ATTR}]")).ok())
        .and_then(|list| list.item(list.length().checked_sub(1)?))
        .is_some_and(|last| last.is_same_node(Some(host.as_ref())))
}

fn focusables(frame: &Element) -> Vec<HtmlElement> {
    let Ok(list) = frame.query_selector_all(FOCUSABLE) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<HtmlElement>().ok())
        .collect()
}

fn first_focusable(frame: &Element) -> Option<HtmlElement> {
    focusables(frame).into_iter().next()
}

/// Keeps Tab and Shift+Tab inside the modal: from the last control back to
/// the first, and the other way round.
fn trap_tab(frame: &Element, key: &KeyboardEvent) {
    let items = focusables(frame);
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        return;
    };
    let active = frame
        .get_root_node()
        .dyn_into::<web_sys::ShadowRoot>()
        .ok()
        .and_then(|r| r.active_element());
    let at = |e: &HtmlElement| {
        active
            .as_ref()
            .is_some_and(|a| a == e.unchecked_ref::<Element>())
    };
    let inside = items.iter().any(&at);
    if key.shift_key() && (at(first) || !inside) {
        key.prevent_default();
        let _ = last.focus();
    } else if !key.shift_key() && (at(last) || !inside) {
        key.prevent_default();
        let _ = first.focus();
    }
}
