//! The widget's state on one page: consent, storage, profile, declared
//! attributes, the config, the decisions and the events waiting to be sent.

use dangol_engine::attributes::PageContext;
use dangol_engine::config::CompiledConfig;
use dangol_engine::consent::{Consent, Purposes, Signals, resolve};
use dangol_engine::decide::Decision;
use dangol_engine::event::Event;
use dangol_engine::outbox::Outbox;
use dangol_engine::profile::{Input, Profile, ProfileConfig};
use dangol_engine::track;
use serde_json::{Map, Value};

use super::offers::{Shown, Waiting};
use crate::platform::log::warn;
use crate::platform::storage::SiteStorage;
use crate::platform::{clock, json, random};

/// Storage keys (namespaced per site by [`SiteStorage`]).
pub(super) const KEY_CONSENT: &str = "consent";
pub(super) const KEY_ID: &str = "id";
pub(super) const KEY_KEY: &str = "key";
pub(super) const KEY_CONFIG: &str = "config";
pub(super) const KEY_ETAG: &str = "etag";
pub(super) const KEY_PROFILE: &str = "profile";
pub(super) const KEY_DECLARED: &str = "declared";
/// Unsent events, one key per page: `outbox:<page id>`.
pub(super) const KEY_OUTBOX: &str = "outbox:";
/// An outbox whose page wrote nothing for this long is orphaned (the page
/// is gone) and another page adopts it.
pub(super) const ORPHAN_MS: i64 = 4_000;

/// Most bytes of declared attributes (as JSON) kept.
const MAX_DECLARED_BYTES: usize = 4096;

pub(crate) struct Inner {
    pub site: String,
    pub endpoint: String,
    /// The site's Ed25519 public key (base64): configs must be signed with it.
    pub public_key: Option<String>,
    /// A broken setup: the widget does nothing.
    pub disabled: bool,
    /// Personalisation consent: profile kept and used in decisions.
    pub consent: Consent,
    /// Measurement consent: events sent.
    pub measurement: Consent,
    /// What each consent source says.
    pub signals: Signals,
    pub storage: Option<SiteStorage>,
    /// The pseudonymous id, created at the first grant.
    pub anon: Option<String>,
    /// A secret made with the id; proves to the server that an erase
    /// request comes from the id's own browser.
    pub key: Option<String>,
    /// The config request the loader started (a first visit), used instead
    /// of a request of the widget's own.
    pub prefetched: Option<js_sys::Promise>,
    /// The loader's function for continuing in a later task.
    pub next_task: Option<js_sys::Function>,
    /// The raw config text and ETag, kept to cache once consent allows.
    pub config_text: Option<(String, Option<String>)>,
    pub config: Option<CompiledConfig>,
    pub profile: Profile,
    pub declared: Map<String, Value>,
    pub page: PageContext,
    /// Every decision made on this page, in order.
    pub decisions: Vec<Decision>,
    /// Whether this page has decided with a config yet.
    pub rendered: bool,
    /// Offers on the page now.
    pub shown: Vec<Shown>,
    /// Overlays decided and waiting for their trigger.
    pub waiting: Vec<Waiting>,
    /// Overlay placements the shopper closed on this page.
    pub closed: Vec<String>,
    /// Slots decided on this page (with or without an offer).
    pub decided: Vec<web_sys::Element>,
    /// `dangol.on` callbacks, and the calls waiting to be made.
    pub handlers: Vec<(String, js_sys::Function)>,
    pub calls: Vec<(String, js_sys::Function, Value)>,
    /// Visible time on this page before `visible_since`, in milliseconds.
    pub visible_ms: i64,
    /// The shopper's last pointer, key, touch or scroll input.
    pub last_input_ms: i64,
    /// The widget itself, for callbacks that outlive a borrow.
    pub self_ref: Option<std::rc::Weak<std::cell::RefCell<Inner>>>,
    /// Timers and observers that live as long as the widget.
    pub ticker: Option<gloo::timers::callback::Interval>,
    pub mutations: Option<crate::platform::dom::Mutations>,
    /// Events made on this page and not yet accepted by the server. Before
    /// consent they exist only here, in memory; on denial they are dropped.
    pub outbox: Outbox,
    /// This page's own outbox key (`outbox:<random>`): each page writes only
    /// its own, so tabs never overwrite each other's unsent events.
    pub outbox_key: String,
    pub sending: bool,
    /// When the page last became visible, for engaged time.
    pub visible_since: Option<i64>,
    /// The deepest scroll on this page, in percent of the page height.
    pub max_scroll_pct: u32,
    /// Whether the shopper showed exit intent on this page.
    pub exit_intent: bool,
    /// Page listeners; dropping them (with the widget) removes them.
    pub listeners: Vec<gloo::events::EventListener>,
}

impl Inner {
    pub fn new(site: String, endpoint: String) -> Self {
        Self {
            site,
            endpoint,
            public_key: None,
            disabled: false,
            consent: Consent::Unknown,
            measurement: Consent::Unknown,
            signals: Signals::default(),
            storage: None,
            anon: None,
            key: None,
            prefetched: None,
            next_task: None,
            config_text: None,
            config: None,
            profile: Profile::default(),
            declared: Map::new(),
            page: PageContext::default(),
            decisions: Vec::new(),
            rendered: false,
            shown: Vec::new(),
            waiting: Vec::new(),
            closed: Vec::new(),
            decided: Vec::new(),
            handlers: Vec::new(),
            calls: Vec::new(),
            visible_ms: 0,
            last_input_ms: clock::now_ms(),
            self_ref: None,
            ticker: None,
            mutations: None,
            outbox: Outbox::default(),
            outbox_key: format!("{KEY_OUTBOX}{}", random::hex_id(6).unwrap_or_default()),
            sending: false,
            visible_since: None,
            max_scroll_pct: 0,
            exit_intent: false,
            listeners: Vec::new(),
        }
    }

    pub fn config_url(&self) -> String {
        format!("{}/v1/sites/{}/config", self.endpoint, self.site)
    }

    pub fn events_url(&self) -> String {
        format!("{}/v1/sites/{}/events", self.endpoint, self.site)
    }

    pub fn profile_config(&self) -> ProfileConfig {
        self.config
            .as_ref()
            .map(|c| c.config().profile.clone())
            .unwrap_or_default()
    }

    pub(super) fn purposes(&self) -> Purposes {
        Purposes {
            personalisation: self.consent,
            measurement: self.measurement,
        }
    }

    /// Changes what a consent source says and carries out what follows:
    /// a grant stores what it allows at once (no reload needed); a
    /// withdrawal deletes what it no longer allows at once.
    pub fn set_signals(&mut self, change: impl FnOnce(&mut Signals)) {
        change(&mut self.signals);
        let before = self.purposes();
        let after = resolve(&self.signals);
        if after == before {
            return;
        }
        self.consent = after.personalisation;
        self.measurement = after.measurement;
        if !after.measurement.may_send() {
            self.outbox = Outbox::default();
        }
        if !after.personalisation.may_store() && before.personalisation.may_store() {
            self.profile = Profile::default();
            self.declared = Map::new();
        }
        if after.may_store_anything() {
            self.persist_all();
        } else {
            self.wipe_storage();
            self.anon = None;
            self.key = None;
        }
        if !after.personalisation.may_store()
            && let Some(storage) = &self.storage
        {
            for key in [KEY_PROFILE, KEY_DECLARED, KEY_CONFIG, KEY_ETAG] {
                let _ = storage.remove(key);
            }
        }
    }

    pub fn new_event_id() -> String {
        format!("e{}", random::hex_id(12).unwrap_or_default())
    }

    pub fn record(&mut self, event: Event) {
        if !self.measurement.must_discard() {
            self.outbox.push(event);
            self.save_outbox();
        }
    }

    /// Feeds one input to the profile; a lifecycle change becomes an event.
    pub fn apply_input(&mut self, input: &Input) {
        let now = clock::now_ms();
        let cfg = self.profile_config();
        if let Some(change) = self
            .profile
            .apply(input, &cfg, now, clock::utc_offset_minutes())
        {
            let kind = format!("stage_{}", change.to.name());
            let mut event = Event::page_view(Self::new_event_id(), now, String::new());
            event.kind = kind;
            self.record(event);
        }
    }

    /// A tracked call from the page or the dataLayer.
    pub fn track(&mut self, name: &str, props: &Value, source: &str) {
        if self.disabled {
            return;
        }
        match track::interpret(name, props) {
            Err(problem) => warn(&format!("{source}: `{name}` was dropped: {problem}")),
            Ok(tracked) if tracked.inputs.iter().any(|i| self.profile.is_repeat(i)) => {
                // Already counted (same transaction id): counted once.
            }
            Ok(tracked) => {
                let now = clock::now_ms();
                // A purchase after an offer was seen converts that offer.
                if let Some(value) = tracked.inputs.iter().find_map(|i| match i {
                    Input::Purchase { value, .. } => Some(*value),
                    _ => None,
                }) {
                    self.attribute_purchase(Some(value));
                }
                for input in &tracked.inputs {
                    self.apply_input(input);
                }
                for out in tracked.outgoing {
                    let mut event = Event::page_view(Self::new_event_id(), now, String::new());
                    event.kind = out.kind;
                    event.item = out.item;
                    event.category = out.category;
                    event.price = out.price;
                    self.record(event);
                }
                self.save_profile();
            }
        }
    }

    /// `dangol.set`: declared attributes, merged; `null` removes one.
    pub fn declare(&mut self, value: Value) -> Result<(), String> {
        let Value::Object(map) = value else {
            return Err("the attributes must be an object".into());
        };
        let mut next = self.declared.clone();
        for (k, v) in map {
            if k.is_empty() || k.len() > 40 {
                return Err(format!("attribute name `{k}` must be 1-40 characters"));
            }
            if v.is_null() {
                next.remove(&k);
            } else {
                next.insert(k, v);
            }
        }
        // Measured with the browser's JSON: no serializer in the wasm.
        let size = js_sys::JSON::stringify(&json::to_js(&Value::Object(next.clone())))
            .map(|s| s.length() as usize)
            .unwrap_or(usize::MAX);
        if size > MAX_DECLARED_BYTES {
            return Err(format!(
                "the declared attributes would take {size} bytes; at most {MAX_DECLARED_BYTES} are kept"
            ));
        }
        self.declared = next;
        if self.consent.may_store() {
            self.store_json(KEY_DECLARED, &Value::Object(self.declared.clone()));
        }
        Ok(())
    }

    /// Everything kept about the shopper.
    pub fn export(&self) -> Value {
        let mut out = Map::new();
        out.insert("site".into(), Value::from(self.site.as_str()));
        let mut consent = Map::new();
        consent.insert("personalisation".into(), Value::from(self.consent.as_str()));
        consent.insert("measurement".into(), Value::from(self.measurement.as_str()));
        out.insert("consent".into(), Value::Object(consent));
        out.insert(
            "id".into(),
            self.anon.as_deref().map_or(Value::Null, Value::from),
        );
        out.insert("profile".into(), self.profile.to_value());
        let mut page = Map::new();
        page.insert("max_scroll_pct".into(), Value::from(self.max_scroll_pct));
        page.insert("exit_intent".into(), Value::from(self.exit_intent));
        out.insert("page".into(), Value::Object(page));
        out.insert("declared".into(), Value::Object(self.declared.clone()));
        let pending: Vec<Value> = self.outbox.events().iter().map(Event::to_value).collect();
        out.insert("unsent_events".into(), Value::Array(pending));
        Value::Object(out)
    }

    /// The URL and key for asking the server to erase this shopper's id.
    pub fn erase_request(&self) -> Option<(String, String)> {
        let id = self.anon.as_ref()?;
        let key = self.key.clone()?;
        Some((
            format!("{}/v1/sites/{}/subjects/{id}", self.endpoint, self.site),
            key,
        ))
    }

    /// The pointer left through the top edge (or a fast scroll up on a
    /// phone): once per page, an `exit_intent` event.
    pub fn exit_intent_seen(&mut self) -> bool {
        if self.exit_intent {
            return false;
        }
        self.exit_intent = true;
        let mut event = Event::page_view(Self::new_event_id(), clock::now_ms(), String::new());
        event.kind = "exit_intent".to_string();
        self.record(event);
        true
    }

    /// The claim request for a coupon: URL and body, when there is an id.
    pub fn claim_request(&self, campaign: &str, variant: &str) -> Option<(String, String)> {
        let anon = self.anon.as_ref()?;
        let mut body = Map::new();
        body.insert("anon".into(), Value::from(anon.as_str()));
        body.insert("campaign".into(), Value::from(campaign));
        body.insert("variant".into(), Value::from(variant));
        let text = js_sys::JSON::stringify(&json::to_js(&Value::Object(body))).ok()?;
        Some((
            format!("{}/v1/sites/{}/coupons/claim", self.endpoint, self.site),
            String::from(text),
        ))
    }

    /// An event of `kind` about an offer, made now.
    pub fn offer_event(kind: &str, campaign: &str, variant: &str) -> Event {
        let event = Event::exposure(
            Self::new_event_id(),
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

    /// The shopper answered a feedback question: a `feedback` event.
    pub fn answered(&mut self, campaign: &str, variant: &str, answer: u8) {
        self.record(Event {
            answer: Some(answer),
            ..Self::offer_event("feedback", campaign, variant)
        });
    }

    /// A coupon was claimed: a `claim` event.
    pub fn claimed(&mut self, campaign: &str, variant: &str) {
        self.record(Self::offer_event("claim", campaign, variant));
        self.emit("claim", super::offers::offer_detail(campaign, variant));
    }

    /// The shopper clicked an offer's call to action.
    pub fn offer_clicked(&mut self, campaign: &str, variant: &str) {
        self.record(Self::offer_event("click", campaign, variant));
        self.emit("click", super::offers::offer_detail(campaign, variant));
    }

    /// The shopper switched personalisation off from an offer; measurement
    /// keeps whatever it was.
    pub fn personalisation_off(&mut self) {
        let measurement = self.measurement;
        self.set_signals(|s| {
            s.own = Some(Purposes {
                personalisation: Consent::Denied,
                measurement,
            });
        });
    }

    /// Forget: everything local goes at once, and the choice becomes "no".
    pub fn forget_all(&mut self) {
        self.set_signals(|s| s.own = Some(Purposes::both(Consent::Denied)));
        self.outbox = Outbox::default();
        self.anon = None;
        self.key = None;
        self.profile = Profile::default();
        self.declared = Map::new();
        self.wipe_storage();
    }
}
