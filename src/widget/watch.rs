//! Watching the page: engaged time, scroll depth, exit intent, input,
//! clicks on tracked elements, the page being hidden, and slots a
//! single-page app adds later. (What the shopper does with an offer comes
//! through [`super::actions`].)

use dangol_engine::profile::Input as ProfileInput;
use dangol_engine::session::Input;
use wasm_bindgen::JsValue;

use super::state::{Cell, Phase};
use super::sync::{flush, flush_on_hide};
use crate::platform::{clock, dom};

/// What the loader's page listeners report (see `Host::watch`).
pub(crate) mod signal {
    /// The page scrolled: `[depth in percent, scrollY]`.
    pub const SCROLL: u8 = 0;
    /// The pointer left through the top edge (exit intent on a desktop).
    pub const LEAVE: u8 = 1;
    /// A click inside an element marked `data-dangol-track="name"`: `[name,
    /// properties]`, the properties from its `data-dangol-*` attributes
    /// (`item-id`, `item-name`, `item-category`, `item-brand`, `price`,
    /// `quantity`, `value`, `currency`, `transaction-id`; the three GA4
    /// numbers parsed by the browser).
    pub const TRACKED_CLICK: u8 = 2;
    /// The page was hidden or shown again (`visibilitychange`, `pagehide`):
    /// whether it is visible.
    pub const VISIBILITY: u8 = 3;
    /// Pointer, key, touch or wheel input.
    pub const INPUT: u8 = 4;
    /// A second passed.
    pub const TICK: u8 = 5;
    /// Elements were added to the page.
    pub const ADDED: u8 = 6;
    /// Another tab changed a stored key (the `storage` event): `[key,
    /// newValue]`.
    pub const STORAGE: u8 = 7;
    /// The TCF consent manager answered: its `tcData`.
    pub const TCF: u8 = 8;
}

/// One of the page's signals (`kind`, see [`signal`], with `value`).
pub(super) fn page_signal(cell: Cell, kind: &JsValue, value: &JsValue) {
    let now = clock::now_ms();
    let send = {
        let Ok(mut inner) = cell.try_borrow_mut() else {
            return;
        };
        if inner.phase == Phase::Off {
            return;
        }
        match kind.as_f64().unwrap_or(-1.0) as u8 {
            signal::SCROLL => {
                let at = |i: u32| {
                    js_sys::Reflect::get_u32(value, i)
                        .ok()
                        .and_then(|v| v.as_f64())
                };
                let depth = at(0).unwrap_or(0.0).clamp(0.0, 100.0) as u32;
                let y = at(1).unwrap_or(0.0);
                let seen = inner.watched.scrolled(depth, y, now);
                if seen {
                    inner.exit_intent();
                }
                inner.check_triggers();
                seen
            }
            signal::LEAVE => {
                let seen = inner.watched.left();
                if seen {
                    inner.exit_intent();
                    inner.check_triggers();
                }
                seen
            }
            signal::TRACKED_CLICK => {
                let at = |i: u32| js_sys::Reflect::get_u32(value, i).unwrap_or_default();
                let Some(name) = at(0).as_string() else {
                    return;
                };
                let props = crate::platform::json::from_js(&at(1));
                inner.track(&name, &props, "data-dangol-track");
                true
            }
            signal::VISIBILITY => {
                let visible = value.is_truthy();
                if let Some(seconds) = inner.watched.visibility(visible, now) {
                    inner.apply_input(ProfileInput::Engaged { seconds });
                }
                if !visible {
                    drop(inner);
                    return flush_on_hide(cell);
                }
                false
            }
            // Any input resets the inactivity clock.
            signal::INPUT => {
                inner.watched.last_input_ms = now;
                false
            }
            // Time-based triggers (dwell, inactivity) are checked every
            // second; the session's tick keeps the outbox's heartbeat (it
            // tells other pages this one is alive) and, every few seconds,
            // asks for the outboxes of pages that are gone.
            signal::TICK => {
                inner.check_triggers();
                inner.input(Input::Tick);
                inner.session.due(now) || !inner.calls.is_empty()
            }
            signal::ADDED => {
                drop(inner);
                return slots_added(cell);
            }
            signal::TCF => {
                drop(inner);
                return super::lifecycle::tcf_answered(cell, value);
            }
            signal::STORAGE => {
                let at = |i: u32| {
                    js_sys::Reflect::get_u32(value, i)
                        .ok()
                        .and_then(|v| v.as_string())
                };
                super::lifecycle::other_tab(&mut inner, at(0), at(1));
                true
            }
            _ => false,
        }
    };
    if send {
        flush(cell);
    }
}

/// Elements were added to the page: decide for slots that are new.
fn slots_added(cell: Cell) {
    {
        let Ok(mut inner) = cell.try_borrow_mut() else {
            return;
        };
        if inner.config.is_none() || matches!(inner.phase, Phase::Off | Phase::Held) {
            return;
        }
        let fresh = dom::slots(inner.host.as_ref())
            .iter()
            .any(|(_, el)| !inner.decided.iter().any(|d| d == el));
        if !fresh {
            return;
        }
        if let Some(config) = inner.config.take() {
            inner.apply(config);
        }
    }
    flush(cell);
}
