//! Watching the page: engaged time, scroll depth, exit intent, input,
//! clicks on tracked elements and on offers, dismissals, claims, feedback
//! answers, the page being hidden, and slots a single-page app adds later.

use std::cell::RefCell;
use std::rc::Rc;

use dangol_engine::profile::Input as ProfileInput;
use dangol_engine::session::Input;
use gloo::events::EventListener;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;

use super::lifecycle::TIMEOUT_MS;
use super::state::Inner;
use super::sync::{flush, flush_on_hide};
use crate::platform::log::{Problem, warn_once};
use crate::platform::{clock, dom, json, net};

/// The text `detail` of one of the offers' custom events
/// (`"campaign/variant"`, or `"campaign/variant/answer"`).
fn detail_of(event: &web_sys::Event) -> String {
    event
        .dyn_ref::<web_sys::CustomEvent>()
        .and_then(|e| e.detail().as_string())
        .unwrap_or_default()
}

/// A listener for one of the offers' `"campaign/variant"` events: records
/// it with `record` and sends what consent allows.
fn on_offer_event(
    cell: &Rc<RefCell<Inner>>,
    record: fn(&mut Inner, &str, &str),
) -> impl FnMut(&web_sys::Event) + 'static {
    let weak = Rc::downgrade(cell);
    move |event| {
        let Some(cell) = weak.upgrade() else {
            return;
        };
        let detail = detail_of(event);
        if let Some((campaign, variant)) = detail.split_once('/') {
            record(&mut cell.borrow_mut(), campaign, variant);
            flush(cell);
        }
    }
}

/// Counts engaged (visible) time into the profile and flushes events when
/// the page is hidden or left (fetch keepalive survives the unload).
pub(super) fn watch_page(cell: &Rc<RefCell<Inner>>) {
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
                    inner.apply_input(&ProfileInput::Engaged { seconds });
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
            cell.borrow_mut().input(Input::PersonalisationOff);
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
    // A click usually navigates away: keepalive carries the event.
    let on_offer_click = on_offer_event(cell, Inner::offer_clicked);
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
    let on_dismiss = on_offer_event(cell, Inner::dismissed);
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
            // The outbox's heartbeat tells other pages this one is alive;
            // every few seconds, outboxes of pages that are gone are adopted.
            inner.input(Input::Tick);
            if ticks.is_multiple_of(3) {
                inner.offer_orphans();
            }
            inner.session.due(clock::now_ms()) || !inner.calls.is_empty()
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
