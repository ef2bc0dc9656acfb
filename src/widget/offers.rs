//! Offers on the page: deciding for slots and overlays, rendering them,
//! opening overlays when their trigger fires, and recording what the
//! shopper actually saw, dismissed and bought.

use dangol_engine::attributes;
use dangol_engine::config::{CompiledCampaign, CompiledConfig, PlacementKind};
use dangol_engine::decide::{Chosen, Shopper, decide_page, open_overlays, round_events};
use dangol_engine::event::Event;
use dangol_engine::i18n::Lang;
use dangol_engine::json::Value;
#[cfg(feature = "full")]
use dangol_engine::loyalty;
use dangol_engine::profile::Input;
use dangol_engine::random::SplitMix64;
use dangol_engine::time::Moment;
use dangol_engine::trigger::PageSignals;
use web_sys::Element;

#[cfg(not(feature = "full"))]
use super::pending::Later;
use super::state::{Inner, Phase, Shown, Waiting, Why, offer_detail};
use crate::platform::log::{Problem, warn_once};
use crate::platform::regex::BrowserRegex;
use crate::platform::{clock, dom, random};
use crate::render;
#[cfg(feature = "full")]
use crate::render::overlay;

#[cfg(feature = "full")]
fn why_of(campaign: &CompiledCampaign, attributes: &Value, lang: Lang) -> Why {
    campaign.why(attributes, lang)
}

#[cfg(not(feature = "full"))]
fn why_of(campaign: &CompiledCampaign, _: &Value, _: Lang) -> Why {
    campaign.behavioural
}

/// Where an offer goes.
enum Target<'a> {
    /// Into this slot; the attributes the page was decided with.
    Slot(&'a Element, &'a Value),
    /// As an overlay of this kind.
    Overlay(PlacementKind),
}

/// A decided offer on its way to the page.
struct Ready {
    placement: String,
    chosen: Chosen,
    why: Why,
}

impl Inner {
    /// The language of the widget's own words on this page.
    pub fn lang(&self) -> Lang {
        let configured = self.config.as_ref().and_then(|c| c.config().locale.clone());
        Lang::pick(&self.page_lang, configured.as_deref())
    }

    /// What the page has shown so far, for overlay triggers.
    pub fn signals(&self, now: i64) -> PageSignals {
        self.session.page_signals(self.watched.at(now))
    }

    fn moment(&self, now: i64) -> Moment {
        Moment {
            now_ms: now,
            utc_offset_minutes: clock::utc_offset_minutes(),
            session_start_ms: self.profile().session_start_ms,
        }
    }

    pub(super) fn attributes(&self, config: &CompiledConfig, now: i64) -> Value {
        let cfg = &config.config().profile;
        attributes::build(
            &self.page,
            &self.profile().facts(cfg, now),
            self.declared(),
            self.consent(),
            &self.moment(now),
        )
    }

    /// Decides for every slot not yet decided on this page and every
    /// overlay whose trigger can still fire, renders the inline winners and
    /// arms the overlays. Slots showing an offer keep it: a newer config
    /// never swaps what the shopper sees.
    pub fn apply(&mut self, config: super::kept::Kept) {
        let now = clock::now_ms();
        let attributes = self.attributes(&config, now);
        let slots: Vec<(String, Element)> = dom::slots(self.host.as_ref())
            .into_iter()
            .filter(|(_, el)| !self.decided.iter().any(|d| d == el))
            .collect();
        let signals = self.signals(now);
        let overlays = open_overlays(
            &config,
            |p| {
                self.shown.iter().any(|s| s.placement == p)
                    || self.waiting.iter().any(|w| w.placement == p)
                    || self.closed.iter().any(|c| c == p)
            },
            &signals,
        );
        let mut placements: Vec<&str> = slots.iter().map(|(p, _)| p.as_str()).collect();
        placements.extend(overlays.iter().map(|(p, _, _)| p.as_str()));
        // The bandit's and the variants' draws for this round (53 bits of
        // the browser's `Math.random`; ids take the cryptographic one).
        let seed = (random::unit() * 9_007_199_254_740_992.0) as u64;
        let shopper = Shopper {
            attributes: &attributes,
            id: self.session.id(),
            consent: self.consent(),
            ledger: &self.profile().ledger,
        };
        let decisions = decide_page(
            &config,
            &placements,
            &shopper,
            &self.moment(now),
            &mut SplitMix64::new(seed),
            &BrowserRegex,
        );
        for event in round_events(&decisions, &self.decisions, now, &mut || {
            self.new_event_id()
        }) {
            self.record(event);
        }
        let lang = self.lang();
        let mut ready = Vec::new();
        for decision in &decisions {
            if let Some(chosen) = decision.chosen() {
                let why = config
                    .campaigns()
                    .iter()
                    .find(|c| c.campaign.id == chosen.campaign_id)
                    .map(|c| why_of(c, &attributes, lang))
                    .unwrap_or_default();
                ready.push(Ready {
                    placement: decision.placement.clone(),
                    chosen: chosen.clone(),
                    why,
                });
            }
            self.emit(super::callbacks::DECISION, decision.to_value());
        }
        self.decided.extend(slots.iter().map(|(_, el)| el.clone()));
        self.config = Some(config);
        for offer in ready {
            if let Some((_, slot)) = slots.iter().find(|(p, _)| *p == offer.placement) {
                let target = Target::Slot(slot, &attributes);
                self.show(target, &offer.placement, &offer.chosen, offer.why);
            } else if let Some((_, kind, trigger)) =
                overlays.iter().find(|(p, _, _)| *p == offer.placement)
            {
                self.waiting.push(Waiting {
                    placement: offer.placement,
                    kind: *kind,
                    trigger: *trigger,
                    chosen: offer.chosen,
                    why: offer.why,
                });
            }
        }
        self.decisions.extend(decisions);
        if self.phase == Phase::Waiting {
            self.phase = Phase::Decided;
        }
        self.check_triggers();
    }

    /// Opens the waiting overlays whose trigger has fired.
    pub fn check_triggers(&mut self) {
        if self.waiting.is_empty() {
            return;
        }
        let signals = self.signals(clock::now_ms());
        let mut i = 0;
        while i < self.waiting.len() {
            if self.waiting[i].trigger.fires(&signals) {
                let w = self.waiting.remove(i);
                self.show(Target::Overlay(w.kind), &w.placement, &w.chosen, w.why);
            } else if !self.waiting[i].trigger.may_fire_later(&signals) {
                self.waiting.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Renders one chosen offer into a slot (with the attributes the page
    /// was just decided with), or as an overlay (attributes as they are now,
    /// when its trigger fired).
    fn show(&mut self, target: Target<'_>, placement: &str, chosen: &Chosen, why: Why) {
        let Some(config) = self.config.as_ref() else {
            return;
        };
        let attributes = match target {
            Target::Slot(_, attributes) => attributes.clone(),
            Target::Overlay(_) => self.attributes(config, clock::now_ms()),
        };
        let handle = self.next_handle();
        #[cfg(not(feature = "full"))]
        {
            if let (Target::Slot(slot, _), "banner") = (&target, chosen.kind) {
                return self.show_banner(slot, placement, chosen, why, handle, &attributes);
            }
            self.show_later(target, placement, chosen, &attributes, handle)
        }
        #[cfg(feature = "full")]
        {
            let lang = self.lang();
            let Some(config) = self.config.as_ref() else {
                return;
            };
            let currency = config.config().currency.clone();
            let Some(content) = config.content(&chosen.campaign_id, chosen.variant_index) else {
                return;
            };
            let content = render::filled(
                content,
                &attributes,
                currency.as_deref(),
                &crate::platform::format::IntlNumbers { tag: lang.tag() },
            );
            let standing = self
                .config
                .as_ref()
                .and_then(|c| loyalty::progress(&c.config().tiers, self.declared()));
            let offer = render::Offer {
                content: &content,
                campaign: &chosen.campaign_id,
                variant: &chosen.variant_id,
                why: &why,
                loyalty: standing.as_ref(),
                lang,
                sink: super::actions::sink(self.self_ref, handle),
            };
            let result = match target {
                Target::Slot(slot, _) => render::inline(slot, &offer),
                Target::Overlay(kind) => overlay::open(kind, placement, &offer),
            };
            match result {
                Ok(rendered) => {
                    self.rendered(&rendered.host, &rendered.node, placement, chosen, handle);
                    if let Some(shown) = self.shown.last_mut() {
                        shown.listeners = rendered.listeners;
                    }
                }
                Err(e) => render_failed(&chosen.campaign_id, placement, &e),
            }
        }
    }

    /// A banner into a slot: its text filled here, rendered by the loader
    /// (see `Host::banner`).
    #[cfg(not(feature = "full"))]
    fn show_banner(
        &mut self,
        slot: &Element,
        placement: &str,
        chosen: &Chosen,
        personal: Why,
        handle: u32,
        attributes: &Value,
    ) {
        use dangol_engine::config::Content;

        let lang = self.lang();
        let numbers = crate::platform::format::HostNumbers {
            host: self.host.as_ref(),
            tag: lang.tag(),
        };
        let Some(config) = self.config.as_ref() else {
            return;
        };
        let Some(Content::Banner(banner)) =
            config.content(&chosen.campaign_id, chosen.variant_index)
        else {
            return;
        };
        let currency = config.config().currency.as_deref();
        let fill = |text: &str| render::fill(text, attributes, currency, &numbers);
        let words = lang.words();
        let (why, off) = if personal {
            (words.why, words.off)
        } else {
            ("", "")
        };
        let cta = banner.cta.as_ref();
        let rendered = self.host.as_ref().map(|host| {
            host.banner(
                slot,
                handle,
                &chosen.campaign_id,
                render::style::CSS,
                banner.theme.as_deref().unwrap_or("light"),
                &fill(&banner.headline),
                &fill(&banner.body),
                banner.image.as_deref().unwrap_or(""),
                &cta.map_or(String::new(), |c| fill(&c.text)),
                cta.map_or("", |c| c.url.as_str()),
                why,
                off,
            )
        });
        match rendered {
            Some(Ok(node)) => self.rendered(slot, &node, placement, chosen, handle),
            Some(Err(e)) => render_failed(
                &chosen.campaign_id,
                placement,
                &crate::platform::describe(&e),
            ),
            None => render_failed(&chosen.campaign_id, placement, NO_LOADER),
        }
    }

    /// Hands an offer the first module does not render (an overlay, a
    /// coupon, a loyalty prompt, a feedback question) to the second module,
    /// loading it on first use.
    #[cfg(not(feature = "full"))]
    fn show_later(
        &mut self,
        target: Target<'_>,
        placement: &str,
        chosen: &Chosen,
        attributes: &Value,
        handle: u32,
    ) {
        use super::pending::Pending;
        use crate::platform::json;

        let Some(config) = self.config.as_ref() else {
            return;
        };
        let (slot, kind) = match target {
            Target::Slot(slot, _) => (Some(slot.clone()), 0),
            Target::Overlay(PlacementKind::Modal) => (None, 1),
            Target::Overlay(PlacementKind::Toast) => (None, 2),
            Target::Overlay(_) => (None, 3),
        };
        let later = Later {
            slot,
            kind,
            placement: placement.to_string(),
            text: config.source().to_string(),
            chosen: chosen.clone(),
            attributes: json::to_js(attributes),
            declared: json::to_js(&Value::Object(self.declared().clone())),
            lang: self.lang().tag(),
            handle,
            endpoint: self.endpoint.clone(),
            key: self.public_key.clone().unwrap_or_default(),
            check: self
                .host
                .as_ref()
                .map_or(wasm_bindgen::JsValue::NULL, |h| h.check().into()),
            profile: self
                .session
                .recs_profile()
                .map_or(wasm_bindgen::JsValue::NULL, |p| p.to_text().into()),
        };
        if !self.ask(Pending::Show(Box::new(later)), |host, id| host.more(id)) {
            render_failed(&chosen.campaign_id, placement, NO_LOADER);
        }
    }

    /// A fresh handle for an offer.
    fn next_handle(&mut self) -> u32 {
        self.asked = self.asked.wrapping_add(1);
        self.asked
    }

    /// An offer is on the page (`node` in `host`): it is watched until seen.
    fn rendered(
        &mut self,
        host: &Element,
        node: &Element,
        placement: &str,
        chosen: &Chosen,
        handle: u32,
    ) {
        mark_first_offer();
        if let Some(loader) = &self.host {
            loader.seen(node, handle);
        }
        self.shown.push(Shown {
            host: host.clone(),
            handle,
            campaign: chosen.campaign_id.clone(),
            variant: chosen.variant_id.clone(),
            placement: placement.to_string(),
            seen: false,
            #[cfg(feature = "full")]
            listeners: Vec::new(),
            #[cfg(not(feature = "full"))]
            lazy: None,
        });
    }

    /// The offer `handle` was actually seen: the exposure counts towards
    /// caps and pressure and is recorded.
    pub fn seen(&mut self, handle: u32) {
        let Some(shown) = self
            .shown
            .iter_mut()
            .find(|s| s.handle == handle && !s.seen)
        else {
            return;
        };
        shown.seen = true;
        let (campaign, variant) = (shown.campaign.clone(), shown.variant.clone());
        self.apply_input(Input::Exposure {
            campaign: campaign.clone(),
            variant: variant.clone(),
        });
        self.record(Event::exposure(
            self.new_event_id(),
            clock::now_ms(),
            String::new(),
            &campaign,
            &variant,
        ));
        self.emit(
            super::callbacks::EXPOSURE,
            offer_detail(&campaign, &variant),
        );
    }

    /// The shopper closed the overlay `handle`.
    pub fn dismissed(&mut self, handle: u32) {
        let Some(i) = self.shown.iter().position(|s| s.handle == handle) else {
            return;
        };
        let shown = self.shown.remove(i);
        self.closed.push(shown.placement.clone());
        self.apply_input(Input::Dismiss {
            campaign: shown.campaign.clone(),
        });
        self.record_offer_event("dismiss", &shown.campaign, &shown.variant);
        self.emit(
            super::callbacks::DISMISS,
            offer_detail(&shown.campaign, &shown.variant),
        );
        // Its listeners are running this very call: dropped after.
        self.drop_later(Box::new(shown));
    }

    /// Takes every offer off the page and forgets this page's decisions.
    pub fn clear_offers(&mut self) {
        let host = self.host.as_ref();
        for shown in self.shown.drain(..) {
            take_off(host, &shown.host);
        }
        for slot in self.decided.drain(..) {
            take_off(host, &slot);
        }
        self.waiting.clear();
        self.closed.clear();
        self.decisions.clear();
    }
}

/// Why an offer could not render without the loader.
#[cfg(not(feature = "full"))]
const NO_LOADER: &str =
    "the widget has no loader to render with (start the widget with the loader `dangol.js`)";

#[cfg(not(feature = "full"))]
impl Later {
    /// The second module loaded (or did not): it renders the offer, and
    /// its actions come back for the offer's handle.
    pub(crate) fn arrived(
        self,
        cell: super::state::Cell,
        loaded: Result<crate::platform::more::More, String>,
    ) {
        use wasm_bindgen::JsCast;

        let later = self;
        let sink = {
            let inner = cell.borrow();
            if inner.phase == Phase::Off {
                return; // destroyed while the module loaded
            }
            inner.host.as_ref().map(|h| h.sink(later.handle))
        };
        let Some(sink) = sink else {
            return;
        };
        let answer = loaded.and_then(|more| {
            more.show(
                later.slot,
                later.kind,
                &later.placement,
                &later.text,
                &later.chosen.campaign_id,
                &later.chosen.variant_id,
                later.attributes,
                later.declared,
                later.lang,
                &sink,
                &later.endpoint,
                later.profile,
                &later.key,
                &later.check,
            )
            .map_err(|e| crate::platform::describe(&e))
        });
        match answer {
            Ok(answer) => {
                let handle =
                    crate::platform::more::Handle(answer.get(0).as_f64().unwrap_or(0.0) as u32);
                let host: Element = answer.get(1).unchecked_into();
                let node: Element = answer.get(2).unchecked_into();
                let mut inner = cell.borrow_mut();
                inner.rendered(&host, &node, &later.placement, &later.chosen, later.handle);
                if let Some(shown) = inner.shown.last_mut() {
                    shown.lazy = Some(handle);
                }
            }
            Err(e) => render_failed(&later.chosen.campaign_id, &later.placement, &e),
        }
    }
}

fn render_failed(campaign: &str, placement: &str, problem: &str) {
    warn_once(
        Problem::Render,
        &dangol_engine::cat::cat(&[
            "could not render `",
            campaign,
            "` into `",
            placement,
            "`: ",
            problem,
        ]),
    );
}

/// Takes an offer off the page: a slot gets the shop's own content back,
/// an overlay is removed (by the loader, which drew the banner).
#[cfg(not(feature = "full"))]
fn take_off(host: Option<&crate::platform::host::Host>, element: &Element) {
    if let Some(host) = host {
        host.clear(element);
    }
}

/// Takes an offer off the page (rendered in this module).
#[cfg(feature = "full")]
fn take_off(_host: Option<&crate::platform::host::Host>, element: &Element) {
    render::clear(element);
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `performance.mark(name)` (User Timing; an error where it is missing).
    #[wasm_bindgen(catch, js_namespace = performance, js_name = mark)]
    fn performance_mark(name: &str) -> Result<(), wasm_bindgen::JsValue>;
}

/// A performance mark when the first offer is painted, for measuring.
fn mark_first_offer() {
    static MARKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if MARKED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let _ = performance_mark("dangol:first-offer");
}
