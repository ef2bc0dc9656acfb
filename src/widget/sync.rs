//! Sending the outbox: in batches, one tab at a time, with backoff and
//! `Retry-After`, and directly (with `keepalive`) when the page goes.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen_futures::spawn_local;

use dangol_engine::session::{Input, Outcome};

use super::state::Inner;
use crate::platform::log::{Problem, warn_once};
use crate::platform::{json, net};

/// Runs the page's queued callbacks, then sends the oldest waiting events
/// if consent allows, the network is up and no retry is pending. A batch
/// stays in the stored outbox until the server took it; failures back off.
pub(crate) fn flush(cell: Rc<RefCell<Inner>>) {
    send(cell, true);
}

/// The page is being hidden or left: send now, without waiting for the
/// cross-tab lock (its callback might never run in a page that is going),
/// with `keepalive` so the request outlives the page.
pub(super) fn flush_on_hide(cell: Rc<RefCell<Inner>>) {
    send(cell, false);
}

fn send(cell: Rc<RefCell<Inner>>, exclusive: bool) {
    super::callbacks::deliver(&cell);
    let (sends, url, site) = {
        let mut inner = cell.borrow_mut();
        inner.input(Input::Flush { online: online() });
        (
            std::mem::take(&mut inner.outgoing),
            inner.events_url(),
            inner.site.clone(),
        )
    };
    for (ticket, body, key) in sends {
        let Ok(body) = js_sys::JSON::stringify(&json::to_js(&body)) else {
            cell.borrow_mut()
                .input(Input::Sent(ticket, Outcome::Skipped));
            continue;
        };
        let body = String::from(body);
        let url = url.clone();
        let answer = cell.clone();
        let task = async move {
            let result = net::post_json(&url, &body, Some(&key), net::TIMEOUT_MS).await;
            let outcome = match result {
                Ok((status, retry_after)) => Outcome::of_status(status, retry_after),
                Err(_) => Outcome::Failed(None),
            };
            match (&result, outcome) {
                (Ok((status, _)), Outcome::Refused) => warn_once(
                    Problem::Send,
                    &dangol_engine::cat::cat(&[
                        "the server refused events (HTTP ",
                        &dangol_engine::cat::uint(u64::from(*status)),
                        ")",
                    ]),
                ),
                (Ok((status, _)), Outcome::Failed(_)) => warn_once(
                    Problem::Send,
                    &dangol_engine::cat::cat(&[
                        "could not send events (HTTP ",
                        &dangol_engine::cat::uint(u64::from(*status)),
                        "); they stay queued and are retried",
                    ]),
                ),
                (Err(e), _) => warn_once(
                    Problem::Send,
                    &dangol_engine::cat::cat(&[
                        "could not send events (",
                        e,
                        "); they stay queued and are retried",
                    ]),
                ),
                _ => {}
            }
            answer.borrow_mut().input(Input::Sent(ticket, outcome));
            // What the session sends next (the rest of a long outbox) goes
            // out in the same way.
            flush(answer);
        };
        // One page sends at a time across the shopper's tabs; a page that
        // finds the lock taken tries again on its next tick.
        if exclusive {
            let busy = cell.clone();
            crate::platform::locks::run_exclusive(
                &dangol_engine::cat::cat(&["dangol-send:", &site]),
                task,
                move || {
                    busy.borrow_mut()
                        .input(Input::Sent(ticket, Outcome::Skipped));
                },
            );
        } else {
            spawn_local(task);
        }
    }
}

/// Whether the browser thinks it is online (unknown counts as online).
fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}
