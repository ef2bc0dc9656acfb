//! `webhook_deliveries_per_s` for `cargo xtask bench`: a release
//! `dangol-server` delivers queued webhook messages to a receiver on
//! loopback that answers every POST with 204 (keep-alive HTTP/1.1).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::load::{ADMIN_TOKEN, client};

/// Messages delivered in the measurement.
const MESSAGES: u64 = 20_000;

/// A receiver that answers 204 to every request; counts what it took.
async fn receiver() -> Result<(String, Arc<AtomicU64>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let taken = Arc::new(AtomicU64::new(0));
    let count = taken.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(8192);
                let mut chunk = [0u8; 8192];
                loop {
                    // One request: headers, then Content-Length bytes.
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < end + 4 + length {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..end + 4 + length);
                    count.fetch_add(1, Ordering::Relaxed);
                    if socket
                        .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Ok((url, taken))
}

async fn admin(url: &str, method: &str, path: &str, body: Value) -> Result<Value> {
    let req = Request::builder()
        .method(method)
        .uri(format!("{url}{path}"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(if body.is_null() {
            String::new()
        } else {
            body.to_string()
        })))?;
    let res = client().request(req).await?;
    let status = res.status();
    let bytes = res.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!(
            "{method} {path}: HTTP {status} {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Queues [`MESSAGES`] messages for a disabled endpoint, enables it and
/// times the server until every one is delivered: messages per second.
pub async fn deliveries_per_s(url: &str) -> Result<f64> {
    let (hook, taken) = receiver().await?;
    let endpoint = admin(
        url,
        "POST",
        "/v1/admin/sites/demo/webhooks",
        json!({"url": hook, "events": ["webhook.test"], "enabled": false}),
    )
    .await?;
    let id = endpoint["id"].as_str().unwrap_or_default().to_string();
    let path = format!("/v1/admin/sites/demo/webhooks/{id}");
    let queued = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (url, test, queued) = (url.to_string(), format!("{path}/test"), queued.clone());
        tasks.push(tokio::spawn(async move {
            while queued.fetch_add(1, Ordering::Relaxed) < MESSAGES {
                admin(&url, "POST", &test, Value::Null).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let start = Instant::now();
    admin(url, "PUT", &path, json!({"enabled": true})).await?;
    loop {
        let shown = admin(url, "GET", &path, Value::Null).await?;
        if shown["messages"]["delivered"].as_u64() == Some(MESSAGES) {
            break;
        }
        if start.elapsed() > Duration::from_secs(300) {
            bail!("webhooks: not all delivered within 300 s: {shown}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = start.elapsed().as_secs_f64();
    if taken.load(Ordering::Relaxed) < MESSAGES {
        bail!("the receiver took fewer messages than were delivered");
    }
    Ok(MESSAGES as f64 / seconds)
}
