//! The page's callbacks: `dangol.on(name, callback)`. Callbacks run after
//! the widget's own work is done (never while it holds its state), and one
//! that throws is reported once and cannot break the widget or the page.

use dangol_engine::json::Value;
use wasm_bindgen::JsValue;

use super::state::{Cell, Inner};
use crate::platform::describe;
use crate::platform::json;
use crate::platform::log::{Problem, warn_once};

/// What a page can listen to, each at its number (`dangol.on`'s warning
/// names them too).
pub const NAMES: &[&str] = &["decision", "exposure", "click", "dismiss", "claim"];
/// Each placement decided.
pub const DECISION: u8 = 0;
/// An offer was seen.
pub const EXPOSURE: u8 = 1;
/// An offer's call to action was followed.
pub const CLICK: u8 = 2;
/// An offer was dismissed.
pub const DISMISS: u8 = 3;
/// A coupon's code was claimed.
pub const CLAIM: u8 = 4;

impl Inner {
    /// Queues `detail` for every callback registered for `event`.
    pub fn emit(&mut self, event: u8, detail: Value) {
        for i in 0..self.handlers.len() {
            if self.handlers[i].0 == event {
                let f = self.handlers[i].1.clone();
                self.calls.push((event, f, detail.clone()));
            }
        }
    }

    /// Registers a callback. A new `decision` callback also hears about
    /// the decisions already made on this page, so a page that registers
    /// late misses nothing.
    pub fn add_handler(&mut self, event: u8, f: js_sys::Function) {
        if event == DECISION {
            for d in &self.decisions {
                self.calls.push((event, f.clone(), d.to_value()));
            }
        }
        self.handlers.push((event, f));
    }
}

/// Runs the queued callbacks, outside any borrow of the widget's state, so
/// a callback may call `dangol.*` itself.
pub(crate) fn deliver(cell: Cell) {
    loop {
        let calls = std::mem::take(&mut cell.borrow_mut().calls);
        if calls.is_empty() {
            return;
        }
        for (event, f, detail) in calls {
            if let Err(e) = f.call1(&JsValue::NULL, &json::to_js(&detail)) {
                warn_once(
                    Problem::Callback,
                    &dangol_engine::cat::cat(&[
                        "a dangol.on(\"",
                        NAMES.get(usize::from(event)).copied().unwrap_or_default(),
                        "\") callback threw (",
                        &describe(&e),
                        "); the widget carries on",
                    ]),
                );
            }
        }
    }
}
