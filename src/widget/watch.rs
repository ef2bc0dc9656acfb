//! Watching the page: engaged time, scroll depth, exit intent, input,
//! clicks on tracked elements, the page being hidden, and slots a
//! single-page app adds later. (What the shopper does with an offer comes
//! through [`super::actions`].)

use std::cell::RefCell;
use std::rc::Rc;

use dangol_engine::profile::Input as ProfileInput;
use dangol_engine::session::Input;
use gloo::events::EventListener;

use super::state::{Inner, Phase};
use super::sync::{flush, flush_on_hide};
use crate::platform::{clock, dom};

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
        EventListener::new_with_options(&window, "scroll", passive, on_scroll),
        EventListener::new(&document, "mouseout", on_leave),
        EventListener::new(&document, "click", on_click),
        EventListener::new(&document, "visibilitychange", on_change),
        EventListener::new(&window, "pagehide", on_hide),
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
        if inner.config.is_none()
            || matches!(inner.phase, Phase::Off | Phase::AwaitingConsentManager)
        {
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
