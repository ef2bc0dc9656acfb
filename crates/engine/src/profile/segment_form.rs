//! What the server's segments read of a profile, in the compact binary form
//! of [`crate::wire`]: every field the attributes are worked out from
//! ([`Profile::facts`], the lifecycle stage, RFM and the churn figures) and
//! nothing else. A segment refresh reads one of these per shopper instead of
//! the stored JSON profile: a fraction of the bytes, and read without
//! parsing text.
//!
//! Left out, because no attribute reads them: transaction ids, brands,
//! items bought, the ids of items viewed and in the cart, the recent
//! impression times caps count, and the hour counts beyond the usual hour.

use super::{CartLine, Profile, Score, Stage};
use crate::ledger::{Entry, Ledger};
use crate::wire::{Reader, Writer};

/// The form's version, its first byte.
const FORM: u64 = 1;

/// The visits at the start of both compact forms (this one and storage's).
pub(super) fn write_visits(w: &mut Writer, p: &Profile) {
    w.i(p.first_seen_ms);
    w.i(p.last_seen_ms);
    w.i(p.session_start_ms);
    w.opt(p.previous_visit_ms.as_ref(), |w, t| w.i(*t));
    w.u(u64::from(p.visits));
    w.u(u64::from(p.sessions));
}

/// A profile with what [`write_visits`] wrote, the rest empty.
pub(super) fn read_visits(r: &mut Reader) -> Profile {
    Profile {
        first_seen_ms: r.i(),
        last_seen_ms: r.i(),
        session_start_ms: r.i(),
        previous_visit_ms: r.opt(Reader::i),
        visits: r.u32(),
        sessions: r.u32(),
        ..Profile::default()
    }
}

/// The session's end of both compact forms (this one and storage's):
/// from when the cart last changed to the stage before this one.
pub(super) fn write_session(w: &mut Writer, p: &Profile) {
    w.i(p.cart_ms);
    w.u(u64::from(p.session_engaged_s));
    w.u(u64::from(p.session_views));
    w.b(p.session_purchased);
    w.u(p.stage as u64);
    w.opt(p.previous_stage.as_ref(), |w, s| w.u(*s as u64));
}

/// Reads what [`write_session`] wrote into `p`.
pub(super) fn read_session(r: &mut Reader, p: &mut Profile) {
    p.cart_ms = r.i();
    p.session_engaged_s = r.u32();
    p.session_views = r.u32();
    p.session_purchased = r.b();
    p.stage = read_stage(r);
    p.previous_stage = r.opt(read_stage);
}

fn read_stage(r: &mut Reader) -> Stage {
    // The declaration order, as `Stage as u64` writes it.
    match r.u() {
        0 => Stage::New,
        1 => Stage::Active,
        2 => Stage::Loyal,
        3 => Stage::Vip,
        4 => Stage::AtRisk,
        5 => Stage::Dormant,
        _ => {
            r.fail();
            Stage::New
        }
    }
}

fn scores(w: &mut Writer, list: &[Score], keys: bool) {
    w.list(list, |w, s| {
        if keys {
            w.s(&s.key);
        }
        w.f(s.value);
        w.i(s.at_ms);
    });
}

fn read_scores(r: &mut Reader, keys: bool) -> Vec<Score> {
    r.list(|r| Score {
        key: if keys { r.s() } else { String::new() },
        value: r.f(),
        at_ms: r.i(),
    })
}

impl Profile {
    /// The profile as segments read it (see the module's note).
    pub fn segment_form(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u(FORM);
        write_visits(&mut w, self);
        w.opt(self.usual_hour().as_ref(), |w, h| w.u(u64::from(*h)));
        w.u(u64::from(self.orders));
        w.n(self.revenue);
        w.opt(self.last_purchase_ms.as_ref(), |w, t| w.i(*t));
        w.opt(self.purchase_gap_days.as_ref(), |w, d| w.f(*d));
        scores(&mut w, &self.categories, true);
        scores(&mut w, &self.item_views, false);
        scores(&mut w, &self.bought_categories, true);
        w.f(self.price_signals);
        w.i(self.price_signals_ms);
        w.list(&self.cart, |w, l| {
            w.n(l.price);
            w.u(u64::from(l.quantity));
        });
        write_session(&mut w, self);
        w.list(self.ledger.entries(), |w, e| {
            w.s(&e.campaign);
            w.i(e.seen_ms);
            w.i(e.click_ms);
            w.i(e.claim_ms);
            w.b(e.converted);
        });
        w.into_bytes()
    }

    /// Reads what [`Profile::segment_form`] wrote: a profile whose
    /// attributes are the written one's, or `None` for bytes that are not
    /// exactly one such form (never a panic).
    pub fn from_segment_form(bytes: &[u8]) -> Option<Profile> {
        let mut r = Reader::new(bytes);
        if r.u() != FORM {
            return None;
        }
        let mut p = read_visits(&mut r);
        if let Some(hour) = r.opt(Reader::u) {
            match p.hours.get_mut(hour as usize) {
                Some(count) => *count = 1,
                None => r.fail(),
            }
        }
        p.orders = r.u32();
        p.revenue = r.n();
        p.last_purchase_ms = r.opt(Reader::i);
        p.purchase_gap_days = r.opt(Reader::f);
        p.categories = read_scores(&mut r, true);
        p.item_views = read_scores(&mut r, false);
        p.bought_categories = read_scores(&mut r, true);
        p.price_signals = r.f();
        p.price_signals_ms = r.i();
        p.cart = r.list(|r| CartLine {
            item: String::new(),
            price: r.n(),
            quantity: r.u32(),
        });
        read_session(&mut r, &mut p);
        let entries = r.list(|r| Entry {
            campaign: r.s(),
            seen_ms: r.i(),
            click_ms: r.i(),
            claim_ms: r.i(),
            converted: r.b(),
            ..Entry::default()
        });
        p.ledger = Ledger::from_entries(entries);
        r.finish(p)
    }
}
