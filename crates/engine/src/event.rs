//! The event schema shared by the widget (which builds events) and the
//! server (which checks them).
//!
//! The privacy rules decide the fields: a pseudonymous random id, the event
//! type, the time, the site's own product and category ids and prices, and
//! offer ids. Nothing else may leave the browser, so any other field makes
//! the event invalid.

use crate::json::Value;
use serde::{Deserialize, Serialize};

use crate::config::is_identifier;
use crate::error::EventError;

/// Most events one batch may carry.
pub const MAX_BATCH: usize = 100;

/// Event types the widget produces itself.
pub const BUILT_IN_TYPES: &[&str] = &[
    "page_view",
    "exposure",
    "click",
    "dismiss",
    "view_item",
    "add_to_cart",
    "remove_from_cart",
    "begin_checkout",
    "purchase",
    "holdout",
];

/// One behavioural event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Made by the client; the server stores each id once.
    pub id: String,
    /// The event type, e.g. `page_view`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Milliseconds since the Unix epoch, from the shopper's clock.
    pub ts: i64,
    /// The pseudonymous random id made at consent.
    pub anon: String,
    /// Offer events: the campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Offer events: the variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The site's own product id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The site's own category id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// A price in the site's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Feedback events: the answer to the shop's own question (a rating
    /// 1–5, an NPS score 0–10 or the index of a fixed choice). Never text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<u8>,
}

impl Event {
    /// A page view.
    pub fn page_view(id: String, ts: i64, anon: String) -> Self {
        Self::bare(id, "page_view", ts, anon)
    }

    /// The shopper was shown a variant of a campaign.
    pub fn exposure(id: String, ts: i64, anon: String, campaign: &str, variant: &str) -> Self {
        Self {
            campaign: Some(campaign.to_string()),
            variant: Some(variant.to_string()),
            ..Self::bare(id, "exposure", ts, anon)
        }
    }

    /// The event as JSON, with only the fields that are set. Built by hand so
    /// the widget needs no serde serializer.
    pub fn to_value(&self) -> Value {
        let mut map = crate::json::Map::new();
        map.set("id", Value::from(self.id.as_str()));
        map.set("type", Value::from(self.kind.as_str()));
        map.set("ts", Value::from(self.ts));
        map.set("anon", Value::from(self.anon.as_str()));
        for (key, value) in [
            ("campaign", &self.campaign),
            ("variant", &self.variant),
            ("item", &self.item),
            ("category", &self.category),
        ] {
            if let Some(v) = value {
                map.set(key, Value::from(v.as_str()));
            }
        }
        if let Some(price) = self.price {
            map.set("price", Value::from(price));
        }
        if let Some(answer) = self.answer {
            map.set("answer", Value::from(answer));
        }
        Value::Object(map)
    }

    /// The shopper was targeted by a campaign but kept in its holdout: the
    /// control side of the uplift measurement.
    pub fn holdout(id: String, ts: i64, anon: String, campaign: &str) -> Self {
        Self {
            campaign: Some(campaign.to_string()),
            ..Self::bare(id, "holdout", ts, anon)
        }
    }

    /// The shopper is in the global holdout's control group on this page:
    /// the baseline for personalisation's overall uplift.
    pub fn global_holdout(id: String, ts: i64, anon: String) -> Self {
        Self::bare(id, "global_holdout", ts, anon)
    }

    /// The shopper showed exit intent on this page.
    pub fn exit_intent(id: String, ts: i64, anon: String) -> Self {
        Self::bare(id, "exit_intent", ts, anon)
    }

    fn bare(id: String, kind: &str, ts: i64, anon: String) -> Self {
        Self {
            id,
            kind: kind.to_string(),
            ts,
            anon,
            campaign: None,
            variant: None,
            item: None,
            category: None,
            price: None,
            answer: None,
        }
    }
}

/// Oldest timestamp accepted: 2020-01-01.
const MIN_TS: i64 = 1_577_836_800_000;
/// How far ahead of the server's clock an event may be (clock skew): 1 day.
const MAX_SKEW_MS: i64 = 86_400_000;

impl Event {
    /// Checks one event against the schema and the privacy rules.
    /// `now_ms` is the receiver's clock.
    pub fn check(&self, now_ms: i64) -> Result<(), String> {
        if self.id.len() < 8 || !is_identifier(&self.id) {
            return Err(format!(
                "`id` must be 8-64 characters of letters, digits, `-` or `_`, got {:?}",
                self.id
            ));
        }
        let custom_ok = self.kind.len() <= 40
            && !self.kind.is_empty()
            && self
                .kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !custom_ok {
            return Err(format!(
                "`type` {:?} must be 1-40 characters of a-z, 0-9 or `_`",
                self.kind
            ));
        }
        if self.ts < MIN_TS || self.ts > now_ms + MAX_SKEW_MS {
            return Err(format!(
                "`ts` {} is not a plausible time in milliseconds",
                self.ts
            ));
        }
        if self.anon.len() < 16 || !is_identifier(&self.anon) {
            return Err("`anon` must be a pseudonymous id of 16-64 letters or digits".into());
        }
        if matches!(self.kind.as_str(), "exposure" | "click" | "dismiss")
            && (self.campaign.is_none() || self.variant.is_none())
        {
            return Err(format!(
                "a `{}` event needs `campaign` and `variant`",
                self.kind
            ));
        }
        for (name, value) in [
            ("campaign", &self.campaign),
            ("variant", &self.variant),
            ("item", &self.item),
            ("category", &self.category),
        ] {
            if let Some(v) = value
                && (v.is_empty() || v.len() > 64 || v.chars().any(char::is_control))
            {
                return Err(format!("`{name}` must be 1-64 printable characters"));
            }
        }
        if self.answer.is_some_and(|a| a > 10) {
            return Err("`answer` must be from 0 to 10".into());
        }
        if self.kind == "feedback" && (self.campaign.is_none() || self.answer.is_none()) {
            return Err("a `feedback` event needs `campaign` and `answer`".into());
        }
        if let Some(p) = self.price
            && !(p.is_finite() && p >= 0.0)
        {
            return Err("`price` must be a finite number of at least 0".into());
        }
        Ok(())
    }
}

/// Parses a batch `{"events": [...]}` event by event, so one bad event does
/// not sink the others. The outer error is for a batch that is unusable as a
/// whole.
pub fn parse_batch(
    body: &serde_json::Value,
    now_ms: i64,
) -> Result<Vec<Result<Event, EventError>>, EventError> {
    let Some(obj) = body.as_object() else {
        return Err(EventError::Batch(
            "the body must be a JSON object with an `events` array".into(),
        ));
    };
    if let Some(key) = obj
        .keys()
        .find(|k| k.as_str() != "events" && k.as_str() != "dropped")
    {
        return Err(EventError::Batch(format!("unknown field `{key}`")));
    }
    if let Some(d) = obj.get("dropped")
        && !d.is_u64()
    {
        return Err(EventError::Batch(
            "`dropped` must be a whole number of at least 0".into(),
        ));
    }
    let Some(events) = obj.get("events").and_then(serde_json::Value::as_array) else {
        return Err(EventError::Batch("`events` must be an array".into()));
    };
    if events.len() > MAX_BATCH {
        return Err(EventError::Batch(format!(
            "{} events in one batch; at most {MAX_BATCH} are allowed",
            events.len()
        )));
    }
    Ok(events
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            let invalid = |message: String| EventError::Invalid { index, message };
            let event: Event = Event::deserialize(raw).map_err(|e| invalid(e.to_string()))?;
            event.check(now_ms).map_err(invalid)?;
            Ok(event)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    const NOW: i64 = 1_790_000_000_000;

    fn page_view() -> Value {
        json!({"id": "evt_00000001", "type": "page_view", "ts": NOW - 5, "anon": "0123456789abcdef0123"})
    }

    #[test]
    fn constructed_events_pass_their_own_checks() {
        let anon = "0123456789abcdef0123".to_string();
        Event::page_view("evt_00000009".into(), NOW, anon.clone())
            .check(NOW)
            .unwrap();
        let e = Event::exposure("evt_0000000a".into(), NOW, anon, "c", "v");
        e.check(NOW).unwrap();
        assert_eq!(
            (e.campaign.as_deref(), e.variant.as_deref()),
            (Some("c"), Some("v"))
        );
    }

    #[test]
    fn to_value_matches_serde_and_parses_back() {
        let mut e = Event::exposure(
            "evt_0000000b".into(),
            NOW,
            "0123456789abcdef0123".into(),
            "c",
            "v",
        );
        e.price = Some(12.5);
        assert_eq!(
            e.to_value(),
            serde_json::from_value::<Value>(serde_json::to_value(&e).unwrap()).unwrap()
        );
        let parsed = parse_batch(&serde_json::json!({"events": [e.to_value()]}), NOW).unwrap();
        assert_eq!(parsed[0].as_ref().unwrap(), &e);
    }

    #[test]
    fn a_valid_batch_parses_every_event() {
        let mut exposure = page_view();
        exposure["id"] = json!("evt_00000002");
        exposure["type"] = json!("exposure");
        exposure["campaign"] = json!("welcome");
        exposure["variant"] = json!("a");
        let parsed =
            parse_batch(&serde_json::json!({"events": [page_view(), exposure]}), NOW).unwrap();
        assert_eq!(parsed.len(), 2);
        assert!(parsed.iter().all(Result::is_ok));
    }

    #[test]
    fn fields_beyond_the_privacy_rules_reject_the_event_by_name() {
        let mut leaky = page_view();
        leaky["email"] = json!("minji@example.com");
        let parsed =
            parse_batch(&serde_json::json!({"events": [leaky, page_view()]}), NOW).unwrap();
        let err = parsed[0].as_ref().unwrap_err().to_string();
        assert!(err.contains("unknown field `email`"), "{err}");
        assert!(parsed[1].is_ok());
    }

    #[test]
    fn exposures_need_offer_ids_and_times_must_be_plausible() {
        let mut e = page_view();
        e["type"] = json!("exposure");
        let parsed = parse_batch(&serde_json::json!({"events": [e]}), NOW).unwrap();
        assert!(
            parsed[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("needs `campaign`")
        );
        let mut e = page_view();
        e["ts"] = json!(NOW + 2 * MAX_SKEW_MS);
        let parsed = parse_batch(&serde_json::json!({"events": [e]}), NOW).unwrap();
        assert!(parsed[0].as_ref().unwrap_err().to_string().contains("`ts`"));
    }

    #[test]
    fn oversized_or_malformed_batches_are_refused_whole() {
        let many: Vec<Value> = (0..=MAX_BATCH).map(|_| page_view()).collect();
        assert!(
            parse_batch(&serde_json::json!({"events": many}), NOW)
                .unwrap_err()
                .to_string()
                .contains("at most 100")
        );
        assert!(parse_batch(&serde_json::json!([]), NOW).is_err());
        assert!(parse_batch(&serde_json::json!({"events": [], "extra": 1}), NOW).is_err());
    }
}
