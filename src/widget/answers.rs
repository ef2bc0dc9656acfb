//! The loader's answers: everything the widget waits for (the config, its
//! signature check, a later task, a batch sent, an erase request, the
//! second module) is asked of the host with an id (see
//! [`crate::platform::host`]) and comes back here, through the widget's one
//! `call(ANSWER, id, value)` (`dangol_engine::calls`). One loop of plain
//! calls instead of a future per request.

use std::cell::RefCell;
use std::rc::Rc;

use dangol_engine::config::CompiledConfig;
use wasm_bindgen::JsValue;

use super::state::Inner;
use crate::platform::host::{Host, Reply};

/// What an id was asked for.
pub(crate) enum Pending {
    /// The config (from `url`).
    Config(String),
    /// The signature check of the config `text` fetched from `url`.
    Verify {
        url: String,
        text: String,
        etag: Option<String>,
    },
    /// A fetched config, decided with in a task of its own.
    Decide(Box<CompiledConfig>),
    /// A batch of events (the session's ticket).
    Send(u32),
    /// The request to erase the server's copy of a withdrawn id.
    Erase,
    /// The request linking the id to the signed-in customer named.
    #[cfg(feature = "identity")]
    Identify(String),
    /// An offer for the second module to render, once it has loaded.
    #[cfg(not(feature = "full"))]
    Show(Box<super::offers::Later>),
    /// "Why this offer?": the second module works out the words.
    #[cfg(not(feature = "full"))]
    Explain(Box<super::actions::Explain>),
    /// The first decision's wait for the consent manager ran out.
    CmpWait,
    /// Something whose own callback is running now (an offer's listeners),
    /// dropped in a later task.
    Drop(Box<dyn std::any::Any>),
}

impl Inner {
    /// Asks the host (`ask(host, id)`) for what `pending` waits for; the
    /// answer comes to [`answer`]. Without a host, nothing is asked and
    /// this is false.
    pub fn ask(&mut self, pending: Pending, ask: impl FnOnce(&Host, u32)) -> bool {
        let Some(host) = &self.host else {
            return false;
        };
        self.asked = self.asked.wrapping_add(1);
        ask(host, self.asked);
        self.pending.push((self.asked, pending));
        true
    }

    /// Drops `value` in a later task (at once without a host).
    pub fn drop_later(&mut self, value: Box<dyn std::any::Any>) {
        self.ask(Pending::Drop(value), |host, id| host.later(id, 0));
    }
}

/// The loader answered the id `id` with `value`. An id nothing waits for
/// (answered twice, or after `destroy()`) is ignored.
pub(crate) fn answer(cell: Rc<RefCell<Inner>>, id: JsValue, value: JsValue) {
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
        Pending::Show(later) => (*later).arrived(&cell, crate::platform::more::arrived(value)),
        #[cfg(not(feature = "full"))]
        Pending::Explain(explain) => (*explain).arrived(crate::platform::more::arrived(value)),
        Pending::CmpWait => {
            super::lifecycle::decide_after_cmp(&cell);
            super::sync::flush(cell);
        }
        Pending::Drop(value) => drop(value),
    }
}
