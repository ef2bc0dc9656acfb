//! Webhooks: what happened on a site, sent to the shop's own endpoints as
//! [Standard Webhooks 1.0](https://www.standardwebhooks.com/), so any of
//! that specification's verification libraries accepts them unchanged.
//!
//! - **Signed**: `webhook-id`, `webhook-timestamp` (seconds) and
//!   `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
//!   under the endpoint's secret (`whsec_` + base64 of the key). For a day
//!   after a rotation the previous secret signs too (both signatures, space
//!   separated), so a receiver can switch without losing a message.
//! - **Durable, at least once**: a message is written to the store in the
//!   same transaction as what it reports (a redeemed coupon, an erased id),
//!   one per subscribed endpoint, and stays until a 2xx answer. Its
//!   `webhook-id` never changes, so a receiver that saw it already can drop
//!   a repeat. A server restarted mid-delivery sends it again.
//! - **Retried**: after a failure (no answer within the timeout, a refused
//!   or reset connection, any status but 2xx) the message waits, growing
//!   from seconds to hours with ±20 % jitter over more than a day
//!   ([`SCHEDULE_MS`]); a `Retry-After` on a 429 or 503 is honoured when it
//!   asks for longer. When a message's whole schedule fails, it is marked
//!   failed and its endpoint disabled: later messages wait for it (nothing
//!   is dropped) until an admin enables it again, and failed messages can
//!   be replayed.
//! - **Logged**: every attempt with its status or error and duration.

pub mod admin;
mod deliver;
pub(crate) mod sql;

use async_trait::async_trait;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

pub use deliver::{Deliverer, webhook_loop};

use crate::store::StoreError;

/// The event types a site's endpoints can subscribe to.
pub const EVENT_TYPES: &[&str] = &[
    "segment.entered",
    "segment.left",
    "lifecycle.changed",
    "coupon.redeemed",
    "customer.erased",
    "webhook.test",
];

/// How long each failed attempt waits before the next, in milliseconds:
/// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (eight attempts over 27.6 h).
pub const SCHEDULE_MS: &[i64] = &[
    5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];

/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;

/// A site's webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The site.
    pub site: String,
    /// `ep_` and 16 hex digits.
    pub id: String,
    /// Where messages are POSTed (http or https).
    pub url: String,
    /// The event types it receives.
    pub events: Vec<String>,
    /// What it is for, in the admin's words.
    pub description: String,
    /// `whsec_` + base64 of the signing key.
    pub secret: String,
    /// The secret before the last rotation, and until when it signs too.
    pub previous: Option<(String, i64)>,
    /// When it was made.
    pub created_ms: i64,
    /// When and why it was disabled; messages wait while it is.
    pub disabled: Option<(i64, String)>,
}

/// A message taken for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The site.
    pub site: String,
    /// The endpoint's id.
    pub endpoint: String,
    /// The `webhook-id`.
    pub id: String,
    /// The body, as sent.
    pub payload: String,
    /// Attempts in its current schedule so far.
    pub attempts: u32,
}

/// A message, for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The `webhook-id`.
    pub id: String,
    /// Its event type.
    pub event_type: String,
    /// The body.
    pub payload: String,
    /// When it was made.
    pub created_ms: i64,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts in its current schedule.
    pub attempts: u32,
    /// When it is next due (pending only).
    pub next_ms: i64,
    /// When a receiver took it.
    pub delivered_ms: Option<i64>,
}

/// One delivery attempt, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1, 2, … over the message's life (replays included).
    pub attempt: u32,
    /// When it was made.
    pub at_ms: i64,
    /// The receiver's status, if one answered.
    pub status: Option<u16>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// How long it took.
    pub took_ms: i64,
}

/// What an attempt leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx: done.
    Delivered,
    /// Try again at this time.
    Retry(i64),
    /// The schedule is spent: the message fails and its endpoint is
    /// disabled with this reason.
    GiveUp(String),
}

/// Webhook endpoints, their queue and their log.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Adds an endpoint, or changes one (url, events, description, and
    /// whether it is disabled); its secret is kept.
    async fn put_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;
    /// One endpoint.
    async fn endpoint(&self, site: &str, id: &str) -> Result<Option<Endpoint>, StoreError>;
    /// A site's endpoints, oldest first.
    async fn endpoints(&self, site: &str) -> Result<Vec<Endpoint>, StoreError>;
    /// Removes an endpoint with its messages and log.
    async fn delete_endpoint(&self, site: &str, id: &str) -> Result<bool, StoreError>;
    /// A new secret; the current one keeps signing until `previous_until_ms`.
    async fn rotate_secret(
        &self,
        site: &str,
        id: &str,
        secret: &str,
        previous_until_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Queues `data` as an event of `event_type` for every endpoint of the
    /// site that receives it (or only `endpoint`); how many messages.
    async fn enqueue(
        &self,
        site: &str,
        endpoint: Option<&str>,
        event_type: &str,
        data: &Value,
        now_ms: i64,
    ) -> Result<u64, StoreError>;
    /// Takes up to `limit` messages due by `now_ms` whose endpoint is
    /// enabled, moving them to `lease_until_ms` so no other worker takes
    /// them meanwhile.
    async fn take_due(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
    ) -> Result<Vec<Due>, StoreError>;
    /// Logs attempts and applies their outcomes, in one transaction.
    async fn record_attempts(&self, done: &[(Due, Attempt, Outcome)]) -> Result<(), StoreError>;
    /// An endpoint's messages, newest first; only those in `state` if given.
    async fn messages(
        &self,
        site: &str,
        endpoint: &str,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;
    /// How many of an endpoint's messages are pending, delivered, failed.
    async fn message_counts(&self, site: &str, endpoint: &str) -> Result<[u64; 3], StoreError>;
    /// A message's attempts, oldest first.
    async fn attempts(
        &self,
        site: &str,
        endpoint: &str,
        id: &str,
    ) -> Result<Vec<Attempt>, StoreError>;
    /// Sends a message again (delivered or failed): pending from now, with
    /// a fresh schedule and the same `webhook-id`.
    async fn replay(
        &self,
        site: &str,
        endpoint: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
}

/// A new `webhook-id`: `msg_` and 32 hex digits.
pub fn message_id() -> String {
    format!("msg_{}", random_hex(16))
}

/// A new endpoint id: `ep_` and 16 hex digits.
pub fn endpoint_id() -> String {
    format!("ep_{}", random_hex(8))
}

/// A new signing secret: `whsec_` and base64 of 32 random bytes.
pub fn new_secret() -> String {
    let key: [u8; 32] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    hex::encode(buf)
}

/// The body of an event: `{"type", "timestamp" (RFC 3339, UTC), "data"}`,
/// the shape Standard Webhooks recommends.
pub fn payload(event_type: &str, data: &Value, now_ms: i64) -> String {
    json!({"type": event_type, "timestamp": rfc3339(now_ms), "data": data}).to_string()
}

/// `2026-12-01T04:31:17.250Z`.
pub fn rfc3339(ms: i64) -> String {
    let date = crate::results::utc_date(ms);
    let in_day = ms.rem_euclid(86_400_000);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        date.year(),
        u8::from(date.month()),
        date.day(),
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under `secret`
/// (`whsec_` + base64 of the key); `None` for a secret not in that form.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_")?)
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header for `endpoint` at `now_ms`: the current
/// secret's signature, and the previous one's while it still signs.
pub fn signatures(
    endpoint: &Endpoint,
    id: &str,
    timestamp: i64,
    body: &str,
    now_ms: i64,
) -> String {
    let mut out: Vec<String> = sign(&endpoint.secret, id, timestamp, body)
        .into_iter()
        .collect();
    if let Some((previous, until)) = &endpoint.previous
        && now_ms < *until
        && let Some(sig) = sign(previous, id, timestamp, body)
    {
        out.push(sig);
    }
    out.join(" ")
}

/// How long to wait after failed attempt number `attempts` (1-based) of a
/// schedule, before jitter; `None` when the schedule is spent.
pub fn backoff_ms(schedule: &[i64], attempts: u32) -> Option<i64> {
    schedule.get(attempts.checked_sub(1)? as usize).copied()
}

/// `delay` with ±20 % jitter from `unit` (0..1), so endpoints that failed
/// together are not all retried in the same instant.
pub fn jittered(delay: i64, unit: f64) -> i64 {
    let spread = delay as f64 * 0.2;
    (delay as f64 - spread + 2.0 * spread * unit.clamp(0.0, 1.0)).round() as i64
}

/// A `Retry-After` value in milliseconds from `now_ms`: delay-seconds or an
/// HTTP date (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn retry_after_ms(value: &str, now_ms: i64) -> Option<i64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX));
    }
    let parts: Vec<&str> = value.split([' ', ':']).collect();
    let [_, day, month, year, h, m, s, "GMT"] = parts.as_slice() else {
        return None;
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|name| name == month)?;
    let date = time::Date::from_calendar_date(
        year.parse().ok()?,
        time::Month::try_from(u8::try_from(month + 1).ok()?).ok()?,
        day.parse().ok()?,
    )
    .ok()?;
    let days = i64::from(
        date.to_julian_day()
            - time::Date::from_calendar_date(1970, time::Month::January, 1)
                .ok()?
                .to_julian_day(),
    );
    let (h, m, s): (i64, i64, i64) = (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?);
    let at = ((days * 24 + h) * 60 + m) * 60_000 + s * 1000;
    Some((at - now_ms).max(0))
}

#[cfg(test)]
mod tests;
