//! Console warnings, each kind at most once per page so a broken setup does
//! not flood the shop's console.

use std::cell::Cell;

/// The kinds of problem the widget reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
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
    /// A page's `dangol.on` callback threw.
    Callback,
}

thread_local! {
    /// One bit per [`Problem`] already reported.
    static WARNED: Cell<u32> = const { Cell::new(0) };
}

/// Logs `message` as a console warning unless this kind was logged already.
pub fn warn_once(kind: Problem, message: &str) {
    let bit = 1u32 << (kind as u8);
    let first = WARNED.with(|w| {
        let seen = w.get();
        w.set(seen | bit);
        seen & bit == 0
    });
    if first {
        web_sys::console::warn_1(&dangol_engine::cat::cat(&["dangol: ", message]).into());
    }
}

/// Logs `message` as a console warning, every time: for mistakes in calls
/// the page makes (each bad call is named and dropped).
pub fn warn(message: &str) {
    web_sys::console::warn_1(&message.into());
}
