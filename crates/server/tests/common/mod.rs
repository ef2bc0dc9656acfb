//! The HTTP API's test bodies, shared by every storage backend: each takes
//! a fresh `AppState` with the demo seeded and an admin token.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // test helpers may panic: a panic is a failed test

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use dangol_server::store::Store;
use dangol_server::{AppState, app, demo, now_ms};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

mod catalog;
mod identity;
mod orders;
mod recs;
mod segments;
mod webhooks;
pub use catalog::*;
pub use identity::*;
pub use orders::*;
pub use recs::*;
pub use segments::*;
pub use webhooks::*;

pub const TOKEN: &str = "test-admin-token";

/// A state over `store`, with the demo seeded and the admin token set.
pub async fn state_over(store: Arc<dyn Store>) -> AppState {
    demo::seed(store.as_ref(), now_ms()).await.unwrap();
    let mut state = AppState::new(store);
    state.admin_token = Some(TOKEN.to_string());
    state
}

/// Sends `req` to the app served on a real loopback socket.
async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await });
    let (mut parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    parts.uri = format!("http://{addr}{path}").parse().unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Body>();
    let res = client
        .request(Request::from_parts(parts, body))
        .await
        .unwrap();
    server.abort();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

fn post_events(body: &Value, origin: Option<&str>) -> Request<Body> {
    let mut req = Request::post("/v1/sites/demo/events")
        .header(header::HOST, "127.0.0.1:9")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    req.body(Body::from(body.to_string())).unwrap()
}

fn event(id: &str, kind: &str) -> Value {
    let mut e = json!({"id": id, "type": kind, "ts": now_ms(), "anon": "anon0123456789abcdef"});
    if kind == "exposure" {
        e["campaign"] = json!("welcome-hero");
        e["variant"] = json!("a");
    }
    e
}

pub async fn config_is_served_with_a_strong_etag_and_revalidates_with_304(state: AppState) {
    let (status, headers, body) = send(
        &state,
        Request::get("/v1/sites/demo/config")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["site"], "demo");
    assert_eq!(body["version"], 1);
    let etag = headers[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with("\"v1-"), "{etag}");
    assert!(
        headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("public")
    );

    let req = Request::get("/v1/sites/demo/config")
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&state, req).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers[header::ETAG].to_str().unwrap(), etag);

    // A compressed copy carries the tag weakened, and the weak tag (as a
    // browser sends it back) revalidates too; another version's does not.
    let req = Request::get("/v1/sites/demo/config")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let response = app(state.clone()).oneshot(req).await.unwrap();
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let weak = response.headers()[header::ETAG]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(weak, format!("W/{etag}"));
    for (tag, want) in [
        (weak.as_str(), StatusCode::NOT_MODIFIED),
        ("\"v0-x\", W/\"v0-y\"", StatusCode::OK),
        ("*", StatusCode::NOT_MODIFIED),
    ] {
        let req = Request::get("/v1/sites/demo/config")
            .header(header::IF_NONE_MATCH, tag)
            .body(Body::empty())
            .unwrap();
        let (status, _, _) = send(&state, req).await;
        assert_eq!(status, want, "If-None-Match: {tag}");
    }
}

pub async fn the_widget_gets_the_config_checked_and_compiled_in_the_compact_form(state: AppState) {
    use dangol_engine::condition::NativeRegex;
    use dangol_engine::config::{SiteConfig, compact};
    let get = |tag: Option<&str>| {
        let mut req = Request::get("/v1/sites/demo/config/compact");
        if let Some(tag) = tag {
            req = req.header(header::IF_NONE_MATCH, tag);
        }
        app(state.clone()).oneshot(req.body(Body::empty()).unwrap())
    };
    let res = get(None).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let etag = headers[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with("\"c1-"), "{etag}");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let text = std::str::from_utf8(&body).unwrap();
    // The same config the JSON route serves, as the engine compiles it.
    let read = compact::read(text, &NativeRegex).unwrap();
    let (_, _, json) = send(
        &state,
        Request::get("/v1/sites/demo/config")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let compiled = SiteConfig::compile_value(&json.into(), &NativeRegex).unwrap();
    assert_eq!(read.config().site, "demo");
    assert_eq!(read.config().version, 1);
    let ids = |c: &dangol_engine::config::CompiledConfig| {
        c.campaigns()
            .iter()
            .map(|c| c.campaign.id.clone())
            .collect::<Vec<_>>()
    };
    assert!(!ids(&read).is_empty());
    assert_eq!(ids(&read), ids(&compiled));
    assert_eq!(read.lineage().len(), 16, "the line of publishes is named");
    assert_eq!(compact::write(&compiled, read.lineage()), text);
    // Its own tag revalidates; the JSON form's does not.
    assert_eq!(
        get(Some(&etag)).await.unwrap().status(),
        StatusCode::NOT_MODIFIED
    );
    let res = get(Some("\"v1-x\"")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // It is signed like the JSON form, and answers the revalidation preflight.
    assert!(headers.contains_key("x-dangol-signature"));
    let (status, headers, _) = send(
        &state,
        Request::options("/v1/sites/demo/config/compact")
            .header(header::ORIGIN, "https://shop.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "if-none-match")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
}

pub async fn every_route_the_widget_calls_answers_its_cors_preflight(state: AppState) {
    let preflight = |path: &str, method: &str, headers: &str| {
        Request::options(path)
            .header(header::ORIGIN, "https://shop.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, headers)
            .body(Body::empty())
            .unwrap()
    };
    // The config is public: any origin, with the revalidation header.
    let (status, headers, _) = send(
        &state,
        preflight("/v1/sites/demo/config", "GET", "if-none-match"),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_METHODS], "GET");
    assert!(
        headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("if-none-match")
    );
    // A revalidation from another origin can read the 304 and its tag.
    let (_, first, _) = send(
        &state,
        Request::get("/v1/sites/demo/config")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let etag = first[header::ETAG].clone();
    let req = Request::get("/v1/sites/demo/config")
        .header(header::ORIGIN, "https://shop.example")
        .header(header::IF_NONE_MATCH, etag)
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&state, req).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(
        headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .unwrap()
            .contains("ETag")
    );
    // Events, claims and erasure: the site's own origins, with their headers.
    for (path, method, asked) in [
        (
            "/v1/sites/demo/events",
            "POST",
            "content-type, x-dangol-key",
        ),
        ("/v1/sites/demo/coupons/claim", "POST", "content-type"),
        (
            "/v1/sites/demo/subjects/anon0123456789abcdef",
            "DELETE",
            "x-dangol-key",
        ),
    ] {
        let req = Request::options(path)
            .header(header::HOST, "127.0.0.1:9")
            .header(header::ORIGIN, "http://127.0.0.1:9")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, asked)
            .body(Body::empty())
            .unwrap();
        let (status, headers, _) = send(&state, req).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{path}");
        assert!(
            headers[header::ACCESS_CONTROL_ALLOW_METHODS]
                .to_str()
                .unwrap()
                .contains(method),
            "{path}"
        );
        let allowed = headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap();
        for h in asked.split(", ") {
            assert!(allowed.contains(h), "{path}: {h} not in {allowed}");
        }
    }
}

pub async fn an_unknown_site_is_a_404_that_names_it(state: AppState) {
    let (status, _, body) = send(
        &state,
        Request::get("/v1/sites/nope/config")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "no site `nope`");
}

pub async fn events_are_stored_once_per_id_so_retries_are_harmless(state: AppState) {
    let batch =
        json!({"events": [event("evt_aaaaaaaa", "page_view"), event("evt_bbbbbbbb", "exposure")]});
    let (status, _, body) = send(&state, post_events(&batch, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["accepted"].as_u64(), body["stored"].as_u64()),
        (Some(2), Some(2))
    );

    let (_, _, body) = send(&state, post_events(&batch, None)).await;
    assert_eq!(
        (body["stored"].as_u64(), body["duplicates"].as_u64()),
        (Some(0), Some(2))
    );

    let req = Request::get("/v1/sites/demo/events?anon=anon0123456789abcdef")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&state, req).await;
    assert_eq!(status, StatusCode::OK);
    let mut ids: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["evt_aaaaaaaa", "evt_bbbbbbbb"]);
}

pub async fn an_event_with_a_field_beyond_the_privacy_rules_is_rejected_by_name(state: AppState) {
    let mut leaky = event("evt_cccccccc", "page_view");
    leaky["email"] = json!("minji@example.com");
    let batch = json!({"events": [leaky, event("evt_dddddddd", "page_view")]});
    let (status, _, body) = send(&state, post_events(&batch, None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["stored"], 1);
    assert_eq!(body["rejected"][0]["index"], 0);
    assert!(
        body["rejected"][0]["error"]
            .as_str()
            .unwrap()
            .contains("`email`"),
        "{body}"
    );
}

pub async fn events_from_a_foreign_origin_are_refused_and_same_origin_is_allowed(state: AppState) {
    let batch = json!({"events": [event("evt_eeeeeeee", "page_view")]});
    let (status, _, body) = send(&state, post_events(&batch, Some("https://evil.example"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("evil.example")
    );

    let (status, headers, _) = send(&state, post_events(&batch, Some("http://127.0.0.1:9"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://127.0.0.1:9"
    );
}

pub async fn malformed_and_oversized_batches_are_refused_with_the_reason(state: AppState) {
    let req = Request::post("/v1/sites/demo/events")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let (status, _, body) = send(&state, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("the body is not JSON")
    );

    let huge = "x".repeat(dangol_server::MAX_EVENTS_BODY + 1);
    let req = Request::post("/v1/sites/demo/events")
        .body(Body::from(huge))
        .unwrap();
    let (status, _, _) = send(&state, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

pub async fn admin_reads_need_the_token(state: AppState) {
    let req = Request::get("/v1/sites/demo/events")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, req).await.0, StatusCode::UNAUTHORIZED);
    let req = Request::get("/v1/sites/demo/events")
        .header(header::AUTHORIZATION, "Bearer wrong")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, req).await.0, StatusCode::UNAUTHORIZED);
}

pub async fn seeding_twice_reuses_the_data(state: AppState) {
    // The state was seeded once already.
    assert!(!demo::seed(state.store.as_ref(), now_ms()).await.unwrap());
    assert_eq!(
        state
            .store
            .published("demo")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
}

fn erase(anon: &str, key: Option<&str>, admin: bool) -> Request<Body> {
    let mut req = Request::delete(format!("/v1/sites/demo/subjects/{anon}"));
    if let Some(k) = key {
        req = req.header("x-dangol-key", k);
    }
    if admin {
        req = req.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    req.body(Body::empty()).unwrap()
}

pub async fn only_the_ids_own_key_or_an_admin_can_erase_it(state: AppState) {
    let key = "k0123456789abcdef0123456789abcdef";
    let batch =
        json!({"events": [event("evt_erase001", "page_view"), event("evt_erase002", "exposure")]});
    let req = Request::post("/v1/sites/demo/events")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-dangol-key", key)
        .body(Body::from(batch.to_string()))
        .unwrap();
    assert_eq!(send(&state, req).await.0, StatusCode::OK);
    // A later key for the same id does not replace the first.
    let again = Request::post("/v1/sites/demo/events")
        .header("x-dangol-key", "attacker-key-0000000000")
        .body(Body::from(
            json!({"events": [event("evt_erase003", "page_view")]}).to_string(),
        ))
        .unwrap();
    assert_eq!(send(&state, again).await.0, StatusCode::OK);

    let anon = "anon0123456789abcdef";
    let (status, _, body) = send(&state, erase(anon, None, false)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _, body) = send(&state, erase(anon, Some("attacker-key-0000000000"), false)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"]["message"],
        format!("the erase key does not belong to id `{anon}`")
    );
    let (status, _, body) = send(&state, erase(anon, Some(key), false)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["erased_events"], 3);
    let req = Request::get(format!("/v1/sites/demo/events?anon={anon}"))
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, req).await.2["events"], json!([]));
    // Erasing again finds nothing (the key went with the data); an admin
    // may erase too.
    let (status, _, body) = send(&state, erase(anon, Some(key), false)).await;
    assert_eq!(
        (status, body["erased_events"].as_u64()),
        (StatusCode::OK, Some(0))
    );
    let (status, _, body) = send(&state, erase(anon, None, true)).await;
    assert_eq!(
        (status, body["erased_events"].as_u64()),
        (StatusCode::OK, Some(0))
    );
}

fn keyed_batch(key: &str, ids: &[&str]) -> Request<Body> {
    let events: Vec<Value> = ids.iter().map(|id| event(id, "page_view")).collect();
    Request::post("/v1/sites/demo/events")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-dangol-key", key)
        .body(Body::from(json!({ "events": events }).to_string()))
        .unwrap()
}

pub async fn events_for_an_erased_id_are_refused_so_a_late_batch_brings_nothing_back(
    state: AppState,
) {
    let anon = "anon0123456789abcdef";
    let key = "k0123456789abcdef0123456789abcdef";
    let (status, _, body) = send(&state, keyed_batch(key, &["evt_late0001"])).await;
    assert_eq!(
        (status, body["stored"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let (status, _, body) = send(&state, erase(anon, Some(key), false)).await;
    assert_eq!(
        (status, body["erased_events"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    // A batch that was on its way (or another tab's outbox) arrives after
    // the erase: taken, not stored, and the id is not registered again.
    let (status, _, body) = send(&state, keyed_batch(key, &["evt_late0002", "evt_late0003"])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["stored"].as_u64(), body["erased"].as_u64()),
        (Some(0), Some(2)),
        "{body}"
    );
    let req = Request::get(format!("/v1/sites/demo/events?anon={anon}"))
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, req).await.2["events"], json!([]));
    assert_eq!(state.store.subject_key("demo", anon).await.unwrap(), None);
    // Another id is untouched.
    let mut other = event("evt_other001", "page_view");
    other["anon"] = json!("anonffffffffffffffff");
    let (_, _, body) = send(&state, post_events(&json!({"events": [other]}), None)).await;
    assert_eq!(body["stored"].as_u64(), Some(1), "{body}");
}

pub async fn an_id_that_never_sent_anything_can_be_erased_and_then_stores_nothing(state: AppState) {
    // A shopper who allowed personalisation only, then withdrew: the id
    // never reached the server, and erasing it makes sure it never does.
    let anon = "anon0123456789abcdef";
    let (status, _, body) = send(&state, erase(anon, Some("k-never-registered-0000"), false)).await;
    assert_eq!(
        (status, body["erased_events"].as_u64()),
        (StatusCode::OK, Some(0)),
        "{body}"
    );
    let (_, _, body) = send(
        &state,
        keyed_batch("k0123456789abcdef0123", &["evt_never001"]),
    )
    .await;
    assert_eq!(body["stored"].as_u64(), Some(0), "{body}");
    // A registered id still needs its own key.
    let mut other = event("evt_other001", "page_view");
    other["anon"] = json!("anonffffffffffffffff");
    let req = Request::post("/v1/sites/demo/events")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-dangol-key", "k-the-real-key-00000000")
        .body(Body::from(json!({"events": [other]}).to_string()))
        .unwrap();
    assert_eq!(send(&state, req).await.0, StatusCode::OK);
    let (status, _, _) = send(
        &state,
        erase(
            "anonffffffffffffffff",
            Some("k-a-guess-000000000000"),
            false,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

pub async fn widget_assets_load_cross_origin_from_shop_pages(mut state: AppState) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dangol_bg.wasm"), b"\0asm").unwrap();
    state.pkg_dir = Some(dir.path().to_path_buf());
    let req = Request::get("/pkg/dangol_bg.wasm")
        .header(header::ORIGIN, "https://shop.example")
        .body(Body::empty())
        .unwrap();
    let res = app(state).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/wasm");
}

fn post_json(path: &str, body: &Value, bearer: Option<&str>) -> Request<Body> {
    let mut req = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(b) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {b}"));
    }
    req.body(Body::from(body.to_string())).unwrap()
}

/// Publishes the demo's config with a coupon campaign `kurly` (variant
/// `a`) that hands out `budget` codes.
async fn publish_coupon_campaign(state: &AppState, budget: u32) {
    let mut config = dangol_server::demo::config(2);
    config["campaigns"].as_array_mut().unwrap().push(json!({
        "id": "kurly", "placement": "home-hero", "coupon": {"budget": budget, "valid_days": 7, "prefix": "KURLY"},
        "variants": [{"id": "a", "content": {"type": "coupon", "headline": "For you", "value": "10% off"}}]
    }));
    let body = config.to_string();
    state
        .store
        .publish("demo", &move |_| body.clone(), now_ms())
        .await
        .unwrap();
}

pub async fn coupons_go_once_per_id_within_budget_and_redeem_exactly_once(state: AppState) {
    use dangol_server::store::{ClaimRequest, Redeem};
    use sha2::{Digest, Sha256};
    publish_coupon_campaign(&state, 2).await;
    let key = "redeem-key-0123456789";
    let hash = hex::encode(Sha256::digest(key.as_bytes()));
    state.store.set_redeem_key("demo", &hash).await.unwrap();

    let claim = |anon: &str| {
        post_json(
            "/v1/sites/demo/coupons/claim",
            &json!({"anon": anon, "campaign": "kurly", "variant": "a"}),
            None,
        )
    };
    let (status, _, first) = send(&state, claim("anon-aaaaaaaaaaaaaaaa")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let code = first["code"].as_str().unwrap().to_string();
    assert!(code.starts_with("KURLY-"), "{code}");
    let (_, _, again) = send(&state, claim("anon-aaaaaaaaaaaaaaaa")).await;
    assert_eq!(
        again["code"],
        code.as_str(),
        "claiming again gives the same code"
    );
    let (status, _, second) = send(&state, claim("anon-bbbbbbbbbbbbbbbb")).await;
    assert_eq!(status, StatusCode::OK);
    let other = second["code"].as_str().unwrap().to_string();
    assert_ne!(other, code);
    let (status, _, spent) = send(&state, claim("anon-cccccccccccccccc")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(spent["error"]["code"], "exhausted");

    let bad = [
        (
            json!({"anon": "anon-dddddddddddddddd", "campaign": "nope", "variant": "a"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"anon": "anon-dddddddddddddddd", "campaign": "welcome-hero", "variant": "a"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"anon": "anon-dddddddddddddddd", "campaign": "kurly", "variant": "zz"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"anon": "short", "campaign": "kurly", "variant": "a"}),
            StatusCode::BAD_REQUEST,
        ),
        // JSON of the wrong shape: 422, naming what is wrong.
        (
            json!({"anon": "anon-dddddddddddddddd", "campaign": "kurly", "variant": "a", "email": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"anon": "anon-dddddddddddddddd", "campaign": 5, "variant": "a"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, want) in bad {
        let (status, _, answer) = send(
            &state,
            post_json("/v1/sites/demo/coupons/claim", &body, None),
        )
        .await;
        assert_eq!(status, want, "{body} -> {answer}");
        assert!(answer["error"]["message"].is_string());
    }
    let (_, _, answer) = send(
        &state,
        post_json(
            "/v1/sites/demo/coupons/claim",
            &json!({"anon": "anon-dddddddddddddddd", "campaign": 5, "variant": "a"}),
            None,
        ),
    )
    .await;
    assert_eq!(answer["error"]["code"], "invalid_field", "{answer}");
    assert!(
        answer["error"]["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("`campaign`: invalid type: integer"),
        "{answer}"
    );
    let req = Request::post("/v1/sites/demo/coupons/claim")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"anon\": "))
        .unwrap();
    let (status, _, answer) = send(&state, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is not JSON")
    );

    let redeem = |code: &str, bearer: Option<&str>| {
        post_json(
            "/v1/sites/demo/coupons/redeem",
            &json!({"code": code}),
            bearer,
        )
    };
    assert_eq!(
        send(&state, redeem(&code, None)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&state, redeem(&code, Some("wrong"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _, done) = send(&state, redeem(&code.to_lowercase(), Some(key))).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["campaign"], "kurly");
    let (status, _, twice) = send(&state, redeem(&code, Some(key))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(twice["error"]["code"], "already_redeemed");
    assert_eq!(
        send(&state, redeem("KURLY-NOSUCHCODE", Some(key))).await.0,
        StatusCode::NOT_FOUND
    );

    // Sixteen checkouts redeem the same code at once: exactly one wins.
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (state, req) = (state.clone(), redeem(&other, Some(key)));
            tokio::spawn(async move { send(&state, req).await.0 })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => wins += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(wins, 1);

    // A code past its validity is refused as expired.
    let now = now_ms();
    state
        .store
        .claim_coupon(ClaimRequest {
            site: "demo",
            campaign: "short-lived",
            variant: "a",
            anon: "anon-eeeeeeeeeeeeeeee",
            budget: 5,
            valid_ms: 1000,
            code: "SHORT-0000000001".into(),
            now_ms: now,
        })
        .await
        .unwrap();
    assert_eq!(
        state
            .store
            .redeem_coupon("demo", "SHORT-0000000001", now + 2000)
            .await
            .unwrap(),
        Redeem::Expired
    );
}

pub async fn a_claim_without_measurement_consent_names_no_id_and_gets_its_own_code(
    state: AppState,
) {
    publish_coupon_campaign(&state, 5).await;
    let claim = || {
        post_json(
            "/v1/sites/demo/coupons/claim",
            &json!({"campaign": "kurly", "variant": "a"}),
            None,
        )
    };
    let (status, _, first) = send(&state, claim()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, _, second) = send(&state, claim()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(
        first["code"], second["code"],
        "each anonymous claim is its own"
    );
    // They count against the campaign's budget like any claim.
    for _ in 0..3 {
        send(&state, claim()).await;
    }
    let (status, _, spent) = send(&state, claim()).await;
    assert_eq!(
        (status, spent["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("exhausted"))
    );
}

pub async fn configs_are_signed_with_the_sites_published_key(state: AppState) {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    let res = app(state.clone())
        .oneshot(
            Request::get("/v1/sites/demo/config")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let signature = res.headers()["x-dangol-signature"]
        .to_str()
        .unwrap()
        .to_string();
    let expose = res.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_string();
    assert!(expose.contains("X-Dangol-Signature"), "{expose}");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let (status, _, key) = send(
        &state,
        Request::get("/v1/sites/demo/key")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(key["algorithm"], "Ed25519");
    let public: [u8; 32] = STANDARD
        .decode(key["public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let public = VerifyingKey::from_bytes(&public).unwrap();
    let sig = Signature::from_slice(&STANDARD.decode(&signature).unwrap()).unwrap();
    assert!(
        public.verify(&body, &sig).is_ok(),
        "the served bytes verify"
    );
    let mut tampered = body.to_vec();
    tampered[2] ^= 1;
    assert!(
        public.verify(&tampered, &sig).is_err(),
        "a changed byte does not"
    );
    // The key is stable across requests.
    let (_, _, again) = send(
        &state,
        Request::get("/v1/sites/demo/key")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again["public_key"], key["public_key"]);
}

pub async fn gzip_batches_are_accepted_and_a_gzip_bomb_is_refused(state: AppState) {
    use std::io::Write;
    let gzip = |bytes: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    };
    let batch = json!({"events": [event("evt_gzip0001", "page_view")]});
    let req = Request::post("/v1/sites/demo/events")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(gzip(batch.to_string().as_bytes())))
        .unwrap();
    let (status, _, body) = send(&state, req).await;
    assert_eq!(
        (status, body["stored"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    // Small on the wire, huge when inflated: refused by the body limit.
    let bomb = gzip(&vec![b' '; dangol_server::MAX_EVENTS_BODY * 4]);
    assert!(bomb.len() < 4096);
    let req = Request::post("/v1/sites/demo/events")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(bomb))
        .unwrap();
    assert_eq!(send(&state, req).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

pub async fn the_retention_covers_erase_keys_coupon_ids_and_tombstones(state: AppState) {
    use dangol_server::store::{Claim, ClaimRequest, Redeem};
    use sha2::{Digest, Sha256};
    let day = 86_400_000i64;
    let now = now_ms();
    let store = state.store.as_ref();
    // Two ids seen today: one with nothing more, one that stays active.
    store
        .register_subject("demo", "anon-gone-0000000001", "k1", now)
        .await
        .unwrap();
    store
        .register_subject("demo", "anon-back-0000000001", "k2", now)
        .await
        .unwrap();
    let mut later = event("evt_back0001", "page_view");
    later["anon"] = json!("anon-back-0000000001");
    later["ts"] = json!(now + 95 * day);
    let batch: Vec<dangol_engine::event::Event> =
        dangol_engine::event::parse_batch(&json!({"events": [later]}), now + 95 * day)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
    store.insert_events("demo", &batch, now).await.unwrap();
    // Codes claimed today: expiring in a week, valid for a year, redeemed.
    let claim = |anon: &'static str, code: &str, valid_days: i64| ClaimRequest {
        site: "demo",
        campaign: "retention",
        variant: "a",
        anon,
        budget: 100,
        valid_ms: valid_days * day,
        code: code.to_string(),
        now_ms: now,
    };
    for (anon, code, days) in [
        ("anon-week-0000000001", "RET-WEEK", 7),
        ("anon-year-0000000001", "RET-YEAR", 365),
        ("anon-used-0000000001", "RET-USED", 7),
    ] {
        assert!(matches!(
            store.claim_coupon(claim(anon, code, days)).await.unwrap(),
            Claim::New(_)
        ));
    }
    assert!(matches!(
        store.redeem_coupon("demo", "RET-USED", now).await.unwrap(),
        Redeem::Redeemed(_)
    ));
    // An id erased today leaves a tombstone.
    store
        .erase_subject("demo", "anon-erased-00000001")
        .await
        .unwrap();
    let tombstone = hex::encode(Sha256::digest(b"anon-erased-00000001"));
    assert!(store.is_erased("demo", &tombstone).await.unwrap());

    // Nothing is past the demo's 90 days yet.
    dangol_server::purge_once_at(store, None, now + day)
        .await
        .unwrap();
    assert!(
        store
            .subject_key("demo", "anon-gone-0000000001")
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.is_erased("demo", &tombstone).await.unwrap());

    // A hundred days on, it is.
    dangol_server::purge_once_at(store, None, now + 100 * day)
        .await
        .unwrap();
    assert_eq!(
        store
            .subject_key("demo", "anon-gone-0000000001")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .subject_key("demo", "anon-back-0000000001")
            .await
            .unwrap()
            .as_deref(),
        Some("k2"),
        "an id with events still kept keeps its erase key"
    );
    assert!(!store.is_erased("demo", &tombstone).await.unwrap());
    // The expired and the redeemed code no longer name their ids (claiming
    // again is a new claim); the code still valid does, and the redeemed
    // code still redeems exactly once.
    for (anon, code, linked) in [
        ("anon-week-0000000001", "RET-WEEK2", false),
        ("anon-year-0000000001", "RET-YEAR2", true),
        ("anon-used-0000000001", "RET-USED2", false),
    ] {
        let mut req = claim(anon, code, 7);
        req.now_ms = now + 100 * day;
        let again = store.claim_coupon(req).await.unwrap();
        assert_eq!(matches!(again, Claim::Existing(_)), linked, "{anon}");
    }
    assert!(matches!(
        store
            .redeem_coupon("demo", "RET-USED", now + 100 * day)
            .await
            .unwrap(),
        Redeem::AlreadyUsed(_)
    ));
}

pub async fn old_events_are_purged_after_the_retention(state: AppState) {
    let day = 86_400_000i64;
    let mut old = event("evt_old00001", "page_view");
    old["ts"] = json!(now_ms() - 100 * day);
    let batch = json!({"events": [old, event("evt_new00001", "page_view")]});
    assert_eq!(send(&state, post_events(&batch, None)).await.2["stored"], 2);
    // The demo keeps 90 days: the 100-day-old page view goes.
    let purged = dangol_server::purge_once(state.store.as_ref(), None)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let left = state.store.events("demo", None, 100).await.unwrap();
    let ids: Vec<&str> = left.iter().map(|e| e.event.id.as_str()).collect();
    assert_eq!(ids, ["evt_new00001"]);
}

/// Event batches from `client` as a proxy (the test's own address,
/// 127.0.0.1) forwards them: the statuses of `n` batches.
async fn batches_forwarded_for(state: &AppState, client: &str, n: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 0..n {
        let body =
            json!({"events": [event(&format!("evt_fwd{i:05}{}", client.len()), "page_view")]});
        let mut req = post_events(&body, None);
        req.headers_mut()
            .insert("x-forwarded-for", client.parse().unwrap());
        statuses.push(send(state, req).await.0.as_u16());
    }
    statuses
}

pub async fn clients_behind_a_trusted_proxy_get_their_own_limits_and_cannot_spoof_one(
    mut state: AppState,
) {
    use dangol_server::limits::TrustedProxies;
    early_in_a_minute();
    state.limits.events_per_ip = 3;
    // No proxy listed: the header is the client's own word and counts for
    // nothing; every "client" shares the socket's address.
    let a = batches_forwarded_for(&state, "198.51.100.1", 2).await;
    let b = batches_forwarded_for(&state, "198.51.100.2", 2).await;
    assert_eq!([a, b].concat(), [200, 200, 200, 429]);

    // Behind a listed proxy, each client has its own allowance...
    let mut state = state.clone();
    state.limiter = Arc::default();
    state.proxies = Arc::new(TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap());
    for client in ["198.51.100.1", "198.51.100.2"] {
        assert_eq!(
            batches_forwarded_for(&state, client, 4).await,
            [200, 200, 200, 429],
            "{client}"
        );
    }
    // ...and cannot escape it by writing the header itself: the proxy
    // appends what it saw, and that is what counts.
    for spoofed in ["6.6.6.1", "6.6.6.2"] {
        let chain = format!("{spoofed}, 198.51.100.1, 10.0.0.7");
        assert_eq!(batches_forwarded_for(&state, &chain, 1).await, [429]);
    }
    // IPv6 clients count per /64: rotating through one's own /64 does not
    // reset the allowance; another /64 has its own.
    let mut seen = Vec::new();
    for host in 1..=4 {
        let client = format!("2001:db8:1:2::{host}");
        seen.extend(batches_forwarded_for(&state, &client, 1).await);
    }
    assert_eq!(seen, [200, 200, 200, 429]);
    assert_eq!(
        batches_forwarded_for(&state, "2001:db8:1:3::1", 1).await,
        [200]
    );
    // The standard `Forwarded` header works alike.
    let body = json!({"events": [event("evt_fwdstd0001", "page_view")]});
    let mut req = post_events(&body, None);
    req.headers_mut().insert(
        "forwarded",
        "for=\"[2001:db8:1:2::99]:4711\";proto=https"
            .parse()
            .unwrap(),
    );
    assert_eq!(send(&state, req).await.0, StatusCode::TOO_MANY_REQUESTS);
}

pub async fn a_code_guesser_at_the_checkout_never_blocks_real_redemptions(mut state: AppState) {
    use sha2::{Digest, Sha256};
    early_in_a_minute();
    state.limits.redeems_per_ip = 3;
    publish_coupon_campaign(&state, 5).await;
    let key = "redeem-key-checkout-0001";
    let hash = hex::encode(Sha256::digest(key.as_bytes()));
    state.store.set_redeem_key("demo", &hash).await.unwrap();
    let mut codes = Vec::new();
    for anon in ["anon-real-aaaaaaaaaaaa", "anon-real-bbbbbbbbbbbb"] {
        let claim = json!({"anon": anon, "campaign": "kurly", "variant": "a"});
        let (status, _, body) = send(
            &state,
            post_json("/v1/sites/demo/coupons/claim", &claim, None),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        codes.push(body["code"].as_str().unwrap().to_string());
    }
    let redeem = |code: &str, client: Option<&str>, bearer: &str| {
        let mut body = json!({"code": code});
        if let Some(c) = client {
            body["client"] = json!(c);
        }
        post_json("/v1/sites/demo/coupons/redeem", &body, Some(bearer))
    };
    // One shopper guessing: unknown codes run out their allowance.
    let mut statuses = Vec::new();
    for i in 0..5 {
        let req = redeem(
            &format!("KURLY-GUESS{i:04}"),
            Some("shopper-at-203.0.113.5"),
            key,
        );
        statuses.push(send(&state, req).await.0.as_u16());
    }
    assert_eq!(statuses, [404, 404, 404, 429, 429]);
    // The same checkout server redeems everyone else's real codes at once.
    let (status, _, body) = send(
        &state,
        redeem(&codes[0], Some("shopper-at-198.51.100.9"), key),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = send(&state, redeem(&codes[1], None, key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Redeemed codes are not guesses: redeeming again is a 409, not counted.
    for _ in 0..4 {
        let (status, _, _) = send(&state, redeem(&codes[1], None, key)).await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
    let req = redeem("KURLY-NOTREAL01", Some(&"x".repeat(129)), key);
    let (status, _, body) = send(&state, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`client`"),
        "{body}"
    );
    // Guessing the redeem key is held back per address (here one behind the
    // shop's proxy), and does not touch the checkout server's allowance.
    state.proxies = Arc::new(dangol_server::limits::TrustedProxies::parse("127.0.0.1").unwrap());
    let mut statuses = Vec::new();
    for i in 0..4 {
        let mut req = redeem(&codes[0], None, &format!("wrong-key-{i}"));
        req.headers_mut()
            .insert("x-forwarded-for", "203.0.113.66".parse().unwrap());
        statuses.push(send(&state, req).await.0.as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    let (status, _, _) = send(&state, redeem("KURLY-NOTREAL01", None, key)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

pub async fn coupon_claims_follow_the_campaigns_dates_holdouts_and_variants(mut state: AppState) {
    state.limits.claims_per_ip = 1_000;
    let now = now_ms();
    let mut config = dangol_server::demo::config(2);
    let coupon = |id: &str, extra: Value| {
        let mut c = json!({
            "id": id, "placement": "home-hero", "coupon": {"budget": 1000, "valid_days": 7},
            "variants": [
                {"id": "a", "content": {"type": "coupon", "headline": "x", "value": "5%"}},
                {"id": "b", "content": {"type": "coupon", "headline": "y", "value": "20%"}}
            ]
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let campaigns = config["campaigns"].as_array_mut().unwrap();
    campaigns.push(coupon(
        "later",
        json!({"schedule": {"start_ms": now + 86_400_000}}),
    ));
    campaigns.push(coupon("over", json!({"schedule": {"end_ms": now - 1}})));
    campaigns.push(coupon("half", json!({"holdout": 0.5})));
    let body = config.to_string();
    state
        .store
        .publish("demo", &move |_| body.clone(), now)
        .await
        .unwrap();
    let claim = |anon: Option<String>, campaign: &str, variant: &str| {
        let mut body = json!({"campaign": campaign, "variant": variant});
        if let Some(a) = anon {
            body["anon"] = json!(a);
        }
        post_json("/v1/sites/demo/coupons/claim", &body, None)
    };
    for (campaign, code) in [("later", "not_started"), ("over", "ended")] {
        for anon in [Some("anon-dates-000000001".to_string()), None] {
            let (status, _, body) = send(&state, claim(anon, campaign, "a")).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
            assert_eq!(body["error"]["code"], code);
        }
    }
    // Each id gets exactly the variant it is shown, or nothing when it is
    // in the holdout; it cannot pick the bigger discount.
    let (mut held, mut one) = (0, 0);
    for i in 0..16 {
        let anon = format!("anon-holdout-{i:08}");
        let (a, _, body_a) = send(&state, claim(Some(anon.clone()), "half", "a")).await;
        let (b, _, body_b) = send(&state, claim(Some(anon.clone()), "half", "b")).await;
        match (a, b) {
            (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN) => {
                assert_eq!(body_a["error"]["code"], "holdout", "{body_a}");
                assert_eq!(body_b["error"]["code"], "holdout", "{body_b}");
                held += 1;
            }
            (StatusCode::OK, StatusCode::FORBIDDEN) | (StatusCode::FORBIDDEN, StatusCode::OK) => {
                let refused = if a == StatusCode::OK {
                    &body_b
                } else {
                    &body_a
                };
                assert_eq!(refused["error"]["code"], "other_variant", "{refused}");
                one += 1;
            }
            other => panic!("{anon}: {other:?} {body_a} {body_b}"),
        }
    }
    assert!(
        held > 0 && one > 0,
        "{held} held out, {one} with their variant"
    );
    // Without an id (no measurement consent) only the dates can be checked.
    let (status, _, body) = send(&state, claim(None, "half", "b")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

pub async fn coupon_farming_and_code_guessing_are_held_to_the_address_limits(mut state: AppState) {
    state.limits.claims_per_ip = 10;
    state.limits.redeems_per_ip = 5;
    let mut config = dangol_server::demo::config(2);
    config["campaigns"].as_array_mut().unwrap().push(json!({
        "id": "farm", "placement": "home-hero", "coupon": {"budget": 1000, "valid_days": 7},
        "variants": [{"id": "a", "content": {"type": "coupon", "headline": "x", "value": "5%"}}]
    }));
    let body = config.to_string();
    state
        .store
        .publish("demo", &move |_| body.clone(), now_ms())
        .await
        .unwrap();
    let mut issued = 0;
    let mut limited = 0;
    // Limits count per clock minute: a run that crosses a minute boundary
    // may use one more window's allowance.
    let windows = |start: i64, end: i64| (end / 60_000 - start / 60_000 + 1) as usize;
    let started = now_ms();
    for i in 0..1000 {
        let claim =
            json!({"anon": format!("farmed-id-{i:010}"), "campaign": "farm", "variant": "a"});
        let res = app(state.clone())
            .oneshot(post_json("/v1/sites/demo/coupons/claim", &claim, None))
            .await
            .unwrap();
        match res.status() {
            StatusCode::OK => issued += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(res.headers().contains_key(header::RETRY_AFTER));
                limited += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    println!("1000 fresh ids from one address: {issued} codes issued, {limited} refused");
    let spanned = windows(started, now_ms());
    assert!(
        issued >= 10 && issued <= 10 * spanned,
        "{issued} issued over {spanned} window(s)"
    );
    assert_eq!(issued + limited, 1000);

    let key = "redeem-key-guessing-01";
    let hash = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(key.as_bytes()))
    };
    state.store.set_redeem_key("demo", &hash).await.unwrap();
    let mut statuses = Vec::new();
    let started = now_ms();
    for i in 0..7 {
        let guess = json!({"code": format!("GUESS-{i:010}")});
        let req = post_json("/v1/sites/demo/coupons/redeem", &guess, Some(key));
        statuses.push(send(&state, req).await.0.as_u16());
    }
    if windows(started, now_ms()) == 1 {
        assert_eq!(statuses, [404, 404, 404, 404, 404, 429, 429]);
    } else {
        assert!(
            statuses.iter().filter(|s| **s == 429).count() <= 2,
            "{statuses:?}"
        );
    }
}

const PASSWORD: &str = "a long enough password";

async fn sign_in(state: &AppState) -> (String, String) {
    // Created once: setting a password again would end earlier sessions.
    if state
        .store
        .admin_hash("owner@shop.example")
        .await
        .unwrap()
        .is_none()
    {
        let hash = dangol_server::admin::auth::hash_password(PASSWORD).unwrap();
        state
            .store
            .put_admin("owner@shop.example", &hash, now_ms())
            .await
            .unwrap();
        state
            .store
            .set_role("owner@shop.example", "*", Some("owner"))
            .await
            .unwrap();
    }
    let (status, headers, body) = send(
        state,
        json_req(
            "POST",
            "/v1/admin/login",
            &json!({"email": "Owner@Shop.example", "password": PASSWORD}),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_string();
    let token = cookie.split(';').next().unwrap().to_string();
    (token, body["csrf"].as_str().unwrap().to_string())
}

/// A JSON request, with the session cookie and CSRF token when given.
fn json_req(
    method: &str,
    uri: &str,
    body: &Value,
    session: Option<(&str, Option<&str>)>,
) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some((cookie, csrf)) = session {
        req = req.header(header::COOKIE, cookie);
        if let Some(csrf) = csrf {
            req = req.header("x-csrf-token", csrf);
        }
    }
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    req.body(Body::from(text)).unwrap()
}

fn bearer(method: &str, uri: &str, body: &Value) -> Request<Body> {
    let mut req = json_req(method, uri, body, None);
    req.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {TOKEN}").parse().unwrap(),
    );
    req
}

pub async fn admins_sign_in_with_a_strict_cookie_and_changes_need_the_csrf_token(state: AppState) {
    let hash = dangol_server::admin::auth::hash_password(PASSWORD).unwrap();
    state
        .store
        .put_admin("owner@shop.example", &hash, now_ms())
        .await
        .unwrap();
    state
        .store
        .set_role("owner@shop.example", "*", Some("owner"))
        .await
        .unwrap();
    // Wrong password and unknown account: the same answer.
    for (email, password) in [
        ("owner@shop.example", "not the password"),
        ("nobody@shop.example", PASSWORD),
    ] {
        let (status, headers, body) = send(
            &state,
            json_req(
                "POST",
                "/v1/admin/login",
                &json!({"email": email, "password": password}),
                None,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["message"], "wrong email or password");
        assert!(headers.get(header::SET_COOKIE).is_none());
    }
    let (status, _, body) = send(
        &state,
        json_req("POST", "/v1/admin/login", &json!({"email": 3}), None),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("email"),
        "{body}"
    );

    let (status, headers, body) = send(
        &state,
        json_req(
            "POST",
            "/v1/admin/login",
            &json!({"email": "owner@shop.example", "password": PASSWORD}),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let session = cookie.split(';').next().unwrap().to_string();
    let csrf = body["csrf"].as_str().unwrap().to_string();
    // A second sign-in gets a different session: a planted token is worthless.
    let (again, _) = sign_in(&state).await;
    assert_ne!(again, session);

    let (status, _, body) = send(
        &state,
        json_req(
            "GET",
            "/v1/admin/sites",
            &Value::Null,
            Some((&session, None)),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sites"][0]["id"], "demo");
    let campaign = json!({"placements": ["home-hero"], "variants": [{"id": "a", "content": {"type": "banner", "headline": "Hi"}}]});
    let uri = "/v1/admin/sites/demo/campaigns/csrf-test";
    let (status, _, body) = send(
        &state,
        json_req("PUT", uri, &campaign, Some((&session, None))),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "csrf");
    let (status, _, _) = send(
        &state,
        json_req("PUT", uri, &campaign, Some((&session, Some("wrong-token")))),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        state
            .store
            .campaigns("demo")
            .await
            .unwrap()
            .iter()
            .all(|d| d.id != "csrf-test"),
        "nothing stored"
    );
    let (status, _, _) = send(
        &state,
        json_req("PUT", uri, &campaign, Some((&session, Some(&csrf)))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // A named API token, made with the session, works as a bearer until revoked.
    let (status, _, body) = send(
        &state,
        json_req(
            "POST",
            "/v1/admin/tokens",
            &json!({"name": "ci"}),
            Some((&session, Some(&csrf))),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let api = body["token"].as_str().unwrap().to_string();
    let (status, _, _) = send(
        &state,
        json_req(
            "POST",
            "/v1/admin/tokens",
            &json!({"name": "ci"}),
            Some((&session, Some(&csrf))),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, _, body) = send(
        &state,
        json_req(
            "GET",
            "/v1/admin/tokens",
            &Value::Null,
            Some((&session, None)),
        ),
    )
    .await;
    assert_eq!(body["tokens"][0]["created_by"], "owner@shop.example");
    // Tokens expire: 90 days unless the maker says otherwise (1-365).
    let expires = body["tokens"][0]["expires_ms"].as_i64().unwrap();
    let days = (expires - now_ms()) as f64 / 86_400_000.0;
    assert!((89.9..=90.0).contains(&days), "{days} days");
    // Out of range: refused by the handler (400); not a number: by the
    // JSON extractor, naming the field (422).
    for (bad, want) in [
        (json!(0), StatusCode::BAD_REQUEST),
        (json!(366), StatusCode::BAD_REQUEST),
        (json!("soon"), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, _, body) = send(
            &state,
            json_req(
                "POST",
                "/v1/admin/tokens",
                &json!({"name": "bad", "expires_days": bad}),
                Some((&session, Some(&csrf))),
            ),
        )
        .await;
        assert_eq!(status, want, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expires_days"),
            "{body}"
        );
    }
    // An expired token is no key.
    let old = "dgl_expired_token_0123456789abcdef";
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(old.as_bytes()));
    state
        .store
        .put_api_token(
            &hash,
            "old",
            "owner@shop.example",
            now_ms() - 10,
            Some(now_ms() - 1),
            ("*", "owner"),
        )
        .await
        .unwrap();
    let mut with_old = json_req("GET", "/v1/admin/sites", &Value::Null, None);
    with_old.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {old}").parse().unwrap(),
    );
    assert_eq!(send(&state, with_old).await.0, StatusCode::UNAUTHORIZED);
    assert!(
        !body.to_string().contains(&api),
        "the list never shows a token"
    );
    let mut with_api = json_req("GET", "/v1/admin/sites", &Value::Null, None);
    with_api.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {api}").parse().unwrap(),
    );
    assert_eq!(send(&state, with_api).await.0, StatusCode::OK);
    let (status, _, _) = send(
        &state,
        json_req(
            "DELETE",
            "/v1/admin/tokens/ci",
            &Value::Null,
            Some((&session, Some(&csrf))),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut with_api = json_req("GET", "/v1/admin/sites", &Value::Null, None);
    with_api.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {api}").parse().unwrap(),
    );
    assert_eq!(
        send(&state, with_api).await.0,
        StatusCode::UNAUTHORIZED,
        "revoked at once"
    );

    // Signed out, the cookie is dead.
    let (status, headers, _) = send(
        &state,
        json_req(
            "POST",
            "/v1/admin/logout",
            &Value::Null,
            Some((&session, Some(&csrf))),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, _, _) = send(
        &state,
        json_req(
            "GET",
            "/v1/admin/sites",
            &Value::Null,
            Some((&session, None)),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // An expired session is refused with its own reason.
    let token = "0123456789abcdef0123456789abcdef";
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()));
    state
        .store
        .create_session(&dangol_server::store::Session {
            token_hash: hash,
            email: "owner@shop.example".into(),
            csrf: "c".into(),
            created_ms: now_ms() - 20 * 3_600_000,
            expires_ms: now_ms() - 1,
        })
        .await
        .unwrap_or(());
    let (status, _, body) = send(
        &state,
        json_req(
            "GET",
            "/v1/admin/sites",
            &Value::Null,
            Some((&format!("dangol_session={token}"), None)),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        matches!(
            body["error"]["code"].as_str(),
            Some("session_expired" | "unauthorized")
        ),
        "{body}"
    );
}

/// An admin with a role, signed in: their session cookie and CSRF token.
async fn admin_with_role(
    state: &AppState,
    email: &str,
    site: &str,
    role: &str,
) -> (String, String) {
    let hash = dangol_server::admin::auth::hash_password(PASSWORD).unwrap();
    state.store.put_admin(email, &hash, now_ms()).await.unwrap();
    state.store.set_role(email, site, Some(role)).await.unwrap();
    let (status, headers, body) = send(
        state,
        json_req(
            "POST",
            "/v1/admin/login",
            &json!({"email": email, "password": PASSWORD}),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        headers_cookie(&headers, "dangol_session"),
        body["csrf"].as_str().unwrap().to_string(),
    )
}

pub async fn roles_limit_what_each_admin_and_token_may_do(state: AppState) {
    let other = dangol_server::store::Site {
        id: "other".into(),
        name: "Other shop".into(),
        allowed_origins: Vec::new(),
    };
    state.store.put_site(&other, now_ms()).await.unwrap();
    let viewer = admin_with_role(&state, "viewer@shop.example", "demo", "viewer").await;
    let editor = admin_with_role(&state, "editor@shop.example", "demo", "editor").await;
    let owner = admin_with_role(&state, "owner1@shop.example", "demo", "owner").await;
    let call = |who: &(String, String), method: &str, uri: &str, body: Value| {
        json_req(
            method,
            uri,
            &body,
            Some((who.0.as_str(), Some(who.1.as_str()))),
        )
    };
    let campaign = json!({"placements": ["home-hero"], "variants": [{"id": "a", "content": {"type": "banner", "headline": "Hi"}}]});
    let uri = "/v1/admin/sites/demo/campaigns/roles-test";

    // A viewer reads, and sees only their sites.
    let (status, _, body) =
        send(&state, call(&viewer, "GET", "/v1/admin/sites", Value::Null)).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = body["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["demo"]);
    let (status, _, _) = send(
        &state,
        call(
            &viewer,
            "GET",
            "/v1/admin/sites/demo/campaigns",
            Value::Null,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = send(&state, call(&viewer, "PUT", uri, campaign.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the role viewer on site `demo`; this needs editor"),
        "{body}"
    );
    let (status, _, _) = send(
        &state,
        call(
            &viewer,
            "GET",
            "/v1/admin/sites/other/campaigns",
            Value::Null,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An editor changes campaigns and publishes, but not the site's settings,
    // keys, tokens or admins.
    assert_eq!(
        send(&state, call(&editor, "PUT", uri, campaign.clone()))
            .await
            .0,
        StatusCode::OK
    );
    let (status, _, body) = send(
        &state,
        call(&editor, "POST", "/v1/admin/sites/demo/publish", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (method, path, body) in [
        ("PUT", "/v1/admin/sites/demo", json!({"name": "x"})),
        ("POST", "/v1/admin/sites/demo/redeem-key", Value::Null),
        (
            "PUT",
            "/v1/admin/sites/demo/admins/viewer@shop.example",
            json!({"role": "editor"}),
        ),
    ] {
        let (status, _, b) = send(&state, call(&editor, method, path, body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {b}");
    }
    let (status, _, _) = send(
        &state,
        call(
            &editor,
            "POST",
            "/v1/admin/tokens",
            json!({"name": "ed", "site": "demo"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An owner makes a token for their site: it reads there and nowhere else,
    // and does no more than its role.
    let (status, _, body) = send(
        &state,
        call(
            &owner,
            "POST",
            "/v1/admin/tokens",
            json!({"name": "demo-read", "site": "demo", "role": "viewer"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let read_token = body["token"].as_str().unwrap().to_string();
    let (status, _, _) = send(
        &state,
        call(
            &owner,
            "POST",
            "/v1/admin/tokens",
            json!({"name": "all", "site": "*"}),
        ),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only an owner of every site makes `*` tokens"
    );
    let with = |token: &str, method: &str, uri: &str, body: Value| {
        let mut req = json_req(method, uri, &body, None);
        req.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        req
    };
    assert_eq!(
        send(
            &state,
            with(
                &read_token,
                "GET",
                "/v1/admin/sites/demo/campaigns",
                Value::Null
            )
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        send(&state, with(&read_token, "PUT", uri, campaign.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(
            &state,
            with(
                &read_token,
                "GET",
                "/v1/admin/sites/other/campaigns",
                Value::Null
            )
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // An editor's token made by the owner...
    let (_, _, body) = send(
        &state,
        call(
            &owner,
            "POST",
            "/v1/admin/tokens",
            json!({"name": "demo-edit", "site": "demo", "role": "editor"}),
        ),
    )
    .await;
    let edit_token = body["token"].as_str().unwrap().to_string();
    assert_eq!(
        send(&state, with(&edit_token, "PUT", uri, campaign.clone()))
            .await
            .0,
        StatusCode::OK
    );

    // Owners manage who may do what; the last owner cannot leave.
    let (status, _, body) = send(
        &state,
        call(
            &owner,
            "DELETE",
            "/v1/admin/sites/demo/admins/owner1@shop.example",
            Value::Null,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "last_owner");
    let (status, _, _) = send(
        &state,
        call(
            &owner,
            "PUT",
            "/v1/admin/sites/demo/admins/editor@shop.example",
            json!({"role": "owner"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = send(
        &state,
        call(
            &owner,
            "PUT",
            "/v1/admin/sites/demo/admins/nobody@shop.example",
            json!({"role": "viewer"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, _, body) = send(
        &state,
        call(&viewer, "GET", "/v1/admin/sites/demo/admins", Value::Null),
    )
    .await;
    assert_eq!(body["admins"].as_array().unwrap().len(), 3, "{body}");
    // ...loses its power with its maker's: the other owner takes owner1's
    // role away, and owner1's tokens stop working.
    let (status, _, _) = send(
        &state,
        call(
            &editor,
            "DELETE",
            "/v1/admin/sites/demo/admins/owner1@shop.example",
            Value::Null,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        send(&state, with(&edit_token, "PUT", uri, campaign.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(
            &state,
            with(
                &read_token,
                "GET",
                "/v1/admin/sites/demo/campaigns",
                Value::Null
            )
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // Roles apply to a session at once, not at the next sign-in.
    assert_eq!(
        send(
            &state,
            call(&owner, "GET", "/v1/admin/sites/demo/campaigns", Value::Null)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // Every route on a site asks for its role: a viewer may change nothing.
    let doc: Value = serde_json::from_str(dangol_server::OPENAPI_JSON).unwrap();
    let mut refused = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/admin/sites/{site}") {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            let m = method.to_uppercase();
            if m == "GET" || path.ends_with("/reach") {
                continue;
            }
            let uri = path
                .replace("{site}", "demo")
                .replace("{id}", "welcome-hero")
                .replace("{version}", "1")
                .replace("{email}", "editor@shop.example");
            let (status, _, body) = send(&state, call(&viewer, &m, &uri, json!({}))).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{m} {uri}: {body}");
            refused += 1;
        }
    }
    assert!(refused >= 10, "{refused} changes checked");
}

pub async fn every_admin_route_refuses_without_a_session_or_token(state: AppState) {
    let doc: Value = serde_json::from_str(dangol_server::OPENAPI_JSON).unwrap();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/admin/") || path == "/v1/admin/login" {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            let uri = path
                .replace("{site}", "demo")
                .replace("{id}", "welcome-hero")
                .replace("{version}", "1");
            for auth in [
                None,
                Some("Bearer not-the-token"),
                Some("Basic YWRtaW46YWRtaW4="),
            ] {
                let mut req = json_req(&method.to_uppercase(), &uri, &json!({}), None);
                if let Some(a) = auth {
                    req.headers_mut()
                        .insert(header::AUTHORIZATION, a.parse().unwrap());
                }
                // Each refusal on its own: wrong bearer tokens are also
                // throttled per address (see the secrets test).
                let mut state = state.clone();
                state.limiter = Arc::default();
                let (status, _, body) = send(&state, req).await;
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {uri} with {auth:?}: {body}"
                );
                checked += 1;
            }
            // A forged cookie is no session either.
            let req = json_req(
                &method.to_uppercase(),
                &uri,
                &json!({}),
                Some(("dangol_session=forged", Some("x"))),
            );
            assert_eq!(
                send(&state, req).await.0,
                StatusCode::UNAUTHORIZED,
                "{method} {uri}"
            );
        }
    }
    assert!(checked >= 3 * 20, "only {checked} admin requests checked");
    // The old admin read needs it too.
    let (status, _, _) = send(
        &state,
        json_req("GET", "/v1/sites/demo/events", &Value::Null, None),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The `name=value` of a cookie the response sets.
fn headers_cookie(headers: &axum::http::HeaderMap, name: &str) -> String {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_string()
}

/// Limits count per clock minute: a scenario of a few seconds that counts
/// to a limit starts early in one, so it does not straddle two.
fn early_in_a_minute() {
    let into = now_ms().rem_euclid(60_000);
    if into > 40_000 {
        std::thread::sleep(std::time::Duration::from_millis((60_100 - into) as u64));
    }
}

pub async fn sign_in_slows_guessers_without_locking_out_the_owner(mut state: AppState) {
    use dangol_server::limits::TrustedProxies;
    early_in_a_minute();
    // Guessers come from many addresses, through the shop's proxy.
    state.proxies = Arc::new(TrustedProxies::parse("127.0.0.1").unwrap());
    let hash = dangol_server::admin::auth::hash_password(PASSWORD).unwrap();
    state
        .store
        .put_admin("owner@shop.example", &hash, now_ms())
        .await
        .unwrap();
    let login = |from: &str, email: &str, password: &str, device: Option<&str>| {
        let mut req = json_req(
            "POST",
            "/v1/admin/login",
            &json!({"email": email, "password": password}),
            device.map(|d| (d, None)),
        );
        req.headers_mut()
            .insert("x-forwarded-for", from.parse().unwrap());
        req
    };
    // The owner signs in once from their laptop: it becomes a known device.
    let (status, headers, body) = send(
        &state,
        login("203.0.113.1", "owner@shop.example", PASSWORD, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let device = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("dangol_device="))
        .expect("a device cookie")
        .to_string();
    assert!(
        device.contains("HttpOnly")
            && device.contains("Secure")
            && device.contains("SameSite=Strict")
    );
    let device = device.split(';').next().unwrap().to_string();

    // Five wrong passwords, each from another address.
    for i in 0..5 {
        let (status, _, body) = send(
            &state,
            login(
                &format!("198.51.100.{i}"),
                "owner@shop.example",
                "guess guess guess",
                None,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    // The account now refuses devices it does not know, even with the right
    // password (a guesser who found it gets nowhere this minute)...
    let (status, headers, body) = send(
        &state,
        login("198.51.100.50", "owner@shop.example", PASSWORD, None),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(headers.contains_key(header::RETRY_AFTER));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("failed sign-ins for this account"),
        "{body}"
    );
    // ...while the owner's laptop still gets in.
    let (status, _, body) = send(
        &state,
        login("203.0.113.1", "owner@shop.example", PASSWORD, Some(&device)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A forged or stale device cookie is no key.
    let forged = format!("dangol_device={}.{}", now_ms() + 86_400_000, "0".repeat(32));
    let (status, _, _) = send(
        &state,
        login("203.0.113.1", "owner@shop.example", PASSWORD, Some(&forged)),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // A signed-in session works until the password changes.
    let session = headers_cookie(
        &send(
            &state,
            login("203.0.113.1", "owner@shop.example", PASSWORD, Some(&device)),
        )
        .await
        .1,
        "dangol_session",
    );
    let whoami = || {
        json_req(
            "GET",
            "/v1/admin/session",
            &Value::Null,
            Some((session.as_str(), None)),
        )
    };
    assert_eq!(send(&state, whoami()).await.0, StatusCode::OK);
    // A new password forgets every device and ends every session.
    let new_hash = dangol_server::admin::auth::hash_password("another long password").unwrap();
    state
        .store
        .put_admin("owner@shop.example", &new_hash, now_ms())
        .await
        .unwrap();
    let (status, _, _) = send(
        &state,
        login(
            "203.0.113.1",
            "owner@shop.example",
            "another long password",
            Some(&device),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        send(&state, whoami()).await.0,
        StatusCode::UNAUTHORIZED,
        "the session from before the new password"
    );

    // One address trying many accounts is held to the per-address limit.
    let mut throttled = None;
    for i in 0..11 {
        let (status, headers, body) = send(
            &state,
            login(
                "192.0.2.9",
                &format!("someone{i}@shop.example"),
                "guess guess guess",
                None,
            ),
        )
        .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some((headers.get(header::RETRY_AFTER).cloned(), body));
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let (retry, body) = throttled.expect("sign-in attempts were never throttled");
    assert!(retry.is_some());
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sign-in attempts from this address"),
        "{body}"
    );
}

pub async fn campaigns_are_checked_by_the_engine_then_published_and_rolled_back(state: AppState) {
    let uri = "/v1/admin/sites/demo/campaigns/spring-sale";
    // Wrong types and bad links are refused by name; nothing is stored.
    let bad = json!({"placements": ["home-hero"], "priority": "high",
                     "variants": [{"id": "a", "content": {"type": "banner", "headline": "Spring", "cta": {"text": "Go", "url": "javascript:alert(1)"}}}]});
    let (status, _, body) = send(&state, bearer("PUT", uri, &bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let problems = body["error"]["problems"].to_string();
    assert!(
        problems.contains("spring-sale") && problems.contains("priority"),
        "{problems}"
    );
    let (status, _, _) = send(&state, bearer("GET", uri, &Value::Null)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (raw, code) in [
        ("{not json", StatusCode::BAD_REQUEST),
        ("[1,2]", StatusCode::BAD_REQUEST),
    ] {
        let mut req = bearer("PUT", uri, &Value::Null);
        *req.body_mut() = Body::from(raw);
        assert_eq!(send(&state, req).await.0, code, "{raw}");
    }
    let (status, _, _) = send(
        &state,
        bearer(
            "PUT",
            "/v1/admin/sites/demo/campaigns/other",
            &json!({"id": "spring-sale"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = send(
        &state,
        bearer("PUT", "/v1/admin/sites/nope/campaigns/x", &json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let good = json!({"name": "Spring sale", "placements": ["home-hero"], "priority": 50,
                      "variants": [{"id": "a", "content": {"type": "banner", "headline": "Spring sale"}}]});
    let (status, _, body) = send(&state, bearer("PUT", uri, &good)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, body) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/campaigns", &Value::Null),
    )
    .await;
    let listed = body["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "spring-sale")
        .unwrap()
        .clone();
    assert_eq!(listed["published"], false);

    let (status, _, body) = send(
        &state,
        bearer("POST", "/v1/admin/sites/demo/publish", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(body["changes"], json!(["campaign `spring-sale` added"]));
    // Publishing what is live already stores nothing: caches keep their copy.
    let (_, _, again) = send(
        &state,
        bearer("POST", "/v1/admin/sites/demo/publish", &Value::Null),
    )
    .await;
    assert_eq!(
        (again["version"].as_u64(), again["published"].as_bool()),
        (Some(2), Some(false)),
        "{again}"
    );
    assert_eq!(again["changes"], json!([]));
    let (_, _, config) = send(
        &state,
        Request::get("/v1/sites/demo/config")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(config["version"], 2);
    assert!(
        config["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "spring-sale")
    );

    let (_, _, body) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/versions", &Value::Null),
    )
    .await;
    let versions: Vec<u64> = body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);
    let (status, _, _) = send(
        &state,
        bearer(
            "POST",
            "/v1/admin/sites/demo/rollback",
            &json!({"version": "one"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = send(
        &state,
        bearer(
            "POST",
            "/v1/admin/sites/demo/rollback",
            &json!({"version": 9}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = send(
        &state,
        bearer(
            "POST",
            "/v1/admin/sites/demo/rollback",
            &json!({"version": 1}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["version"].as_u64(), body["rolled_back_to"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(body["changes"], json!(["campaign `spring-sale` removed"]));
    let (_, _, config) = send(
        &state,
        Request::get("/v1/sites/demo/config")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(config["version"], 3);
    assert!(
        config["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != "spring-sale")
    );
    let (status, _, _) = send(&state, bearer("GET", uri, &Value::Null)).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the rollback made version 1 the drafts"
    );

    // A new redeem key works at once; the old one does not.
    let (status, _, body) = send(
        &state,
        bearer("POST", "/v1/admin/sites/demo/redeem-key", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let key = body["redeem_key"].as_str().unwrap().to_string();
    let mut redeem = json_req(
        "POST",
        "/v1/sites/demo/coupons/redeem",
        &json!({"code": "NOPE-0000"}),
        None,
    );
    redeem.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {key}").parse().unwrap(),
    );
    assert_eq!(
        send(&state, redeem).await.0,
        StatusCode::NOT_FOUND,
        "the new key is accepted (the code is unknown)"
    );

    // Site settings are checked too.
    let (status, _, body) = send(&state, bearer("PUT", "/v1/admin/sites/demo", &json!({"name": "Demo", "allowed_origins": ["ftp://x"], "settings": {"currency": "won"}}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = body["error"]["problems"].to_string();
    assert!(
        text.contains("ftp://x") && text.contains("currency"),
        "{text}"
    );
}

fn results_event(
    id: &str,
    kind: &str,
    anon: &str,
    campaign: Option<&str>,
    variant: Option<&str>,
    price: Option<f64>,
) -> Value {
    let mut e = json!({"id": id, "type": kind, "ts": now_ms() - 60_000, "anon": anon});
    if let Some(c) = campaign {
        e["campaign"] = json!(c);
    }
    if let Some(v) = variant {
        e["variant"] = json!(v);
    }
    if let Some(p) = price {
        e["price"] = json!(p);
    }
    e
}

pub async fn results_count_per_variant_with_intervals_and_uplift(state: AppState) {
    let mut events = Vec::new();
    for i in 0..10 {
        let anon = format!("anon{i:016}");
        events.push(results_event(
            &format!("evt_exp_{i:04}"),
            "exposure",
            &anon,
            Some("welcome-hero"),
            Some("a"),
            None,
        ));
        if i < 4 {
            events.push(results_event(
                &format!("evt_clk_{i:04}"),
                "click",
                &anon,
                Some("welcome-hero"),
                Some("a"),
                None,
            ));
        }
        if i < 2 {
            events.push(results_event(
                &format!("evt_cnv_{i:04}"),
                "conversion",
                &anon,
                Some("welcome-hero"),
                Some("a"),
                Some(30_000.0),
            ));
            events.push(results_event(
                &format!("evt_buy_{i:04}"),
                "purchase",
                &anon,
                None,
                None,
                Some(30_000.0),
            ));
        }
        let held = format!("held{i:016}");
        events.push(results_event(
            &format!("evt_hld_{i:04}"),
            "holdout",
            &held,
            Some("welcome-hero"),
            None,
            None,
        ));
    }
    let (status, _, body) = send(&state, post_events(&json!({"events": events}), None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/results?days=7", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let c = body["results"]["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["campaign"] == "welcome-hero")
        .unwrap()
        .clone();
    let a = &c["variants"][0];
    assert_eq!(
        (
            a["exposures"].as_u64(),
            a["shoppers"].as_u64(),
            a["clicks"].as_u64(),
            a["conversions"].as_u64()
        ),
        (Some(10), Some(10), Some(4), Some(2))
    );
    assert_eq!(a["revenue"], 60_000.0);
    assert_eq!(a["revenue_per_shopper"], 6_000.0);
    let rate = &a["conversion_rate"];
    assert_eq!(rate["value"], 0.2);
    assert!(rate["low"].as_f64().unwrap() < 0.2 && rate["high"].as_f64().unwrap() > 0.2);
    assert_eq!(
        (
            c["treated"]["shoppers"].as_u64(),
            c["treated"]["converted"].as_u64()
        ),
        (Some(10), Some(2))
    );
    assert_eq!(
        (
            c["holdout"]["shoppers"].as_u64(),
            c["holdout"]["converted"].as_u64()
        ),
        (Some(10), Some(0))
    );
    assert_eq!(c["uplift"]["value"], 0.2);
    assert_eq!(c["daily"].as_array().unwrap().len(), 1);
    let (status, _, _) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/results?days=0", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/results?days=x", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

pub async fn feedback_answers_are_reported_per_question_and_day(state: AppState) {
    let question = |answers: &[(usize, u8)], batch: &str| {
        let mut events = Vec::new();
        for (i, answer) in answers {
            let anon = format!("fdbk{i:016}");
            events.push(results_event(
                &format!("evt_fexp_{batch}_{i:04}"),
                "exposure",
                &anon,
                Some("nps-question"),
                Some("a"),
                None,
            ));
            let mut e = results_event(
                &format!("evt_fans_{batch}_{i:04}"),
                "feedback",
                &anon,
                Some("nps-question"),
                Some("a"),
                None,
            );
            e["answer"] = json!(answer);
            events.push(e);
        }
        json!({"events": events})
    };
    let results = |state: AppState| async move {
        let (status, _, body) = send(
            &state,
            bearer("GET", "/v1/admin/sites/demo/results?days=7", &Value::Null),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["results"]["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["campaign"] == "nps-question")
            .unwrap()
            .clone()
    };
    // Five shoppers answer: 10, 9, 8, 6, 0.
    let first = question(&[(0, 10), (1, 9), (2, 8), (3, 6), (4, 0)], "one");
    let (status, _, body) = send(&state, post_events(&first, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let c = results(state.clone()).await;
    let f = &c["variants"][0]["feedback"];
    assert_eq!(f["answers"], 5, "{c}");
    assert_eq!(f["distribution"], json!([1, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1]));
    assert_eq!(f["mean"]["value"], 6.6);
    assert!(
        (f["nps"]["value"].as_f64().unwrap() - 0.0).abs() < 1e-12,
        "{f}"
    );
    assert_eq!(c["daily"][0]["answers"], 5);
    // A later batch from two of them (one answers again): the shoppers are
    // rolled up again from all their events, and nothing counts twice.
    let second = question(&[(0, 10), (5, 10)], "two");
    let (status, _, body) = send(&state, post_events(&second, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let c = results(state.clone()).await;
    let f = &c["variants"][0]["feedback"];
    assert_eq!(f["answers"], 7, "{c}");
    assert_eq!(f["distribution"][10], 3);
    // 4 promoters and 2 detractors of 7.
    assert!(
        (f["nps"]["value"].as_f64().unwrap() - 2.0 / 7.0).abs() < 1e-12,
        "{f}"
    );
    assert!(f["nps"]["low"].as_f64().unwrap() < f["nps"]["value"].as_f64().unwrap());
    assert!(f["mean"]["high"].as_f64().unwrap() > f["mean"]["value"].as_f64().unwrap());
}

pub async fn bandit_posteriors_follow_the_results_into_the_next_config(state: AppState) {
    let campaign = json!({"placements": ["home-hero"], "priority": 99,
        "allocation": {"type": "bandit", "min_share": 0.1},
        "variants": [{"id": "x", "content": {"type": "banner", "headline": "X"}},
                     {"id": "y", "content": {"type": "banner", "headline": "Y"}}]});
    let (status, _, body) = send(
        &state,
        bearer("PUT", "/v1/admin/sites/demo/campaigns/duel", &campaign),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, body) = send(
        &state,
        bearer("POST", "/v1/admin/sites/demo/publish", &Value::Null),
    )
    .await;
    assert_eq!(body["version"], 2);
    let (_, _, config) = send(
        &state,
        Request::get("/v1/sites/demo/config")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let duel = config["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "duel")
        .unwrap()
        .clone();
    assert_eq!(
        duel["allocation"]["posteriors"],
        json!([[1.0, 1.0], [1.0, 1.0]])
    );
    // Nothing new yet: no new version.
    let (_, _, body) = send(
        &state,
        bearer("POST", "/v1/admin/sites/demo/bandits", &Value::Null),
    )
    .await;
    assert_eq!(body["published"], false);
    let mut events = Vec::new();
    for i in 0..4 {
        let anon = format!("duel{i:016}");
        events.push(results_event(
            &format!("evt_dx_{i:04}"),
            "exposure",
            &anon,
            Some("duel"),
            Some("x"),
            None,
        ));
    }
    events.push(results_event(
        "evt_dx_cnv1",
        "conversion",
        "duel0000000000000000",
        Some("duel"),
        Some("x"),
        Some(1.0),
    ));
    send(&state, post_events(&json!({"events": events}), None)).await;
    let (_, _, body) = send(
        &state,
        bearer("POST", "/v1/admin/sites/demo/bandits", &Value::Null),
    )
    .await;
    assert_eq!(body["published"], true, "{body}");
    let (_, _, config) = send(
        &state,
        Request::get("/v1/sites/demo/config")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(config["version"], 3);
    let duel = config["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "duel")
        .unwrap()
        .clone();
    assert_eq!(
        duel["allocation"]["posteriors"],
        json!([[2.0, 4.0], [1.0, 1.0]])
    );
}

pub async fn each_site_keeps_raw_events_for_its_own_retention(state: AppState) {
    let day = 86_400_000i64;
    let (status, _, body) = send(&state, bearer("PUT", "/v1/admin/sites/demo", &json!({"name": "Demo", "retention_days": 7,
        "settings": serde_json::from_str::<Value>(&state.store.site_settings("demo").await.unwrap().unwrap().settings).unwrap()}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut old = event("evt_ret_old1", "page_view");
    old["ts"] = json!(now_ms() - 8 * day);
    let mut mid = event("evt_ret_mid1", "page_view");
    mid["ts"] = json!(now_ms() - 6 * day);
    send(&state, post_events(&json!({"events": [old, mid]}), None)).await;
    let purged = dangol_server::purge_once(state.store.as_ref(), None)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let ids: Vec<String> = state
        .store
        .events("demo", None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event.id)
        .collect();
    assert_eq!(ids, ["evt_ret_mid1"]);
    let (status, _, _) = send(
        &state,
        bearer(
            "PUT",
            "/v1/admin/sites/demo",
            &json!({"name": "Demo", "retention_days": 0}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

pub async fn uploaded_codes_are_handed_out_once_each_then_the_campaign_is_spent(state: AppState) {
    let uri = "/v1/admin/sites/demo/campaigns/cart-coupon/codes";
    for (body, code) in [
        (
            json!({"codes": ["ok-lowercase"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"codes": []}), StatusCode::BAD_REQUEST),
        (json!({"codes": "SHOP-1"}), StatusCode::BAD_REQUEST),
        (json!({"list": ["SHOP-1"]}), StatusCode::BAD_REQUEST),
    ] {
        let (status, _, answer) = send(&state, bearer("POST", uri, &body)).await;
        assert_eq!(status, code, "{body}: {answer}");
    }
    let (status, _, _) = send(
        &state,
        bearer(
            "POST",
            "/v1/admin/sites/demo/campaigns/welcome-hero/codes",
            &json!({"codes": ["A-1"]}),
        ),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a banner campaign has no coupons"
    );
    let (status, _, body) = send(
        &state,
        bearer(
            "POST",
            uri,
            &json!({"codes": ["SHOP-2", "SHOP-1", "SHOP-1"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["added"].as_u64(), body["pool"]["free"].as_u64()),
        (Some(2), Some(2))
    );
    let (_, _, body) = send(&state, bearer("POST", uri, &json!({"codes": ["SHOP-2"]}))).await;
    assert_eq!(
        (body["added"].as_u64(), body["skipped"].as_u64()),
        (Some(0), Some(1))
    );
    let mut got = Vec::new();
    for i in 0..3 {
        let claim =
            json!({"anon": format!("pooled{i:016}"), "campaign": "cart-coupon", "variant": "a"});
        let (status, _, body) = send(
            &state,
            post_json("/v1/sites/demo/coupons/claim", &claim, None),
        )
        .await;
        got.push((status, body["code"].as_str().map(str::to_string)));
    }
    assert_eq!(got[0], (StatusCode::OK, Some("SHOP-1".to_string())));
    assert_eq!(got[1], (StatusCode::OK, Some("SHOP-2".to_string())));
    assert_eq!(got[2].0, StatusCode::CONFLICT, "the pool is spent");
    let (_, _, body) = send(&state, bearer("GET", uri, &Value::Null)).await;
    assert_eq!(
        (
            body["pool"]["total"].as_u64(),
            body["pool"]["free"].as_u64()
        ),
        (Some(2), Some(0))
    );
}

pub async fn dashboard_views_rebuild_shoppers_from_their_events(state: AppState) {
    let mut events = Vec::new();
    for i in 0..6 {
        let anon = format!("shop{i:016}");
        events.push(results_event(
            &format!("evt_pv_{i:04}"),
            "page_view",
            &anon,
            None,
            None,
            None,
        ));
        // Two shoppers bought; one of them saw three offers today.
        if i < 2 {
            events.push(results_event(
                &format!("evt_by_{i:04}"),
                "purchase",
                &anon,
                None,
                None,
                Some(40_000.0),
            ));
        }
    }
    for n in 0..3 {
        let variant = if n == 0 { "a" } else { "b" };
        events.push(results_event(
            &format!("evt_ex_{n:04}"),
            "exposure",
            "shop0000000000000000",
            Some("welcome-hero"),
            Some(variant),
            None,
        ));
    }
    let (status, _, body) = send(&state, post_events(&json!({"events": events}), None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, _, body) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/insights?days=7", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let i = &body["insights"];
    assert_eq!(i["shoppers"], 6);
    assert_eq!(
        body["stages"],
        json!(["new", "active", "loyal", "vip", "at_risk", "dormant"])
    );
    let today: u64 = i["lifecycle"][0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(today, 6, "{i}");
    // One shopper-day with three offers.
    assert_eq!(i["frequency"], json!([0, 0, 1, 0, 0, 0]));
    assert_eq!(i["most_offers_in_a_day"], 3);
    let day = &i["allocation"]["welcome-hero"][0]["exposures"];
    assert_eq!((day["a"].as_u64(), day["b"].as_u64()), (Some(1), Some(2)));

    let reach = |condition: Value| {
        let state = state.clone();
        async move {
            send(
                &state,
                bearer(
                    "POST",
                    "/v1/admin/sites/demo/reach",
                    &json!({"condition": condition}),
                ),
            )
            .await
        }
    };
    let (status, _, body) = reach(json!({"orders": {"$gte": 1}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["reach"],
        json!({"shoppers": 6, "matched": 2, "sampled": 6, "matched_low": 2, "matched_high": 2, "unknown": []})
    );
    let (_, _, body) = reach(json!({"declared.tier": "vip"})).await;
    assert_eq!(body["reach"]["matched"], 0);
    assert_eq!(body["reach"]["unknown"], json!(["declared.tier"]));
    let (status, _, body) = reach(json!({"orders": {"$bogus": 1}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("$bogus"),
        "{body}"
    );
    let (status, _, _) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/insights?days=0", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = send(
        &state,
        bearer("GET", "/v1/admin/sites/nope/insights", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The welcome campaign's treated group in the results of the last week.
async fn treated(state: &AppState) -> (u64, u64) {
    let (status, _, body) = send(
        state,
        bearer("GET", "/v1/admin/sites/demo/results?days=7", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"]["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["campaign"] == "roll-hero")
        .map_or((0, 0), |c| {
            (
                c["treated"]["shoppers"].as_u64().unwrap(),
                c["treated"]["converted"].as_u64().unwrap(),
            )
        })
}

pub async fn rollups_follow_late_batches_erasure_and_retention(state: AppState) {
    let exposure = |id: &str, anon: &str| {
        results_event(id, "exposure", anon, Some("roll-hero"), Some("a"), None)
    };
    let batch = json!({"events": [exposure("evt_roll_x1", "roll0000000000000001"),
                                  exposure("evt_roll_x2", "roll0000000000000002")]});
    assert_eq!(send(&state, post_events(&batch, None)).await.2["stored"], 2);
    assert_eq!(treated(&state).await, (2, 0));
    // A purchase that arrives after the results were read, stamped between
    // the exposure and now: the shopper is rolled up again, exactly.
    let mut late = results_event(
        "evt_roll_b1",
        "purchase",
        "roll0000000000000001",
        None,
        None,
        Some(12_000.0),
    );
    late["ts"] = json!(now_ms() - 30_000);
    assert_eq!(
        send(&state, post_events(&json!({"events": [late]}), None))
            .await
            .2["stored"],
        1
    );
    assert_eq!(treated(&state).await, (2, 1));
    // What a rollup step sizes its reads by: each shopper's stored events
    // (one without any is left out).
    let mut counts = state
        .store
        .event_counts(
            "demo",
            &[
                "roll0000000000000001".into(),
                "roll0000000000000002".into(),
                "roll0000000000000009".into(),
            ],
        )
        .await
        .unwrap();
    counts.sort();
    assert_eq!(
        counts,
        [
            ("roll0000000000000001".to_string(), 2),
            ("roll0000000000000002".to_string(), 1)
        ]
    );
    let ours = |touches: &[dangol_server::results::Touch], anon: &str| {
        touches.iter().filter(|t| t.anon == anon).count()
    };
    let touches = state.store.touches("demo", 0).await.unwrap();
    assert_eq!(ours(&touches, "roll0000000000000001"), 1);
    // The per-day counts kept in the database, made again after the late
    // batch, are what the shoppers' stored touches add up to.
    let window = dangol_server::rollups::attribution_ms(state.store.as_ref(), "demo")
        .await
        .unwrap();
    let mut by_shopper = touches.clone();
    by_shopper.sort_by(|a, b| a.anon.cmp(&b.anon));
    let summed: Vec<_> = by_shopper
        .chunk_by(|a, b| a.anon == b.anon)
        .flat_map(|own| dangol_server::rollups::counts(own, &[], window))
        .collect();
    let kept = state.store.counts("demo", 0).await.unwrap();
    assert_eq!(
        dangol_server::results::from_counts(&kept, &[]),
        dangol_server::results::from_counts(&summed, &[])
    );
    let stages = kept
        .iter()
        .filter(|c| c.kind == "stage")
        .map(|c| c.n)
        .sum::<i64>();
    assert!(stages >= 2, "{kept:?}");
    // Erasing an id takes its rollups too: results, insights and reach no
    // longer count it.
    let (status, _, body) = send(&state, erase("roll0000000000000001", None, true)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(treated(&state).await, (1, 0));
    let touches = state.store.touches("demo", 0).await.unwrap();
    assert_eq!(ours(&touches, "roll0000000000000001"), 0);
    let profiles = state.store.profiles("demo", 0, (0, 1024)).await.unwrap();
    assert!(profiles.iter().all(|(a, _)| a != "roll0000000000000001"));
    assert!(profiles.iter().any(|(a, _)| a == "roll0000000000000002"));
    // Retention: rollups of days past it go with the raw events.
    let day = 86_400_000i64;
    let mut old = exposure("evt_roll_o1", "roll0000000000000003");
    old["ts"] = json!(now_ms() - 20 * day);
    send(&state, post_events(&json!({"events": [old]}), None)).await;
    dangol_server::rollups::catch_up(state.store.as_ref(), std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let touches = state.store.touches("demo", 0).await.unwrap();
    assert_eq!(ours(&touches, "roll0000000000000003"), 1);
    dangol_server::purge_once(state.store.as_ref(), Some(10))
        .await
        .unwrap();
    dangol_server::rollups::catch_up(state.store.as_ref(), std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let touches = state.store.touches("demo", 0).await.unwrap();
    assert_eq!(ours(&touches, "roll0000000000000003"), 0);
    assert_eq!(ours(&touches, "roll0000000000000002"), 1);
    let profiles = state.store.profiles("demo", 0, (0, 1024)).await.unwrap();
    assert!(profiles.iter().all(|(a, _)| a != "roll0000000000000003"));
    // Operators see how far the rollups are behind: a new batch waits
    // until the job (or a dashboard read) makes its shopper again.
    let mut fresh = exposure("evt_roll_n1", "roll0000000000000004");
    fresh["ts"] = json!(now_ms() - 1_000);
    send(&state, post_events(&json!({"events": [fresh]}), None)).await;
    let status = |body: &Value| (body["pending"].as_u64(), body["shoppers"].as_u64());
    let (code, _, body) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/rollups", &Value::Null),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (pending, before) = status(&body);
    assert_eq!(pending, Some(1), "{body}");
    treated(&state).await;
    let (_, _, body) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/rollups", &Value::Null),
    )
    .await;
    assert_eq!(status(&body), (Some(0), before.map(|n| n + 1)), "{body}");
}

pub async fn paused_campaigns_stay_unpublished_and_publishing_can_be_previewed(state: AppState) {
    let (_, _, body) = send(
        &state,
        bearer("POST", "/v1/admin/sites/demo/publish", &Value::Null),
    )
    .await;
    let live = body["version"].as_u64().unwrap();
    let campaign = json!({
        "name": "Paused for now", "placements": ["home-hero"], "paused": true,
        "variants": [{"id": "a", "content": {"type": "banner", "headline": "Hi"}}]
    });
    let (status, _, body) = send(
        &state,
        bearer("PUT", "/v1/admin/sites/demo/campaigns/later", &campaign),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, body) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/publish", &Value::Null),
    )
    .await;
    assert_eq!(body, json!({"live_version": live, "changes": []}));
    let (_, _, body) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/campaigns", &Value::Null),
    )
    .await;
    let row = body["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "later")
        .unwrap()
        .clone();
    assert_eq!(
        (row["status"].as_str(), row["published"].as_bool()),
        (Some("paused"), Some(false))
    );
    let live_row = body["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "welcome-hero")
        .unwrap()
        .clone();
    assert_eq!(
        (live_row["status"].as_str(), live_row["changed"].as_bool()),
        (Some("live"), Some(false))
    );

    let mut resumed = campaign.clone();
    resumed["paused"] = json!(false);
    send(
        &state,
        bearer("PUT", "/v1/admin/sites/demo/campaigns/later", &resumed),
    )
    .await;
    let (_, _, body) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/publish", &Value::Null),
    )
    .await;
    assert_eq!(body["changes"], json!(["campaign `later` added"]));
    // Previewing stored nothing.
    let (_, _, body) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/versions", &Value::Null),
    )
    .await;
    assert_eq!(
        body["versions"][0]["version"].as_u64(),
        Some(live),
        "{body}"
    );
    let (_, _, body) = send(
        &state,
        bearer("POST", "/v1/admin/sites/demo/publish", &Value::Null),
    )
    .await;
    assert_eq!(
        (body["published"].as_bool(), body["version"].as_u64()),
        (Some(true), Some(live + 1))
    );
}

pub async fn dashboard_pages_need_a_signed_in_admin(mut state: AppState) {
    let www = tempfile::tempdir().unwrap();
    std::fs::create_dir(www.path().join("admin")).unwrap();
    for f in [
        "index.html",
        "login.html",
        "app.js",
        "login.js",
        "admin.css",
        "preview.html",
    ] {
        std::fs::write(www.path().join("admin").join(f), f).unwrap();
    }
    let pkg = tempfile::tempdir().unwrap();
    std::fs::create_dir(pkg.path().join("preview")).unwrap();
    std::fs::write(pkg.path().join("preview/dangol.js"), "preview").unwrap();
    state.www_dir = Some(www.path().to_path_buf());
    state.pkg_dir = Some(pkg.path().to_path_buf());
    let get = |uri: &str, cookie: Option<&str>| {
        let mut req = Request::get(uri);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        req.body(Body::empty()).unwrap()
    };
    // Without a session: pages go to the sign-in page, other files are refused.
    for page in ["/admin/", "/admin/index.html", "/admin/preview.html"] {
        let (status, headers, _) = send(&state, get(page, None)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(headers[header::LOCATION], "/admin/login", "{page}");
        let (status, _, _) = send(&state, get(page, Some("dangol_session=forged"))).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{page} with a forged cookie");
    }
    for file in [
        "/admin/app.js",
        "/admin/preview/dangol.js",
        "/admin/missing.js",
    ] {
        let (status, _, body) = send(&state, get(file, None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{file}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    // Paths outside the dashboard that match nothing are not found, not
    // refused: a browser's own /favicon.ico asks no one to sign in.
    for path in ["/favicon.ico", "/nothing/here"] {
        let (status, headers, _) = send(&state, get(path, None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            headers.get(header::CONTENT_SECURITY_POLICY).is_none(),
            "{path}"
        );
    }
    // The sign-in page is public, under a strict CSP.
    let (status, headers, _) = send(&state, get("/admin/login", None)).await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    // Signed in, everything is served.
    let (cookie, _) = sign_in(&state).await;
    for file in [
        "/admin/",
        "/admin/app.js",
        "/admin/preview.html",
        "/admin/preview/dangol.js",
    ] {
        let (status, _, _) = send(&state, get(file, Some(&cookie))).await;
        assert_eq!(status, StatusCode::OK, "{file}");
    }
    // The dashboard is read-only: a change there is no page.
    let (status, _, _) = send(
        &state,
        Request::post("/admin/app.js")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

/// One `#[tokio::test]` per shared body, each on a fresh state from `$make`
/// (an async fn returning `Option<AppState>`; `None` skips, loudly).
#[macro_export]
macro_rules! api_tests {
    ($make:path) => {
        api_tests!(@each $make;
            config_is_served_with_a_strong_etag_and_revalidates_with_304,
            the_widget_gets_the_config_checked_and_compiled_in_the_compact_form,
            an_unknown_site_is_a_404_that_names_it,
            every_route_the_widget_calls_answers_its_cors_preflight,
            events_are_stored_once_per_id_so_retries_are_harmless,
            an_event_with_a_field_beyond_the_privacy_rules_is_rejected_by_name,
            events_from_a_foreign_origin_are_refused_and_same_origin_is_allowed,
            malformed_and_oversized_batches_are_refused_with_the_reason,
            admin_reads_need_the_token,
            seeding_twice_reuses_the_data,
            only_the_ids_own_key_or_an_admin_can_erase_it,
            events_for_an_erased_id_are_refused_so_a_late_batch_brings_nothing_back,
            an_id_that_never_sent_anything_can_be_erased_and_then_stores_nothing,
            a_claim_without_measurement_consent_names_no_id_and_gets_its_own_code,
            coupons_go_once_per_id_within_budget_and_redeem_exactly_once,
            configs_are_signed_with_the_sites_published_key,
            gzip_batches_are_accepted_and_a_gzip_bomb_is_refused,
            old_events_are_purged_after_the_retention,
            the_retention_covers_erase_keys_coupon_ids_and_tombstones,
            coupon_farming_and_code_guessing_are_held_to_the_address_limits,
            clients_behind_a_trusted_proxy_get_their_own_limits_and_cannot_spoof_one,
            a_code_guesser_at_the_checkout_never_blocks_real_redemptions,
            coupon_claims_follow_the_campaigns_dates_holdouts_and_variants,
            widget_assets_load_cross_origin_from_shop_pages,
            admins_sign_in_with_a_strict_cookie_and_changes_need_the_csrf_token,
            every_admin_route_refuses_without_a_session_or_token,
            roles_limit_what_each_admin_and_token_may_do,
            sign_in_slows_guessers_without_locking_out_the_owner,
            campaigns_are_checked_by_the_engine_then_published_and_rolled_back,
            results_count_per_variant_with_intervals_and_uplift,
            feedback_answers_are_reported_per_question_and_day,
            bandit_posteriors_follow_the_results_into_the_next_config,
            each_site_keeps_raw_events_for_its_own_retention,
            uploaded_codes_are_handed_out_once_each_then_the_campaign_is_spent,
            dashboard_views_rebuild_shoppers_from_their_events,
            rollups_follow_late_batches_erasure_and_retention,
            paused_campaigns_stay_unpublished_and_publishing_can_be_previewed,
            dashboard_pages_need_a_signed_in_admin,
            webhooks_are_signed_queued_with_their_event_retried_and_replayed,
            a_webhook_endpoint_that_keeps_failing_is_disabled_and_loses_nothing,
            segments_fill_follow_shoppers_and_send_their_changes,
            segments_fill_as_shoppers_age_into_them,
            thousands_of_membership_changes_are_stored_once_each,
            several_segments_change_together_and_concurrent_refreshes_change_each_once,
            identified_ids_are_linked_exported_by_customer_and_erased_together,
            orders_import_once_each_name_bad_lines_and_join_the_customers_profile,
            a_large_order_history_is_stored_in_full_and_once,
            orders_stored_under_their_hashed_ids_are_not_imported_again,
            the_churn_model_is_fitted_on_the_sites_order_history,
            lifecycle_changes_are_sent_as_webhooks,
            a_catalog_feed_replaces_the_catalog_and_names_bad_lines,
            recommendations_are_built_from_the_catalog_and_events_and_published,
        );
    };
    (@each $make:path; $($name:ident),* $(,)?) => {
        $(
            // Several threads, so concurrent requests really run together.
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if let Some(state) = $make().await {
                    common::$name(state).await;
                }
            }
        )*
    };
}
