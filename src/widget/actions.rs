//! What the shopper does with an offer ([`Action`]s from render), carried
//! out: clicks, dismissals, feedback answers, coupon claims and switching
//! personalised offers off.

#[cfg(feature = "full")]
use std::rc::Rc;

use dangol_engine::profile::Input as ProfileInput;
use dangol_engine::session::Input;
use web_sys::Element;

use super::callbacks;
#[cfg(not(feature = "full"))]
use super::pending::Explain;
#[cfg(not(feature = "full"))]
use super::pending::Pending;
use super::state::{Cell, Inner, offer_detail};
use super::sync::flush;
#[cfg(not(feature = "full"))]
use crate::platform::json;
#[cfg(not(feature = "full"))]
use crate::platform::log::{Problem, warn_once};
use crate::render::Action;
#[cfg(feature = "full")]
use crate::render::{Sink, coupon};

/// The sink for one offer's actions, where this module renders them.
#[cfg(feature = "full")]
pub(super) fn sink(cell: Option<Cell>, handle: u32) -> Sink {
    Rc::new(move |action| {
        if let Some(cell) = cell {
            act(cell, handle, action);
        }
    })
}

/// What the shopper did with the offer `handle` (reported by the loader,
/// the second module or this module's own rendering). Actions on an offer
/// no longer on the page are ignored.
pub(super) fn act(cell: Cell, handle: u32, action: Action) {
    let Ok(mut inner) = cell.try_borrow_mut() else {
        return;
    };
    let Some(shown) = inner.shown.iter().find(|s| s.handle == handle) else {
        return;
    };
    let (campaign, variant) = (shown.campaign.clone(), shown.variant.clone());
    match action {
        Action::Click => offer_clicked(&mut inner, &campaign, &variant),
        Action::Dismiss => inner.dismissed(handle),
        Action::Answer(answer) => inner.answered(&campaign, &variant, answer),
        Action::PersonalisationOff => inner.input(Input::PersonalisationOff),
        Action::Claim(slot) => {
            drop(inner);
            return claim(cell, slot, campaign, variant);
        }
        #[cfg(not(feature = "full"))]
        Action::Claimed => claimed(&mut inner, &campaign, &variant),
        #[cfg(not(feature = "full"))]
        Action::Explain(text) => {
            drop(inner);
            return explain(cell, &campaign, text);
        }
        Action::Seen => inner.seen(handle),
    }
    drop(inner);
    flush(cell);
}

/// Asks the server for the coupon's code and shows it (or why not): in
/// this module when it renders coupons, else in the second module that
/// rendered this one (which answers with [`Action::Claimed`]).
fn claim(cell: Cell, slot: Element, campaign: String, variant: String) {
    let (request, lang) = {
        let inner = cell.borrow();
        (inner.claim_request(&campaign, &variant), inner.lang())
    };
    #[cfg(feature = "full")]
    let Some((url, body)) = request else {
        coupon::show_failure(&slot, lang.words().claim_needs_consent);
        return;
    };
    #[cfg(feature = "full")]
    wasm_bindgen_futures::spawn_local(async move {
        let Some(listeners) = coupon::claim(&slot, &url, &body, lang).await else {
            return;
        };
        let mut inner = cell.borrow_mut();
        if let Some(shown) = inner.shown.iter_mut().find(|s| s.host == slot) {
            shown.listeners.extend(listeners);
        }
        claimed(&mut inner, &campaign, &variant);
        drop(inner);
        flush(cell);
    });
    #[cfg(not(feature = "full"))]
    {
        let _ = (campaign, variant);
        // Without consent to claim, no request: the second module, which
        // drew the coupon, says so on it.
        let (url, body) = request.unwrap_or_default();
        let inner = cell.borrow();
        if let Some(shown) = inner.shown.iter().find(|s| s.host == slot)
            && let Some(lazy) = &shown.lazy
            && let Some(more) = crate::platform::more::loaded()
        {
            more.claim(lazy.0, &url, &body, lang.tag());
        }
    }
}

/// "Why this offer?" opened: the second module works out the words for the
/// shopper's attributes as they are now.
#[cfg(not(feature = "full"))]
fn explain(cell: Cell, campaign: &str, text: Element) {
    let mut inner = cell.borrow_mut();
    let Some(config) = inner.config.as_ref() else {
        return;
    };
    let attributes = inner.attributes(config, crate::platform::clock::now_ms());
    let explain = Explain {
        config: config.source().to_string(),
        campaign: campaign.to_string(),
        attributes: json::to_js(&attributes),
        lang: inner.lang().tag(),
        text,
    };
    inner.ask(Pending::Explain(Box::new(explain)), |host, id| {
        host.more(id)
    });
}

#[cfg(not(feature = "full"))]
impl Explain {
    /// The second module loaded (or did not): the words are shown.
    pub(crate) fn arrived(self, loaded: Result<crate::platform::more::More, String>) {
        match loaded {
            Ok(more) => more.why(
                &self.config,
                &self.campaign,
                self.attributes,
                self.lang,
                &self.text,
            ),
            Err(e) => warn_once(Problem::Render, &e),
        }
    }
}

/// A coupon was claimed: a `claim` event.
fn claimed(inner: &mut Inner, campaign: &str, variant: &str) {
    inner.apply_input(ProfileInput::Claim {
        campaign: campaign.to_string(),
    });
    inner.record_offer_event("claim", campaign, variant);
    inner.emit(callbacks::CLAIM, offer_detail(campaign, variant));
}

/// The shopper clicked an offer's call to action.
fn offer_clicked(inner: &mut Inner, campaign: &str, variant: &str) {
    inner.apply_input(ProfileInput::Click {
        campaign: campaign.to_string(),
    });
    inner.record_offer_event("click", campaign, variant);
    inner.emit(callbacks::CLICK, offer_detail(campaign, variant));
}
