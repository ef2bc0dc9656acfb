//! Sending the outbox: in batches, one tab at a time, with backoff and
//! `Retry-After`, and directly (with `keepalive`) when the page goes.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen_futures::spawn_local;

use super::lifecycle::TIMEOUT_MS;
use super::state::Inner;
use crate::platform::log::{Problem, warn_once};
use crate::platform::{clock, json, net};

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
    let (url, body, key, batch) = {
        let mut inner = cell.borrow_mut();
        let now = clock::now_ms();
        if !inner.measurement.may_send() || inner.sending || !inner.outbox.due(now) || !online() {
            return;
        }
        let Some(anon) = inner.anon.clone() else {
            return;
        };
        inner.outbox.stamp(&anon);
        let batch = inner.outbox.batch();
        let Ok(body) = js_sys::JSON::stringify(&json::to_js(&batch.to_value())) else {
            return;
        };
        inner.sending = true;
        (
            inner.events_url(),
            String::from(body),
            inner.key.clone(),
            batch,
        )
    };
    // One page sends at a time across the shopper's tabs; a page that finds
    // the lock taken tries again on its next tick.
    let lock = format!("dangol-send:{}", cell.borrow().site);
    let waiting = cell.clone();
    let task = async move {
        let result = net::post_json(&url, &body, key.as_deref(), TIMEOUT_MS).await;
        let more = {
            let mut inner = cell.borrow_mut();
            inner.sending = false;
            let now = clock::now_ms();
            let jitter = crate::platform::random::unit();
            let more = match result {
                Ok((status, _)) if (200..300).contains(&status) => {
                    inner.outbox.delivered(&batch);
                    !inner.outbox.is_empty()
                }
                Ok((status, _))
                    if (400..500).contains(&status) && status != 429 && status != 408 =>
                {
                    // The server refused the batch itself: retrying cannot help.
                    inner.outbox.refused(&batch);
                    warn_once(
                        Problem::Send,
                        &format!("the server refused events (HTTP {status})"),
                    );
                    !inner.outbox.is_empty()
                }
                Ok((status, retry_after)) => {
                    inner.outbox.failed(now, retry_after, jitter);
                    warn_once(
                        Problem::Send,
                        &format!(
                            "could not send events (HTTP {status}); they stay queued and are retried"
                        ),
                    );
                    false
                }
                Err(e) => {
                    inner.outbox.failed(now, None, jitter);
                    warn_once(
                        Problem::Send,
                        &format!("could not send events ({e}); they stay queued and are retried"),
                    );
                    false
                }
            };
            inner.save_outbox();
            more
        };
        if more {
            flush(cell);
        }
    };
    if exclusive {
        crate::platform::locks::run_exclusive(&lock, task, move || {
            waiting.borrow_mut().sending = false;
        });
    } else {
        spawn_local(task);
    }
}

/// Whether the browser thinks it is online (unknown counts as online).
fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}
