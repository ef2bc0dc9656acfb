//! What the shopper does with an offer ([`Action`]s from render), carried
//! out: clicks, dismissals, feedback answers, coupon claims and switching
//! personalised offers off.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use dangol_engine::session::Input;
use wasm_bindgen_futures::spawn_local;
use web_sys::Element;

use super::state::Inner;
use super::sync::flush;
use crate::platform::log::{Problem, warn_once};
use crate::platform::{json, net};
use crate::render::{Action, Sink, coupon};

/// The sink for one offer's actions.
pub(super) fn sink(cell: Weak<RefCell<Inner>>, campaign: &str, variant: &str) -> Sink {
    let (campaign, variant) = (campaign.to_string(), variant.to_string());
    Rc::new(move |action| {
        let Some(cell) = cell.upgrade() else {
            return;
        };
        let Ok(mut inner) = cell.try_borrow_mut() else {
            return;
        };
        match action {
            Action::Click => inner.offer_clicked(&campaign, &variant),
            Action::Dismiss => inner.dismissed(&campaign, &variant),
            Action::Answer(answer) => inner.answered(&campaign, &variant, answer),
            Action::PersonalisationOff => inner.input(Input::PersonalisationOff),
            Action::Claim(slot) => {
                drop(inner);
                return claim(cell, slot, campaign.clone(), variant.clone());
            }
        }
        drop(inner);
        flush(cell);
    })
}

/// Asks the server for the coupon's code and shows it (or why not).
fn claim(cell: Rc<RefCell<Inner>>, slot: Element, campaign: String, variant: String) {
    let (request, lang) = {
        let inner = cell.borrow();
        (inner.claim_request(&campaign, &variant), inner.lang())
    };
    let words = lang.words();
    let Some((url, body)) = request else {
        coupon::show_failure(&slot, words.claim_needs_consent);
        return;
    };
    spawn_local(async move {
        match net::post_for_text(&url, &body, net::TIMEOUT_MS).await {
            Ok((200, text)) => {
                let answer = js_sys::JSON::parse(&text)
                    .map(|v| json::from_parsed(&v))
                    .unwrap_or_default();
                let code = answer["code"].as_str().unwrap_or_default().to_string();
                let expires = answer["expires_ms"].as_f64().unwrap_or(0.0);
                let listeners = coupon::show_code(&slot, &code, expires, lang);
                let mut inner = cell.borrow_mut();
                if let Some(shown) = inner.shown.iter_mut().find(|s| s.host == slot) {
                    shown.listeners.extend(listeners);
                }
                inner.claimed(&campaign, &variant);
                drop(inner);
                flush(cell);
            }
            Ok((409, _)) => coupon::show_failure(&slot, words.claim_exhausted),
            Ok((status, _)) => {
                warn_once(
                    Problem::Send,
                    &format!("could not claim a coupon (HTTP {status})"),
                );
                coupon::show_failure(&slot, words.claim_failed);
            }
            Err(e) => {
                warn_once(Problem::Send, &format!("could not claim a coupon ({e})"));
                coupon::show_failure(&slot, words.claim_failed);
            }
        }
    });
}
