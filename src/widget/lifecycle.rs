//! The page lifecycle: read consent and the cached config, fetch the
//! config, decide and render, and send what consent allows.

use dangol_engine::config::{CompiledConfig, compact, trust};
use dangol_engine::event::Event;
use dangol_engine::profile::Input as ProfileInput;
use dangol_engine::session::{Input, Key, Session};
use wasm_bindgen::JsValue;

use super::effects::read_stored;
use super::kept::Kept;
use super::pending::Pending;
use super::state::{Cell, Inner, Phase, with_ctx};
use super::sync::flush;
use crate::platform::host::Reply;
use crate::platform::log::{Problem, warn_once};
use crate::platform::regex::BrowserRegex;
use crate::platform::storage::SiteStorage;
use crate::platform::{clock, consent, dom};

impl Inner {
    /// The session uses `config`'s profile settings and attribution window.
    pub fn configure(&mut self, config: &CompiledConfig) {
        let c = config.config();
        self.session
            .configure(c.profile.clone(), c.attribution_hours);
    }
}

/// Reads the compact config the server published (checked and compiled
/// there) and makes sure it is this site's.
pub(crate) fn parse_config(text: &str, site: &str) -> Result<Kept, String> {
    let config = compact::read_as(text, &BrowserRegex, Kept::new).map_err(|e| e.message())?;
    if config.config().site != site {
        return Err(dangol_engine::cat::cat(&[
            "it is for site `",
            &config.config().site,
            "`, not `",
            site,
            "`",
        ]));
    }
    Ok(config)
}

/// How long the first decision waits for a consent manager to answer.
const CMP_WAIT_MS: u32 = 600;

/// The consent manager answered, waiting for it ran out, or the stored
/// profile was upgraded: the first decision, if it was waiting and nothing
/// else holds it.
pub(super) fn decide_when_ready(cell: Cell) {
    let Ok(mut inner) = cell.try_borrow_mut() else {
        return;
    };
    if inner.phase != Phase::Held || inner.session.upgrading() {
        return;
    }
    inner.phase = Phase::Waiting;
    if let Some(config) = inner.config.take() {
        inner.apply(config);
    }
}

/// The page lifecycle, started by `start`. Everything local happens at
/// once, before `start` returns, so calls the page queued before the widget
/// loaded see the stored profile; only the network waits.
pub(crate) fn boot(cell: Cell) {
    // 1. Storage and consent: the session reads what storage holds and uses
    //    it only as consent allows. Other tabs' changes reach it at once.
    {
        let mut inner = cell.borrow_mut();
        match inner.host.as_ref().map(SiteStorage::open) {
            Some(Ok(storage)) => inner.storage = Some(storage),
            None => {}
            Some(Err(e)) => warn_once(
                Problem::Storage,
                &dangol_engine::cat::cat(&[
                    "localStorage is unavailable (",
                    &e,
                    "); offers still show, but nothing is remembered between pages",
                ]),
            ),
        }
        let page = dom::page(inner.host.as_ref());
        inner.page = page.context;
        inner.page_lang = page.lang;
        if !page.hidden {
            inner.watched.visibility(true, clock::now_ms());
        }
        let stored = read_stored(inner.storage.as_ref());
        let id = inner.fresh_id();
        let (session, effects) = with_ctx(inner.host.as_ref(), |ctx| {
            Session::start(id, stored, page.gpc, ctx)
        });
        inner.session = session;
        inner.carry_out(effects);
    }
    // The page's signals (reported to `super::watch`): engaged time into
    // the profile, scroll depth, exit intent, input and time for triggers,
    // clicks on tracked elements, slots a single-page app adds later, other
    // tabs' storage changes, and events flushed when the page is hidden or
    // left (fetch keepalive survives the unload). The loader added the
    // listeners before this page read storage; the tick and the observer
    // of added slots start now.
    if let Some(host) = &cell.borrow().host {
        host.watch();
    }
    // 2. A TCF consent manager that has answered already answers now,
    //    before the first decision; its later answers come as page signals.
    let tcf = cell.borrow().host.as_ref().map(|host| host.tcf());
    let cmp_present = tcf.as_ref().is_some_and(|answer| answer.is_truthy());
    if let Some(answer) = tcf.filter(|a| a.is_object()) {
        tcf_answered(cell, &answer);
    }
    // A returning shopper kept under a consent manager that has not answered
    // yet: the first decision waits for it (the slots keep their own
    // content meanwhile), at most `CMP_WAIT_MS`.
    {
        let mut inner = cell.borrow_mut();
        if inner.session.awaits_consent_manager(cmp_present)
            && inner.ask(Pending::CmpWait, |host, id| host.later(id, CMP_WAIT_MS))
        {
            inner.phase = Phase::Held;
        }
    }
    let (url, cached_etag) = {
        let mut inner = cell.borrow_mut();
        // 3. A cached config (kept only with personalisation consent)
        //    decides at once: no round-trip, no flicker.
        let mut etag = None;
        if let Some((text, tag)) = inner.session.cached_config().cloned()
            && let Ok(config) = parse_config(&text, &inner.site)
        {
            etag = tag;
            inner.held = Some((config.config().version, config.lineage().to_string()));
            inner.configure(&config);
            inner.config = Some(config);
        }
        // 4. This page view, in memory (and in storage with consent).
        let page_view = Event::page_view(inner.new_event_id(), clock::now_ms(), String::new());
        inner.record(page_view);
        let view = Input::Profile(ProfileInput::PageView {
            category: inner.page.category.clone(),
            sale: inner.page.page_type.as_deref() == Some("sale"),
        });
        inner.input(view);
        if inner.phase == Phase::Waiting
            && let Some(config) = inner.config.take()
        {
            inner.apply(config);
        }
        (inner.config_url(), etag)
    };
    fetch_config(cell, url, cached_etag);
}

/// The TCF consent manager answered (the first time, or a change of mind).
pub(super) fn tcf_answered(cell: Cell, tc_data: &JsValue) {
    let Some(purposes) = consent::purposes_from(tc_data) else {
        return;
    };
    cell.borrow_mut().input(Input::Tcf(purposes));
    decide_when_ready(cell);
    flush(cell);
}

/// Another tab of this site changed a stored key (`name`, `None` when
/// `localStorage.clear()` took every key) to `value` (a withdrawal,
/// `forget()`, a grant): the session decides what follows.
pub(super) fn other_tab(inner: &mut Inner, name: Option<String>, value: Option<String>) {
    let key = match name {
        None => None,
        Some(name) => {
            let prefix = dangol_engine::cat::cat(&["dangol:", &inner.site, ":"]);
            match name.strip_prefix(&prefix).and_then(Key::parse) {
                Some(key) => Some(key),
                None => return, // another site's key, or not ours
            }
        }
    };
    inner.input(Input::StorageChanged(key, value));
}

/// Fetches (or revalidates) the config; without a host (no loader), the
/// page goes on with what it has.
fn fetch_config(cell: Cell, url: String, etag: Option<String>) {
    let etag = etag.unwrap_or_default();
    let asked = cell
        .borrow_mut()
        .ask(Pending::Config(url.clone()), |host, id| {
            host.req(id, "GET", &url, "", "", &etag, "")
        });
    if !asked {
        after_config(cell);
    }
}

/// The config request's answer. A new config applies to this page only if
/// nothing was rendered yet: never swap what the shopper sees.
pub(super) fn config_answered(cell: Cell, url: &str, reply: Reply) {
    if cell.borrow().phase == Phase::Off {
        return; // destroyed while the config loaded: add nothing to the page
    }
    match reply {
        Reply::Http { status: 304, .. } => {}
        Reply::Http {
            status: 200,
            body,
            etag,
            signature,
            ..
        } => {
            let key = cell.borrow().public_key.clone();
            match trust::to_check(key.as_deref(), signature.as_deref()) {
                Ok(Some((key, signature))) => {
                    let text = body.clone();
                    let pending = Pending::Verify {
                        url: url.to_string(),
                        text: body,
                        etag,
                    };
                    cell.borrow_mut()
                        .ask(pending, |host, id| host.verify(id, key, signature, &text));
                }
                Ok(None) => config_body(cell, url, body, etag),
                Err(refused) => {
                    warn_once(Problem::ConfigInvalid, &refused.message(url));
                    flush(cell);
                }
            }
            return;
        }
        Reply::Http { status, .. } => warn_once(
            Problem::ConfigFetch,
            &dangol_engine::cat::cat(&[
                "could not fetch the config from ",
                url,
                " (HTTP ",
                &dangol_engine::cat::uint(u64::from(status)),
                "); the page keeps its own content",
            ]),
        ),
        Reply::Busy | Reply::Failed(_) => warn_once(
            Problem::ConfigFetch,
            &dangol_engine::cat::cat(&[
                "could not fetch the config from ",
                url,
                " (",
                match &reply {
                    Reply::Failed(e) => e,
                    _ => "no answer",
                },
                "); the page keeps its own content",
            ]),
        ),
    }
    after_config(cell);
}

/// The signature check's answer (`1` signed, `0` not, `2` this browser
/// cannot check Ed25519 and trusts HTTPS alone, or an error).
pub(super) fn verified(
    cell: Cell,
    url: &str,
    text: String,
    etag: Option<String>,
    answer: &JsValue,
) {
    let error = answer.as_string();
    match trust::check(answer.as_f64().ok_or(error.as_deref().unwrap_or_default())) {
        Ok(()) => return config_body(cell, url, text, etag),
        Err(refused) => warn_once(Problem::ConfigInvalid, &refused.message(url)),
    }
    flush(cell);
}

/// A fetched config (signed, where the script tag asks for that): kept for
/// the next page, and decided with in a task of its own, so the page's
/// input and paint can run between reading it and rendering.
fn config_body(cell: Cell, url: &str, text: String, etag: Option<String>) {
    let parsed = {
        let inner = cell.borrow();
        if inner.phase == Phase::Off {
            return; // destroyed while the signature was checked
        }
        parse_config(&text, &inner.site)
    };
    match parsed {
        Ok(config)
            if let Err(refused) = trust::not_replayed(&config, cell.borrow().held.as_ref()) =>
        {
            warn_once(Problem::ConfigInvalid, &refused.message(url))
        }
        Ok(config) => {
            let mut inner = cell.borrow_mut();
            inner.input(Input::ConfigFetched(text, etag));
            if inner.host.is_none() {
                drop(inner);
                return decide_fetched(cell, config);
            }
            inner.ask(Pending::Decide(Box::new(config)), |host, id| {
                host.later(id, 0)
            });
            return;
        }
        Err(e) => warn_once(
            Problem::ConfigInvalid,
            &dangol_engine::cat::cat(&[
                "the config from ",
                url,
                " is malformed (",
                &e,
                "); the page keeps its own content",
            ]),
        ),
    }
    after_config(cell);
}

/// Decides with a fetched config, if the page has not decided yet.
pub(super) fn decide_fetched(cell: Cell, config: Kept) {
    {
        let mut inner = cell.borrow_mut();
        match inner.phase {
            Phase::Off => return,
            Phase::Waiting => {
                inner.configure(&config);
                inner.apply(config);
            }
            // Decided when the consent manager answers.
            Phase::Held => {
                inner.configure(&config);
                inner.config = Some(config);
            }
            // The next page's (stored already), and this page's at
            // `dangol.refresh()`.
            Phase::Decided => inner.newer = Some(config),
        }
    }
    after_config(cell);
}

/// Then: sending what consent allows.
fn after_config(cell: Cell) {
    flush(cell);
}

/// A single-page app changed its route: a new page view, and decisions for
/// slots the new route brought (slots showing an offer keep it).
pub(crate) fn navigated(cell: Cell) {
    {
        let mut inner = cell.borrow_mut();
        let page = dom::page(inner.host.as_ref());
        inner.page_lang = page.lang;
        let page = page.context;
        // Before boot has read the first page, there is nothing to compare.
        if inner.page.path.is_empty()
            || (page.path == inner.page.path && page.search == inner.page.search)
        {
            return;
        }
        inner.page = page;
        // A new route is a new page: its own scroll, time and exit intent;
        // slots still showing an offer keep it.
        let now = clock::now_ms();
        inner.watched.new_page(now);
        inner.closed.clear();
        inner.waiting.clear();
        let showing: Vec<web_sys::Element> = inner.shown.iter().map(|s| s.host.clone()).collect();
        inner.decided.retain(|d| showing.contains(d));
        inner.decisions.clear();
        let view = ProfileInput::PageView {
            category: inner.page.category.clone(),
            sale: inner.page.page_type.as_deref() == Some("sale"),
        };
        inner.apply_input(view);
        let id = inner.new_event_id();
        inner.record(Event::page_view(id, clock::now_ms(), String::new()));
        if inner.phase != Phase::Held
            && let Some(config) = inner.config.take()
        {
            inner.apply(config);
        }
    }
    flush(cell);
}
