//! The second module's exports (built with the `more` feature into
//! `pkg/more/`): what the first module leaves out because few pages use it.
//! The first module calls these through `platform::more`; each takes the
//! compact config text the page decided with and the shopper's attributes,
//! so this module holds no state of the shopper's session.

use std::cell::RefCell;
use std::rc::Rc;

use dangol_engine::config::{CompiledConfig, PlacementKind, compact};
use dangol_engine::i18n::Lang;
use dangol_engine::json::Value;
use dangol_engine::loyalty;
use gloo::events::EventListener;
use wasm_bindgen::prelude::*;
use web_sys::Element;

use crate::platform::json;
use crate::platform::regex::BrowserRegex;
use crate::render::{self, Action, Offer, coupon, overlay};

thread_local! {
    /// The config last read, with its text: a page decides with one.
    static CONFIG: RefCell<Option<(String, Rc<CompiledConfig>)>> = const { RefCell::new(None) };
    /// Each rendered offer, by handle; `None` once unwired.
    static OFFERS: RefCell<Vec<Option<Rendered>>> = const { RefCell::new(Vec::new()) };
}

/// An offer on the page: its listeners (dropping them unwires it), where
/// it is, and where its actions go.
struct Rendered {
    host: Element,
    listeners: Vec<EventListener>,
    sink: js_sys::Function,
}

fn config(text: &str) -> Result<Rc<CompiledConfig>, String> {
    if let Some(config) = CONFIG.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(t, _)| t == text)
            .map(|(_, config)| config.clone())
    }) {
        return Ok(config);
    }
    let config = Rc::new(compact::read(text, &BrowserRegex).map_err(|e| e.to_string())?);
    CONFIG.with(|c| *c.borrow_mut() = Some((text.to_string(), config.clone())));
    Ok(config)
}

/// Renders `campaign`'s `variant` into `slot`, or as an overlay of `kind`
/// (1 modal, 2 toast, 3 bar) when `slot` is `null`, with its text tokens
/// filled from `attributes`. The shopper's actions go to `sink(code, arg)`:
/// 0 click, 1 dismiss, 2 answer (`arg` the rating), 3 claim (`arg` the
/// slot), 4 personalisation off, 5 the claimed code is shown. Answers
/// `[handle, host, node]`.
#[allow(clippy::too_many_arguments)]
#[wasm_bindgen]
pub fn show(
    slot: Option<Element>,
    kind: u8,
    placement: &str,
    config_text: &str,
    campaign: &str,
    variant: &str,
    attributes: JsValue,
    declared: JsValue,
    lang: &str,
    sink: js_sys::Function,
) -> Result<js_sys::Array, String> {
    let config = config(config_text)?;
    let lang = Lang::pick(lang, None);
    let attributes = json::from_parsed(&attributes);
    let declared = match json::from_parsed(&declared) {
        Value::Object(map) => map,
        _ => dangol_engine::json::Map::new(),
    };
    let site = config.config();
    let c = config
        .campaigns()
        .iter()
        .find(|c| c.campaign.id == campaign)
        .ok_or_else(|| format!("no campaign `{campaign}` in the config"))?;
    let v = c
        .campaign
        .variants
        .iter()
        .find(|v| v.id == variant)
        .ok_or_else(|| format!("campaign `{campaign}` has no variant `{variant}`"))?;
    let content = render::filled(&v.content, &attributes, site.currency.as_deref(), lang);
    let standing = loyalty::progress(&site.tiers, &declared);
    let why = c.why(&attributes, lang);
    let callback = sink.clone();
    let offer = Offer {
        content: &content,
        campaign,
        variant,
        why: &why,
        loyalty: standing.as_ref(),
        lang,
        sink: Rc::new(move |action| {
            let (code, arg) = match action {
                Action::Click => (0, JsValue::NULL),
                Action::Dismiss => (1, JsValue::NULL),
                Action::Answer(n) => (2, JsValue::from(n)),
                Action::Claim(slot) => (3, slot.into()),
                Action::PersonalisationOff => (4, JsValue::NULL),
                Action::Seen => (7, JsValue::NULL),
            };
            // The first module's callback never throws.
            let _ = callback.call2(&JsValue::NULL, &JsValue::from(code), &arg);
        }),
    };
    let rendered = match slot {
        Some(slot) => render::inline(&slot, &offer)?,
        None => {
            let kind = match kind {
                1 => PlacementKind::Modal,
                2 => PlacementKind::Toast,
                _ => PlacementKind::Bar,
            };
            overlay::open(kind, placement, &offer)?
        }
    };
    let mut answer = [
        JsValue::from(0),
        rendered.host.clone().into(),
        rendered.node.clone().into(),
    ];
    let handle = OFFERS.with(|o| {
        let mut offers = o.borrow_mut();
        offers.push(Some(Rendered {
            host: rendered.host,
            listeners: rendered.listeners,
            sink,
        }));
        offers.len() - 1
    });
    answer[0] = JsValue::from(handle as u32);
    Ok(answer.into_iter().collect())
}

/// Unwires the offer rendered as `handle` (it left the page).
#[wasm_bindgen]
pub fn unwire(handle: u32) {
    OFFERS.with(|o| {
        if let Some(slot) = o.borrow_mut().get_mut(handle as usize) {
            *slot = None;
        }
    });
}

/// Claims the coupon of the offer rendered as `handle` (`url` and `body` as
/// the shopper's session makes them) and shows its code, or a friendly word
/// instead; tells the offer's callback (5) once the code is shown.
#[wasm_bindgen]
pub fn claim(handle: u32, url: String, body: String, lang: &str) {
    let lang = Lang::pick(lang, None);
    let Some((slot, sink)) = OFFERS.with(|o| {
        o.borrow()
            .get(handle as usize)
            .and_then(Option::as_ref)
            .map(|r| (r.host.clone(), r.sink.clone()))
    }) else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let Some(listeners) = coupon::claim(&slot, &url, &body, lang).await else {
            return;
        };
        OFFERS.with(|o| {
            if let Some(Some(offer)) = o.borrow_mut().get_mut(handle as usize) {
                offer.listeners.extend(listeners);
            }
        });
        let _ = sink.call2(&JsValue::NULL, &JsValue::from(5), &JsValue::NULL);
    });
}

/// "You see this because…": the plain words for why `campaign`'s audience
/// chose a shopper with `attributes`.
#[wasm_bindgen]
pub fn why(config_text: &str, campaign: &str, attributes: JsValue, lang: &str) -> String {
    let lang = Lang::pick(lang, None);
    let attributes = json::from_parsed(&attributes);
    let reasons = config(config_text)
        .ok()
        .and_then(|config| {
            config
                .campaigns()
                .iter()
                .find(|c| c.campaign.id == campaign)
                .map(|c| c.why(&attributes, lang))
        })
        .unwrap_or_default();
    lang.because(&reasons)
}
