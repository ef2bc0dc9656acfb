//! Sending the outbox: in batches, one tab at a time, with backoff and
//! `Retry-After`, and directly (with `keepalive`) when the page goes.

use dangol_engine::session::{Input, Outcome};

use super::pending::Pending;
use super::state::Cell;
use crate::platform::host::Reply;
use crate::platform::json;
use crate::platform::log::{Problem, warn_once};

/// Runs the page's queued callbacks, then sends the oldest waiting events
/// if consent allows, the network is up and no retry is pending. A batch
/// stays in the stored outbox until the server took it; failures back off.
pub(crate) fn flush(cell: Cell) {
    send(cell, true);
}

/// The page is being hidden or left: send now, without waiting for the
/// cross-tab lock (its callback might never run in a page that is going),
/// with `keepalive` so the request outlives the page.
pub(super) fn flush_on_hide(cell: Cell) {
    send(cell, false);
}

fn send(cell: Cell, exclusive: bool) {
    super::callbacks::deliver(cell);
    let mut inner = cell.borrow_mut();
    // Unknown (no loader) counts as online.
    let online = inner.host.as_ref().is_none_or(|h| h.online());
    inner.input(Input::Flush { online });
    let sends = std::mem::take(&mut inner.outgoing);
    if sends.is_empty() {
        return;
    }
    let url = inner.events_url();
    // One page sends at a time across the shopper's tabs; a page that
    // finds the lock taken tries again on its next tick.
    let lock = if exclusive {
        dangol_engine::cat::cat(&["dangol-send:", &inner.site])
    } else {
        String::new()
    };
    for (ticket, body, key) in sends {
        let asked = json::stringify(&body).is_some_and(|body| {
            inner.ask(Pending::Send(ticket), |host, id| {
                host.req(id, "POST", &url, &body, &key, "", &lock)
            })
        });
        if !asked {
            inner.input(Input::Sent(ticket, Outcome::Skipped));
        }
    }
}

/// A batch's answer: the session learns what became of it, and what it
/// sends next (the rest of a long outbox) goes out in the same way.
pub(super) fn sent(cell: Cell, ticket: u32, reply: Reply) {
    let outcome = match &reply {
        Reply::Http {
            status,
            retry_after_ms,
            ..
        } => Outcome::of_status(*status, *retry_after_ms),
        // Another tab is sending: this one tries again on its next tick.
        Reply::Busy => {
            cell.borrow_mut()
                .input(Input::Sent(ticket, Outcome::Skipped));
            return;
        }
        Reply::Failed(_) => Outcome::Failed(None),
    };
    match (&reply, outcome) {
        (Reply::Http { status, .. }, Outcome::Refused) => warn_once(
            Problem::Send,
            &dangol_engine::cat::cat(&[
                "the server refused events (HTTP ",
                &dangol_engine::cat::uint(u64::from(*status)),
                ")",
            ]),
        ),
        (Reply::Http { status, .. }, Outcome::Failed(_)) => warn_once(
            Problem::Send,
            &dangol_engine::cat::cat(&[
                "could not send events (HTTP ",
                &dangol_engine::cat::uint(u64::from(*status)),
                "); they stay queued and are retried",
            ]),
        ),
        (Reply::Failed(e), _) => warn_once(
            Problem::Send,
            &dangol_engine::cat::cat(&[
                "could not send events (",
                e,
                "); they stay queued and are retried",
            ]),
        ),
        _ => {}
    }
    cell.borrow_mut().input(Input::Sent(ticket, outcome));
    flush(cell);
}
