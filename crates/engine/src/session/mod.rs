//! The shopper's session on one page, as a state machine: inputs in,
//! effects out.
//!
//! The widget feeds it what happens (the page started with what storage
//! held, a consent signal, a `track`/`set`/`forget` call, a server answer,
//! a timer tick, a storage change made by another tab) and carries out the
//! [`Effect`]s it returns (store, remove, send, erase). Every privacy rule
//! lives here, where it runs natively in a unit test:
//!
//! - **Before consent** nothing is stored and nothing about the shopper is
//!   sent; this page's events and profile inputs wait in memory.
//! - **One id per shopper.** The pseudonymous id and its erase key are made
//!   (or taken from storage) when some source first allows storing, whether
//!   that is the shop's own call, a TCF consent manager or Google Consent
//!   Mode, so a shopper whose consent comes only from a consent manager
//!   keeps one id across pages and visits.
//! - **A withdrawal takes effect at once, everywhere.** Withdrawing
//!   measurement drops the unsent events and every page's stored outbox;
//!   withdrawing personalisation drops the profile and declared attributes;
//!   withdrawing both (or `forget()`) also erases the server's copy of the
//!   id and wipes the site's storage. Other tabs see the id go (the
//!   `storage` event) and stop too, and a batch still on its way is
//!   ignored when it answers.
//! - **Declared attributes never leave the browser**: no send effect
//!   carries them, and a coupon claim carries the id only with
//!   measurement consent.
//! - **Identity only with consent.** `identify(customer, proof)` before
//!   measurement consent is kept in memory for this page; with it the id is
//!   linked once, and with personalisation consent the customer's other
//!   devices' profile comes back and is merged into what decisions read
//!   (never into this browser's stored profile, so nothing counts twice).
//!   Signing out (`identify(null)`), or someone else signing in, starts the
//!   browser afresh with a new id.

use crate::json::{Map, Value};

use crate::consent::{Consent, Purposes, Signals, resolve};
use crate::event::Event;
use crate::outbox::{Batch, Outbox};
use crate::profile::{Input as ProfileInput, Profile, ProfileConfig};
use crate::trigger::{PageActivity, PageSignals};

#[cfg(test)]
mod tests;

/// Most bytes of declared attributes (as JSON) kept.
pub const MAX_DECLARED_BYTES: usize = 4096;
/// An outbox whose page wrote nothing for this long is orphaned (the page
/// is gone) and another page adopts it.
pub const ORPHAN_MS: i64 = 4_000;
/// A page with unsent events rewrites its outbox at least this often, so
/// other pages can tell it is alive.
pub const HEARTBEAT_MS: i64 = 2_000;

/// How often a page looks for the outboxes of pages that are gone (on the
/// timer's tick, with measurement consent).
pub const ADOPT_EVERY_MS: i64 = 3_000;
/// Profile inputs kept in memory before consent, replayed onto the stored
/// profile when consent restores it.
const MAX_PENDING_INPUTS: usize = 64;

/// A storage key of the site (the widget namespaces them per site).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// The shop's own consent choice (`p=granted;m=denied`).
    Consent,
    /// The pseudonymous id.
    Id,
    /// The id's erase key.
    EraseKey,
    /// The cached config text.
    Config,
    /// The cached config's ETag.
    Etag,
    /// The profile.
    Profile,
    /// Declared attributes.
    Declared,
    /// The customer this browser's id was linked to.
    Customer,
    /// The customer's other devices' profile, with when it was fetched.
    Remote,
    /// The shopper's consent actions on a page left before its widget
    /// loaded (see [`Session::start`]).
    Queued,
    /// One page's unsent events, by page id.
    Outbox(String),
}

impl Key {
    /// The name in storage.
    pub fn name(&self) -> String {
        match self {
            Key::Consent => "consent".into(),
            Key::Id => "id".into(),
            Key::EraseKey => "key".into(),
            Key::Config => "config".into(),
            Key::Etag => "etag".into(),
            Key::Profile => "profile".into(),
            Key::Declared => "declared".into(),
            Key::Customer => "customer".into(),
            Key::Remote => "remote".into(),
            Key::Queued => "queued".into(),
            Key::Outbox(page) => crate::cat::cat(&[OUTBOX_PREFIX, page]),
        }
    }

    /// Reads [`Key::name`].
    pub fn parse(name: &str) -> Option<Key> {
        Some(match name {
            "consent" => Key::Consent,
            "id" => Key::Id,
            "key" => Key::EraseKey,
            "config" => Key::Config,
            "etag" => Key::Etag,
            "profile" => Key::Profile,
            "declared" => Key::Declared,
            "customer" => Key::Customer,
            "remote" => Key::Remote,
            "queued" => Key::Queued,
            other => Key::Outbox(other.strip_prefix(OUTBOX_PREFIX)?.to_string()),
        })
    }
}

/// The start of every outbox key's name.
pub const OUTBOX_PREFIX: &str = "outbox:";

/// What the widget must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Write text under a key.
    Store(Key, String),
    /// Write a JSON value under a key.
    StoreJson(Key, Value),
    /// Remove one key.
    Remove(Key),
    /// Remove every page's stored outbox.
    RemoveOutboxes,
    /// Read every page's stored outbox (see [`OUTBOX_PREFIX`]) and answer
    /// with [`Input::Orphans`], so the outboxes of pages that are gone are
    /// adopted.
    ReadOutboxes,
    /// Remove every key of the site.
    Wipe,
    /// Ask the server to erase everything tied to `id`, proven with `key`.
    Erase {
        /// The pseudonymous id.
        id: String,
        /// Its erase key.
        key: String,
    },
    /// Link the id to a signed-in customer (`POST …/identify`); answer with
    /// [`Input::Identified`].
    Identify {
        /// The pseudonymous id.
        id: String,
        /// Its erase key.
        key: String,
        /// The shop's customer id.
        customer: String,
        /// The shop's proof (hex HMAC-SHA256 of the customer id).
        proof: String,
        /// Ask for the customer's other devices' profile (personalisation
        /// consent only).
        profile: bool,
    },
    /// A profile an earlier widget stored as JSON, for the third module
    /// to rewrite in the stored form ([`Profile::to_text`]); answer with
    /// [`Input::Upgraded`]. Until then the profile is not written and the
    /// first decision waits ([`Session::upgrading`]): deciding without the
    /// ledger could show what the shopper dismissed or has seen enough of.
    Upgrade(String),
    /// POST a batch of events; answer with [`Input::Sent`] and this ticket.
    Send {
        /// Names this send in its answer.
        ticket: u32,
        /// The request body (`{"events": [...], "dropped": n}`).
        body: Value,
        /// The erase key, which the server ties to the id on its first batch.
        key: String,
    },
}

/// How a send ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// 2xx: the server took the batch.
    Delivered,
    /// A 4xx other than 408 and 429: resending cannot help.
    Refused,
    /// Network error, timeout, 408, 429 or 5xx; with the server's
    /// `Retry-After` in ms.
    Failed(Option<i64>),
    /// The send never started (another tab was sending).
    Skipped,
}

impl Outcome {
    /// How a send that got an HTTP answer ended: 2xx delivered; 408, 429
    /// and 5xx retried (after `retry_after_ms` at the earliest); any other
    /// refusal is final.
    pub fn of_status(status: u16, retry_after_ms: Option<i64>) -> Outcome {
        match status {
            200..=299 => Outcome::Delivered,
            408 | 429 => Outcome::Failed(retry_after_ms),
            400..=499 => Outcome::Refused,
            _ => Outcome::Failed(retry_after_ms),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The shop's own `dangol.consent.grant()` / `deny()`.
    Own(Purposes),
    /// The shopper switched personalisation off from an offer; measurement
    /// keeps what it was.
    PersonalisationOff,
    /// A TCF consent manager answered.
    Tcf(Purposes),
    /// `gtag("consent", "default" | "update", {...})`: `Some(true)` for
    /// `granted`, `Some(false)` for anything else, `None` when not named.
    ConsentMode {
        /// `update` (an answer) rather than `default` (no one's answer yet).
        update: bool,
        /// `personalization_storage`.
        personalisation: Option<bool>,
        /// `analytics_storage`.
        measurement: Option<bool>,
    },
    /// `dangol.forget()`.
    Forget,
    /// An event made on this page.
    Record(Event),
    /// Something for the local profile (a page view, an exposure, engaged
    /// time...).
    Profile(ProfileInput),
    /// A fetched config's text and ETag, cached while personalisation allows.
    ConfigFetched(String, Option<String>),
    /// Send what is due, if the browser is online.
    Flush {
        /// `navigator.onLine`.
        online: bool,
    },
    /// The answer to [`Effect::Send`].
    Sent(u32, Outcome),
    /// Once a second.
    Tick,
    /// Outboxes stored by pages (not this one), with their page ids, to
    /// adopt those whose page is gone.
    Orphans(Vec<(String, Option<Value>)>),
    /// Another tab changed a key (`None` for the key: storage was cleared).
    StorageChanged(Option<Key>, Option<String>),
    /// The answer to [`Effect::Upgrade`]: the profile in the stored form, or
    /// `None` when the old one could not be read (the profile starts
    /// afresh, as with any unreadable profile).
    Upgraded(Option<String>),
    /// `dangol.identify(customer, proof)` (`None`: `identify(null)`, the
    /// shopper signed out).
    Identify(Option<(String, String)>),
    /// The answer to [`Effect::Identify`] for the customer it named: the
    /// other devices' profile when asked for, or `Err(true)` when the server
    /// refused for good.
    Identified(String, Result<Option<Value>, bool>),
}

impl Input {
    /// `dangol.identify(customer, proof)`: the customer id as the shop knows
    /// it (1-128 characters, none a control character; `None` signs out)
    /// and the proof its server computed (64 hex digits). A bad call says
    /// what was wrong.
    pub fn identify_call(
        customer: Option<String>,
        proof: Option<String>,
    ) -> Result<Input, &'static str> {
        let Some(customer) = customer else {
            return Ok(Input::Identify(None));
        };
        if customer.is_empty()
            || customer.chars().count() > 128
            || customer.chars().any(char::is_control)
        {
            return Err(
                "the customer id must be 1-128 characters, none of them a control character",
            );
        }
        match proof {
            Some(p) if p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Input::Identify(Some((customer, p))))
            }
            _ => Err(
                "the proof must be the 64 hex digits of HMAC-SHA256(identity secret, customer id), computed by the shop's server",
            ),
        }
    }

    /// A Google Consent Mode call (`gtag("consent", command, settings)`),
    /// from its `personalization_storage` and `analytics_storage`; `None`
    /// for a command other than `default` or `update`.
    pub fn consent_mode(
        command: &str,
        personalization_storage: Option<&str>,
        analytics_storage: Option<&str>,
    ) -> Option<Input> {
        let update = match command {
            "default" => false,
            "update" => true,
            _ => return None,
        };
        Some(Input::ConsentMode {
            update,
            personalisation: personalization_storage.map(|v| v == "granted"),
            measurement: analytics_storage.map(|v| v == "granted"),
        })
    }
}

/// What storage held when the page started (reading is allowed before
/// consent; nothing read is used until consent allows).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stored {
    /// The shop's own choice.
    pub consent: Option<String>,
    /// The id.
    pub id: Option<String>,
    /// Its erase key.
    pub key: Option<String>,
    /// The profile, as [`Profile::to_text`] wrote it.
    pub profile: Option<String>,
    /// Declared attributes.
    pub declared: Option<Value>,
    /// The cached config and its ETag.
    pub config: Option<(String, Option<String>)>,
    /// The customer the id was linked to.
    pub customer: Option<String>,
    /// The other devices' profile (`{"at": ms, "profile": {...}}`).
    pub remote: Option<Value>,
    /// Consent actions the loader kept from a page left before its widget
    /// loaded (see [`Session::start`]).
    pub queued: Option<String>,
}

/// What storage holds already, as this page would write it: not written
/// again when consent is given (see [`Session::change_with`]).
#[derive(Debug, Default, Clone, Copy)]
struct Held {
    /// The id and its erase key.
    id: bool,
    /// The config and its ETag.
    config: bool,
    /// The declared attributes.
    declared: bool,
}

/// The time and randomness an input may need (the session has neither).
pub struct Ctx<'a> {
    /// Now, in ms since the epoch.
    pub now_ms: i64,
    /// The shopper's offset from UTC.
    pub utc_offset_minutes: i32,
    /// A number in [0, 1), for retry jitter.
    pub jitter: f64,
    /// A fresh random id (16+ hex digits) each call.
    pub fresh: &'a mut dyn FnMut() -> String,
}

/// The session. See the module documentation.
#[derive(Debug, Clone)]
pub struct Session {
    page: String,
    signals: Signals,
    purposes: Purposes,
    id: Option<String>,
    key: Option<String>,
    /// What storage held at the start and is not in use yet.
    stored: Stored,
    profile: Profile,
    profile_config: ProfileConfig,
    attribution_hours: u32,
    /// Profile inputs of this page before personalisation consent.
    pending: Vec<(ProfileInput, i64)>,
    declared: Map,
    config: Option<(String, Option<String>)>,
    outbox: Outbox,
    in_flight: Option<(u32, Batch)>,
    tickets: u32,
    saved_ms: i64,
    /// When this page last looked for other pages' outboxes.
    adopt_ms: i64,
    /// The signed-in customer and the shop's proof, this page only.
    #[cfg(feature = "identity")]
    identity: Option<(String, String)>,
    /// The customer the id is linked to on the server.
    #[cfg(feature = "identity")]
    linked: Option<String>,
    /// The other devices' profile and when it was fetched.
    #[cfg(feature = "identity")]
    remote: Option<(Profile, i64)>,
    /// This profile merged with `remote`, what decisions read.
    #[cfg(feature = "identity")]
    merged: Option<Profile>,
    /// The customer this page asked the server to link, if it did.
    #[cfg(feature = "identity")]
    identify_sent: Option<String>,
}

/// How long the other devices' profile serves before it is asked for again.
pub const REMOTE_FRESH_MS: i64 = 30 * 60_000;

impl Session {
    /// The session of page `page` (a random page id), with what storage
    /// held and whether Global Privacy Control is on.
    pub fn start(page: String, stored: Stored, gpc: bool, ctx: &mut Ctx) -> (Self, Vec<Effect>) {
        let mut session = Session::new(page);
        let own = stored
            .consent
            .as_deref()
            .map(|text| Purposes::decode(Some(text)));
        session.stored = stored;
        let mut out = Vec::new();
        let signals = Signals {
            own,
            gpc,
            ..Signals::default()
        };
        session.change_with(&mut out, ctx, signals, true);
        if let Some(text) = session.stored.queued.take() {
            session.take_queued(&text, &mut out, ctx);
        }
        (session, out)
    }

    /// The shopper's consent actions on a page they left before its widget
    /// loaded, which the loader kept (under [`Key::Queued`], the only thing
    /// it writes itself, and only then): `grant`, `grant:<purpose>,…`,
    /// `deny` and `forget`, separated by spaces, oldest first. They are
    /// the shopper's own choices, so they count as if made on this page,
    /// before anything this page does: a `forget()` among them first, then
    /// the last choice made after it (an earlier one it overrode would
    /// only be written and taken back). Unknown words are ignored. The key
    /// is removed at once.
    fn take_queued(&mut self, text: &str, out: &mut Vec<Effect>, ctx: &mut Ctx) {
        out.push(Effect::Remove(Key::Queued));
        let mut forget = false;
        let mut choice = None;
        for act in crate::cat::split(text, b' ') {
            match crate::cat::split_once(act, b':') {
                _ if act == "grant" => choice = Some(Purposes::both(Consent::Granted)),
                Some(("grant", names)) => {
                    let mut chosen = Purposes::both(Consent::Denied);
                    for name in crate::cat::split(names, b',') {
                        match name {
                            "personalisation" => chosen.personalisation = Consent::Granted,
                            "measurement" => chosen.measurement = Consent::Granted,
                            _ => {}
                        }
                    }
                    choice = Some(chosen);
                }
                _ if act == "deny" => choice = Some(Purposes::both(Consent::Denied)),
                _ if act == "forget" => (forget, choice) = (true, None),
                _ => {}
            }
        }
        if forget {
            self.forget(out);
        }
        if let Some(choice) = choice {
            let mut signals = self.signals;
            signals.own = Some(choice);
            self.change(out, ctx, signals);
        }
    }

    /// A session that has read nothing yet and allows nothing: the state
    /// before [`Session::start`].
    pub fn new(page: String) -> Self {
        Session {
            page,
            signals: Signals::default(),
            purposes: Purposes::default(),
            id: None,
            key: None,
            stored: Stored::default(),
            profile: Profile::default(),
            profile_config: ProfileConfig::default(),
            attribution_hours: crate::config::ATTRIBUTION_HOURS,
            pending: Vec::new(),
            declared: Map::new(),
            config: None,
            outbox: Outbox::default(),
            in_flight: None,
            tickets: 0,
            saved_ms: 0,
            adopt_ms: 0,
            #[cfg(feature = "identity")]
            identity: None,
            #[cfg(feature = "identity")]
            linked: None,
            #[cfg(feature = "identity")]
            remote: None,
            #[cfg(feature = "identity")]
            merged: None,
            #[cfg(feature = "identity")]
            identify_sent: None,
        }
    }

    /// Whether the first decision should wait (briefly) for the page's TCF
    /// consent manager (`cmp_present`): storage holds a shopper to restore
    /// (an id or a profile kept under that manager's consent), and neither
    /// the site's own choice nor the manager has answered yet. Deciding now
    /// would show a returning shopper offers without their profile.
    pub fn awaits_consent_manager(&self, cmp_present: bool) -> bool {
        cmp_present
            && self.signals.own.is_none()
            && self.signals.tcf.is_none()
            && (self.stored.id.is_some() || self.stored.profile.is_some())
    }

    /// Whether a profile an earlier widget stored waits for its upgrade
    /// ([`Effect::Upgrade`]): the first decision waits with it.
    pub fn upgrading(&self) -> bool {
        self.stored.profile.is_some() && self.purposes.personalisation.may_store()
    }

    /// What consent allows now.
    pub fn purposes(&self) -> Purposes {
        self.purposes
    }

    /// What each source says.
    pub fn signals(&self) -> &Signals {
        &self.signals
    }

    /// The pseudonymous id, while consent allows one.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Whether a coupon may be claimed, and with which id: `None` before
    /// any consent (a claim would tell the server this shopper was
    /// targeted); with consent, the id only with measurement consent
    /// (`Some(None)`: a claim that names no one).
    pub fn claim(&self) -> Option<Option<&str>> {
        if !self.purposes.may_store_anything() {
            return None;
        }
        Some(
            self.id
                .as_deref()
                .filter(|_| self.purposes.measurement.may_send()),
        )
    }

    /// The profile decisions read: this browser's (this page's only, until
    /// personalisation consent), merged with the signed-in customer's
    /// other devices when the server sent theirs.
    pub fn profile(&self) -> &Profile {
        #[cfg(feature = "identity")]
        if let Some(merged) = &self.merged {
            return merged;
        }
        &self.profile
    }

    /// The signals overlay triggers read on this page (see
    /// [`PageSignals::new`]): the shopper's sessions and cart count only
    /// with personalisation consent.
    pub fn page_signals(&self, page: PageActivity) -> PageSignals {
        PageSignals::new(
            page,
            self.profile(),
            self.purposes.personalisation.may_store(),
        )
    }

    /// The profile a recommendations row is ranked from (see
    /// [`crate::recs::device::mine`]): none without personalisation
    /// consent (the row is best-sellers then).
    pub fn recs_profile(&self) -> Option<&Profile> {
        self.purposes
            .personalisation
            .may_store()
            .then(|| self.profile())
    }

    /// This browser's own profile.
    pub fn own_profile(&self) -> &Profile {
        &self.profile
    }

    /// The customer this browser's id is linked to.
    pub fn customer(&self) -> Option<&str> {
        #[cfg(feature = "identity")]
        return self.linked.as_deref();
        #[cfg(not(feature = "identity"))]
        None
    }

    /// Declared attributes.
    pub fn declared(&self) -> &Map {
        &self.declared
    }

    /// The stored config, when personalisation allowed caching it.
    pub fn cached_config(&self) -> Option<&(String, Option<String>)> {
        self.config.as_ref()
    }

    /// Events waiting to be sent.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Whether a send could start now (used to decide whether to flush).
    pub fn due(&self, now_ms: i64) -> bool {
        self.in_flight.is_none() && self.outbox.due(now_ms)
    }

    /// Uses the profile settings and attribution window of a config.
    pub fn configure(&mut self, profile: ProfileConfig, attribution_hours: u32) {
        self.profile_config = profile;
        self.attribution_hours = attribution_hours;
    }

    /// `dangol.set`: merges declared attributes (`null` removes one). A bad
    /// call changes nothing and says what was wrong.
    pub fn declare(&mut self, value: &Value) -> Result<Vec<Effect>, String> {
        let Value::Object(map) = value else {
            return Err("the attributes must be an object".into());
        };
        let mut next = self.declared.clone();
        for (k, v) in map {
            if k.is_empty() || k.chars().count() > 40 {
                return Err(crate::cat::cat(&[
                    "attribute name `",
                    k,
                    "` must be 1-40 characters",
                ]));
            }
            if v.is_null() {
                next.remove(k);
            } else {
                next.set(k, v.clone());
            }
        }
        let size = object_len(&next);
        if size > MAX_DECLARED_BYTES {
            return Err(crate::cat::cat(&[
                "the declared attributes would take ",
                &crate::cat::uint(size as u64),
                " bytes; at most ",
                &crate::cat::uint(MAX_DECLARED_BYTES as u64),
                " are kept",
            ]));
        }
        self.declared = next;
        let mut out = Vec::new();
        self.save_declared(&mut out);
        Ok(out)
    }

    /// `dangol.track` or a GA4 `dataLayer` event: profile inputs, a
    /// conversion of the last offer seen (for a purchase) and events.
    pub fn track(
        &mut self,
        name: &str,
        props: &Value,
        ctx: &mut Ctx,
    ) -> Result<Vec<Effect>, String> {
        let tracked = crate::track::interpret(name, props)?;
        let mut out = Vec::new();
        if tracked.inputs.iter().any(|i| self.profile.is_repeat(i)) {
            return Ok(out); // the same transaction, counted once
        }
        if let Some(value) = tracked.inputs.iter().find_map(|i| match i {
            ProfileInput::Purchase { value, .. } => Some(*value),
            _ => None,
        }) {
            self.attribute_purchase(value, &mut out, ctx);
        }
        for input in tracked.inputs {
            self.apply_profile(input, &mut out, ctx);
        }
        for o in tracked.outgoing {
            let mut event = Event::page_view(event_id(ctx), ctx.now_ms, String::new());
            event.kind = o.kind;
            event.item = o.item;
            event.category = o.category;
            event.price = o.price;
            self.record(event, &mut out, ctx);
        }
        self.save_profile(&mut out);
        Ok(out)
    }

    /// Carries out one input.
    pub fn handle(&mut self, input: Input, ctx: &mut Ctx) -> Vec<Effect> {
        let mut out = Vec::new();
        match input {
            Input::Own(p) => {
                let mut s = self.signals;
                s.own = Some(p);
                self.change(&mut out, ctx, s);
            }
            Input::PersonalisationOff => {
                let measurement = self.purposes.measurement;
                let mut s = self.signals;
                s.own = Some(Purposes {
                    personalisation: Consent::Denied,
                    measurement,
                });
                self.change(&mut out, ctx, s);
            }
            Input::Tcf(p) => {
                let mut s = self.signals;
                s.tcf = Some(p);
                self.change(&mut out, ctx, s);
            }
            Input::ConsentMode {
                update,
                personalisation,
                measurement,
            } => {
                // A default "denied" is no one's answer yet: this page's
                // events wait in memory until an update says yes or no.
                let answer = |granted: bool| match (granted, update) {
                    (true, _) => Consent::Granted,
                    (false, true) => Consent::Denied,
                    (false, false) => Consent::Unknown,
                };
                let mut s = self.signals;
                let mut mode = s.consent_mode.unwrap_or_default();
                if let Some(p) = personalisation {
                    mode.personalisation = answer(p);
                }
                if let Some(m) = measurement {
                    mode.measurement = answer(m);
                }
                s.consent_mode = Some(mode);
                self.change(&mut out, ctx, s);
            }
            Input::Forget => self.forget(&mut out),
            Input::Record(event) => self.record(event, &mut out, ctx),
            Input::Profile(input) => {
                self.apply_profile(input, &mut out, ctx);
                self.save_profile(&mut out);
            }
            Input::ConfigFetched(text, etag) => {
                self.config = Some((text, etag));
                self.save_config(&mut out);
            }
            Input::Flush { online } => {
                if online {
                    self.send(&mut out, ctx.now_ms);
                }
            }
            Input::Sent(ticket, outcome) => self.sent(ticket, outcome, &mut out, ctx),
            Input::Tick => {
                if self.purposes.measurement.may_send() {
                    if !self.outbox.is_empty() && ctx.now_ms - self.saved_ms >= HEARTBEAT_MS {
                        self.save_outbox(&mut out, ctx.now_ms);
                    }
                    if ctx.now_ms - self.adopt_ms >= ADOPT_EVERY_MS {
                        self.adopt_ms = ctx.now_ms;
                        out.push(Effect::ReadOutboxes);
                    }
                }
            }
            Input::Orphans(list) => self.adopt(list, &mut out, ctx.now_ms),
            Input::Upgraded(text) => {
                if self.upgrading() {
                    // Only the stored form is taken: an answer still in
                    // JSON would only ask again.
                    self.stored.profile = text.filter(|t| !t.starts_with('{'));
                    self.restore(&mut out, ctx);
                    self.save_profile(&mut out);
                }
            }
            Input::StorageChanged(key, value) => self.storage_changed(key, value, &mut out, ctx),
            #[cfg(feature = "identity")]
            Input::Identify(who) => self.identify(who, &mut out, ctx),
            #[cfg(feature = "identity")]
            Input::Identified(customer, answer) => {
                self.identified(&customer, answer, &mut out, ctx)
            }
            #[cfg(not(feature = "identity"))]
            Input::Identify(_) | Input::Identified(..) => {}
        }
        out
    }

    /// Everything kept about the shopper, for `dangol.export()`, with the
    /// profile as storage keeps it: `profile` is its text, which
    /// [`Profile::text_to_value`] turns into JSON (the third module's
    /// work; the first carries no JSON writer of the profile).
    pub fn export(&self) -> Map {
        let mut out = Map::new();
        let mut consent = Map::new();
        consent.set(
            "personalisation",
            self.purposes.personalisation.as_str().into(),
        );
        consent.set("measurement", self.purposes.measurement.as_str().into());
        out.set("consent", Value::Object(consent));
        out.set("id", self.id.as_deref().map_or(Value::Null, Value::from));
        out.set("profile", self.profile.to_text().into());
        #[cfg(feature = "identity")]
        out.set(
            "customer",
            self.linked.as_deref().map_or(Value::Null, Value::from),
        );
        #[cfg(feature = "identity")]
        out.set(
            "other_devices",
            self.remote
                .as_ref()
                .map_or(Value::Null, |(p, _)| p.to_value()),
        );
        out.set("declared", Value::Object(self.declared.clone()));
        let pending = self.outbox.events().to_vec();
        out.set("unsent_events", Value::Array(pending));
        out
    }

    // --- consent -------------------------------------------------------

    /// Changes what a source says and carries out what follows: a grant
    /// stores what it allows at once; a withdrawal deletes what it no
    /// longer allows at once.
    fn change(&mut self, out: &mut Vec<Effect>, ctx: &mut Ctx, signals: Signals) {
        self.change_with(out, ctx, signals, false);
    }

    /// [`Session::change`]; `at_start` when the signals are what storage
    /// held at the page's start: what was just read is not written back,
    /// unless storage had lost the id or its erase key.
    fn change_with(
        &mut self,
        out: &mut Vec<Effect>,
        ctx: &mut Ctx,
        signals: Signals,
        at_start: bool,
    ) {
        // The same answer again (a shop that calls `grant()` on every page,
        // a consent manager that repeats itself) changes nothing: nothing
        // is written again.
        if signals == self.signals {
            return;
        }
        self.signals = signals;
        let before = self.purposes;
        let after = resolve(&self.signals);
        self.purposes = after;
        // 1. Measurement: denied drops this page's events; any loss of
        //    consent removes every page's stored outbox.
        if after.measurement.must_discard() {
            self.outbox = Outbox::default();
            self.in_flight = None;
        }
        if before.measurement.may_send() && !after.measurement.may_send() {
            self.in_flight = None;
            out.push(Effect::RemoveOutboxes);
        }
        // 2. Personalisation: a withdrawal drops the profile, declared
        //    attributes and the cached config, here and in storage.
        if before.personalisation.may_store() && !after.personalisation.may_store() {
            self.profile = Profile::default();
            self.declared = Map::new();
            self.config = None;
            #[cfg(feature = "identity")]
            {
                self.remote = None;
                self.merged = None;
            }
            for key in [
                Key::Profile,
                Key::Declared,
                Key::Config,
                Key::Etag,
                Key::Remote,
            ] {
                out.push(Effect::Remove(key));
            }
        }
        if after.personalisation.must_discard() {
            self.pending.clear();
            self.stored.profile = None;
            self.stored.declared = None;
            self.stored.config = None;
            self.stored.remote = None;
        }
        // 3. The id: kept while anything may be stored; dropped (and the
        //    server's copy erased) when nothing may.
        if after.may_store_anything() {
            // At start, storage that lost the id or its key gets everything again.
            let lost = self.stored.id.is_none() || self.stored.key.is_none();
            // Later (a consent manager answering on a returning shopper's
            // page), what is taken from storage now is there already and is
            // not written again: the id and its key, and the config and
            // declared attributes unless this page brought its own.
            let held = Held {
                id: !lost && self.id.is_none(),
                config: self.config.is_none() && self.stored.config.is_some(),
                declared: self.declared.is_empty() && self.stored.declared.is_some(),
            };
            self.take_id(ctx);
            let restored = before.personalisation != after.personalisation
                && after.personalisation.may_store();
            if restored {
                self.restore(out, ctx);
            }
            if at_start && lost {
                self.persist(out, ctx.now_ms, Held::default());
            } else if !at_start {
                let held = Held {
                    config: held.config && restored,
                    declared: held.declared && restored,
                    ..held
                };
                self.persist(out, ctx.now_ms, held);
            }
            #[cfg(feature = "identity")]
            self.link(out, ctx.now_ms);
        } else {
            // Only a definite no to both purposes erases: an unanswered
            // purpose (a consent manager that has not answered yet, Global
            // Privacy Control alone) keeps what storage holds for later.
            let refused = after.personalisation.must_discard() && after.measurement.must_discard();
            if refused || before.may_store_anything() {
                let id = self.id.take().or(self.stored.id.take());
                let key = self.key.take().or(self.stored.key.take());
                if refused && let (Some(id), Some(key)) = (id, key) {
                    out.push(Effect::Erase { id, key });
                }
                self.clear_all();
                out.push(Effect::Wipe);
            }
        }
        // 4. Measurement allowed (a stored choice at start, a grant, a
        //    consent manager's answer): the outboxes of pages that are gone
        //    (a reload, a closed tab) are looked for at once, then every
        //    `ADOPT_EVERY_MS` on the tick.
        if !before.measurement.may_send() && after.measurement.may_send() {
            self.adopt_ms = ctx.now_ms;
            out.push(Effect::ReadOutboxes);
        }
    }

    /// The id and key: this page's, else the stored ones, else new.
    fn take_id(&mut self, ctx: &mut Ctx) {
        if self.id.is_none() {
            self.id = self.stored.id.take().or_else(|| Some((ctx.fresh)()));
            self.key = None;
            #[cfg(feature = "identity")]
            {
                self.linked = self.stored.customer.take();
            }
        }
        if self.key.is_none() {
            self.key = self.stored.key.take().or_else(|| Some((ctx.fresh)()));
        }
    }

    /// Personalisation is allowed: the stored profile, declared attributes
    /// and config come back, with this page's inputs replayed on top. A
    /// profile an earlier widget stored as JSON stays stored, with this
    /// page's inputs, until the third module has rewritten it.
    fn restore(&mut self, out: &mut Vec<Effect>, ctx: &mut Ctx) {
        match self.stored.profile.take() {
            Some(text) if text.starts_with('{') => {
                out.push(Effect::Upgrade(text.clone()));
                self.stored.profile = Some(text);
            }
            stored => {
                if let Some(profile) = stored.as_deref().and_then(Profile::from_text) {
                    self.profile = profile;
                    for (input, at) in std::mem::take(&mut self.pending) {
                        self.profile.apply(
                            &input,
                            &self.profile_config,
                            at,
                            ctx.utc_offset_minutes,
                        );
                    }
                }
                self.pending.clear();
            }
        }
        if let Some(Value::Object(stored)) = self.stored.declared.take() {
            // What this page declared wins over what was stored.
            let mut merged = stored;
            merged.extend(std::mem::take(&mut self.declared));
            self.declared = merged;
        }
        if self.config.is_none() {
            self.config = self.stored.config.take();
        }
        #[cfg(feature = "identity")]
        if let Some(stored) = self.stored.remote.take()
            && let (Some(at), Some(Ok(profile))) = (
                stored.get("at").and_then(Value::as_i64),
                stored.get("profile").map(Profile::from_value),
            )
        {
            self.remote = Some((profile, at));
        }
        #[cfg(feature = "identity")]
        self.remerge(ctx.now_ms);
    }

    /// After a grant: everything consent now allows goes to storage, but
    /// for what storage `held` already, as it is.
    fn persist(&mut self, out: &mut Vec<Effect>, now_ms: i64, held: Held) {
        // The id before the choice: another tab that hears of the choice
        // finds the id already there and takes it rather than making one.
        if let (Some(id), Some(key), false) = (&self.id, &self.key, held.id) {
            out.push(Effect::Store(Key::Id, id.clone()));
            out.push(Effect::Store(Key::EraseKey, key.clone()));
        }
        if let Some(own) = self.signals.own {
            out.push(Effect::Store(Key::Consent, own.encode()));
        }
        self.save_outbox(out, now_ms);
        if !held.config {
            self.save_config(out);
        }
        self.save_profile(out);
        if !held.declared {
            self.save_declared(out);
        }
    }

    fn forget(&mut self, out: &mut Vec<Effect>) {
        let id = self.id.take().or(self.stored.id.take());
        let key = self.key.take().or(self.stored.key.take());
        if let (Some(id), Some(key)) = (id, key) {
            out.push(Effect::Erase { id, key });
        }
        self.signals.own = Some(Purposes::both(Consent::Denied));
        self.purposes = resolve(&self.signals);
        self.clear_all();
        out.push(Effect::Wipe);
    }

    fn clear_all(&mut self) {
        self.stored = Stored::default();
        self.outbox = Outbox::default();
        self.in_flight = None;
        self.profile = Profile::default();
        self.pending.clear();
        self.declared = Map::new();
        self.config = None;
        #[cfg(feature = "identity")]
        {
            self.identity = None;
            self.linked = None;
            self.remote = None;
            self.merged = None;
        }
    }

    // --- another tab ----------------------------------------------------

    fn storage_changed(
        &mut self,
        key: Option<Key>,
        value: Option<String>,
        out: &mut Vec<Effect>,
        ctx: &mut Ctx,
    ) {
        match (key, value) {
            // The id went (a withdrawal or `forget()` in another tab, or the
            // page cleared storage): this page stops at once, and takes back
            // what it may have written since.
            (None, _) | (Some(Key::Id), None) => {
                if self.id.is_none() && self.stored.id.is_none() {
                    return;
                }
                self.id = None;
                self.key = None;
                self.signals.own = Some(Purposes::both(Consent::Denied));
                self.purposes = resolve(&self.signals);
                self.clear_all();
                out.push(Effect::Remove(Key::Outbox(self.page.clone())));
                out.push(Effect::Remove(Key::Profile));
                out.push(Effect::Remove(Key::Declared));
            }
            // Another tab's choice is the shopper's choice here too.
            (Some(Key::Consent), Some(text)) => {
                let own = Purposes::decode(Some(&text));
                if self.signals.own != Some(own) {
                    let mut s = self.signals;
                    s.own = Some(own);
                    self.change(out, ctx, s);
                }
            }
            // A page the shopper left before its widget loaded kept their
            // consent actions: taken here at once, as another tab's choice.
            (Some(Key::Queued), Some(text)) => self.take_queued(&text, out, ctx),
            // Two tabs that granted at once agree on the last id written; a
            // tab that may not store yet keeps it for when it may.
            (Some(Key::Id), Some(id)) => {
                if !self.purposes.may_store_anything() {
                    self.stored.id = Some(id);
                } else if self.id.as_deref() != Some(id.as_str()) {
                    self.outbox.restamp(&id);
                    self.id = Some(id);
                }
            }
            (Some(Key::EraseKey), Some(key)) => {
                if self.purposes.may_store_anything() {
                    self.key = Some(key);
                } else {
                    self.stored.key = Some(key);
                }
            }
            _ => {}
        }
    }

    // --- identity ---------------------------------------------------------

    #[cfg(feature = "identity")]
    /// `identify(customer, proof)` remembers who signed in (this page only)
    /// and links the id once measurement allows; `identify(null)` after a
    /// sign-in starts this browser afresh: a new id, and none of the
    /// customer's profile, declared attributes or other devices left for
    /// whoever uses it next.
    fn identify(&mut self, who: Option<(String, String)>, out: &mut Vec<Effect>, ctx: &mut Ctx) {
        match who {
            Some((customer, proof)) => {
                let before = self.linked.as_ref().or(self.identify_sent.as_ref());
                if before.is_some_and(|c| *c != customer) {
                    // Someone else signed in on this browser (also while the
                    // link asked for the one before is still unanswered).
                    self.sign_out(out, ctx);
                }
                self.identity = Some((customer, proof));
                self.link(out, ctx.now_ms);
            }
            None => {
                self.identity = None;
                if self.linked.is_some() {
                    self.sign_out(out, ctx);
                }
            }
        }
    }

    #[cfg(feature = "identity")]
    fn sign_out(&mut self, out: &mut Vec<Effect>, ctx: &mut Ctx) {
        self.linked = None;
        self.remote = None;
        self.merged = None;
        self.profile = Profile::default();
        self.declared = Map::new();
        self.pending.clear();
        self.identify_sent = None;
        for key in [Key::Customer, Key::Remote, Key::Profile, Key::Declared] {
            out.push(Effect::Remove(key));
        }
        if self.purposes.may_store_anything() {
            self.id = Some((ctx.fresh)());
            self.key = Some((ctx.fresh)());
            self.outbox.restamp(self.id.as_deref().unwrap_or_default());
            self.persist(out, ctx.now_ms, Held::default());
        } else {
            self.id = None;
            self.key = None;
            self.stored = Stored::default();
        }
    }

    #[cfg(feature = "identity")]
    /// Asks the server to link the id to the signed-in customer, once per
    /// page, when measurement allows and the link is new or the other
    /// devices' profile is due again.
    fn link(&mut self, out: &mut Vec<Effect>, now_ms: i64) {
        let Some((customer, proof)) = &self.identity else {
            return;
        };
        if self.identify_sent.is_some() || !self.purposes.measurement.may_send() {
            return;
        }
        let (Some(id), Some(key)) = (&self.id, &self.key) else {
            return;
        };
        let profile = self.purposes.personalisation.may_store();
        let stale = self
            .remote
            .as_ref()
            .is_none_or(|(_, at)| now_ms - at >= REMOTE_FRESH_MS);
        if self.linked.as_ref() == Some(customer) && !(profile && stale) {
            return;
        }
        self.identify_sent = Some(customer.clone());
        out.push(Effect::Identify {
            id: id.clone(),
            key: key.clone(),
            customer: customer.clone(),
            proof: proof.clone(),
            profile,
        });
    }

    #[cfg(feature = "identity")]
    fn identified(
        &mut self,
        answered: &str,
        answer: Result<Option<Value>, bool>,
        out: &mut Vec<Effect>,
        ctx: &mut Ctx,
    ) {
        let Some((customer, _)) = &self.identity else {
            return; // signed out (or withdrawn) meanwhile
        };
        if customer != answered {
            return; // the answer for someone signed in before
        }
        if !self.purposes.measurement.may_send() {
            return;
        }
        let Ok(remote) = answer else {
            return;
        };
        if self.linked.as_ref() != Some(customer) {
            self.linked = Some(customer.clone());
            out.push(Effect::Store(Key::Customer, customer.clone()));
        }
        if self.purposes.personalisation.may_store()
            && let Some(value) = remote
            && let Ok(profile) = Profile::from_value(&value)
        {
            let mut stored = Map::new();
            stored.set("at", Value::from(ctx.now_ms));
            stored.set("profile", value);
            out.push(Effect::StoreJson(Key::Remote, Value::Object(stored)));
            self.remote = Some((profile, ctx.now_ms));
            self.remerge(ctx.now_ms);
        }
    }

    #[cfg(feature = "identity")]
    /// Works out again what decisions read.
    fn remerge(&mut self, now_ms: i64) {
        self.merged = self
            .remote
            .as_ref()
            .map(|(other, _)| self.profile.merged(other, &self.profile_config, now_ms));
    }

    // --- profile ----------------------------------------------------------

    fn apply_profile(&mut self, input: ProfileInput, out: &mut Vec<Effect>, ctx: &mut Ctx) {
        let now = ctx.now_ms;
        let change = self
            .profile
            .apply(&input, &self.profile_config, now, ctx.utc_offset_minutes);
        if self.stored.profile.is_some() && self.pending.len() < MAX_PENDING_INPUTS {
            self.pending.push((input, now));
        }
        if let Some(change) = change {
            let mut event = Event::page_view(event_id(ctx), now, String::new());
            event.kind = crate::cat::cat(&["stage_", change.to.name()]);
            self.record(event, out, ctx);
        }
        #[cfg(feature = "identity")]
        self.remerge(now);
    }

    /// A purchase converts the last offer seen within the attribution window.
    fn attribute_purchase(&mut self, value: f64, out: &mut Vec<Effect>, ctx: &mut Ctx) {
        let window = i64::from(self.attribution_hours) * 3_600_000;
        let Some((campaign, variant)) = self
            .profile
            .ledger
            .last_seen(ctx.now_ms, window)
            .map(|(c, v)| (c.to_string(), v.to_string()))
        else {
            return;
        };
        self.apply_profile(
            ProfileInput::Convert {
                campaign: campaign.clone(),
            },
            out,
            ctx,
        );
        let event = Event::exposure(
            event_id(ctx),
            ctx.now_ms,
            String::new(),
            &campaign,
            &variant,
        );
        self.record(
            Event {
                kind: "conversion".into(),
                price: Some(value),
                ..event
            },
            out,
            ctx,
        );
    }

    fn save_profile(&self, out: &mut Vec<Effect>) {
        if self.purposes.personalisation.may_store() && !self.upgrading() {
            out.push(Effect::Store(Key::Profile, self.profile.to_text()));
        }
    }

    fn save_declared(&self, out: &mut Vec<Effect>) {
        if self.purposes.personalisation.may_store() {
            out.push(Effect::StoreJson(
                Key::Declared,
                Value::Object(self.declared.clone()),
            ));
        }
    }

    fn save_config(&self, out: &mut Vec<Effect>) {
        if !self.purposes.personalisation.may_store() {
            return;
        }
        if let Some((text, etag)) = &self.config {
            out.push(Effect::Store(Key::Config, text.clone()));
            if let Some(tag) = etag {
                out.push(Effect::Store(Key::Etag, tag.clone()));
            }
        }
    }

    // --- outbox -------------------------------------------------------------

    fn record(&mut self, event: Event, out: &mut Vec<Effect>, ctx: &mut Ctx) {
        if self.purposes.measurement.must_discard() {
            return;
        }
        self.outbox.push(event);
        self.save_outbox(out, ctx.now_ms);
    }

    /// This page's outbox, stamped with the time so other pages can tell it
    /// is alive; an empty one is removed.
    fn save_outbox(&mut self, out: &mut Vec<Effect>, now_ms: i64) {
        if !self.purposes.measurement.may_send() {
            return;
        }
        let key = Key::Outbox(self.page.clone());
        self.saved_ms = now_ms;
        if self.outbox.is_empty() {
            out.push(Effect::Remove(key));
            return;
        }
        let mut value = self.outbox.to_value();
        value["t"] = Value::from(now_ms);
        out.push(Effect::StoreJson(key, value));
    }

    fn send(&mut self, out: &mut Vec<Effect>, now_ms: i64) {
        if !self.purposes.measurement.may_send() || !self.due(now_ms) {
            return;
        }
        let (Some(id), Some(key)) = (&self.id, &self.key) else {
            return;
        };
        self.outbox.stamp(id);
        let batch = self.outbox.batch();
        self.tickets = self.tickets.wrapping_add(1);
        out.push(Effect::Send {
            ticket: self.tickets,
            body: batch.to_value(),
            key: key.clone(),
        });
        self.in_flight = Some((self.tickets, batch));
    }

    fn sent(&mut self, ticket: u32, outcome: Outcome, out: &mut Vec<Effect>, ctx: &mut Ctx) {
        // An answer to a batch of before a withdrawal or `forget()` changes
        // nothing.
        let Some((current, batch)) = self.in_flight.take() else {
            return;
        };
        if current != ticket {
            self.in_flight = Some((current, batch));
            return;
        }
        match outcome {
            Outcome::Delivered => self.outbox.delivered(&batch),
            Outcome::Refused => self.outbox.refused(&batch),
            Outcome::Failed(retry_after) => {
                self.outbox.failed(ctx.now_ms, retry_after, ctx.jitter);
            }
            Outcome::Skipped => return,
        }
        self.save_outbox(out, ctx.now_ms);
        if outcome == Outcome::Delivered {
            self.send(out, ctx.now_ms);
        }
    }

    /// Takes in the outboxes of pages that are gone (a reload, a closed
    /// tab), so their events are sent from here. Two pages adopting the same
    /// one at once send its events twice, which the server's ids make
    /// harmless.
    fn adopt(&mut self, list: Vec<(String, Option<Value>)>, out: &mut Vec<Effect>, now_ms: i64) {
        if !self.purposes.measurement.may_send() {
            return;
        }
        let mut adopted = false;
        for (page, value) in list {
            if page == self.page {
                continue;
            }
            if let Some(value) = &value {
                if now_ms - value["t"].as_i64().unwrap_or(0) < ORPHAN_MS {
                    continue;
                }
                let mut other = Outbox::from_value(value);
                // Events of another id (one since erased) are not ours to send.
                if let Some(id) = &self.id {
                    other.retain_id(id);
                }
                self.outbox.adopt(other);
                adopted = true;
            }
            out.push(Effect::Remove(Key::Outbox(page)));
        }
        if adopted {
            self.save_outbox(out, now_ms);
        }
    }
}

fn event_id(ctx: &mut Ctx) -> String {
    let mut id = (ctx.fresh)();
    id.truncate(24);
    crate::cat::cat(&["e", &id])
}

/// The length of `value` as compact JSON, without a serializer: strings
/// count their escapes, numbers their digits (a fraction counts as 24).
pub fn json_len(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => digits(u),
            (None, Some(i)) => 1 + digits(i.unsigned_abs()),
            _ => 24,
        },
        Value::String(s) => string_len(s),
        Value::Array(items) => {
            2 + items.iter().map(json_len).sum::<usize>() + items.len().saturating_sub(1)
        }
        Value::Object(map) => object_len(map),
    }
}

/// [`json_len`] of an object.
fn object_len(map: &Map) -> usize {
    2 + map
        .iter()
        .map(|(k, v)| string_len(k) + 1 + json_len(v))
        .sum::<usize>()
        + map.len().saturating_sub(1)
}

fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn string_len(s: &str) -> usize {
    2 + s
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum::<usize>()
}
