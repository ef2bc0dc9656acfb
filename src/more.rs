//! The second module's exports (built with the `more` feature into
//! `pkg/more/`): what the first module leaves out because few pages use it.
//! The first module calls these through `platform::more`; each takes the
//! compact config text the page decided with and the shopper's attributes,
//! so this module holds no state of the shopper's session.

use std::cell::RefCell;
use std::rc::Rc;

use dangol_engine::config::{CompiledConfig, Content, PlacementKind, Recommendations, compact};
use dangol_engine::i18n::Lang;
use dangol_engine::json::Value;
use dangol_engine::loyalty;
use dangol_engine::profile::Profile;
use dangol_engine::recs::{self, published, published::Published};
use gloo::events::EventListener;
use wasm_bindgen::prelude::*;
use web_sys::Element;

use crate::platform::format::IntlNumbers;
use crate::platform::log::{Problem, warn_once};
use crate::platform::regex::BrowserRegex;
use crate::platform::{json, net};
use crate::render::{self, Action, Offer, coupon, overlay};

thread_local! {
    /// The config last read, with its text: a page decides with one.
    static CONFIG: RefCell<Option<(String, Rc<CompiledConfig>)>> = const { RefCell::new(None) };
    /// Each rendered offer, by handle; `None` once unwired.
    static OFFERS: RefCell<Vec<Option<Rendered>>> = const { RefCell::new(Vec::new()) };
    /// The site's recommendations model, once fetched.
    static MODEL: RefCell<Option<Rc<Published>>> = const { RefCell::new(None) };
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
    let config = compact::read_as(text, &BrowserRegex, Rc::new).map_err(|e| e.to_string())?;
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
    endpoint: String,
    profile: JsValue,
    key: String,
    check: JsValue,
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
    let content = render::filled(
        &v.content,
        &attributes,
        site.currency.as_deref(),
        &IntlNumbers { tag: lang.tag() },
    );
    let standing = loyalty::progress(&site.tiers, &declared);
    let why = c.why(&attributes, lang);
    let page_category = attributes["page"]["category"].as_str().map(str::to_string);
    let page_path = dangol_engine::cat::cat(&[
        attributes["page"]["path"].as_str().unwrap_or_default(),
        attributes["page"]["search"].as_str().unwrap_or_default(),
    ]);
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
    let row = match &content {
        Content::Recommendations(row) => Some(row.clone()),
        _ => None,
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
    if let Some(row) = row {
        // The profile's stored form, when personalisation allows it.
        let mine = recs::device::mine(
            &profile
                .as_string()
                .and_then(|text| Profile::from_text(&text))
                .unwrap_or_default(),
        );
        let place = Place {
            handle,
            node: answer[2].clone().unchecked_into(),
            lang,
            currency: site.currency.clone(),
            page_category,
            page_path,
            sink: offer.sink.clone(),
        };
        let url = dangol_engine::cat::cat(&[
            endpoint.trim_end_matches('/'),
            "/v1/sites/",
            &site.site,
            "/recs",
        ]);
        wasm_bindgen_futures::spawn_local(fill_row(url, key, check, row, mine, place));
    }
    Ok(answer.into_iter().collect())
}

/// Where a recommendations row goes once its model is here.
struct Place {
    handle: usize,
    node: Element,
    lang: Lang,
    currency: Option<String>,
    page_category: Option<String>,
    page_path: String,
    sink: render::Sink,
}

/// Fetches the site's model (once per page; the browser's HTTP cache
/// keeps it between pages), ranks it for the shopper and fills the row;
/// without a model the slot gets the shop's own content back.
async fn fill_row(
    url: String,
    key: String,
    check: JsValue,
    row: Recommendations,
    mine: Vec<recs::device::Mine>,
    place: Place,
) {
    let model = match MODEL.with(|m| m.borrow().clone()) {
        Some(model) => Ok(model),
        None => fetch_model(&url, &key, &check).await,
    };
    let model = match model {
        Ok(model) => {
            MODEL.with(|m| *m.borrow_mut() = Some(model.clone()));
            model
        }
        Err(e) => {
            warn_once(
                Problem::Render,
                &dangol_engine::cat::cat(&["could not show recommendations (", &e, ")"]),
            );
            if let Some(host) = host_of(place.handle) {
                render::clear(&host);
            }
            return;
        }
    };
    // The row left the page while the model came.
    let Some(_) = host_of(place.handle) else {
        return;
    };
    let picks = recs::device::row(
        &model,
        &row,
        &mine,
        recs::device::Page {
            category: place.page_category.as_deref(),
            path_and_query: &place.page_path,
        },
        js_sys::Date::now() as i64,
    );
    // Nothing to recommend yet (a model built before any sales): the shop's
    // own content stays.
    if picks.is_empty() {
        if let Some(host) = host_of(place.handle) {
            render::clear(&host);
        }
        return;
    }
    match render::recs::fill(
        &place.node,
        &picks,
        place.lang,
        place.currency.as_deref(),
        &place.sink,
    ) {
        Ok(listeners) => OFFERS.with(|o| {
            if let Some(Some(offer)) = o.borrow_mut().get_mut(place.handle) {
                offer.listeners.extend(listeners);
            }
        }),
        Err(e) => warn_once(
            Problem::Render,
            &dangol_engine::cat::cat(&[
                "could not show recommendations (",
                &crate::platform::describe(&e),
                ")",
            ]),
        ),
    }
}

/// The site's model from `url`, checked against the site's `key` (the
/// script tag's `data-key`; empty: unchecked) by the loader's `check`, as
/// the config is: `1` signed, `2` this browser cannot check Ed25519.
async fn fetch_model(url: &str, key: &str, check: &JsValue) -> Result<Rc<Published>, String> {
    let text = match net::get_signed(url, net::TIMEOUT_MS).await? {
        (200, text, _) if key.is_empty() => text,
        (200, text, Some(signature)) => {
            let describe = |e: JsValue| crate::platform::describe(&e);
            let check: &js_sys::Function = check.unchecked_ref();
            let answer = check
                .call3(
                    &JsValue::NULL,
                    &key.into(),
                    &signature.into(),
                    &text.as_str().into(),
                )
                .map_err(describe)?;
            let answer = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&answer))
                .await
                .map_err(describe)?;
            if !matches!(answer.as_f64(), Some(n) if n == 1.0 || n == 2.0) {
                return Err("the model does not match its signature (tampered with?)".into());
            }
            text
        }
        (200, _, None) => {
            return Err("the model is not signed, but the script tag asks for signed data".into());
        }
        (404, _, _) => return Err("the site has no model yet (build it in the dashboard)".into()),
        (status, _, _) => {
            return Err(dangol_engine::cat::cat(&[
                "HTTP ",
                &dangol_engine::cat::uint(u64::from(status)),
            ]));
        }
    };
    published::read(&text)
        .map(Rc::new)
        .ok_or_else(|| "it is not a recommendations model this widget reads".to_string())
}

/// The slot or overlay of the offer `handle`, while it is wired.
fn host_of(handle: usize) -> Option<Element> {
    OFFERS.with(|o| {
        o.borrow()
            .get(handle)
            .and_then(Option::as_ref)
            .map(|r| r.host.clone())
    })
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
/// instead; tells the offer's callback (5) once the code is shown. An empty
/// `url`: the session may not claim (no consent), which the coupon says.
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
    if url.is_empty() {
        coupon::show_failure(&slot, lang.words().claim_needs_consent);
        return;
    }
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
/// chose a shopper with `attributes`, written into `text` (the first
/// module's "Why this offer?" panel).
#[wasm_bindgen]
pub fn why(config_text: &str, campaign: &str, attributes: JsValue, lang: &str, text: &Element) {
    text.set_text_content(Some(&words_why(config_text, campaign, &attributes, lang)));
}

fn words_why(config_text: &str, campaign: &str, attributes: &JsValue, lang: &str) -> String {
    let lang = Lang::pick(lang, None);
    let attributes = json::from_parsed(attributes);
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
