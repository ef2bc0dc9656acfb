//! The page's callbacks: `dangol.on(name, callback)`. Callbacks run after
//! the widget's own work is done (never while it holds its state), and one
//! that throws is reported once and cannot break the widget or the page.

use std::cell::RefCell;
use std::rc::Rc;

use dangol_engine::json::Value;
use wasm_bindgen::JsValue;

use super::state::Inner;
use crate::platform::describe;
use crate::platform::json;
use crate::platform::log::{Problem, warn_once};

/// What a page can listen to (`dangol.on`'s warning names them too).
pub const NAMES: &[&str] = &["decision", "exposure", "click", "dismiss", "claim"];

impl Inner {
    /// Queues `detail` for every callback registered for `name`.
    pub fn emit(&mut self, name: &str, detail: Value) {
        let targets: Vec<js_sys::Function> = self
            .handlers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, f)| f.clone())
            .collect();
        if targets.is_empty() {
            return;
        }
        for f in targets {
            self.calls.push((name.to_string(), f, detail.clone()));
        }
    }

    /// Registers a callback. A new `decision` callback also hears about
    /// the decisions already made on this page, so a page that registers
    /// late misses nothing.
    pub fn add_handler(&mut self, name: &str, f: js_sys::Function) {
        if name == "decision" {
            for d in &self.decisions {
                self.calls.push((name.to_string(), f.clone(), d.to_value()));
            }
        }
        self.handlers.push((name.to_string(), f));
    }
}

/// Runs the queued callbacks, outside any borrow of the widget's state, so
/// a callback may call `dangol.*` itself.
pub(crate) fn deliver(cell: &Rc<RefCell<Inner>>) {
    loop {
        let calls = std::mem::take(&mut cell.borrow_mut().calls);
        if calls.is_empty() {
            return;
        }
        for (name, f, detail) in calls {
            if let Err(e) = f.call1(&JsValue::NULL, &json::to_js(&detail)) {
                warn_once(
                    Problem::Callback,
                    &dangol_engine::cat::cat(&[
                        "a dangol.on(\"",
                        &name,
                        "\") callback threw (",
                        &describe(&e),
                        "); the widget carries on",
                    ]),
                );
            }
        }
    }
}
