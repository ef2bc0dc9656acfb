//! Stateless replicas: two dangol-server processes on one PostgreSQL
//! database take concurrent, overlapping batches, and every event id is
//! stored exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod process;
use process::{Server, free_port};

async fn start(database_url: &str, seed: bool) -> Server {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dangol-server"));
    cmd.args(["--addr", &addr, "--database-url", database_url])
        .env("DANGOL_ADMIN_TOKEN", "replica-admin-token-0123456789")
        .env("DANGOL_REDEEM_KEY", "replica-redeem-key-0123456789")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    if seed {
        cmd.arg("--seed-demo");
    }
    let server = Server(cmd.spawn().unwrap(), addr.clone());
    let until = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(&addr).await.is_err() {
        assert!(
            Instant::now() < until,
            "dangol-server on {addr} did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

/// A minimal HTTP/1.1 request over a real socket.
async fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    request_as(addr, "replica-admin-token-0123456789", method, path, body).await
}

async fn request_as(
    addr: &str,
    bearer: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {bearer}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let status: u16 = text[9..12].parse().unwrap();
    let (headers, payload) = text.split_once("\r\n\r\n").unwrap();
    // Bodies may come chunked; the JSON is the part between the braces.
    let payload = if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let start = payload.find(['{', '[']).unwrap_or(0);
        let end = payload.rfind(['}', ']']).map_or(payload.len(), |e| e + 1);
        &payload[start..end]
    } else {
        payload
    };
    (status, serde_json::from_str(payload).unwrap_or(Value::Null))
}

/// A fresh database on the test cluster, or `None` (skipped, loudly).
async fn database(tag: &str) -> Option<String> {
    let Ok(url) = std::env::var("DANGOL_TEST_POSTGRES_URL") else {
        eprintln!("NOTICE: DANGOL_TEST_POSTGRES_URL is not set: the replica test is skipped");
        return None;
    };
    let name = format!("dangol_replicas_{tag}_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    Some(format!("{}/{name}", url.rsplit_once('/').unwrap().0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_redeem_a_code_exactly_once() {
    let Some(db) = database("redeem").await else {
        return;
    };
    let a = start(&db, true).await;
    let b = start(&db, false).await;
    let claim = json!({"anon": "replica-anon-claims", "campaign": "cart-coupon", "variant": "a"})
        .to_string();
    let (status, body) = request(&a.1, "POST", "/v1/sites/demo/coupons/claim", &claim).await;
    assert_eq!(status, 200, "{body}");
    let code = body["code"].as_str().unwrap().to_string();
    // The same id claiming at the other replica gets the same code.
    let (_, again) = request(&b.1, "POST", "/v1/sites/demo/coupons/claim", &claim).await;
    assert_eq!(again["code"], code.as_str());
    let redeem = json!({"code": code}).to_string();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let addr = if i % 2 == 0 { a.1.clone() } else { b.1.clone() };
        let body = redeem.clone();
        tasks.push(tokio::spawn(async move {
            request_as(
                &addr,
                "replica-redeem-key-0123456789",
                "POST",
                "/v1/sites/demo/coupons/redeem",
                &body,
            )
            .await
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap().0);
    }
    statuses.sort_unstable();
    println!("16 concurrent redeems of one code on two replicas: {statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_store_every_overlapping_event_exactly_once() {
    let Some(db) = database("events").await else {
        return;
    };
    let a = start(&db, true).await;
    let b = start(&db, false).await;

    // 40 batches of 50 events over 500 distinct ids: every id is sent 4
    // times, half to each replica, all at once.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut tasks = Vec::new();
    for batch in 0..40u32 {
        let addr = if batch % 2 == 0 {
            a.1.clone()
        } else {
            b.1.clone()
        };
        let events: Vec<Value> = (0..50u32)
            .map(|i| {
                let n = (batch * 50 + i) % 500;
                json!({"id": format!("evt_{n:08}"), "type": "page_view", "ts": now,
                       "anon": format!("replica-anon-{:04}", n % 17)})
            })
            .collect();
        let body = json!({"events": events}).to_string();
        tasks.push(tokio::spawn(async move {
            request(&addr, "POST", "/v1/sites/demo/events", &body).await
        }));
    }
    let mut stored = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 200, "{body}");
        stored += body["stored"].as_u64().unwrap();
    }
    println!("sent 2000 events over 500 ids to two replicas; stored {stored}");
    assert_eq!(
        stored, 500,
        "each id stored exactly once across both replicas"
    );
    let mut conn = sqlx::PgConnection::connect(&db).await.unwrap();
    let (rows, distinct): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT id) FROM events WHERE site = 'demo'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((rows, distinct), (500, 500));
    drop((a, b));
}
