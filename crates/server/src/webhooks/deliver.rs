//! The delivery worker: takes due messages from the store, POSTs them
//! signed, and records each attempt with what follows from it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};

use super::{Attempt, Due, Endpoint, Outcome, SCHEDULE_MS, WebhookStore};
use crate::store::{Store, StoreError};

/// How many messages one round takes.
const BATCH: u32 = 256;
/// How many deliveries run at once.
const PARALLEL: usize = 64;

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
            .pool_max_idle_per_host(PARALLEL)
            .build()
            .map_err(|e| format!("could not make the webhook HTTP client: {e}"))?;
        Ok(Self {
            client,
            schedule,
            timeout,
        })
    }

    /// One round: takes what is due and delivers it; how many it took.
    pub async fn round(&self, store: &dyn WebhookStore) -> Result<usize, StoreError> {
        let now = crate::now_ms();
        // The lease outlasts any attempt, so a message is not taken twice
        // while one is in flight; a crashed server's lease simply runs out.
        let lease = now + 2 * self.timeout.as_millis() as i64 + 5_000;
        let due = store.take_due(now, lease, BATCH).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut endpoints: HashMap<(String, String), Option<Endpoint>> = HashMap::new();
        for d in &due {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                endpoints.entry((d.site.clone(), d.endpoint.clone()))
            {
                slot.insert(store.endpoint(&d.site, &d.endpoint).await?);
            }
        }
        let endpoints = Arc::new(endpoints);
        let taken = due.len();
        let results: Vec<Result<(), StoreError>> = futures_util::stream::iter(due)
            .map(|d| {
                let endpoints = endpoints.clone();
                async move {
                    let Some(Some(endpoint)) = endpoints.get(&(d.site.clone(), d.endpoint.clone()))
                    else {
                        return Ok(()); // deleted meanwhile: its messages went with it
                    };
                    let (attempt, outcome) = self.attempt(endpoint, &d).await;
                    store.record_attempt(&d, &attempt, &outcome).await
                }
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        results.into_iter().collect::<Result<(), StoreError>>()?;
        Ok(taken)
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
        match deliverer.round(store.as_ref()).await {
            Ok(0) => tokio::time::sleep(Duration::from_millis(200)).await,
            Ok(_) => tokio::task::yield_now().await,
            Err(e) => {
                tracing::error!(error = %e, "could not deliver webhooks");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}
