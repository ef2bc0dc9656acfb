//! Rate limits per client address and per pseudonymous id, in fixed
//! one-minute windows, so coupon farming and flooding are held back. Each
//! replica counts on its own (a limit of N per replica).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::Response;

use crate::error::ApiError;
use crate::now_ms;

const WINDOW_MS: i64 = 60_000;
/// Counters kept before stale windows are dropped.
const MAX_KEYS: usize = 100_000;

/// Requests allowed per minute.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Event batches per client address.
    pub events_per_ip: u32,
    /// Coupon claims per client address.
    pub claims_per_ip: u32,
    /// Coupon claims per pseudonymous id.
    pub claims_per_id: u32,
    /// Redeem attempts per client address (against code guessing).
    pub redeems_per_ip: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            events_per_ip: 600,
            claims_per_ip: 20,
            claims_per_id: 5,
            redeems_per_ip: 120,
        }
    }
}

/// The counters.
#[derive(Debug, Default)]
pub struct Limiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

/// A refusal: 429 with `Retry-After`.
pub struct Limited {
    what: String,
    retry_after_s: i64,
}

impl From<Limited> for ApiError {
    fn from(l: Limited) -> Self {
        tracing::warn!(what = %l.what, "rate limited");
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many {}; try again in {} s", l.what, l.retry_after_s),
        )
        .with_retry_after(l.retry_after_s)
    }
}

impl Limiter {
    /// Counts one request under `key`; refuses past `limit` per minute.
    pub fn check(&self, key: &str, limit: u32, what: &str) -> Result<(), Limited> {
        let now = now_ms();
        let window = now - now.rem_euclid(WINDOW_MS);
        let mut map = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > MAX_KEYS {
            map.retain(|_, (start, _)| *start == window);
        }
        let entry = map.entry(key.to_string()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= limit {
            return Err(Limited {
                what: what.to_string(),
                retry_after_s: ((window + WINDOW_MS - now) / 1000).max(1),
            });
        }
        entry.1 += 1;
        Ok(())
    }
}

/// The client's address as the socket saw it ("unknown" in-process).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// Middleware: puts [`ClientIp`] on every request.
pub async fn client_ip(mut req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string());
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}
