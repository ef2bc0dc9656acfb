//! The loader's answers: everything the widget waits for (the config, its
//! signature check, a later task, a batch sent, an erase request, the
//! second module) is asked of the host with an id (see
//! [`crate::platform::host`]) and comes back here, through the widget's one
//! `call(ANSWER, id, value)` (`dangol_engine::calls`). One loop of plain
//! calls instead of a future per request.

use wasm_bindgen::JsValue;

use super::pending::Pending;
use super::state::Cell;
use crate::platform::host::Reply;

/// The loader answered the id `id` with `value`. An id nothing waits for
/// (answered twice, or after `destroy()`) is ignored.
pub(crate) fn answer(cell: Cell, id: JsValue, value: JsValue) {
    let Some(id) = id.as_f64() else {
        return;
    };
    let pending = {
        let Ok(mut inner) = cell.try_borrow_mut() else {
            return;
        };
        let Some(i) = inner.pending.iter().position(|(n, _)| f64::from(*n) == id) else {
            return;
        };
        inner.pending.remove(i).1
    };
    match pending {
        Pending::Config(url) => super::lifecycle::config_answered(cell, &url, Reply::read(&value)),
        Pending::Verify { url, text, etag } => {
            super::lifecycle::verified(cell, &url, text, etag, &value)
        }
        Pending::Decide(config) => super::lifecycle::decide_fetched(cell, *config),
        Pending::Send(ticket) => super::sync::sent(cell, ticket, Reply::read(&value)),
        Pending::Erase => super::effects::erased(Reply::read(&value)),
        #[cfg(feature = "identity")]
        Pending::Identify(customer) => {
            let input = super::effects::identified(customer, Reply::read(&value));
            if let Ok(mut inner) = cell.try_borrow_mut() {
                inner.input(input);
            }
            super::sync::flush(cell);
        }
        #[cfg(not(feature = "full"))]
        Pending::Show(later) => (*later).arrived(cell, crate::platform::more::arrived(value)),
        #[cfg(not(feature = "full"))]
        Pending::Explain(explain) => (*explain).arrived(crate::platform::more::arrived(value)),
        #[cfg(not(feature = "full"))]
        Pending::Upgrade(old) => upgraded(cell, &old, value),
        #[cfg(not(any(feature = "full", feature = "identity")))]
        Pending::Export(export) => (*export).arrived(crate::platform::more::rare(value)),
        Pending::CmpWait => {
            super::lifecycle::decide_when_ready(cell);
            super::sync::flush(cell);
        }
        Pending::Drop(value) => drop(value),
    }
}

/// The third module loaded: it upgrades the profile an earlier widget
/// stored, and the first decision, held for it, is made.
#[cfg(not(feature = "full"))]
fn upgraded(cell: Cell, old: &str, module: JsValue) {
    use crate::platform::log::{Problem, warn_once};
    use dangol_engine::session::Input;
    match crate::platform::more::rare(module) {
        Ok(more) => {
            if let Ok(mut inner) = cell.try_borrow_mut() {
                inner.input(Input::Upgraded(more.upgrade(old)));
            }
            super::lifecycle::decide_when_ready(cell);
            super::sync::flush(cell);
        }
        // The old profile stays stored for the next page; this one shows
        // no offer rather than one its ledger may forbid.
        Err(problem) => warn_once(
            Problem::Render,
            &dangol_engine::cat::cat(&[&problem, "; offers wait for the next page"]),
        ),
    }
}

#[cfg(not(any(feature = "full", feature = "identity")))]
impl super::pending::Export {
    /// The third module loaded (or did not): the export, its profile
    /// written as JSON, resolves the page's promise. Without the module
    /// (offline, say) nothing is left out: the profile is given as storage
    /// keeps it, with one console warning.
    pub(crate) fn arrived(self, loaded: Result<crate::platform::more::Rare, String>) {
        use crate::platform::log::{Problem, warn_once};
        match loaded {
            Ok(rare) => rare.expand(&self.value),
            Err(problem) => warn_once(
                Problem::Render,
                &dangol_engine::cat::cat(&[
                    &problem,
                    "; dangol.export() gives the profile as stored",
                ]),
            ),
        }
        let _ = self.done.call1(&JsValue::NULL, &self.value);
    }
}
