//! The OpenAPI document and the router stay in step: every routed path is
//! documented, and every documented operation reaches a real handler.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use dangol_server::sqlite::SqliteStore;
use dangol_server::{API_PATHS, AppState, OPENAPI_JSON, app, demo, now_ms};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

#[tokio::test]
async fn every_routed_path_is_documented_and_every_documented_operation_is_routed() {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    let mut routed = API_PATHS.to_vec();
    documented.sort_unstable();
    routed.sort_unstable();
    assert_eq!(documented, routed);

    let store = SqliteStore::in_memory().await.unwrap();
    demo::seed(&store, now_ms()).await.unwrap();
    let state = AppState::new(Arc::new(store));
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let uri = path
                .replace("{site}", "demo")
                .replace("{anon}", "anon0123456789abcdef")
                .replace("{id}", "welcome-hero")
                .replace("{version}", "1")
                .replace("{name}", "ci");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = app(state.clone())
                .oneshot(
                    Request::builder()
                        .method(method.clone())
                        .uri(&uri)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = res.status();
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri} is not routed"
            );
            let body = res.into_body().collect().await.unwrap().to_bytes();
            // The router's own 404 has an empty body; handlers always explain.
            assert!(
                status != StatusCode::NOT_FOUND || !body.is_empty(),
                "{method} {uri} reaches no handler"
            );
        }
    }
}

#[tokio::test]
async fn the_document_is_served() {
    let store = SqliteStore::in_memory().await.unwrap();
    let res = app(AppState::new(Arc::new(store)))
        .oneshot(
            Request::get("/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}
