//! The profile's stored form: compact JSON with a schema number, so a newer
//! widget can migrate what an older one wrote.

use crate::json::{Map, Value};

use super::{
    CartLine, MAX_CART, MAX_ID_LEN, MAX_SCORES, MAX_TRANSACTIONS, Profile, Score, Stage, clip,
};
use crate::ledger::{Entry, Ledger, MAX_CAMPAIGNS, MAX_SHOWS};
use crate::wire::{Reader, Writer};

use super::segment_form::{read_session, read_visits, write_session, write_visits};

/// The stored schema this engine writes. Version history:
/// - 1: the first stored profile.
pub const PROFILE_SCHEMA: u64 = 1;

fn scores(list: &[Score]) -> Value {
    Value::Array(
        list.iter()
            .map(|s| {
                Value::Array(vec![
                    Value::from(s.key.as_str()),
                    Value::from(s.value),
                    Value::from(s.at_ms),
                ])
            })
            .collect(),
    )
}

fn read_scores(v: &Value) -> Vec<Score> {
    let mut out: Vec<Score> = v
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| {
            Some(Score {
                key: clip(s[0].as_str()?),
                value: s[1].as_f64().filter(|x| x.is_finite())?,
                at_ms: s[2].as_i64()?,
            })
        })
        .collect();
    out.truncate(MAX_SCORES);
    out
}

pub(super) fn to_value(p: &Profile) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| m.set(k, v);
    put("v", Value::from(PROFILE_SCHEMA));
    put("first", Value::from(p.first_seen_ms));
    put("last", Value::from(p.last_seen_ms));
    put("ss", Value::from(p.session_start_ms));
    if let Some(prev) = p.previous_visit_ms {
        put("prev", Value::from(prev));
    }
    put("visits", Value::from(p.visits));
    put("sessions", Value::from(p.sessions));
    put("hours", Value::from(p.hours.to_vec()));
    put("orders", Value::from(p.orders));
    put("revenue", Value::from(p.revenue));
    if let Some(t) = p.last_purchase_ms {
        put("lp", Value::from(t));
    }
    if let Some(g) = p.purchase_gap_days {
        put("gap", Value::from(g));
    }
    put("tx", Value::from(p.transactions.clone()));
    put("cat", scores(&p.categories));
    put("brand", scores(&p.brands));
    put("items", scores(&p.item_views));
    if !p.bought.is_empty() {
        put("paid", scores(&p.bought));
    }
    if !p.bought_categories.is_empty() {
        put("paidcat", scores(&p.bought_categories));
    }
    put(
        "price",
        Value::Array(vec![
            Value::from(p.price_signals),
            Value::from(p.price_signals_ms),
        ]),
    );
    put(
        "cart",
        Value::Array(
            p.cart
                .iter()
                .map(|l| {
                    Value::Array(vec![
                        Value::from(l.item.as_str()),
                        Value::from(l.price),
                        Value::from(l.quantity),
                    ])
                })
                .collect(),
        ),
    );
    put("cart_ms", Value::from(p.cart_ms));
    put("eng", Value::from(p.session_engaged_s));
    put("sv", Value::from(p.session_views));
    put("bought", Value::Bool(p.session_purchased));
    put("stage", Value::from(p.stage.name()));
    if let Some(prev) = p.previous_stage {
        put("prev_stage", Value::from(prev.name()));
    }
    put("ledger", p.ledger.to_value());
    Value::Object(m)
}

fn read_cart(v: Option<&Value>) -> Vec<CartLine> {
    let mut cart: Vec<CartLine> = v
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|c| {
                    Some(CartLine {
                        item: clip(c[0].as_str()?),
                        price: c[1].as_f64().filter(|x| x.is_finite())?,
                        quantity: c[2].as_u64().and_then(|n| u32::try_from(n).ok())?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    cart.truncate(MAX_CART);
    cart
}

/// Only the items of a stored profile (viewed, in the cart, bought); the
/// rest is left empty. Reads what [`to_value`] wrote at any schema.
pub(super) fn items_from_value(v: &Value) -> Profile {
    let null = Value::Null;
    let get = |k: &str| v.as_object().and_then(|o| o.get(k)).unwrap_or(&null);
    Profile {
        item_views: read_scores(get("items")),
        cart: read_cart(Some(get("cart"))),
        cart_ms: get("cart_ms").as_i64().unwrap_or(0),
        bought: read_scores(get("paid")),
        ..Profile::default()
    }
}

pub(super) fn from_value(v: &Value) -> Result<Profile, String> {
    let obj = v.as_object().ok_or("the stored profile is not an object")?;
    let schema = obj
        .get("v")
        .and_then(Value::as_u64)
        .ok_or("the stored profile has no schema number")?;
    if schema > PROFILE_SCHEMA {
        return Err(crate::cat::cat(&[
            "the stored profile has schema ",
            &crate::cat::uint(schema),
            ", newer than ",
            &crate::cat::uint(PROFILE_SCHEMA),
        ]));
    }
    // Migrations from older schemas go here, oldest first; schema 1 is the first.
    let int = |k: &str| obj.get(k).and_then(Value::as_i64);
    let count = |k: &str| {
        obj.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    };
    let num = |k: &str| obj.get(k).and_then(Value::as_f64).filter(|x| x.is_finite());
    let mut hours = [0u16; 24];
    if let Some(list) = obj.get("hours").and_then(Value::as_array) {
        for (h, c) in hours.iter_mut().zip(list) {
            *h = c.as_u64().and_then(|n| u16::try_from(n).ok()).unwrap_or(0);
        }
    }
    let mut transactions: Vec<String> = obj
        .get("tx")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).map(clip).collect())
        .unwrap_or_default();
    let excess = transactions.len().saturating_sub(MAX_TRANSACTIONS);
    transactions.drain(..excess);
    let cart = read_cart(obj.get("cart"));
    let price = obj.get("price");
    Ok(Profile {
        first_seen_ms: int("first").ok_or("the stored profile has no first visit")?,
        last_seen_ms: int("last").unwrap_or(0),
        session_start_ms: int("ss").unwrap_or(0),
        previous_visit_ms: int("prev"),
        visits: count("visits"),
        sessions: count("sessions"),
        hours,
        orders: count("orders"),
        revenue: num("revenue").unwrap_or(0.0).max(0.0),
        last_purchase_ms: int("lp"),
        purchase_gap_days: num("gap"),
        transactions,
        categories: read_scores(obj.get("cat").unwrap_or(&Value::Null)),
        brands: read_scores(obj.get("brand").unwrap_or(&Value::Null)),
        item_views: read_scores(obj.get("items").unwrap_or(&Value::Null)),
        bought: read_scores(obj.get("paid").unwrap_or(&Value::Null)),
        bought_categories: read_scores(obj.get("paidcat").unwrap_or(&Value::Null)),
        price_signals: price
            .and_then(|p| p[0].as_f64())
            .filter(|x| x.is_finite())
            .unwrap_or(0.0),
        price_signals_ms: price.and_then(|p| p[1].as_i64()).unwrap_or(0),
        cart,
        cart_ms: int("cart_ms").unwrap_or(0),
        session_engaged_s: count("eng"),
        session_views: count("sv"),
        session_purchased: obj.get("bought").and_then(Value::as_bool).unwrap_or(false),
        stage: obj
            .get("stage")
            .and_then(Value::as_str)
            .and_then(Stage::parse)
            .unwrap_or_default(),
        previous_stage: obj
            .get("prev_stage")
            .and_then(Value::as_str)
            .and_then(Stage::parse),
        ledger: Ledger::from_value(obj.get("ledger").unwrap_or(&Value::Null)),
    })
}

/// The stored form's version, its first byte. Version history:
/// - 1: the first compact form; before it, the JSON of [`to_value`].
const FORM: u64 = 1;

fn write_scores(w: &mut Writer, list: &[Score]) {
    w.list(list, |w, s| {
        w.s(&s.key);
        w.f(s.value);
        w.i(s.at_ms);
    });
}

/// A finite float (every float a profile keeps is one).
fn finite(r: &mut Reader) -> f64 {
    let x = r.f();
    if !x.is_finite() {
        r.fail();
    }
    x
}

/// A list of at most `max` items, each an id of at most [`MAX_ID_LEN`]
/// bytes where it has one: what the writer keeps to. Anything longer is
/// not this engine's writing, and the read fails.
fn bounded<'a, T>(
    r: &mut Reader<'a>,
    max: usize,
    read: impl FnMut(&mut Reader<'a>) -> T,
) -> Vec<T> {
    let list = r.list(read);
    if list.len() > max {
        r.fail();
    }
    list
}

/// Text of at most `max` bytes.
fn text(r: &mut Reader, max: usize) -> String {
    let text = r.s();
    if text.len() > max {
        r.fail();
    }
    text
}

fn id(r: &mut Reader) -> String {
    text(r, MAX_ID_LEN)
}

fn scores_from(r: &mut Reader) -> Vec<Score> {
    bounded(r, MAX_SCORES, |r| Score {
        key: id(r),
        value: finite(r),
        at_ms: r.i(),
    })
}

/// The profile as first-party storage keeps it: the compact form of
/// [`crate::wire`] as base64 text, every field in a fixed order.
pub(super) fn to_text(p: &Profile) -> String {
    let mut w = Writer::default();
    w.u(FORM);
    write_visits(&mut w, p);
    for h in p.hours {
        w.u(u64::from(h));
    }
    w.u(u64::from(p.orders));
    w.f(p.revenue);
    w.opt(p.last_purchase_ms.as_ref(), |w, t| w.i(*t));
    w.opt(p.purchase_gap_days.as_ref(), |w, d| w.f(*d));
    w.list(&p.transactions, |w, t| w.s(t));
    for list in [
        &p.categories,
        &p.brands,
        &p.item_views,
        &p.bought,
        &p.bought_categories,
    ] {
        write_scores(&mut w, list);
    }
    w.f(p.price_signals);
    w.i(p.price_signals_ms);
    w.list(&p.cart, |w, l| {
        w.s(&l.item);
        w.f(l.price);
        w.u(u64::from(l.quantity));
    });
    write_session(&mut w, p);
    w.list(p.ledger.entries(), |w, e| {
        w.s(&e.campaign);
        w.s(&e.variant);
        w.list(&e.shows, |w, t| w.i(*t));
        w.u(u64::from(e.lifetime));
        w.opt(e.last_dismiss_ms.as_ref(), |w, t| w.i(*t));
        w.b(e.converted);
        w.i(e.last_ms);
        w.i(e.seen_ms);
        w.i(e.click_ms);
        w.i(e.claim_ms);
    });
    w.finish()
}

/// Reads what [`to_text`] wrote; `None` for text that is not exactly one
/// such form within the profile's bounds (never a panic).
pub(super) fn from_text(stored: &str) -> Option<Profile> {
    let bytes = crate::wire::unbase64(stored)?;
    let mut r = Reader::new(&bytes);
    if r.u() != FORM {
        return None;
    }
    let mut p = read_visits(&mut r);
    for h in &mut p.hours {
        *h = u16::try_from(r.u()).unwrap_or_else(|_| {
            r.fail();
            0
        });
    }
    p.orders = r.u32();
    p.revenue = finite(&mut r);
    p.last_purchase_ms = r.opt(Reader::i);
    p.purchase_gap_days = r.opt(finite);
    p.transactions = bounded(&mut r, MAX_TRANSACTIONS, id);
    p.categories = scores_from(&mut r);
    p.brands = scores_from(&mut r);
    p.item_views = scores_from(&mut r);
    p.bought = scores_from(&mut r);
    p.bought_categories = scores_from(&mut r);
    p.price_signals = finite(&mut r);
    p.price_signals_ms = r.i();
    p.cart = bounded(&mut r, MAX_CART, |r| CartLine {
        item: id(r),
        price: finite(r),
        quantity: r.u32(),
    });
    read_session(&mut r, &mut p);
    let entries = bounded(&mut r, MAX_CAMPAIGNS, |r| Entry {
        campaign: text(r, 64),
        variant: text(r, 64),
        shows: bounded(r, MAX_SHOWS, Reader::i),
        lifetime: r.u32(),
        last_dismiss_ms: r.opt(Reader::i),
        converted: r.b(),
        last_ms: r.i(),
        seen_ms: r.i(),
        click_ms: r.i(),
        claim_ms: r.i(),
    });
    p.ledger = Ledger::from_entries(entries);
    r.finish(p)
}
