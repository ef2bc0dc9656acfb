//! `order_import_per_s` for `cargo xtask bench`: a release `dangol-server`
//! imports an order history of [`LINES`] JSON lines (ten orders each for a
//! tenth as many customers) in one streamed upload.

use std::time::Instant;

use anyhow::{Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use serde_json::{Value, json};

use crate::load::{ADMIN_TOKEN, client};

/// Order lines imported in the measurement.
const LINES: u64 = 200_000;

/// The history: [`LINES`] orders over the last two years.
fn history() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut out = String::with_capacity(LINES as usize * 140);
    for i in 0..LINES {
        let customer = i / 10;
        let ts = now - (i * 7_919 % 730) * 86_400_000;
        out.push_str(
            &json!({
                "customer_id": format!("cust-{customer:07}"),
                "order_id": format!("ord-{i:09}"),
                "time": ts,
                "value": 10_000 + (i * 37 % 90) * 1_000,
                "items": [{"item_id": format!("item-{}", i % 500), "item_category": format!("cat-{}", i % 12)}]
            })
            .to_string(),
        );
        out.push('\n');
    }
    out
}

/// Imports the history and returns lines per second.
pub async fn import_per_s(url: &str) -> Result<f64> {
    let (answer, seconds) = upload(url, "POST", "orders", history()).await?;
    if answer["imported"].as_u64() != Some(LINES) {
        bail!("order import: {answer}");
    }
    Ok(LINES as f64 / seconds)
}

/// Sends `body` (JSON lines) to the demo site's admin route `route` with
/// `method`; its JSON answer and the seconds it took. An error status is
/// an error.
pub async fn upload(url: &str, method: &str, route: &str, body: String) -> Result<(Value, f64)> {
    let start = Instant::now();
    let req = Request::builder()
        .method(method)
        .uri(format!("{url}/v1/admin/sites/demo/{route}"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .header("content-type", "application/x-ndjson")
        .body(Full::new(Bytes::from(body)))?;
    let res = client().request(req).await?;
    let status = res.status();
    let bytes = res.into_body().collect().await?.to_bytes();
    let seconds = start.elapsed().as_secs_f64();
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{method} {route}: HTTP {status} {answer}");
    }
    Ok((answer, seconds))
}
