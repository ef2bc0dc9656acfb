//! The recommendations row: its frame first, as many card places as the
//! row shows (so the slot keeps its size when the cards arrive), then the
//! cards once the model has come and the engine has ranked it. Each card
//! links to the item and says why it is there.

use dangol_engine::config::{Recommendations, is_safe_url};
use dangol_engine::i18n::Lang;
use dangol_engine::recs::device::{Recommended, reason};
use dangol_engine::text::NumberFormat;
use gloo::events::EventListener;
use wasm_bindgen::JsValue;
use web_sys::{Document, Element};

use super::{Action, Sink, el};
use crate::platform::format::IntlNumbers;

/// The row's frame: the headline and `count` card places, each already
/// shaped as a card (image, name, price, reason), empty.
pub fn node(document: &Document, row: &Recommendations) -> Result<Element, JsValue> {
    let root = el(document, "div", "banner recs")?;
    root.set_attribute("role", "region")?;
    root.set_attribute("aria-label", &row.headline)?;
    root.set_attribute("aria-busy", "true")?;
    let headline = el(document, "p", "headline")?;
    headline.set_text_content(Some(&row.headline));
    root.append_child(&headline)?;
    let cards = el(document, "ul", "cards")?;
    for _ in 0..row.count {
        let card = el(document, "li", "card")?;
        card.set_attribute("aria-hidden", "true")?;
        let link = el(document, "a", "card-link")?;
        for part in ["card-image", "card-name", "card-price"] {
            let part = el(document, "span", part)?;
            link.append_child(&part)?;
        }
        card.append_child(&link)?;
        let why = el(document, "span", "card-why")?;
        card.append_child(&why)?;
        cards.append_child(&card)?;
    }
    root.append_child(&cards)?;
    Ok(root)
}

/// Fills the frame `node` with `picks` (places left over stay empty and
/// keep their room); a click on a card goes to `sink`.
pub fn fill(
    node: &Element,
    picks: &[Recommended<'_>],
    lang: Lang,
    currency: Option<&str>,
    sink: &Sink,
) -> Result<Vec<EventListener>, JsValue> {
    let document = node
        .owner_document()
        .ok_or("the row is not in a document")?;
    let places = node.query_selector_all(".card")?;
    let numbers = IntlNumbers { tag: lang.tag() };
    let price = |n: f64| match currency {
        Some(code) => numbers.currency(n, code),
        None => numbers.number(n),
    };
    let part = |place: &Element, class: &str| -> Result<Element, JsValue> {
        place
            .query_selector(class)?
            .ok_or_else(|| JsValue::from_str("a card place lost its parts"))
    };
    let mut listeners = Vec::new();
    for (i, pick) in picks.iter().enumerate() {
        let Some(place) = places.get(i as u32) else {
            break;
        };
        let place: Element = wasm_bindgen::JsCast::unchecked_into(place);
        let card = pick.card;
        let link = part(&place, ".card-link")?;
        if let Some(url) = card.url.as_deref().filter(|u| is_safe_url(u)) {
            link.set_attribute("href", url)?;
        }
        if let Some(src) = card.image.as_deref().filter(|u| is_safe_url(u)) {
            let img = el(&document, "img", "card-img")?;
            img.set_attribute("src", src)?;
            img.set_attribute("alt", "")?;
            img.set_attribute("loading", "lazy")?;
            part(&place, ".card-image")?.append_child(&img)?;
        }
        part(&place, ".card-name")?.set_text_content(Some(&card.name));
        let prices = part(&place, ".card-price")?;
        match card.sale_price.filter(|s| *s < card.price) {
            Some(sale) => {
                let was = el(&document, "s", "card-was")?;
                was.set_text_content(Some(&price(card.price)));
                prices.append_child(&was)?;
                let now = el(&document, "span", "card-sale")?;
                now.set_text_content(Some(&price(sale)));
                prices.append_child(&now)?;
            }
            None => prices.set_text_content(Some(&price(card.price))),
        }
        part(&place, ".card-why")?.set_text_content(Some(&reason(lang, pick.because)));
        place.set_attribute("data-item", &card.id)?;
        place.remove_attribute("aria-hidden")?;
        let sink = sink.clone();
        listeners.push(EventListener::new(&link, "click", move |_| {
            sink(Action::Click);
        }));
    }
    node.remove_attribute("aria-busy")?;
    Ok(listeners)
}
