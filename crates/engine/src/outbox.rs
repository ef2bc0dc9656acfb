//! The outbox: events waiting to be sent, kept in first-party storage so a
//! reload, a closed tab or a dead network loses none of them.
//!
//! It is bounded: past [`MAX_EVENTS`] the oldest go and are counted, and the
//! count travels with the next batch (`"dropped"`), so the shop sees what was
//! lost. Failed sends back off exponentially with jitter, never sooner than
//! the server's `Retry-After`. Every event keeps its id, so a retry of a batch
//! the server already stored is harmless.
//!
//! Events wait in their wire form (as [`Event::to_value`] writes them, the
//! form they are stored and sent in): an outbox read back from storage,
//! this page's after a reload or another page's adopted, is checked for
//! the fields the outbox itself works with and otherwise sent as written.
//! The server checks every event it is sent.

use crate::json::{Map, Value};

use crate::event::{Event, MAX_BATCH};

/// Most events kept.
pub const MAX_EVENTS: usize = 500;
/// The first retry waits about this long.
const BASE_MS: i64 = 1_000;
/// No retry waits longer than this.
const CAP_MS: i64 = 5 * 60_000;

/// Unsent events, the count dropped for lack of room, and the retry state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outbox {
    events: Vec<Value>,
    dropped: u64,
    failures: u32,
    next_try_ms: i64,
}

/// A batch on its way: the events and the dropped count it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The events in their wire form, oldest first.
    pub events: Vec<Value>,
    /// Events dropped since the last delivered batch.
    pub dropped: u64,
}

impl Outbox {
    /// Adds an event; when full, the oldest goes and is counted.
    pub fn push(&mut self, event: Event) {
        self.put(event.to_value());
    }

    fn put(&mut self, event: Value) {
        if self
            .events
            .iter()
            .any(|e| text(e, "id") == text(&event, "id"))
        {
            return;
        }
        if self.events.len() >= MAX_EVENTS {
            self.events.remove(0);
            self.dropped += 1;
        }
        self.events.push(event);
    }

    /// Takes in events kept by another tab that is gone (ids already here
    /// are skipped).
    pub fn adopt(&mut self, other: Outbox) {
        self.dropped += other.dropped;
        for e in other.events {
            self.put(e);
        }
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether nothing waits (no events, no dropped count to report).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.dropped == 0
    }

    /// The waiting events, in their wire form.
    pub fn events(&self) -> &[Value] {
        &self.events
    }

    /// Fills in the pseudonymous id where events were made before it existed.
    pub fn stamp(&mut self, anon: &str) {
        for e in &mut self.events {
            if text(e, "anon").is_empty() {
                e["anon"] = Value::from(anon);
            }
        }
    }

    /// Gives every waiting event `anon` (two tabs settled on one id).
    pub fn restamp(&mut self, anon: &str) {
        for e in &mut self.events {
            e["anon"] = Value::from(anon);
        }
    }

    /// Keeps only the events of `anon` or of no id yet (an adopted outbox
    /// may hold events of an id since erased: they are not sent).
    pub fn retain_id(&mut self, anon: &str) {
        self.events.retain(|e| {
            let mine = text(e, "anon");
            mine.is_empty() || mine == anon
        });
    }

    /// Whether a send may start now (not backing off).
    pub fn due(&self, now_ms: i64) -> bool {
        !self.is_empty() && now_ms >= self.next_try_ms
    }

    /// When the next try is due (ms), while backing off.
    pub fn next_try_ms(&self) -> i64 {
        self.next_try_ms
    }

    /// The next batch: the oldest events (at most [`MAX_BATCH`]) and the
    /// dropped count. They stay in the outbox until [`Outbox::delivered`].
    pub fn batch(&self) -> Batch {
        Batch {
            events: self.events.iter().take(MAX_BATCH).cloned().collect(),
            dropped: self.dropped,
        }
    }

    /// The server took `batch` (stored or already had it): its events and
    /// its dropped count leave the outbox, and the backoff resets.
    pub fn delivered(&mut self, batch: &Batch) {
        self.events
            .retain(|e| !batch.events.iter().any(|b| text(b, "id") == text(e, "id")));
        self.dropped = self.dropped.saturating_sub(batch.dropped);
        self.failures = 0;
        self.next_try_ms = 0;
    }

    /// The server refused `batch` for good (a 4xx other than 429): resending
    /// cannot help, so its events go, counted as dropped.
    pub fn refused(&mut self, batch: &Batch) {
        let before = self.events.len();
        self.delivered(batch);
        self.dropped += (before - self.events.len()) as u64 + batch.dropped;
    }

    /// A send failed (network, timeout, 5xx, 429): back off. `jitter` is a
    /// number in [0, 1); `retry_after_ms` is the server's `Retry-After`.
    /// Returns when to try again.
    pub fn failed(&mut self, now_ms: i64, retry_after_ms: Option<i64>, jitter: f64) -> i64 {
        self.failures = self.failures.saturating_add(1);
        let exp = BASE_MS.saturating_mul(1 << self.failures.min(20).saturating_sub(1));
        let backoff = exp.min(CAP_MS);
        // Full jitter between half and all of the backoff, so tabs and
        // shoppers that failed together do not retry together.
        let wait = (backoff as f64 * (0.5 + jitter.clamp(0.0, 1.0) / 2.0)) as i64;
        let wait = wait.max(retry_after_ms.unwrap_or(0).clamp(0, CAP_MS));
        self.next_try_ms = now_ms + wait;
        self.next_try_ms
    }

    /// The stored form.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.set("e", Value::Array(self.events.clone()));
        m.set("d", Value::from(self.dropped));
        m.set("f", Value::from(self.failures));
        m.set("n", Value::from(self.next_try_ms));
        Value::Object(m)
    }

    /// Reads [`Outbox::to_value`]. An event without the text fields the
    /// outbox works with (`id`, for duplicates and delivery; `anon`, for
    /// stamping and for leaving out an erased id's events) is dropped and
    /// counted; the rest is kept exactly as stored.
    pub fn from_value(value: &Value) -> Outbox {
        let mut out = Outbox {
            dropped: value["d"].as_u64().unwrap_or(0),
            failures: value["f"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            next_try_ms: value["n"].as_i64().unwrap_or(0),
            ..Outbox::default()
        };
        for e in value["e"].as_array().map(Vec::as_slice).unwrap_or_default() {
            if !text(e, "id").is_empty() && e["anon"].is_string() {
                out.put(e.clone());
            } else {
                out.dropped += 1;
            }
        }
        out
    }
}

impl Batch {
    /// The request body: `{"events": [...], "dropped": n}`.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.set("events", Value::Array(self.events.clone()));
        if self.dropped > 0 {
            m.set("dropped", Value::from(self.dropped));
        }
        Value::Object(m)
    }
}

/// An event's text field `name`; empty when missing or not text.
fn text<'e>(event: &'e Value, name: &str) -> &'e str {
    event[name].as_str().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: usize) -> Event {
        Event::page_view(format!("evt_{n:08}"), 1_795_617_000_000, String::new())
    }

    #[test]
    fn a_full_outbox_drops_the_oldest_and_reports_how_many() {
        let mut o = Outbox::default();
        for n in 0..MAX_EVENTS + 7 {
            o.push(ev(n));
        }
        assert_eq!(o.len(), MAX_EVENTS);
        assert_eq!(o.events()[0]["id"], "evt_00000007");
        let b = o.batch();
        assert_eq!((b.events.len(), b.dropped), (MAX_BATCH, 7));
        assert_eq!(b.to_value()["dropped"], 7);
        o.delivered(&b);
        assert_eq!(o.len(), MAX_EVENTS - MAX_BATCH);
        assert_eq!(o.batch().dropped, 0, "the count was reported once");
        // The same id twice is one event.
        o.push(ev(499));
        assert_eq!(o.len(), MAX_EVENTS - MAX_BATCH);
    }

    #[test]
    fn failures_back_off_with_jitter_and_honour_retry_after() {
        let mut o = Outbox::default();
        o.push(ev(1));
        let now = 1_000_000;
        assert!(o.due(now));
        let waits: Vec<i64> = (0..12).map(|_| o.failed(now, None, 0.999) - now).collect();
        assert_eq!(waits[0], 999);
        assert_eq!(waits[1], 1_999);
        assert!(waits.windows(2).all(|w| w[1] >= w[0]), "{waits:?}");
        assert!(*waits.last().unwrap() <= CAP_MS);
        assert!(!o.due(now + 1000));
        // Jitter spreads retries over half to all of the backoff.
        let mut a = Outbox::default();
        a.push(ev(1));
        assert_eq!(a.failed(now, None, 0.0) - now, 500);
        // Retry-After wins when longer.
        assert_eq!(a.failed(now, Some(30_000), 0.0) - now, 30_000);
        let b = a.batch();
        a.delivered(&b);
        assert!(a.is_empty());
        a.push(ev(2));
        assert!(a.due(now), "a delivery resets the backoff");
    }

    #[test]
    fn the_stored_form_round_trips_and_adoption_merges() {
        let mut o = Outbox::default();
        o.push(ev(1));
        o.push(ev(2));
        o.failed(5, Some(1000), 0.5);
        let back = Outbox::from_value(&o.to_value());
        assert_eq!(back, o);
        let broken = crate::json!({"e": [{"id": 3}], "d": 2});
        let mut read = Outbox::from_value(&broken);
        assert_eq!((read.len(), read.batch().dropped), (0, 3));
        read.adopt(back.clone());
        read.adopt(back);
        assert_eq!(read.len(), 2, "ids already here are skipped");
        let mut stamped = read.clone();
        stamped.stamp("anon0123456789abcdef");
        assert!(
            stamped
                .events()
                .iter()
                .all(|e| e["anon"] == "anon0123456789abcdef")
        );
    }

    #[test]
    fn stored_events_are_kept_as_written_and_unusable_ones_counted() {
        let mut e = Event::exposure("evt_00000042".into(), 7, String::new(), "c", "v");
        e.price = Some(1.5);
        e.answer = Some(4);
        let written = e.to_value();
        let stored = crate::json!({"e": [
            written.clone(),
            {"type": "page_view", "ts": 1, "anon": ""},
            {"id": "", "type": "page_view", "ts": 1, "anon": ""},
            {"id": "evt_00000043", "type": "page_view", "ts": 1},
            "evt_00000044",
        ], "d": 1});
        let mut o = Outbox::from_value(&stored);
        assert_eq!(o.events(), std::slice::from_ref(&written));
        assert_eq!(o.batch().dropped, 5, "four unusable, one dropped before");
        o.stamp("anon0123456789abcdef");
        let sent = o.batch().to_value();
        assert_eq!(sent["events"][0]["anon"], "anon0123456789abcdef");
        assert_eq!(sent["events"][0]["price"], 1.5);
        assert_eq!(sent["events"][0]["answer"], 4);
        assert_eq!(sent["events"][0]["campaign"], "c");
        assert_eq!(sent["dropped"], 5);
    }

    #[test]
    fn a_refused_batch_goes_and_is_counted() {
        let mut o = Outbox::default();
        o.push(ev(1));
        o.push(ev(2));
        let b = o.batch();
        o.refused(&b);
        assert_eq!((o.len(), o.batch().dropped), (0, 2));
    }
}
