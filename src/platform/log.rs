//! Console warnings, each kind at most once per page so a broken setup does
//! not flood the shop's console.

use std::cell::RefCell;
use std::collections::HashSet;

/// The kinds of problem the widget reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    /// The script tag lacks `data-site` or has a bad endpoint.
    Setup,
    /// localStorage is blocked or full.
    Storage,
    /// The config could not be fetched.
    ConfigFetch,
    /// The config arrived but is not usable.
    ConfigInvalid,
    /// Events could not be sent.
    Send,
    /// An offer could not be rendered.
    Render,
}

thread_local! {
    static WARNED: RefCell<HashSet<Problem>> = RefCell::new(HashSet::new());
}

/// Logs `message` as a console warning unless this kind was logged already.
pub fn warn_once(kind: Problem, message: &str) {
    let first = WARNED.with(|w| w.borrow_mut().insert(kind));
    if first {
        web_sys::console::warn_1(&format!("dangol: {message}").into());
    }
}
