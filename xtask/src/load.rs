//! A load generator over loopback for `cargo xtask bench`: event ingest in
//! batches of 50 (SQLite and PostgreSQL) and config requests revalidated
//! with their ETag, against a release `dangol-server`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Map, Value, json};

use crate::bench::target_dir;
use crate::root;
use crate::run::sh;

/// Concurrent connections.
const CONNECTIONS: usize = 32;
/// How long each measurement runs.
const DURATION: Duration = Duration::from_secs(6);
/// Events per ingest batch.
const BATCH: usize = 50;
/// The demo's redeem key in load runs.
const REDEEM_KEY: &str = "load-redeem-key-0123456789";
/// The admin token the load server runs with (for the replay figures).
pub(crate) const ADMIN_TOKEN: &str = "load-admin-token-0123456789";

/// A release server on a free port; killed on drop.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_server(database_url: Option<&str>) -> Result<Server> {
    let data = tempfile::Builder::new().prefix("dangol-load-").tempdir()?;
    let mut cmd = Command::new(target_dir().join("release/dangol-server"));
    cmd.args([
        "--addr",
        "127.0.0.1:0",
        "--seed-demo",
        "--events-per-ip",
        "100000000",
        "--claims-per-ip",
        "100000000",
        "--redeems-per-ip",
        "100000000",
        "--data-dir",
    ])
    .arg(data.path())
    .env("RUST_LOG", "warn")
    .env("DANGOL_REDEEM_KEY", REDEEM_KEY)
    .env("DANGOL_ADMIN_TOKEN", ADMIN_TOKEN)
    // No scheduled segment refresh: the scale run times its own, and one
    // the server started by itself while the load arrived would run beside
    // it (two first fills taking turns on the site's lock, timed as one).
    .env("DANGOL_SEGMENT_REFRESH_S", "86400")
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let mut child = cmd.spawn().context("starting the release dangol-server")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let Some(line) = lines.next() else {
            bail!("dangol-server exited before listening");
        };
        let line = line?;
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Server { child, url, data })
}

pub(crate) fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(CONNECTIONS)
        .build_http()
}

fn batch(worker: usize, n: u64, now_ms: i64) -> Bytes {
    batch_of(BATCH, worker, n, now_ms)
}

fn batch_of(size: usize, worker: usize, n: u64, now_ms: i64) -> Bytes {
    let events: Vec<Value> = (0..size)
        .map(|i| {
            json!({
                "id": format!("w{worker:02}b{n:08}e{i:02}"),
                "type": if i % 5 == 0 { "exposure" } else { "page_view" },
                "ts": now_ms,
                "anon": format!("load{worker:02}{:012}", n % 1000),
                "campaign": if i % 5 == 0 { Some("welcome-hero") } else { None },
                "variant": if i % 5 == 0 { Some("a") } else { None },
            })
        })
        .map(|mut e| {
            if let Some(m) = e.as_object_mut() {
                m.retain(|_, v| !v.is_null());
            }
            e
        })
        .collect();
    Bytes::from(json!({ "events": events }).to_string())
}

/// Events stored per second with batches of 50, and how many were stored.
async fn ingest(url: &str) -> Result<(f64, u64)> {
    let client = client();
    let stored = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let mut tasks = Vec::new();
    for worker in 0..CONNECTIONS {
        let (client, stored, failed) = (client.clone(), stored.clone(), failed.clone());
        let uri: hyper::Uri = format!("{url}/v1/sites/demo/events").parse()?;
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while start.elapsed() < DURATION {
                let req = Request::post(uri.clone())
                    .header("content-type", "application/json")
                    .body(Full::new(batch(worker, n, now_ms)));
                n += 1;
                let Ok(req) = req else { continue };
                match client.request(req).await {
                    Ok(res) if res.status().is_success() => {
                        let body = res
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                        stored.fetch_add(v["stored"].as_u64().unwrap_or(0), Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let secs = start.elapsed().as_secs_f64();
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        println!("  ingest: {failed} batches failed");
    }
    let stored = stored.load(Ordering::Relaxed);
    Ok((stored as f64 / secs, stored))
}

/// The dashboard's replays over what `ingest` stored: milliseconds for the
/// insights and for a reach estimate, and how many shoppers they read.
async fn replays(url: &str) -> Result<(f64, f64, u64)> {
    let client = client();
    let timed = |method: &'static str, path: &'static str, body: &'static str| {
        let client = client.clone();
        let uri = format!("{url}{path}");
        async move {
            let req = Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(body.as_bytes())))?;
            let start = Instant::now();
            let res = client.request(req).await?;
            let status = res.status();
            let bytes = res.into_body().collect().await?.to_bytes();
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            if !status.is_success() {
                bail!("{method} {path}: HTTP {status}");
            }
            let v: Value = serde_json::from_slice(&bytes)?;
            anyhow::Ok((ms, v))
        }
    };
    let (insights_ms, v) = timed("GET", "/v1/admin/sites/demo/insights?days=30", "").await?;
    let (reach_ms, _) = timed(
        "POST",
        "/v1/admin/sites/demo/reach?days=30",
        r#"{"condition": {"visits": {"$gte": 2}}}"#,
    )
    .await?;
    Ok((
        insights_ms,
        reach_ms,
        v["insights"]["shoppers"].as_u64().unwrap_or(0),
    ))
}

/// Config requests per second and their 99th percentile latency (ms), all
/// revalidations with the current ETag (what browsers and CDNs send).
async fn config(url: &str) -> Result<(f64, f64)> {
    let client = client();
    let uri: hyper::Uri = format!("{url}/v1/sites/demo/config/compact").parse()?;
    let first = client
        .request(Request::get(uri.clone()).body(Full::new(Bytes::new()))?)
        .await?;
    let etag = first
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .context("the config has no ETag")?
        .to_string();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (client, uri, etag) = (client.clone(), uri.clone(), etag.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut bad = 0u64;
            while start.elapsed() < DURATION {
                let t = Instant::now();
                let Ok(req) = Request::get(uri.clone())
                    .header("if-none-match", &etag)
                    .body(Full::new(Bytes::new()))
                else {
                    continue;
                };
                match client.request(req).await {
                    Ok(res) if res.status() == 304 => {
                        let _ = res.into_body().collect().await;
                        latencies.push(t.elapsed());
                    }
                    _ => bad += 1,
                }
            }
            (latencies, bad)
        }));
    }
    let mut all = Vec::new();
    let mut bad = 0;
    for t in tasks {
        let (l, b) = t.await?;
        all.extend(l);
        bad += b;
    }
    if bad > 0 {
        println!("  config: {bad} requests failed");
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let p99 = all
        .get(all.len().saturating_sub(1) * 99 / 100)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    Ok((all.len() as f64 / secs, p99))
}

/// The server's resident memory in MB (Linux `/proc`).
pub(crate) fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// One request of the soak mix; whether it succeeded.
async fn soak_request(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    etag: &str,
    n: u64,
    claim_every: u64,
) -> bool {
    let kind = n % 100;
    let claim = n.is_multiple_of(claim_every);
    let req = if !claim && kind < 80 {
        Request::get(format!("{url}/v1/sites/demo/config/compact"))
            .header("if-none-match", etag)
            .body(Full::new(Bytes::new()))
    } else if !claim {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Request::post(format!("{url}/v1/sites/demo/events"))
            .header("content-type", "application/json")
            .body(Full::new(batch_of(10, 99, n, now_ms)))
    } else {
        // A claim by a fresh id, then the shop redeems that code.
        let claim =
            json!({"anon": format!("soak{n:016}"), "campaign": "cart-coupon", "variant": "a"});
        let Ok(req) = Request::post(format!("{url}/v1/sites/demo/coupons/claim"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(claim.to_string())))
        else {
            return false;
        };
        let Ok(res) = client.request(req).await else {
            return false;
        };
        if !res.status().is_success() {
            eprintln!("  soak: claim {n} answered {}", res.status());
            return false;
        }
        let body = res
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let code: Value = serde_json::from_slice(&body).unwrap_or_default();
        let redeem = json!({"code": code["code"]});
        Request::post(format!("{url}/v1/sites/demo/coupons/redeem"))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {REDEEM_KEY}"))
            .body(Full::new(Bytes::from(redeem.to_string())))
    };
    let Ok(req) = req else {
        return false;
    };
    match client.request(req).await {
        Ok(res) => {
            let status = res.status();
            let ok = status.is_success() || status == 304;
            let body = res
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            if !ok {
                eprintln!(
                    "  soak: request {n} answered {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            ok
        }
        Err(e) => {
            eprintln!("  soak: request {n} failed: {e}");
            false
        }
    }
}

/// Mixed traffic (80 % config revalidations, 20 % batches of 10 events,
/// and two coupon claims a second, each followed by the shop redeeming the
/// code) at `rate` requests a second for `seconds`: requests made, requests
/// failed, and the server's memory growth in MB from after a warm-up to the
/// end.
async fn soak(url: &str, pid: u32, rate: f64, seconds: u64) -> Result<(u64, u64, f64)> {
    let client = client();
    let first = client
        .request(
            Request::get(format!("{url}/v1/sites/demo/config/compact"))
                .body(Full::new(Bytes::new()))?,
        )
        .await?;
    let etag = first
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let made = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let limit = Arc::new(tokio::sync::Semaphore::new(256));
    let start = Instant::now();
    let total = (rate * seconds as f64) as u64;
    // Two claims a second stay within the demo coupon's budget of 1,000.
    let claim_every = ((rate / 2.0) as u64).max(1);
    let mut rss_start = None;
    for n in 0..total {
        // Open loop: request n goes out at its own time, however slow others are.
        let due = start + Duration::from_secs_f64(n as f64 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        if rss_start.is_none() && start.elapsed() >= Duration::from_secs(10.min(seconds / 4)) {
            rss_start = Some(rss_mb(pid));
        }
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let (client, url, etag, made, failed) = (
            client.clone(),
            url.to_string(),
            etag.clone(),
            made.clone(),
            failed.clone(),
        );
        tokio::spawn(async move {
            let ok = soak_request(&client, &url, &etag, n, claim_every).await;
            made.fetch_add(1, Ordering::Relaxed);
            if !ok {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        });
    }
    let _ = limit.acquire_many(256).await;
    let growth = rss_mb(pid) - rss_start.unwrap_or_else(|| rss_mb(pid));
    Ok((
        made.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        growth,
    ))
}

/// The soak run alone: mixed traffic at half the measured capacity for
/// `DANGOL_SOAK_SECONDS` (default 300).
pub fn soak_figures(capacity_rps: f64) -> Result<Map<String, Value>> {
    let seconds = std::env::var("DANGOL_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let server = start_server(None)?;
    let rate = (capacity_rps / 2.0).max(10.0);
    println!("  soak: {rate:.0} requests/s for {seconds} s");
    let (made, failed, growth) =
        runtime.block_on(soak(&server.url, server.child.id(), rate, seconds))?;
    let mut out = Map::new();
    out.insert("soak_requests".into(), json!(made));
    out.insert("soak_errors".into(), json!(failed));
    out.insert(
        "soak_rss_growth_mb".into(),
        json!((growth * 10.0).round() / 10.0),
    );
    out.insert("soak_rate_per_s".into(), json!(rate.round()));
    Ok(out)
}

/// The soak's mix's capacity from the two measured figures in `figures`
/// (a batch of 10 events costs about a fifth of a batch of 50); the soak
/// runs at half of it.
fn capacity(figures: &Map<String, Value>) -> f64 {
    let config_rps = figures["config_requests_per_s"].as_f64().unwrap_or(1000.0);
    let batch_rps = figures["ingest_events_per_s_sqlite"]
        .as_f64()
        .unwrap_or(1000.0)
        / 10.0;
    1.0 / (0.8 / config_rps + 0.2 / batch_rps)
}

/// Only the soak, at half the capacity the last report's load figures
/// measured (see [`figures`]).
pub fn soak_only(report: &Map<String, Value>) -> Result<Map<String, Value>> {
    if !report.contains_key("config_requests_per_s") {
        anyhow::bail!(
            "no load figures in target/bench/report.json: run `cargo xtask bench load` first"
        );
    }
    sh(Command::new("cargo").args(["build", "--release", "--package", "dangol-server"]))?;
    soak_figures(capacity(report))
}

/// Runs every load figure.
pub fn figures() -> Result<Map<String, Value>> {
    sh(Command::new("cargo").args(["build", "--release", "--package", "dangol-server"]))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut out = Map::new();
    {
        let server = start_server(None)?;
        let (rps, p99) = runtime.block_on(config(&server.url))?;
        out.insert("config_requests_per_s".into(), json!(rps.round()));
        out.insert("config_p99_ms".into(), json!((p99 * 100.0).round() / 100.0));
        let (eps, stored) = runtime.block_on(ingest(&server.url))?;
        out.insert("ingest_events_per_s_sqlite".into(), json!(eps.round()));
        // The dashboard's replays read every event just stored.
        let (insights_ms, reach_ms, shoppers) = runtime.block_on(replays(&server.url))?;
        out.insert("replay_events".into(), json!(stored));
        out.insert("replay_shoppers".into(), json!(shoppers));
        out.insert("insights_ms".into(), json!(insights_ms.round()));
        out.insert("reach_ms".into(), json!(reach_ms.round()));
        let per_s = runtime.block_on(crate::hooks::deliveries_per_s(&server.url))?;
        out.insert("webhook_deliveries_per_s".into(), json!(per_s.round()));
        // The same import into a server busy with what came before (its
        // rollups still catching up on the ingest above).
        let per_s = runtime.block_on(crate::orders::import_per_s(&server.url))?;
        out.insert("order_import_per_s_after_load".into(), json!(per_s.round()));
        let (first_ms, again_ms) = runtime.block_on(crate::catalog::import_ms(&server.url))?;
        out.insert("catalog_import_ms_100k".into(), json!(first_ms.round()));
        out.insert("catalog_reimport_ms_100k".into(), json!(again_ms.round()));
    }
    {
        // A shop loading its history on day one: a fresh server, with the
        // writes of the figures above flushed to disk first so the import
        // does not pay for them.
        sh(&mut Command::new("sync"))?;
        let server = start_server(None)?;
        let per_s = runtime.block_on(crate::orders::import_per_s(&server.url))?;
        out.insert("order_import_per_s".into(), json!(per_s.round()));
    }
    out.extend(soak_figures(capacity(&out))?);
    match crate::postgres::Cluster::start()? {
        Some(cluster) => {
            let server = start_server(Some(&cluster.url))?;
            let (eps, _) = runtime.block_on(ingest(&server.url))?;
            out.insert("ingest_events_per_s_postgres".into(), json!(eps.round()));
        }
        None => {
            println!("NOTICE: no PostgreSQL here: ingest_events_per_s_postgres is not measured")
        }
    }
    let _ = root();
    Ok(out)
}
