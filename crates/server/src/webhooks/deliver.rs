//! The delivery worker: takes due messages from the store, POSTs them
//! signed, and records each attempt with what follows from it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};

use super::{Attempt, Due, Endpoint, Outcome, SCHEDULE_MS, WebhookStore};
use crate::store::{Store, StoreError};

/// How many deliveries run at once.
const IN_FLIGHT: usize = 128;
/// How long to wait before looking for due messages again when none were.
const IDLE: Duration = Duration::from_millis(200);

/// Sends messages: the HTTP client, the retry schedule and the timeout.
#[derive(Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    schedule: Vec<i64>,
    timeout: Duration,
}

impl Deliverer {
    /// The schedule of [`SCHEDULE_MS`] and a 15 s timeout, unless
    /// `DANGOL_WEBHOOK_RETRY_MS` (comma-separated milliseconds) and
    /// `DANGOL_WEBHOOK_TIMEOUT_MS` say otherwise (for drills and tests).
    pub fn from_env() -> Result<Self, String> {
        let schedule = match std::env::var("DANGOL_WEBHOOK_RETRY_MS") {
            Ok(text) => text
                .split(',')
                .map(|n| n.trim().parse::<i64>().ok().filter(|n| *n >= 0))
                .collect::<Option<Vec<i64>>>()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    format!("DANGOL_WEBHOOK_RETRY_MS must be milliseconds separated by commas, found `{text}`")
                })?,
            Err(_) => SCHEDULE_MS.to_vec(),
        };
        let timeout_ms = match std::env::var("DANGOL_WEBHOOK_TIMEOUT_MS") {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    format!(
                        "DANGOL_WEBHOOK_TIMEOUT_MS must be a number of milliseconds, found `{text}`"
                    )
                })?,
            Err(_) => 15_000,
        };
        Self::new(schedule, Duration::from_millis(timeout_ms))
    }

    /// A deliverer with this schedule and timeout.
    pub fn new(schedule: Vec<i64>, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A receiver answers; it does not send the message elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(IN_FLIGHT)
            .build()
            .map_err(|e| format!("could not make the webhook HTTP client: {e}"))?;
        Ok(Self {
            client,
            schedule,
            timeout,
        })
    }

    /// Takes up to `limit` due messages, each with its endpoint.
    async fn take(
        &self,
        store: &dyn WebhookStore,
        limit: usize,
    ) -> Result<Vec<(Due, Endpoint)>, StoreError> {
        let now = crate::now_ms();
        // The lease outlasts any attempt, so a message is not taken twice
        // while one is in flight; a crashed server's lease simply runs out.
        let lease = now + 2 * self.timeout.as_millis() as i64 + 5_000;
        let due = store
            .take_due(now, lease, u32::try_from(limit).unwrap_or(u32::MAX))
            .await?;
        let mut endpoints: HashMap<(String, String), Option<Endpoint>> = HashMap::new();
        let mut out = Vec::with_capacity(due.len());
        for d in due {
            let key = (d.site.clone(), d.endpoint.clone());
            if let std::collections::hash_map::Entry::Vacant(slot) = endpoints.entry(key.clone()) {
                slot.insert(store.endpoint(&d.site, &d.endpoint).await?);
            }
            // An endpoint deleted meanwhile took its messages with it.
            if let Some(Some(e)) = endpoints.get(&key) {
                out.push((d, e.clone()));
            }
        }
        Ok(out)
    }

    /// One round, for tests and drills: takes what is due now, delivers all
    /// of it and records the outcomes; how many it took.
    pub async fn round(&self, store: &dyn WebhookStore) -> Result<usize, StoreError> {
        let due = self.take(store, IN_FLIGHT).await?;
        let taken = due.len();
        let done: Vec<(Due, Attempt, Outcome)> = futures_util::stream::iter(due)
            .map(|(d, e)| async move {
                let (attempt, outcome) = self.attempt(&e, &d).await;
                (d, attempt, outcome)
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        store.record_attempts(&done).await?;
        Ok(taken)
    }

    /// Delivers for as long as it runs: up to [`IN_FLIGHT`] messages at
    /// once, taking more as each finishes (a slow receiver holds up only its
    /// own messages), and recording outcomes together as they come in.
    pub async fn run(&self, store: &dyn WebhookStore) -> Result<(), StoreError> {
        let mut flying = FuturesUnordered::new();
        let mut next_take = tokio::time::Instant::now();
        loop {
            let now = tokio::time::Instant::now();
            if flying.len() < IN_FLIGHT && now >= next_take {
                let room = IN_FLIGHT - flying.len();
                let taken = self.take(store, room).await?;
                if taken.len() < room {
                    // Nothing more is due now: look again in a moment.
                    next_take = now + IDLE;
                }
                for (d, e) in taken {
                    flying.push(async move {
                        let (attempt, outcome) = self.attempt(&e, &d).await;
                        (d, attempt, outcome)
                    });
                }
            }
            if flying.is_empty() {
                tokio::time::sleep_until(next_take).await;
                continue;
            }
            // Wait for a delivery to finish; while there is room, no longer
            // than until it is time to look for more.
            let wait = if flying.len() < IN_FLIGHT {
                next_take
            } else {
                now + Duration::from_secs(3600)
            };
            let mut done = Vec::new();
            if let Ok(Some(first)) = tokio::time::timeout_at(wait, flying.next()).await {
                done.push(first);
                while let Some(Some(more)) = flying.next().now_or_never() {
                    done.push(more);
                }
            }
            store.record_attempts(&done).await?;
        }
    }

    /// POSTs `due` to `endpoint` once.
    pub async fn attempt(&self, endpoint: &Endpoint, due: &Due) -> (Attempt, Outcome) {
        let started = Instant::now();
        let at_ms = crate::now_ms();
        let timestamp = at_ms / 1000;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static("dangol-webhooks/1"));
        let signature = super::signatures(endpoint, &due.id, timestamp, &due.payload, at_ms);
        for (name, value) in [
            ("webhook-id", due.id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        let sent = self
            .client
            .post(&endpoint.url)
            .headers(headers)
            .body(due.payload.clone())
            .send()
            .await;
        let (status, error, retry_after) = match sent {
            Ok(response) => {
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| super::retry_after_ms(v, at_ms));
                // The body is read (a little) so the connection can be reused.
                let _ = response.bytes().await;
                let error = (!status.is_success()).then(|| format!("HTTP {}", status.as_u16()));
                let honoured = matches!(status.as_u16(), 429 | 503)
                    .then_some(retry_after)
                    .flatten();
                (Some(status.as_u16()), error, honoured)
            }
            Err(e) => (None, Some(describe(&e, self.timeout)), None),
        };
        let took_ms = started.elapsed().as_millis() as i64;
        let attempts = due.attempts + 1;
        let outcome = if error.is_none() {
            Outcome::Delivered
        } else {
            match super::backoff_ms(&self.schedule, attempts) {
                Some(delay) => {
                    let wait =
                        super::jittered(delay, rand::random::<f64>()).max(retry_after.unwrap_or(0));
                    Outcome::Retry(crate::now_ms() + wait)
                }
                None => Outcome::GiveUp(format!(
                    "{attempts} attempts failed over {} (last: {})",
                    span(&self.schedule),
                    error.as_deref().unwrap_or("")
                )),
            }
        };
        (
            Attempt {
                attempt: 0, // numbered by the store
                at_ms,
                status,
                error,
                took_ms,
            },
            outcome,
        )
    }
}

/// What went wrong, in a few words.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {} ms", timeout.as_millis())
    } else if e.is_connect() {
        "could not connect".to_string()
    } else if e.is_body() || e.is_request() {
        "the connection broke off".to_string()
    } else {
        e.to_string()
    }
}

/// The schedule's total wait, readably.
fn span(schedule: &[i64]) -> String {
    let ms: i64 = schedule.iter().sum();
    if ms >= 3_600_000 {
        format!("{:.1} hours", ms as f64 / 3_600_000.0)
    } else {
        format!("{:.1} seconds", ms as f64 / 1000.0)
    }
}

/// Delivers webhooks for as long as the server runs.
pub async fn webhook_loop(store: Arc<dyn Store>, deliverer: Deliverer) {
    loop {
        if let Err(e) = deliverer.run(store.as_ref()).await {
            tracing::error!(error = %e, "could not deliver webhooks");
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }
}
