//! Offers on the page: deciding for slots and overlays, rendering them,
//! opening overlays when their trigger fires, and recording what the
//! shopper actually saw, dismissed and bought.

use dangol_engine::attributes;
use dangol_engine::config::{CompiledConfig, PlacementKind, Trigger};
use dangol_engine::decide::{Chosen, Shopper, decide_page};
use dangol_engine::event::Event;
use dangol_engine::i18n::Lang;
use dangol_engine::loyalty;
use dangol_engine::profile::Input;
use dangol_engine::random::SplitMix64;
use dangol_engine::time::Moment;
use dangol_engine::trigger::PageSignals;
use serde_json::Value;
use web_sys::Element;

use super::state::{Inner, Phase, Shown, Waiting, offer_detail};
use crate::platform::log::{Problem, warn_once};
use crate::platform::regex::BrowserRegex;
use crate::platform::{clock, dom, random};
use crate::render::{self, Offer, overlay};

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
    why: Vec<String>,
}

impl Inner {
    /// The language of the widget's own words on this page.
    pub fn lang(&self) -> Lang {
        let page = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.get_attribute("lang"))
            .unwrap_or_default();
        let configured = self.config.as_ref().and_then(|c| c.config().locale.clone());
        Lang::pick(&page, configured.as_deref())
    }

    /// What the page has shown so far, for overlay triggers.
    pub fn signals(&self, now: i64) -> PageSignals {
        let visible = self.visible_ms + self.visible_since.map_or(0, |since| now - since);
        let consented = self.consent().may_store();
        PageSignals {
            visible_seconds: u32::try_from(visible.max(0) / 1000).unwrap_or(u32::MAX),
            scroll_pct: self.max_scroll_pct,
            idle_seconds: u32::try_from(((now - self.last_input_ms) / 1000).max(0))
                .unwrap_or(u32::MAX),
            exit_intent: self.exit_intent,
            session_page_views: self.profile().session_views.max(1),
            sessions: if consented {
                self.profile().sessions
            } else {
                0
            },
            cart_items: if consented {
                self.profile().cart.len() as u32
            } else {
                0
            },
        }
    }

    fn moment(&self, now: i64) -> Moment {
        Moment {
            now_ms: now,
            utc_offset_minutes: clock::utc_offset_minutes(),
            session_start_ms: self.profile().session_start_ms,
        }
    }

    fn attributes(&self, config: &CompiledConfig, now: i64) -> Value {
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
    pub fn apply(&mut self, config: CompiledConfig) {
        let now = clock::now_ms();
        let attributes = self.attributes(&config, now);
        let slots: Vec<(String, Element)> = dom::slots()
            .into_iter()
            .filter(|(_, el)| !self.decided.iter().any(|d| d == el))
            .collect();
        let signals = self.signals(now);
        let overlays: Vec<(String, PlacementKind, Trigger)> = config
            .config()
            .placements
            .iter()
            .filter(|p| p.kind != PlacementKind::Inline)
            .filter(|p| !self.shown.iter().any(|s| s.placement == p.id))
            .filter(|p| !self.waiting.iter().any(|w| w.placement == p.id))
            .filter(|p| !self.closed.contains(&p.id))
            .map(|p| (p.id.clone(), p.kind, p.trigger.unwrap_or(Trigger::PageLoad)))
            .filter(|(_, _, t)| t.may_fire_later(&signals))
            .collect();
        // Inline slots first: overlays get what pressure leaves.
        let mut placements: Vec<&str> = slots.iter().map(|(p, _)| p.as_str()).collect();
        placements.extend(overlays.iter().map(|(p, _, _)| p.as_str()));
        let seed = random::hex_id(8)
            .and_then(|h| u64::from_str_radix(&h, 16).ok())
            .unwrap_or(now as u64);
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
        // The global holdout's control group, once per page: the baseline
        // for the overall uplift of personalisation.
        let held = |d: &dangol_engine::decide::Decision| {
            d.reasons
                .iter()
                .any(|r| matches!(r, dangol_engine::decide::Reason::GlobalHoldout))
        };
        if decisions.iter().any(held) && !self.decisions.iter().any(held) {
            let mut event = Event::page_view(Self::new_event_id(), now, String::new());
            event.kind = "global_holdout".to_string();
            self.record(event);
        }
        let lang = self.lang();
        let mut ready = Vec::new();
        for decision in &decisions {
            for campaign in &decision.held_out {
                self.record(Event::holdout(
                    Self::new_event_id(),
                    now,
                    String::new(),
                    campaign,
                ));
            }
            if let Some(chosen) = decision.chosen() {
                let why = config
                    .campaigns()
                    .iter()
                    .find(|c| c.campaign.id == chosen.campaign_id)
                    .map(|c| c.why(&attributes, lang))
                    .unwrap_or_default();
                ready.push(Ready {
                    placement: decision.placement.clone(),
                    chosen: chosen.clone(),
                    why,
                });
            }
            self.emit("decision", decision.to_value());
        }
        self.decided.extend(slots.iter().map(|(_, el)| el.clone()));
        self.config = Some(config);
        for offer in ready {
            if let Some((_, slot)) = slots.iter().find(|(p, _)| *p == offer.placement) {
                let target = Target::Slot(slot, &attributes);
                self.show(target, &offer.placement, &offer.chosen, &offer.why);
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
                self.show(Target::Overlay(w.kind), &w.placement, &w.chosen, &w.why);
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
    fn show(&mut self, target: Target<'_>, placement: &str, chosen: &Chosen, why: &[String]) {
        let Some(config) = self.config.as_ref() else {
            return;
        };
        let lang = self.lang();
        let attributes = match target {
            Target::Slot(_, attributes) => attributes.clone(),
            Target::Overlay(_) => self.attributes(config, clock::now_ms()),
        };
        let content = render::filled(
            &chosen.content,
            &attributes,
            config.config().currency.as_deref(),
            lang,
        );
        let standing = loyalty::progress(&config.config().tiers, self.declared());
        let sink = super::actions::sink(
            self.self_ref.clone().unwrap_or_default(),
            &chosen.campaign_id,
            &chosen.variant_id,
        );
        let offer = Offer {
            content: &content,
            campaign: &chosen.campaign_id,
            variant: &chosen.variant_id,
            why,
            loyalty: standing.as_ref(),
            lang,
            sink,
        };
        let result = match target {
            Target::Slot(slot, _) => render::inline(slot, &offer),
            Target::Overlay(kind) => overlay::open(kind, placement, &offer),
        };
        let rendered = match result {
            Ok(r) => r,
            Err(e) => {
                warn_once(
                    Problem::Render,
                    &format!(
                        "could not render `{}` into `{placement}`: {e}",
                        chosen.campaign_id
                    ),
                );
                return;
            }
        };
        mark_first_offer();
        let watch = self.self_ref.as_ref().and_then(|weak| {
            let weak = weak.clone();
            let (campaign, variant) = (chosen.campaign_id.clone(), chosen.variant_id.clone());
            crate::platform::seen::watch(&rendered.node, move || {
                if let Some(cell) = weak.upgrade() {
                    cell.borrow_mut().seen(&campaign, &variant);
                    super::sync::flush(cell);
                }
            })
        });
        self.shown.push(Shown {
            host: rendered.host,
            campaign: chosen.campaign_id.clone(),
            variant: chosen.variant_id.clone(),
            placement: placement.to_string(),
            seen: false,
            watch,
            listeners: rendered.listeners,
        });
    }

    /// An offer was actually seen: the exposure counts towards caps and
    /// pressure and is recorded.
    pub fn seen(&mut self, campaign: &str, variant: &str) {
        let Some(shown) = self
            .shown
            .iter_mut()
            .find(|s| s.campaign == campaign && s.variant == variant && !s.seen)
        else {
            return;
        };
        shown.seen = true;
        // The observer is done; drop it after this callback returns.
        if let Some(watch) = shown.watch.take() {
            wasm_bindgen_futures::spawn_local(async move { drop(watch) });
        }
        self.apply_input(&Input::Exposure {
            campaign: campaign.to_string(),
            variant: variant.to_string(),
        });
        self.record(Event::exposure(
            Self::new_event_id(),
            clock::now_ms(),
            String::new(),
            campaign,
            variant,
        ));
        self.emit("exposure", offer_detail(campaign, variant));
    }

    /// The shopper closed an overlay.
    pub fn dismissed(&mut self, campaign: &str, variant: &str) {
        if let Some(i) = self.shown.iter().position(|s| s.campaign == campaign) {
            let shown = self.shown.remove(i);
            self.closed.push(shown.placement.clone());
            // Its listeners are running this very call: drop them after.
            wasm_bindgen_futures::spawn_local(async move { drop(shown) });
        }
        self.apply_input(&Input::Dismiss {
            campaign: campaign.to_string(),
        });
        self.record(Self::offer_event("dismiss", campaign, variant));
        self.emit("dismiss", offer_detail(campaign, variant));
    }

    /// Takes every offer off the page and forgets this page's decisions.
    pub fn clear_offers(&mut self) {
        for shown in self.shown.drain(..) {
            render::clear(&shown.host);
        }
        for slot in self.decided.drain(..) {
            render::clear(&slot);
        }
        self.waiting.clear();
        self.closed.clear();
        self.decisions.clear();
    }
}

/// A performance mark when the first offer is painted, for measuring.
fn mark_first_offer() {
    static MARKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if MARKED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark("dangol:first-offer");
    }
}
