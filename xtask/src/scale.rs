//! `cargo xtask bench scale`: the dashboard at a real shop's volume. Ten
//! million events of a million simulated shoppers over 90 days go through
//! the real ingest of a release `dangol-server` (SQLite, then PostgreSQL
//! on a throwaway cluster); then results, insights and reach are timed as
//! a marketer opens them, once quiet and once while events keep arriving.
//! `DANGOL_SCALE_EVENTS` sets a smaller volume for a quick run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use serde_json::{Map, Value, json};

use crate::load::{ADMIN_TOKEN, Server, client, start_server};
use crate::run::step;

const DAY_MS: i64 = 86_400_000;
/// Events per simulated shopper: two visits of five.
const PER_SHOPPER: u64 = 10;
/// Shoppers per ingest batch (50 events).
const SHOPPERS_PER_BATCH: u64 = 5;
/// Concurrent connections while loading.
const CONNECTIONS: usize = 32;
/// Times each read is repeated; the median is reported.
const READS: usize = 3;

/// A small deterministic generator (SplitMix64): the same shoppers on
/// every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Shopper `s`'s ten events: two visits some days apart within the last
/// 90 days, each a page view, a product view, an offer (or its holdout),
/// a click or add to cart, and sometimes a purchase the offer converted.
fn shopper_events(s: u64, now_ms: i64, out: &mut Vec<Value>) {
    let mut r = Rng(s.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0xdead_beef);
    let anon = format!("sc{s:016}");
    let first = now_ms - (1 + r.below(88) as i64) * DAY_MS + r.below(DAY_MS as u64) as i64;
    let gap = (1 + r.below(10) as i64) * DAY_MS;
    let category = ["knit", "denim", "shoes", "bags", "outer"][r.below(5) as usize];
    let (campaign, variants): (&str, &[&str]) = match s % 4 {
        0 => ("knit-lover", &["a"]),
        1 | 2 => ("welcome-hero", &["a", "b"]),
        _ => ("product-shipping", &["a", "b"]),
    };
    let held = campaign == "knit-lover" && r.below(5) == 0;
    let variant = variants[r.below(variants.len() as u64) as usize];
    for visit in 0..2i64 {
        let ts = (first + visit * gap).min(now_ms - 3_600_000);
        let buys = r.below(8) == 0;
        let price = 10_000 + r.below(90) * 1_000;
        let item = format!("sku-{}", r.below(5_000));
        let id = |n: i64| format!("s{s:010}v{visit}e{n}");
        let base = |n: i64, kind: &str| json!({"id": id(n), "type": kind, "ts": ts + n * 20_000, "anon": anon});
        out.push(base(0, "page_view"));
        let mut view = base(1, "view_item");
        view["item"] = json!(item);
        view["category"] = json!(category);
        out.push(view);
        let mut offer = base(2, if held { "holdout" } else { "exposure" });
        offer["campaign"] = json!(campaign);
        if !held {
            offer["variant"] = json!(variant);
        }
        out.push(offer);
        let mut act = if buys && !held {
            let mut c = base(3, "conversion");
            c["price"] = json!(price);
            c
        } else if r.below(3) == 0 && !held {
            base(3, "click")
        } else {
            let mut c = base(3, "add_to_cart");
            c["item"] = json!(item);
            c["price"] = json!(price);
            c
        };
        if act["type"] != "add_to_cart" {
            act["campaign"] = json!(campaign);
            act["variant"] = json!(variant);
        }
        out.push(act);
        if buys {
            let mut p = base(4, "purchase");
            p["price"] = json!(price);
            p["category"] = json!(category);
            out.push(p);
        } else {
            out.push(base(4, "page_view"));
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Sends shoppers `from..to` (claimed five at a time by `CONNECTIONS`
/// workers); returns the events stored.
async fn load(
    url: &str,
    from: u64,
    to: u64,
    connections: usize,
    stop: Arc<AtomicU64>,
) -> Result<u64> {
    let client = client();
    let next = Arc::new(AtomicU64::new(from));
    let stored = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let now = now_ms();
    let total = to - from;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, next, stored, failed, stop) = (
            client.clone(),
            next.clone(),
            stored.clone(),
            failed.clone(),
            stop.clone(),
        );
        let uri: hyper::Uri = format!("{url}/v1/sites/demo/events").parse()?;
        tasks.push(tokio::spawn(async move {
            let mut events = Vec::with_capacity(50);
            loop {
                if stop.load(Ordering::Relaxed) != 0 {
                    break;
                }
                let s = next.fetch_add(SHOPPERS_PER_BATCH, Ordering::Relaxed);
                if s >= to {
                    break;
                }
                events.clear();
                for shopper in s..(s + SHOPPERS_PER_BATCH).min(to) {
                    shopper_events(shopper, now, &mut events);
                }
                let body = Bytes::from(json!({ "events": events }).to_string());
                let done = s + SHOPPERS_PER_BATCH - from;
                if total >= 100_000 && done % (total / 10).max(1) < SHOPPERS_PER_BATCH {
                    println!("  {} of {} shoppers sent", done.min(total), total);
                }
                let mut ok = false;
                for _ in 0..3 {
                    let Ok(req) = Request::post(uri.clone())
                        .header("content-type", "application/json")
                        .body(Full::new(body.clone()))
                    else {
                        break;
                    };
                    if let Ok(res) = client.request(req).await
                        && res.status().is_success()
                        && let Ok(b) = res.into_body().collect().await
                    {
                        let v: Value = serde_json::from_slice(&b.to_bytes()).unwrap_or_default();
                        stored.fetch_add(v["stored"].as_u64().unwrap_or(0), Ordering::Relaxed);
                        ok = true;
                        break;
                    }
                }
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        println!("  {failed} batches failed three times");
    }
    Ok(stored.load(Ordering::Relaxed))
}

/// One admin request: milliseconds and the JSON answer.
async fn admin(url: &str, method: &str, path: &str, body: &str) -> Result<(f64, Value)> {
    let req = Request::builder()
        .method(method)
        .uri(format!("{url}{path}"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))?;
    let start = Instant::now();
    let res = client().request(req).await?;
    let status = res.status();
    let bytes = res.into_body().collect().await?.to_bytes();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if !status.is_success() {
        bail!(
            "{method} {path}: HTTP {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok((ms, serde_json::from_slice(&bytes)?))
}

/// Waits until no shopper waits to be rolled up; returns the seconds.
async fn caught_up(url: &str) -> Result<f64> {
    let start = Instant::now();
    let mut last_print = Instant::now();
    loop {
        let (_, v) = admin(url, "GET", "/v1/admin/sites/demo/rollups", "").await?;
        let pending = v["pending"].as_u64().unwrap_or(0);
        if pending == 0 {
            return Ok(start.elapsed().as_secs_f64());
        }
        if last_print.elapsed() > Duration::from_secs(15) {
            println!("  rollups: {pending} shoppers pending");
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The three dashboard reads, each the median of `READS` tries (ms).
async fn reads(url: &str) -> Result<(f64, f64, f64, Value)> {
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (mut r, mut i, mut x) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = Value::Null;
    for _ in 0..READS {
        let (ms, results) = admin(url, "GET", "/v1/admin/sites/demo/results?days=30", "").await?;
        r.push(ms);
        let (ms, insights) = admin(url, "GET", "/v1/admin/sites/demo/insights?days=30", "").await?;
        i.push(ms);
        let (ms, reach) = admin(
            url,
            "POST",
            "/v1/admin/sites/demo/reach?days=30",
            r#"{"condition": {"visits": {"$gte": 2}}}"#,
        )
        .await?;
        x.push(ms);
        seen = json!({
            "campaigns": results["results"]["campaigns"].as_array().map_or(0, Vec::len),
            "shoppers": insights["insights"]["shoppers"],
            "reach": reach["reach"],
        });
    }
    Ok((median(r), median(i), median(x), seen))
}

/// The SQLite database's bytes: the database file, without the write-ahead
/// log (which SQLite folds back in and truncates at checkpoints); every
/// file is printed.
fn database_bytes(path: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let len = entry.metadata().map_or(0, |m| m.len());
        println!("  {name}: {len} bytes");
        if name.ends_with(".db") || name.ends_with(".sqlite") {
            total += len;
        }
    }
    total
}

/// Every figure for one store; `suffix` names it.
fn one_store(
    runtime: &tokio::runtime::Runtime,
    server: &Server,
    shoppers: u64,
    suffix: &str,
    size: &dyn Fn(&Server) -> Result<u64>,
    out: &mut Map<String, Value>,
) -> Result<()> {
    let url = server.url.clone();
    step(&format!(
        "scale ({suffix}): loading {shoppers} shoppers through the ingest"
    ));
    let start = Instant::now();
    let stored = runtime.block_on(load(
        &url,
        0,
        shoppers,
        CONNECTIONS,
        Arc::new(AtomicU64::new(0)),
    ))?;
    let secs = start.elapsed().as_secs_f64();
    println!("  {stored} events stored in {secs:.0} s");
    out.insert(format!("scale_events_{suffix}"), json!(stored));
    out.insert(
        format!("ingest_events_per_s_10m_{suffix}"),
        json!((stored as f64 / secs).round()),
    );
    let catch_up = runtime.block_on(caught_up(&url))?;
    println!("  rollups caught up {catch_up:.0} s after the last batch");
    out.insert(
        format!("rollup_catch_up_s_{suffix}"),
        json!(catch_up.round()),
    );
    let bytes = size(server)?;
    out.insert(
        format!("db_bytes_per_million_events_{suffix}"),
        json!((bytes as f64 / (stored as f64 / 1e6)).round()),
    );

    step(&format!(
        "scale ({suffix}): results, insights and reach over 30 days"
    ));
    let (results, insights, reach, seen) = runtime.block_on(reads(&url))?;
    println!("  results {results:.0} ms, insights {insights:.0} ms, reach {reach:.0} ms: {seen}");
    out.insert(format!("results_ms_10m_{suffix}"), json!(results.round()));
    out.insert(format!("insights_ms_10m_{suffix}"), json!(insights.round()));
    out.insert(format!("reach_ms_10m_{suffix}"), json!(reach.round()));
    out.insert(
        format!("reach_shoppers_10m_{suffix}"),
        seen["shoppers"].clone(),
    );

    step(&format!(
        "scale ({suffix}): the same reads while events keep arriving"
    ));
    let stop = Arc::new(AtomicU64::new(0));
    let (r2, i2, x2, sent, secs) = runtime.block_on(async {
        let loader = {
            let (url, stop) = (url.clone(), stop.clone());
            tokio::spawn(async move { load(&url, shoppers, shoppers * 2, 8, stop).await })
        };
        let start = Instant::now();
        let read = reads(&url).await;
        stop.store(1, Ordering::Relaxed);
        let secs = start.elapsed().as_secs_f64();
        let sent = loader.await??;
        let (r, i, x, _) = read?;
        anyhow::Ok((r, i, x, sent, secs))
    })?;
    println!(
        "  results {r2:.0} ms, insights {i2:.0} ms, reach {x2:.0} ms, while {:.0} events/s were stored",
        sent as f64 / secs
    );
    out.insert(
        format!("results_ms_10m_under_ingest_{suffix}"),
        json!(r2.round()),
    );
    out.insert(
        format!("insights_ms_10m_under_ingest_{suffix}"),
        json!(i2.round()),
    );
    out.insert(
        format!("reach_ms_10m_under_ingest_{suffix}"),
        json!(x2.round()),
    );
    out.insert(
        format!("ingest_events_per_s_during_reads_{suffix}"),
        json!((sent as f64 / secs).round()),
    );
    step(&format!(
        "scale ({suffix}): every built-in segment worked out, the largest exported"
    ));
    // After the stream of writes, at rest first: SQLite folds its log back
    // within ten seconds, and a refresh that waited behind that checkpoint
    // would time what the checkpoint costs.
    std::thread::sleep(Duration::from_secs(15));
    let ((refresh_ms, again_ms), largest, export_rss, exported) =
        runtime.block_on(segments(&url, server.child.id()))?;
    println!(
        "  built-in segments worked out in {refresh_ms:.0} ms (again: {again_ms:.0} ms); {exported} members of `{largest}` exported, server RSS +{export_rss:.1} MB"
    );
    out.insert(
        format!("segment_refresh_ms_1m_{suffix}"),
        json!(refresh_ms.round()),
    );
    out.insert(
        format!("segment_refresh_again_ms_1m_{suffix}"),
        json!(again_ms.round()),
    );
    out.insert(format!("export_members_{suffix}"), json!(exported));
    out.insert(
        format!("export_rss_mb_{suffix}"),
        json!((export_rss * 10.0).round() / 10.0),
    );
    // At rest again: what the database keeps (SQLite's log folded back).
    std::thread::sleep(Duration::from_secs(15));
    println!("  after 15 s at rest:");
    let at_rest = size(server)?;
    out.insert(format!("db_bytes_at_rest_{suffix}"), json!(at_rest));
    Ok(())
}

/// Works out every segment of the site (the built-in ones' first fill, in
/// one pass over every shopper), then again, and streams the largest one's
/// members as CSV while watching the server's memory: the times of both
/// refreshes (ms), the segment, how much the server's resident memory grew
/// during the export (MB), and the members exported.
async fn segments(url: &str, pid: u32) -> Result<((f64, f64), String, f64, u64)> {
    let refresh = "/v1/admin/sites/demo/segments/refresh";
    let (total_ms, done) = admin(url, "POST", refresh, "").await?;
    // Again, as the server's schedule does: the same work, few changes.
    let (again_ms, _) = admin(url, "POST", refresh, "").await?;
    let mut largest = (String::new(), 0u64);
    for (id, members) in done["members"].as_object().cloned().unwrap_or_default() {
        let members = members.as_u64().unwrap_or(0);
        println!("  {id}: {members} members");
        if members >= largest.1 {
            largest = (id, members);
        }
    }
    let before = crate::load::rss_mb(pid);
    let peak = Arc::new(std::sync::Mutex::new(before));
    let watching = Arc::new(AtomicU64::new(1));
    let watcher = {
        let (peak, watching) = (peak.clone(), watching.clone());
        tokio::spawn(async move {
            while watching.load(Ordering::Relaxed) == 1 {
                let now = crate::load::rss_mb(pid);
                if let Ok(mut p) = peak.lock()
                    && now > *p
                {
                    *p = now;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let req = Request::get(format!(
        "{url}/v1/admin/sites/demo/segments/{}/members?format=csv",
        largest.0
    ))
    .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
    .body(Full::new(Bytes::new()))?;
    let res = client().request(req).await?;
    let mut body = res.into_body();
    let mut lines = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            lines += data.iter().filter(|b| **b == b'\n').count() as u64;
        }
    }
    watching.store(0, Ordering::Relaxed);
    watcher.await?;
    let grew = peak.lock().map(|p| *p - before).unwrap_or(0.0);
    Ok((
        (total_ms, again_ms),
        largest.0,
        grew.max(0.0),
        lines.saturating_sub(1),
    ))
}

/// Every scale figure, SQLite and (when it can run here) PostgreSQL.
pub fn figures() -> Result<Map<String, Value>> {
    crate::run::sh(std::process::Command::new("cargo").args([
        "build",
        "--release",
        "--package",
        "dangol-server",
    ]))?;
    let events: u64 = std::env::var("DANGOL_SCALE_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let shoppers = (events / PER_SHOPPER).max(SHOPPERS_PER_BATCH);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut out = Map::new();
    out.insert("scale_shoppers".into(), json!(shoppers));
    {
        let server = start_server(None)?;
        let size = |s: &Server| Ok(database_bytes(s.data.path()));
        one_store(&runtime, &server, shoppers, "sqlite", &size, &mut out)?;
    }
    match crate::postgres::Cluster::start()? {
        Some(cluster) => {
            let server = start_server(Some(&cluster.url))?;
            let size = |_: &Server| -> Result<u64> {
                Ok(cluster
                    .query("SELECT pg_database_size(current_database())")?
                    .parse()?)
            };
            one_store(&runtime, &server, shoppers, "postgres", &size, &mut out)?;
        }
        None => {
            println!("NOTICE: no PostgreSQL here: the PostgreSQL scale figures are not measured")
        }
    }
    // Each figure on its own: the slower (larger) of the two stores.
    for figure in [
        "results_ms_10m",
        "insights_ms_10m",
        "reach_ms_10m",
        "segment_refresh_ms_1m",
        "export_rss_mb",
    ] {
        let worst = ["sqlite", "postgres"]
            .iter()
            .filter_map(|store| {
                out.get(&format!("{figure}_{store}"))
                    .and_then(Value::as_f64)
            })
            .fold(f64::NAN, f64::max);
        if worst.is_finite() {
            out.insert(figure.into(), json!(worst));
        }
    }
    Ok(out)
}
