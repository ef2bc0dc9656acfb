//! The widget's state on one page: consent, storage, profile, declared
//! attributes, the config, the decisions and the events waiting to be sent.

use dangol_engine::attributes::PageContext;
use dangol_engine::consent::Consent;
use dangol_engine::decide::Decision;
use dangol_engine::event::Event;
use dangol_engine::json::{Map, Value};
use dangol_engine::profile::{Input as ProfileInput, Profile};
use dangol_engine::session::{Ctx, Input, Session};
use dangol_engine::trigger::PageWatch;

use dangol_engine::config::{PlacementKind, Trigger};
use dangol_engine::decide::Chosen;
use web_sys::Element;

use super::pending::Pending;
use crate::platform::host::Host;
use crate::platform::log::warn;
use crate::platform::storage::SiteStorage;
use crate::platform::{clock, json, random};

/// The page's widget state. It lives as long as the page: `destroy()`
/// lets go of everything it holds of the page (offers, callbacks, the
/// loader's I/O) and turns it off, and the rest stays in the wasm's
/// memory, which a page never gives back anyway. Passed around as a plain
/// reference, the widget carries no reference counts and no code to free
/// the whole (0.3 KB gzip); a widget started again on the same page
/// (after `destroy()`, by a new script tag) takes memory of its own.
pub(crate) type Cell = &'static std::cell::RefCell<Inner>;

pub(crate) struct Inner {
    pub site: String,
    pub endpoint: String,
    /// The site's Ed25519 public key (base64): configs must be signed with it.
    pub public_key: Option<String>,
    /// Where the page is in its life: waiting for a config, deciding with
    /// one, or off.
    pub phase: Phase,
    /// The shopper's session: consent, id, profile, declared attributes and
    /// the outbox, with every rule about them (see the engine's `session`).
    pub session: Session,
    pub storage: Option<SiteStorage>,
    /// Batches the session asked to send and not yet sent.
    pub outgoing: Vec<(u32, Value, String)>,
    /// The loader's I/O (requests, signature checks, a later task, the
    /// second module).
    pub host: Option<crate::platform::host::Host>,
    /// What was asked of the host and not yet answered, by id.
    pub pending: Vec<(u32, Pending)>,
    /// The last id given out: to requests asked of the host and, from the
    /// same count, to offers as their handles (so neither repeats).
    pub asked: u32,
    pub config: Option<super::kept::Kept>,
    /// A config the server sent after this page decided: the next page's,
    /// and this page's at `dangol.refresh()`.
    pub newer: Option<super::kept::Kept>,
    /// The stored config's version and line of publishes: a fetched
    /// config older than it is a replay and is refused.
    pub held: Option<(u64, String)>,
    pub page: PageContext,
    /// The page's own language (`<html lang>`), for the widget's words.
    pub page_lang: String,
    /// Every decision made on this page, in order.
    pub decisions: Vec<Decision>,
    /// Offers on the page now.
    pub shown: Vec<Shown>,
    /// Overlays decided and waiting for their trigger.
    pub waiting: Vec<Waiting>,
    /// Overlay placements the shopper closed on this page.
    pub closed: Vec<String>,
    /// Slots decided on this page (with or without an offer).
    pub decided: Vec<web_sys::Element>,
    /// `dangol.on` callbacks, and the calls waiting to be made.
    pub handlers: Vec<(u8, js_sys::Function)>,
    pub calls: Vec<(u8, js_sys::Function, Value)>,
    /// What the shopper did on this page so far.
    pub watched: PageWatch,
    /// The widget itself, for callbacks that outlive a borrow.
    pub self_ref: Option<Cell>,
}

/// An offer on the page.
pub(crate) struct Shown {
    pub host: Element,
    /// What its actions come back with (see `actions::act`).
    pub handle: u32,
    pub campaign: String,
    pub variant: String,
    pub placement: String,
    /// Recorded as an exposure once actually seen.
    pub seen: bool,
    /// Held for their drop, which unwires the offer.
    #[cfg(feature = "full")]
    pub listeners: Vec<gloo::events::EventListener>,
    /// Rendered by the second module: dropping this unwires it there.
    #[cfg(not(feature = "full"))]
    pub lazy: Option<crate::platform::more::Handle>,
}

/// An overlay decided at page load, waiting for its trigger.
pub(crate) struct Waiting {
    pub placement: String,
    pub kind: PlacementKind,
    pub trigger: Trigger,
    pub chosen: Chosen,
    pub why: Why,
}

/// "Why this offer?" for a chosen offer: its reasons, with the paths it
/// read (`super::offers` works them out); in the shipped widget, whether it was chosen from
/// personal data (the second module works the words out when asked).
#[cfg(feature = "full")]
pub(crate) type Why = Vec<String>;
#[cfg(not(feature = "full"))]
pub(crate) type Why = bool;

/// `{campaign, variant}` for page callbacks.
pub(crate) fn offer_detail(campaign: &str, variant: &str) -> Value {
    let mut m = Map::new();
    m.set("campaign", Value::from(campaign));
    m.set("variant", Value::from(variant));
    Value::Object(m)
}

/// The widget's phase on this page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No config has decided this page yet.
    Waiting,
    /// No config has decided yet, and the first decision waits: for the
    /// page's consent manager (see `Session::awaits_consent_manager`), at
    /// most `CMP_WAIT_MS`, and for the upgrade of a profile an earlier
    /// widget stored (see `Session::upgrading`); a config that arrives
    /// meanwhile is kept.
    Held,
    /// The page has decided with a config; a newer one waits for the next
    /// page (never swapping what the shopper sees).
    Decided,
    /// A broken setup, or destroyed: the widget does nothing more.
    Off,
}

/// A fresh random id (hex): the browser's cryptographic generator.
pub(super) fn fresh_id(host: Option<&Host>) -> String {
    random::hex_id(host, 16).unwrap_or_else(|| {
        // Every browser that runs WebAssembly has `crypto`; this is never
        // expected, but an id must never be empty.
        dangol_engine::cat::hex((random::unit() * 9_007_199_254_740_992.0) as u64, 16)
    })
}

/// Runs `f` with the time and randomness the session is given.
pub(super) fn with_ctx<R>(host: Option<&Host>, f: impl FnOnce(&mut Ctx) -> R) -> R {
    let mut fresh = || fresh_id(host);
    let mut ctx = Ctx {
        now_ms: clock::now_ms(),
        utc_offset_minutes: clock::utc_offset_minutes(),
        jitter: random::unit(),
        fresh: &mut fresh,
    };
    f(&mut ctx)
}

impl Inner {
    pub fn new(site: String, endpoint: String, session: Session) -> Self {
        Self {
            site,
            endpoint,
            public_key: None,
            phase: Phase::Waiting,
            session,
            storage: None,
            outgoing: Vec::new(),
            host: None,
            pending: Vec::new(),
            asked: 0,
            held: None,
            config: None,
            newer: None,
            page: PageContext::default(),
            page_lang: String::new(),
            decisions: Vec::new(),
            shown: Vec::new(),
            waiting: Vec::new(),
            closed: Vec::new(),
            decided: Vec::new(),
            handlers: Vec::new(),
            calls: Vec::new(),
            watched: PageWatch::new(clock::now_ms()),
            self_ref: None,
        }
    }

    pub fn config_url(&self) -> String {
        dangol_engine::cat::cat(&[&self.endpoint, "/v1/sites/", &self.site, "/config/compact"])
    }

    pub fn events_url(&self) -> String {
        dangol_engine::cat::cat(&[&self.endpoint, "/v1/sites/", &self.site, "/events"])
    }

    /// Personalisation consent.
    pub fn consent(&self) -> Consent {
        self.session.purposes().personalisation
    }

    /// The profile (this page's only, before personalisation consent).
    pub fn profile(&self) -> &Profile {
        self.session.profile()
    }

    /// Declared attributes.
    pub fn declared(&self) -> &Map {
        self.session.declared()
    }

    /// Feeds one input to the session and carries out its effects.
    pub fn input(&mut self, input: Input) {
        let effects = with_ctx(self.host.as_ref(), |ctx| self.session.handle(input, ctx));
        self.carry_out(effects);
    }

    /// A fresh event id.
    pub fn new_event_id(&self) -> String {
        let host = self.host.as_ref();
        dangol_engine::cat::cat(&[
            "e",
            &random::hex_id(host, 12).unwrap_or_else(|| fresh_id(host)),
        ])
    }

    /// A fresh random id (hex).
    pub fn fresh_id(&self) -> String {
        fresh_id(self.host.as_ref())
    }

    pub fn record(&mut self, event: Event) {
        self.input(Input::Record(event));
    }

    /// Feeds one input to the profile (stored as consent allows).
    pub fn apply_input(&mut self, input: ProfileInput) {
        self.input(Input::Profile(input));
    }

    /// A tracked call from the page or the dataLayer.
    pub fn track(&mut self, name: &str, props: &Value, source: &str) {
        if self.phase == Phase::Off {
            return;
        }
        match with_ctx(self.host.as_ref(), |ctx| {
            self.session.track(name, props, ctx)
        }) {
            Ok(effects) => self.carry_out(effects),
            Err(problem) => warn(&dangol_engine::cat::cat(&[
                source,
                ": `",
                name,
                "` was dropped: ",
                &problem,
            ])),
        }
    }

    /// `dangol.set`: declared attributes, merged; `null` removes one.
    pub fn declare(&mut self, value: &Value) -> Result<(), String> {
        let effects = self.session.declare(value)?;
        self.carry_out(effects);
        Ok(())
    }

    /// Everything kept about the shopper, the profile as storage keeps it
    /// (its text: the JSON is the third module's work).
    pub fn export(&self) -> Map {
        let mut out = self.session.export();
        out.set("site", Value::from(self.site.as_str()));
        let mut page = Map::new();
        page.set("max_scroll_pct", Value::from(self.watched.max_scroll_pct));
        page.set("exit_intent", Value::from(self.watched.exit_intent));
        out.set("page", Value::Object(page));
        out
    }

    /// The page's first exit intent: an `exit_intent` event.
    pub fn exit_intent(&mut self) {
        let event = Event::exit_intent(self.new_event_id(), clock::now_ms(), String::new());
        self.record(event);
    }

    /// The claim request for a coupon: URL and body, when consent allows a
    /// claim. The body names the pseudonymous id only with measurement
    /// consent; without it the server binds the coupon to a one-off id.
    pub fn claim_request(&self, campaign: &str, variant: &str) -> Option<(String, String)> {
        let mut body = Map::new();
        if let Some(anon) = self.session.claim()? {
            body.set("anon", Value::from(anon));
        }
        body.set("campaign", Value::from(campaign));
        body.set("variant", Value::from(variant));
        let text = json::stringify(&Value::Object(body))?;
        Some((
            dangol_engine::cat::cat(&[&self.endpoint, "/v1/sites/", &self.site, "/coupons/claim"]),
            text,
        ))
    }

    /// An event of `kind` about an offer, made now.
    pub fn offer_event(&self, kind: &str, campaign: &str, variant: &str) -> Event {
        let event = Event::exposure(
            self.new_event_id(),
            clock::now_ms(),
            String::new(),
            campaign,
            variant,
        );
        Event {
            kind: kind.to_string(),
            ..event
        }
    }

    /// Records an event of `kind` about an offer, made now.
    pub fn record_offer_event(&mut self, kind: &str, campaign: &str, variant: &str) {
        let event = self.offer_event(kind, campaign, variant);
        self.record(event);
    }

    /// The shopper answered a feedback question: a `feedback` event.
    pub fn answered(&mut self, campaign: &str, variant: &str, answer: u8) {
        self.record(Event {
            answer: Some(answer),
            ..self.offer_event("feedback", campaign, variant)
        });
    }

    /// Asks the host (`ask(host, id)`) for what `pending` waits for; the
    /// answer comes to [`super::answers::answer`]. Without a host, nothing is asked and
    /// this is false.
    pub fn ask(&mut self, pending: Pending, ask: impl FnOnce(&Host, u32)) -> bool {
        let Some(host) = &self.host else {
            return false;
        };
        self.asked = self.asked.wrapping_add(1);
        ask(host, self.asked);
        self.pending.push((self.asked, pending));
        true
    }

    /// Drops `value` in a later task (at once without a host).
    pub fn drop_later(&mut self, value: Box<dyn std::any::Any>) {
        self.ask(Pending::Drop(value), |host, id| host.later(id, 0));
    }
}
