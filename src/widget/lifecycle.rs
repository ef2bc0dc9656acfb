//! The page lifecycle: read consent and the cached config, fetch the
//! config, decide and render, and send what consent allows.

use std::cell::RefCell;
use std::rc::Rc;

use dangol_engine::config::{CompiledConfig, compact};
use dangol_engine::event::Event;
use dangol_engine::profile::Input as ProfileInput;
use dangol_engine::session::{Input, Key, Session};
use wasm_bindgen_futures::spawn_local;

use super::effects::read_stored;
use super::state::{Inner, Phase, fresh_id, with_ctx};
use super::sync::flush;
use crate::platform::log::{Problem, warn_once};
use crate::platform::net::{self, Fetched};
use crate::platform::regex::BrowserRegex;
use crate::platform::storage::SiteStorage;
use crate::platform::{clock, consent, crypto, dom};

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
pub(crate) fn parse_config(text: &str, site: &str) -> Result<CompiledConfig, String> {
    let config = compact::read(text, &BrowserRegex).map_err(|e| e.message())?;
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

/// The consent manager answered, or waiting for it ran out: the first
/// decision, if it was waiting.
fn decide_after_cmp(cell: &Rc<RefCell<Inner>>) {
    let Ok(mut inner) = cell.try_borrow_mut() else {
        return;
    };
    if inner.phase != Phase::AwaitingConsentManager {
        return;
    }
    inner.phase = Phase::Waiting;
    if let Some(config) = inner.config.take() {
        inner.apply(config);
    }
}

/// Whether `config` is an older publish than the one held.
fn replays(config: &CompiledConfig, held: Option<&(u64, String)>) -> bool {
    held.is_some_and(|(version, lineage)| config.is_older_than(*version, lineage))
}

/// The page lifecycle, started by `start`. Everything local happens at
/// once, before `start` returns, so calls the page queued before the widget
/// loaded see the stored profile; only the network waits.
pub(crate) fn boot(cell: Rc<RefCell<Inner>>) {
    // 1. Storage and consent: the session reads what storage holds and uses
    //    it only as consent allows. Other tabs' changes reach it at once.
    {
        let mut inner = cell.borrow_mut();
        match SiteStorage::open(&inner.site) {
            Ok(storage) => inner.storage = Some(storage),
            Err(e) => warn_once(
                Problem::Storage,
                &dangol_engine::cat::cat(&[
                    "localStorage is unavailable (",
                    &e,
                    "); offers still show, but nothing is remembered between pages",
                ]),
            ),
        }
        inner.page = dom::page_context();
        let stored = read_stored(inner.storage.as_ref());
        let page = fresh_id();
        let (session, effects) = with_ctx(|ctx| Session::start(page, stored, consent::gpc(), ctx));
        inner.session = session;
        inner.carry_out(effects);
        if let Some(listener) = other_tabs(&cell, &inner.site) {
            inner.listeners.push(listener);
        }
    }
    // 2. A TCF consent manager that has answered already answers now,
    //    before the first decision.
    let tcf_cell = Rc::downgrade(&cell);
    let cmp_present = consent::listen_tcf(move |purposes| {
        if let Some(cell) = tcf_cell.upgrade() {
            cell.borrow_mut().input(Input::Tcf(purposes));
            decide_after_cmp(&cell);
            flush(cell);
        }
    });
    // A returning shopper kept under a consent manager that has not answered
    // yet: the first decision waits for it (the slots keep their own
    // content meanwhile), at most `CMP_WAIT_MS`.
    if cell.borrow().session.awaits_consent_manager(cmp_present) {
        cell.borrow_mut().phase = Phase::AwaitingConsentManager;
        let weak = Rc::downgrade(&cell);
        gloo::timers::callback::Timeout::new(CMP_WAIT_MS, move || {
            if let Some(cell) = weak.upgrade() {
                decide_after_cmp(&cell);
                flush(cell);
            }
        })
        .forget();
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
        let page_view = Event::page_view(Inner::new_event_id(), clock::now_ms(), String::new());
        inner.record(page_view);
        inner.offer_orphans();
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
    spawn_local(finish(cell, url, cached_etag));
}

/// Listens to the `storage` event: another tab of this site changed a key
/// (a withdrawal, `forget()`, a grant). The session decides what follows.
fn other_tabs(cell: &Rc<RefCell<Inner>>, site: &str) -> Option<gloo::events::EventListener> {
    let window = web_sys::window()?;
    let prefix = dangol_engine::cat::cat(&["dangol:", site, ":"]);
    let weak = Rc::downgrade(cell);
    Some(gloo::events::EventListener::new(
        &window,
        "storage",
        move |event| {
            let Some(cell) = weak.upgrade() else {
                return;
            };
            let get = |name: &str| js_sys::Reflect::get(event, &name.into()).ok();
            let key = get("key").and_then(|k| k.as_string());
            let key = match key {
                // `localStorage.clear()`: every key went.
                None => None,
                Some(name) => match name.strip_prefix(&prefix).and_then(Key::parse) {
                    Some(key) => Some(key),
                    None => return, // another site's key, or not ours
                },
            };
            let value = get("newValue").and_then(|v| v.as_string());
            let Ok(mut inner) = cell.try_borrow_mut() else {
                return;
            };
            inner.input(Input::StorageChanged(key, value));
            drop(inner);
            flush(cell);
        },
    ))
}

async fn finish(cell: Rc<RefCell<Inner>>, url: String, cached_etag: Option<String>) {
    // 4. Fetch (or revalidate) the config. A new config applies to this page
    //    only if nothing was rendered yet: never swap what the shopper sees.
    let started = cell.borrow_mut().prefetched.take();
    let fetched = net::get_config(&url, cached_etag.as_deref(), net::TIMEOUT_MS, started).await;
    if cell.borrow().phase == Phase::Off {
        return; // destroyed while the config loaded: add nothing to the page
    }
    match fetched {
        Ok(Fetched::NotModified) => {}
        Ok(Fetched::Body {
            text,
            etag,
            signature,
        }) => {
            let key = cell.borrow().public_key.clone();
            if let Some(key) = key {
                match &signature {
                    None => {
                        warn_once(
                            Problem::ConfigInvalid,
                            &dangol_engine::cat::cat(&[
                                "the config from ",
                                &url,
                                " is not signed, but the script tag asks for signed configs; the page keeps its own content",
                            ]),
                        );
                        return flush(cell);
                    }
                    Some(sig) => match crypto::verify_ed25519(&key, sig, &text).await {
                        Ok(true) => {}
                        Ok(false) => {
                            warn_once(
                                Problem::ConfigInvalid,
                                &dangol_engine::cat::cat(&[
                                    "the config from ",
                                    &url,
                                    " does not match its signature (tampered with?); the page keeps its own content",
                                ]),
                            );
                            return flush(cell);
                        }
                        // Browsers without Ed25519 in WebCrypto fall back to
                        // trusting HTTPS alone.
                        Err(crypto::Unverifiable::Unsupported) => {}
                        Err(crypto::Unverifiable::Failed(e)) => {
                            warn_once(
                                Problem::ConfigInvalid,
                                &dangol_engine::cat::cat(&[
                                    "the config's signature could not be checked (",
                                    &e,
                                    "); the page keeps its own content",
                                ]),
                            );
                            return flush(cell);
                        }
                    },
                }
            }
            let parsed = {
                let inner = cell.borrow();
                if inner.phase == Phase::Off {
                    return; // destroyed while the signature was checked
                }
                parse_config(&text, &inner.site)
            };
            match parsed {
                Ok(config) if replays(&config, cell.borrow().held.as_ref()) => warn_once(
                    Problem::ConfigInvalid,
                    &dangol_engine::cat::cat(&[
                        "the config from ",
                        &url,
                        " is version ",
                        &dangol_engine::cat::uint(config.config().version),
                        ", older than the one this browser holds (replayed?); the newer one stays",
                    ]),
                ),
                Ok(config) => {
                    cell.borrow_mut().input(Input::ConfigFetched(text, etag));
                    // Deciding and rendering get a task of their own, so the
                    // page's input and paint can run between the two halves.
                    let pause = cell.borrow().next_task.clone();
                    if let Some(next_task) = pause {
                        clock::next_task(&next_task).await;
                    }
                    let mut inner = cell.borrow_mut();
                    if inner.phase == Phase::Off {
                        return;
                    }
                    match inner.phase {
                        Phase::Waiting => {
                            inner.configure(&config);
                            inner.apply(config);
                        }
                        // Decided when the consent manager answers.
                        Phase::AwaitingConsentManager => {
                            inner.configure(&config);
                            inner.config = Some(config);
                        }
                        // Kept for the next page.
                        Phase::Decided | Phase::Off => {}
                    }
                }
                Err(e) => warn_once(
                    Problem::ConfigInvalid,
                    &dangol_engine::cat::cat(&[
                        "the config from ",
                        &url,
                        " is malformed (",
                        &e,
                        "); the page keeps its own content",
                    ]),
                ),
            }
        }
        Err(e) => warn_once(
            Problem::ConfigFetch,
            &dangol_engine::cat::cat(&[
                "could not fetch the config from ",
                &url,
                " (",
                &e,
                "); the page keeps its own content",
            ]),
        ),
    }

    // 6. Engaged time and sending on the way out.
    super::watch::watch_page(&cell);

    // 7. Send what consent allows.
    flush(cell);
}

/// A single-page app changed its route: a new page view, and decisions for
/// slots the new route brought (slots showing an offer keep it).
pub(crate) fn navigated(cell: &Rc<RefCell<Inner>>) {
    {
        let mut inner = cell.borrow_mut();
        let page = dom::page_context();
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
        inner.max_scroll_pct = 0;
        inner.exit_intent = false;
        inner.visible_ms = 0;
        if inner.visible_since.is_some() {
            inner.visible_since = Some(now);
        }
        inner.closed.clear();
        inner.waiting.clear();
        let showing: Vec<web_sys::Element> = inner.shown.iter().map(|s| s.host.clone()).collect();
        inner.decided.retain(|d| showing.contains(d));
        inner.decisions.clear();
        let view = ProfileInput::PageView {
            category: inner.page.category.clone(),
            sale: inner.page.page_type.as_deref() == Some("sale"),
        };
        inner.apply_input(&view);
        inner.record(Event::page_view(
            Inner::new_event_id(),
            clock::now_ms(),
            String::new(),
        ));
        if inner.phase != Phase::AwaitingConsentManager
            && let Some(config) = inner.config.take()
        {
            inner.apply(config);
        }
    }
    flush(cell.clone());
}
