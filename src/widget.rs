//! The widget's state and its page lifecycle: read consent and cache, fetch
//! the config, decide for every slot, render, and send what consent allows.

use std::cell::RefCell;
use std::rc::Rc;

use dangol_engine::attributes::{self, Facts};
use dangol_engine::config::{CompiledConfig, SiteConfig, is_identifier};
use dangol_engine::consent::Consent;
use dangol_engine::decide::{Decision, Shopper, decide_page};
use dangol_engine::event::{Event, MAX_BATCH};
use dangol_engine::ledger::Ledger;
use dangol_engine::random::SplitMix64;
use dangol_engine::time::Moment;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::platform::log::{Problem, warn_once};
use crate::platform::net::{self, Fetched};
use crate::platform::regex::BrowserRegex;
use crate::platform::storage::SiteStorage;
use crate::platform::{clock, dom, json, random};
use crate::render;

/// How long a request may take before it counts as failed.
const TIMEOUT_MS: u32 = 8_000;

/// Storage keys (namespaced per site by [`SiteStorage`]).
const KEY_CONSENT: &str = "consent";
const KEY_ID: &str = "id";
const KEY_CONFIG: &str = "config";
const KEY_ETAG: &str = "etag";
const KEY_LEDGER: &str = "ledger";

/// A running widget. Returned by `start`; `window.dangol` delegates to it.
#[wasm_bindgen]
pub struct Widget {
    inner: Rc<RefCell<Inner>>,
}

struct Inner {
    site: String,
    endpoint: String,
    consent: Consent,
    storage: Option<SiteStorage>,
    anon: Option<String>,
    /// The raw config text and ETag, kept to cache once consent allows.
    config_text: Option<(String, Option<String>)>,
    config: Option<CompiledConfig>,
    ledger: Ledger,
    decisions: Vec<Decision>,
    rendered: bool,
    /// Events made on this page and not yet accepted by the server. Before
    /// consent they exist only here, in memory; without consent they are
    /// never sent and are dropped on denial.
    pending: Vec<Event>,
    sending: bool,
}

impl Widget {
    pub(crate) fn start(site: String, endpoint: String) -> Widget {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let inner = Rc::new(RefCell::new(Inner {
            site,
            endpoint,
            consent: Consent::Unknown,
            storage: None,
            anon: None,
            config_text: None,
            config: None,
            ledger: Ledger::default(),
            decisions: Vec::new(),
            rendered: false,
            pending: Vec::new(),
            sending: false,
        }));
        let widget = Widget { inner };
        if let Err(problem) = widget.check_setup() {
            warn_once(
                Problem::Setup,
                &format!("{problem}; the widget stays off and the page is unaffected"),
            );
            return widget;
        }
        let inner = widget.inner.clone();
        spawn_local(async move { boot(inner).await });
        widget
    }

    fn check_setup(&self) -> Result<(), String> {
        let inner = self.inner.borrow();
        if !is_identifier(&inner.site) {
            return Err(format!(
                "the script tag's data-site `{}` is not a site id",
                inner.site
            ));
        }
        if !(inner.endpoint.starts_with("https://") || inner.endpoint.starts_with("http://")) {
            return Err(format!(
                "the endpoint `{}` is not an http(s) URL",
                inner.endpoint
            ));
        }
        Ok(())
    }
}

#[wasm_bindgen]
impl Widget {
    /// The shopper accepted personalisation and measurement: from now on the
    /// profile is kept in first-party storage and events are sent.
    ///
    /// ```js
    /// dangol.consent.grant();
    /// ```
    pub fn grant(&self) {
        {
            let mut inner = self.inner.borrow_mut();
            if inner.consent == Consent::Granted {
                return;
            }
            inner.consent = Consent::Granted;
            inner.persist_consent();
        }
        flush(self.inner.clone());
    }

    /// The shopper refused or withdrew consent: everything kept locally and
    /// every unsent event is wiped.
    ///
    /// ```js
    /// dangol.consent.deny();
    /// ```
    pub fn deny(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.consent = Consent::Denied;
        inner.pending.clear();
        inner.anon = None;
        inner.ledger = Ledger::default();
        if let Some(storage) = &inner.storage
            && let Err(e) = storage.clear()
        {
            warn_once(
                Problem::Storage,
                &format!("could not wipe localStorage: {e}"),
            );
        }
    }

    /// `"unknown"`, `"granted"` or `"denied"`.
    ///
    /// ```js
    /// if (dangol.consent.status() === "unknown") showConsentBar();
    /// ```
    #[wasm_bindgen(js_name = consentStatus)]
    pub fn consent_status(&self) -> String {
        self.inner.borrow().consent.as_str().to_string()
    }

    /// The decisions made on this page with their reasons ("why this offer?").
    ///
    /// ```js
    /// for (const d of dangol.decisions()) console.log(d.placement, d.reasons);
    /// ```
    pub fn decisions(&self) -> JsValue {
        let list = self
            .inner
            .borrow()
            .decisions
            .iter()
            .map(Decision::to_value)
            .collect();
        json::to_js(&serde_json::Value::Array(list))
    }
}

impl Inner {
    fn config_url(&self) -> String {
        format!("{}/v1/sites/{}/config", self.endpoint, self.site)
    }

    fn events_url(&self) -> String {
        format!("{}/v1/sites/{}/events", self.endpoint, self.site)
    }

    /// Writes to storage only when consent allows; reports a failure once.
    fn store(&self, key: &str, value: &str) {
        if !self.consent.may_store() {
            return;
        }
        if let Some(storage) = &self.storage
            && let Err(e) = storage.set(key, value)
        {
            warn_once(
                Problem::Storage,
                &format!(
                    "could not write to localStorage ({e}); nothing will be remembered between pages"
                ),
            );
        }
    }

    /// After consent: the consent itself, the pseudonymous id and the config.
    fn persist_consent(&mut self) {
        let anon = match self.anon.clone() {
            Some(id) => id,
            None => {
                let id = random::hex_id(16).unwrap_or_default();
                self.anon = Some(id.clone());
                id
            }
        };
        self.store(KEY_CONSENT, Consent::Granted.as_str());
        self.store(KEY_ID, &anon);
        if let Some((text, etag)) = self.config_text.clone() {
            self.cache_config(&text, etag.as_deref());
        }
        self.save_ledger();
    }

    fn save_ledger(&self) {
        if let Ok(text) = js_sys::JSON::stringify(&json::to_js(&self.ledger.to_value())) {
            self.store(KEY_LEDGER, &String::from(text));
        }
    }

    fn load_ledger(&mut self) {
        let stored = self.storage.as_ref().and_then(|s| s.get(KEY_LEDGER));
        if let Some(value) = stored.and_then(|t| js_sys::JSON::parse(&t).ok()) {
            self.ledger = Ledger::from_value(&json::from_js(&value));
        }
    }

    fn cache_config(&self, text: &str, etag: Option<&str>) {
        self.store(KEY_CONFIG, text);
        if let Some(tag) = etag {
            self.store(KEY_ETAG, tag);
        }
    }

    fn new_event_id() -> String {
        format!("e{}", random::hex_id(12).unwrap_or_default())
    }

    fn record(&mut self, event: Event) {
        if !self.consent.must_discard() {
            self.pending.push(event);
        }
    }

    /// Decides for every slot and renders the winners.
    fn apply(&mut self, config: CompiledConfig) {
        let now = clock::now_ms();
        let moment = Moment {
            now_ms: now,
            utc_offset_minutes: clock::utc_offset_minutes(),
            // Sessions come with the profile; until then a page is a session.
            session_start_ms: now,
        };
        let attributes = attributes::build(
            &dom::page_context(),
            &Facts::default(),
            &serde_json::Map::new(),
            self.consent,
            &moment,
        );
        let slots = dom::slots();
        let placements: Vec<&str> = slots.iter().map(|(p, _)| p.as_str()).collect();
        let seed = random::hex_id(8)
            .and_then(|h| u64::from_str_radix(&h, 16).ok())
            .unwrap_or(now as u64);
        let shopper = Shopper {
            attributes: &attributes,
            id: self.anon.as_deref().filter(|_| self.consent.may_store()),
            consent: self.consent,
            ledger: &self.ledger,
        };
        let decisions = decide_page(
            &config,
            &placements,
            &shopper,
            &moment,
            &mut SplitMix64::new(seed),
            &BrowserRegex,
        );
        for (decision, (placement, slot)) in decisions.iter().zip(&slots) {
            for campaign in &decision.held_out {
                self.record(Event::holdout(
                    Self::new_event_id(),
                    now,
                    String::new(),
                    campaign,
                ));
            }
            let Some(chosen) = decision.chosen() else {
                continue;
            };
            match render::render(slot, &chosen.content, &chosen.campaign_id) {
                Ok(()) => {
                    self.ledger.record_show(&chosen.campaign_id, now);
                    let event = Event::exposure(
                        Self::new_event_id(),
                        now,
                        String::new(),
                        &chosen.campaign_id,
                        &chosen.variant_id,
                    );
                    self.record(event);
                }
                Err(e) => warn_once(
                    Problem::Render,
                    &format!("could not render into slot `{placement}`: {e}"),
                ),
            }
        }
        self.save_ledger();
        self.decisions = decisions;
        self.config = Some(config);
        self.rendered = true;
    }
}

/// Parses config text with the browser's JSON parser and checks it.
fn parse_config(text: &str, site: &str) -> Result<CompiledConfig, String> {
    let value = js_sys::JSON::parse(text).map_err(|e| crate::platform::describe(&e))?;
    let config = SiteConfig::compile_value(&json::from_js(&value), &BrowserRegex)
        .map_err(|e| e.to_string())?;
    if config.config().site != site {
        return Err(format!(
            "it is for site `{}`, not `{site}`",
            config.config().site
        ));
    }
    Ok(config)
}

/// Campaigns the config had to skip: one warning naming them.
fn report_problems(url: &str, config: &CompiledConfig) {
    let problems = config.problems();
    if problems.is_empty() {
        return;
    }
    let mut list = String::new();
    for (i, problem) in problems.iter().enumerate() {
        if i > 0 {
            list.push_str("; ");
        }
        list.push_str(&problem.to_string());
    }
    warn_once(
        Problem::ConfigInvalid,
        &format!(
            "the config from {url} has {} campaign(s) that cannot be used and are skipped: {list}",
            problems.len()
        ),
    );
}

/// The page lifecycle, run once after `start`.
async fn boot(cell: Rc<RefCell<Inner>>) {
    // 1. Storage and consent. Reading is allowed before consent; writing is not.
    let (url, cached_etag) = {
        let mut inner = cell.borrow_mut();
        match SiteStorage::open(&inner.site) {
            Ok(storage) => inner.storage = Some(storage),
            Err(e) => warn_once(
                Problem::Storage,
                &format!(
                    "localStorage is unavailable ({e}); offers still show, but nothing is remembered between pages"
                ),
            ),
        }
        let stored = inner.storage.as_ref().and_then(|s| s.get(KEY_CONSENT));
        inner.consent = Consent::parse(stored.as_deref());
        let mut etag = None;
        if inner.consent == Consent::Granted {
            inner.anon = inner.storage.as_ref().and_then(|s| s.get(KEY_ID));
            inner.load_ledger();
            inner.persist_consent();
            // 2. A cached config decides at once: no network round-trip, no flicker.
            let cached = inner.storage.as_ref().and_then(|s| s.get(KEY_CONFIG));
            if let Some(text) = cached
                && let Ok(config) = parse_config(&text, &inner.site)
            {
                etag = inner.storage.as_ref().and_then(|s| s.get(KEY_ETAG));
                inner.config_text = Some((text, etag.clone()));
                inner.apply(config);
            }
        }
        let page_view = Event::page_view(Inner::new_event_id(), clock::now_ms(), String::new());
        inner.pending.insert(0, page_view);
        (inner.config_url(), etag)
    };

    // 3. Fetch (or revalidate) the config. A new config applies to this page
    //    only if nothing was rendered yet: never swap what the shopper sees.
    match net::get_config(&url, cached_etag.as_deref(), TIMEOUT_MS).await {
        Ok(Fetched::NotModified) => {}
        Ok(Fetched::Body { text, etag }) => {
            let mut inner = cell.borrow_mut();
            match parse_config(&text, &inner.site) {
                Ok(config) => {
                    report_problems(&url, &config);
                    inner.cache_config(&text, etag.as_deref());
                    inner.config_text = Some((text, etag));
                    if !inner.rendered {
                        inner.apply(config);
                    }
                }
                Err(e) => warn_once(
                    Problem::ConfigInvalid,
                    &format!(
                        "the config from {url} is malformed ({e}); the page keeps its own content"
                    ),
                ),
            }
        }
        Err(e) => warn_once(
            Problem::ConfigFetch,
            &format!("could not fetch the config from {url} ({e}); the page keeps its own content"),
        ),
    }

    // 4. Send what consent allows.
    flush(cell);
}

/// Sends pending events if consent allows; failed batches stay pending.
fn flush(cell: Rc<RefCell<Inner>>) {
    let (url, body, count) = {
        let mut inner = cell.borrow_mut();
        if !inner.consent.may_send() || inner.sending || inner.pending.is_empty() {
            return;
        }
        let Some(anon) = inner.anon.clone() else {
            return;
        };
        let count = inner.pending.len().min(MAX_BATCH);
        for event in inner.pending.iter_mut().take(count) {
            if event.anon.is_empty() {
                event.anon = anon.clone();
            }
        }
        let events = inner.pending[..count].iter().map(Event::to_value).collect();
        let mut batch = serde_json::Map::new();
        batch.insert("events".to_string(), serde_json::Value::Array(events));
        let Ok(body) = js_sys::JSON::stringify(&json::to_js(&serde_json::Value::Object(batch)))
        else {
            return;
        };
        inner.sending = true;
        (inner.events_url(), String::from(body), count)
    };
    spawn_local(async move {
        let result = net::post_json(&url, &body, TIMEOUT_MS).await;
        let more = {
            let mut inner = cell.borrow_mut();
            inner.sending = false;
            match result {
                Ok(status) if (200..300).contains(&status) => {
                    let n = count.min(inner.pending.len());
                    inner.pending.drain(..n);
                    !inner.pending.is_empty()
                }
                Ok(status) if (400..500).contains(&status) && status != 429 => {
                    // The server refused the batch itself: retrying cannot help.
                    let n = count.min(inner.pending.len());
                    inner.pending.drain(..n);
                    warn_once(
                        Problem::Send,
                        &format!("the server refused events (HTTP {status})"),
                    );
                    false
                }
                Ok(status) => {
                    warn_once(
                        Problem::Send,
                        &format!("could not send events (HTTP {status}); they stay queued"),
                    );
                    false
                }
                Err(e) => {
                    warn_once(
                        Problem::Send,
                        &format!("could not send events ({e}); they stay queued"),
                    );
                    false
                }
            }
        };
        if more {
            flush(cell);
        }
    });
}
