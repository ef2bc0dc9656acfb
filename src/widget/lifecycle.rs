//! The page lifecycle: read consent and the cached config, fetch the
//! config, decide and render, and send what consent allows.

use std::cell::RefCell;
use std::rc::Rc;

use dangol_engine::config::{CompiledConfig, SiteConfig};
use dangol_engine::consent::{Consent, Purposes};
use dangol_engine::event::Event;
use dangol_engine::profile::Input;
use gloo::events::EventListener;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;

use super::state::{Inner, KEY_CONFIG, KEY_CONSENT, KEY_ETAG};
use crate::platform::log::{Problem, warn_once};
use crate::platform::net::{self, Fetched};
use crate::platform::regex::BrowserRegex;
use crate::platform::storage::SiteStorage;
use crate::platform::{clock, consent, crypto, dom, json};

/// How long a request may take before it counts as failed.
pub(crate) const TIMEOUT_MS: u32 = 8_000;

/// Parses config text with the browser's JSON parser and checks it.
pub(crate) fn parse_config(text: &str, site: &str) -> Result<CompiledConfig, String> {
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

/// The page lifecycle, started by `start`. Everything local happens at
/// once, before `start` returns, so calls the page queued before the widget
/// loaded see the stored profile; only the network waits.
pub(crate) fn boot(cell: Rc<RefCell<Inner>>) {
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
        inner.page = dom::page_context();
        let gpc = consent::gpc();
        if let Some(own) = stored.map(|s| Purposes::decode(Some(&s))) {
            inner.load_all();
            inner.set_signals(|s| {
                s.own = Some(own);
                s.gpc = gpc;
            });
        } else {
            inner.set_signals(|s| s.gpc = gpc);
        }
        let mut etag = None;
        let mut cached = None;
        if inner.consent == Consent::Granted {
            // 2. A cached config decides at once: no round-trip, no flicker.
            if let Some(text) = inner.storage.as_ref().and_then(|s| s.get(KEY_CONFIG))
                && let Ok(config) = parse_config(&text, &inner.site)
            {
                etag = inner.storage.as_ref().and_then(|s| s.get(KEY_ETAG));
                inner.config_text = Some((text, etag.clone()));
                cached = Some(config);
            }
        }
        // 3. This page view, in memory (and in storage with consent).
        let page_view = Event::page_view(Inner::new_event_id(), clock::now_ms(), String::new());
        inner.record(page_view);
        inner.adopt_orphans();
        if let Some(config) = cached {
            inner.config = Some(config);
        }
        let view = Input::PageView {
            category: inner.page.category.clone(),
            sale: inner.page.page_type.as_deref() == Some("sale"),
        };
        inner.apply_input(&view);
        if let Some(config) = inner.config.take() {
            inner.apply(config);
        }
        (inner.config_url(), etag)
    };
    spawn_local(finish(cell, url, cached_etag));
}

async fn finish(cell: Rc<RefCell<Inner>>, url: String, cached_etag: Option<String>) {
    // 4. Fetch (or revalidate) the config. A new config applies to this page
    //    only if nothing was rendered yet: never swap what the shopper sees.
    match net::get_config(&url, cached_etag.as_deref(), TIMEOUT_MS).await {
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
                            &format!(
                                "the config from {url} is not signed, but the script tag asks for signed configs; the page keeps its own content"
                            ),
                        );
                        return flush(cell);
                    }
                    Some(sig) => match crypto::verify_ed25519(&key, sig, &text).await {
                        Ok(true) => {}
                        Ok(false) => {
                            warn_once(
                                Problem::ConfigInvalid,
                                &format!(
                                    "the config from {url} does not match its signature (tampered with?); the page keeps its own content"
                                ),
                            );
                            return flush(cell);
                        }
                        // Browsers without Ed25519 in WebCrypto fall back to
                        // trusting HTTPS alone.
                        Err(crypto::Unverifiable::Unsupported) => {}
                        Err(crypto::Unverifiable::Failed(e)) => {
                            warn_once(
                                Problem::ConfigInvalid,
                                &format!(
                                    "the config's signature could not be checked ({e}); the page keeps its own content"
                                ),
                            );
                            return flush(cell);
                        }
                    },
                }
            }
            let mut inner = cell.borrow_mut();
            match parse_config(&text, &inner.site) {
                Ok(config) => {
                    report_problems(&url, &config);
                    inner.cache_config(&text, etag.as_deref());
                    inner.config_text = Some((text, etag));
                    if inner.rendered {
                        // Kept for the next page.
                    } else {
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

    // 5. Listen to a TCF consent manager, if the page has one.
    let tcf_cell = cell.clone();
    consent::listen_tcf(move |purposes| {
        tcf_cell
            .borrow_mut()
            .set_signals(|s| s.tcf = Some(purposes));
        flush(tcf_cell.clone());
    });

    // 6. Engaged time and sending on the way out.
    watch_page(&cell);

    // 7. Send what consent allows.
    flush(cell);
}

/// The text `detail` of one of the offers' custom events
/// (`"campaign/variant"`, or `"campaign/variant/answer"`).
fn detail_of(event: &web_sys::Event) -> String {
    event
        .dyn_ref::<web_sys::CustomEvent>()
        .and_then(|e| e.detail().as_string())
        .unwrap_or_default()
}

/// Counts engaged (visible) time into the profile and flushes events when
/// the page is hidden or left (fetch keepalive survives the unload).
fn watch_page(cell: &Rc<RefCell<Inner>>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(document) = window.document() else {
        return;
    };
    let weak = Rc::downgrade(cell);
    let on_change = move |_: &web_sys::Event| {
        let Some(cell) = weak.upgrade() else {
            return;
        };
        let visible = web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| !d.hidden());
        let now = clock::now_ms();
        {
            let mut inner = cell.borrow_mut();
            match (inner.visible_since.take(), visible) {
                (Some(since), false) => {
                    inner.visible_ms += (now - since).max(0);
                    let seconds = u32::try_from(((now - since) / 1000).max(0)).unwrap_or(u32::MAX);
                    inner.apply_input(&Input::Engaged { seconds });
                    inner.save_profile();
                }
                (Some(since), true) => inner.visible_since = Some(since),
                (None, true) => inner.visible_since = Some(now),
                (None, false) => {}
            }
        }
        if !visible {
            flush_on_hide(cell);
        }
    };
    let on_hide = on_change.clone();
    let weak = Rc::downgrade(cell);
    let on_off = move |_: &web_sys::Event| {
        if let Some(cell) = weak.upgrade() {
            cell.borrow_mut().personalisation_off();
        }
    };
    let weak = Rc::downgrade(cell);
    let on_click = move |event: &web_sys::Event| {
        let Some(cell) = weak.upgrade() else {
            return;
        };
        if let Some((name, props)) = dom::tracked_click(event) {
            cell.borrow_mut().track(&name, &props, "data-dangol-track");
            flush(cell);
        }
    };
    let weak = Rc::downgrade(cell);
    let on_offer_click = move |event: &web_sys::Event| {
        let Some(cell) = weak.upgrade() else {
            return;
        };
        let detail = detail_of(event);
        if let Some((campaign, variant)) = detail.split_once('/') {
            cell.borrow_mut().offer_clicked(campaign, variant);
            // The click usually navigates away: keepalive carries the event.
            flush(cell);
        }
    };
    let weak = Rc::downgrade(cell);
    let last_scroll = Rc::new(std::cell::Cell::new((0.0f64, 0i64)));
    let on_scroll = move |_: &web_sys::Event| {
        let Some(cell) = weak.upgrade() else {
            return;
        };
        let depth = dom::scroll_depth_pct();
        let y = web_sys::window()
            .and_then(|w| w.scroll_y().ok())
            .unwrap_or(0.0);
        let now = clock::now_ms();
        // Exit intent on a phone: a fast scroll back up (a screen's worth
        // in well under a second) after reading down the page.
        let (last_y, last_t) = last_scroll.get();
        last_scroll.set((y, now));
        let seen = {
            let mut inner = cell.borrow_mut();
            inner.max_scroll_pct = inner.max_scroll_pct.max(depth);
            inner.last_input_ms = now;
            let seen = last_y - y > 600.0
                && now - last_t < 400
                && inner.max_scroll_pct >= 30
                && inner.exit_intent_seen();
            inner.check_triggers();
            seen
        };
        if seen {
            flush(cell);
        }
    };
    let weak = Rc::downgrade(cell);
    let on_leave = move |event: &web_sys::Event| {
        if dom::is_exit_intent(event)
            && let Some(cell) = weak.upgrade()
            && cell.borrow_mut().exit_intent_seen()
        {
            cell.borrow_mut().check_triggers();
            flush(cell);
        }
    };
    let passive = gloo::events::EventListenerOptions::default();
    let weak = Rc::downgrade(cell);
    let on_claim = move |event: &web_sys::Event| {
        let Some(cell) = weak.upgrade() else {
            return;
        };
        let Some(slot) = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        let detail = detail_of(event);
        let Some((campaign, variant)) = detail.split_once('/') else {
            return;
        };
        let (campaign, variant) = (campaign.to_string(), variant.to_string());
        let request = cell.borrow().claim_request(&campaign, &variant);
        let lang = cell.borrow().lang();
        let words = lang.words();
        let Some((url, body)) = request else {
            crate::render::coupon::show_failure(&slot, words.claim_needs_consent);
            return;
        };
        spawn_local(async move {
            match net::post_for_text(&url, &body, TIMEOUT_MS).await {
                Ok((200, text)) => {
                    let answer = js_sys::JSON::parse(&text)
                        .map(|v| json::from_js(&v))
                        .unwrap_or_default();
                    let code = answer["code"].as_str().unwrap_or_default().to_string();
                    let expires = answer["expires_ms"].as_f64().unwrap_or(0.0);
                    let listeners = crate::render::coupon::show_code(&slot, &code, expires, lang);
                    let mut inner = cell.borrow_mut();
                    if let Some(shown) = inner.shown.iter_mut().find(|s| s.host == slot) {
                        shown.listeners.extend(listeners);
                    }
                    inner.claimed(&campaign, &variant);
                    drop(inner);
                    flush(cell);
                }
                Ok((409, _)) => crate::render::coupon::show_failure(&slot, words.claim_exhausted),
                Ok((status, _)) => {
                    warn_once(
                        Problem::Send,
                        &format!("could not claim a coupon (HTTP {status})"),
                    );
                    crate::render::coupon::show_failure(&slot, words.claim_failed);
                }
                Err(e) => {
                    warn_once(Problem::Send, &format!("could not claim a coupon ({e})"));
                    crate::render::coupon::show_failure(&slot, words.claim_failed);
                }
            }
        });
    };
    let weak = Rc::downgrade(cell);
    let on_feedback = move |event: &web_sys::Event| {
        let Some(cell) = weak.upgrade() else {
            return;
        };
        let detail = detail_of(event);
        let mut parts = detail.splitn(3, '/');
        if let (Some(campaign), Some(variant), Some(Ok(answer))) = (
            parts.next(),
            parts.next(),
            parts.next().map(str::parse::<u8>),
        ) {
            cell.borrow_mut().answered(campaign, variant, answer);
            flush(cell);
        }
    };
    let weak = Rc::downgrade(cell);
    let on_dismiss = move |event: &web_sys::Event| {
        let Some(cell) = weak.upgrade() else {
            return;
        };
        let detail = detail_of(event);
        if let Some((campaign, variant)) = detail.split_once('/') {
            cell.borrow_mut().dismissed(campaign, variant);
            flush(cell);
        }
    };
    // Any input resets the inactivity clock.
    let weak = Rc::downgrade(cell);
    let on_input = move |_: &web_sys::Event| {
        if let Some(cell) = weak.upgrade()
            && let Ok(mut inner) = cell.try_borrow_mut()
        {
            inner.last_input_ms = clock::now_ms();
        }
    };
    let mut listeners = vec![
        EventListener::new(&window, crate::render::DISMISS_EVENT, on_dismiss),
        EventListener::new(&window, crate::render::prompts::FEEDBACK_EVENT, on_feedback),
        EventListener::new(&window, crate::render::coupon::CLAIM_EVENT, on_claim),
        EventListener::new_with_options(&window, "scroll", passive, on_scroll),
        EventListener::new(&document, "mouseout", on_leave),
        EventListener::new(&window, crate::render::CLICK_EVENT, on_offer_click),
        EventListener::new(&document, "click", on_click),
        EventListener::new(&document, "visibilitychange", on_change),
        EventListener::new(&window, "pagehide", on_hide),
        EventListener::new(&window, crate::render::OFF_EVENT, on_off),
    ];
    for name in [
        "pointermove",
        "pointerdown",
        "keydown",
        "touchstart",
        "wheel",
    ] {
        listeners.push(EventListener::new_with_options(
            &document,
            name,
            passive,
            on_input.clone(),
        ));
    }
    // Time-based triggers (dwell, inactivity) are checked every second.
    let weak = Rc::downgrade(cell);
    let mut ticks = 0u32;
    let ticker = gloo::timers::callback::Interval::new(1_000, move || {
        let Some(cell) = weak.upgrade() else {
            return;
        };
        ticks = ticks.wrapping_add(1);
        let send = {
            let Ok(mut inner) = cell.try_borrow_mut() else {
                return;
            };
            inner.check_triggers();
            // The outbox's heartbeat (every 2 s, well inside the 4 s after
            // which a page counts as gone) tells other pages this one is
            // alive; every few seconds, outboxes of pages that are gone are
            // adopted.
            if !inner.outbox.is_empty() && ticks.is_multiple_of(2) {
                inner.save_outbox();
            }
            if ticks.is_multiple_of(3) {
                inner.adopt_orphans();
            }
            inner.outbox.due(clock::now_ms()) || !inner.calls.is_empty()
        };
        if send {
            flush(cell);
        }
    });
    // Slots a single-page app adds later are decided when they appear.
    let weak = Rc::downgrade(cell);
    let mutations = dom::watch_mutations(move || {
        if let Some(cell) = weak.upgrade() {
            slots_added(&cell);
        }
    });
    let mut inner = cell.borrow_mut();
    inner.ticker = Some(ticker);
    inner.mutations = mutations;
    if !document.hidden() {
        inner.visible_since = Some(clock::now_ms());
    }
    inner.listeners.extend(listeners);
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
        let view = Input::PageView {
            category: inner.page.category.clone(),
            sale: inner.page.page_type.as_deref() == Some("sale"),
        };
        inner.apply_input(&view);
        inner.record(Event::page_view(
            Inner::new_event_id(),
            clock::now_ms(),
            String::new(),
        ));
        if let Some(config) = inner.config.take() {
            inner.apply(config);
        }
    }
    flush(cell.clone());
}

/// Runs the page's queued callbacks, then sends the oldest waiting events
/// if consent allows, the network is up and no retry is pending. A batch
/// stays in the stored outbox until the server took it; failures back off.
pub(crate) fn flush(cell: Rc<RefCell<Inner>>) {
    send(cell, true);
}

/// The page is being hidden or left: send now, without waiting for the
/// cross-tab lock (its callback might never run in a page that is going),
/// with `keepalive` so the request outlives the page.
fn flush_on_hide(cell: Rc<RefCell<Inner>>) {
    send(cell, false);
}

fn send(cell: Rc<RefCell<Inner>>, exclusive: bool) {
    super::callbacks::deliver(&cell);
    let (url, body, key, batch) = {
        let mut inner = cell.borrow_mut();
        let now = clock::now_ms();
        if !inner.measurement.may_send() || inner.sending || !inner.outbox.due(now) || !online() {
            return;
        }
        let Some(anon) = inner.anon.clone() else {
            return;
        };
        inner.outbox.stamp(&anon);
        let batch = inner.outbox.batch();
        let Ok(body) = js_sys::JSON::stringify(&json::to_js(&batch.to_value())) else {
            return;
        };
        inner.sending = true;
        (
            inner.events_url(),
            String::from(body),
            inner.key.clone(),
            batch,
        )
    };
    // One page sends at a time across the shopper's tabs; a page that finds
    // the lock taken tries again on its next tick.
    let lock = format!("dangol-send:{}", cell.borrow().site);
    let waiting = cell.clone();
    let task = async move {
        let result = net::post_json(&url, &body, key.as_deref(), TIMEOUT_MS).await;
        let more = {
            let mut inner = cell.borrow_mut();
            inner.sending = false;
            let now = clock::now_ms();
            let jitter = crate::platform::random::unit();
            let more = match result {
                Ok((status, _)) if (200..300).contains(&status) => {
                    inner.outbox.delivered(&batch);
                    !inner.outbox.is_empty()
                }
                Ok((status, _))
                    if (400..500).contains(&status) && status != 429 && status != 408 =>
                {
                    // The server refused the batch itself: retrying cannot help.
                    inner.outbox.refused(&batch);
                    warn_once(
                        Problem::Send,
                        &format!("the server refused events (HTTP {status})"),
                    );
                    !inner.outbox.is_empty()
                }
                Ok((status, retry_after)) => {
                    inner.outbox.failed(now, retry_after, jitter);
                    warn_once(
                        Problem::Send,
                        &format!(
                            "could not send events (HTTP {status}); they stay queued and are retried"
                        ),
                    );
                    false
                }
                Err(e) => {
                    inner.outbox.failed(now, None, jitter);
                    warn_once(
                        Problem::Send,
                        &format!("could not send events ({e}); they stay queued and are retried"),
                    );
                    false
                }
            };
            inner.save_outbox();
            more
        };
        if more {
            flush(cell);
        }
    };
    if exclusive {
        crate::platform::locks::run_exclusive(&lock, task, move || {
            waiting.borrow_mut().sending = false;
        });
    } else {
        spawn_local(task);
    }
}

/// Whether the browser thinks it is online (unknown counts as online).
fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// Elements were added to the page: decide for slots that are new.
fn slots_added(cell: &Rc<RefCell<Inner>>) {
    {
        let Ok(mut inner) = cell.try_borrow_mut() else {
            return;
        };
        if inner.config.is_none() || inner.disabled {
            return;
        }
        let fresh = dom::slots()
            .iter()
            .any(|(_, el)| !inner.decided.iter().any(|d| d == el));
        if !fresh {
            return;
        }
        if let Some(config) = inner.config.take() {
            inner.apply(config);
        }
    }
    flush(cell.clone());
}
