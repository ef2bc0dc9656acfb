//! Webhooks against a real receiver on a loopback socket: signed as
//! Standard Webhooks, queued with what they report, retried with the same
//! id until delivered, given up and the endpoint disabled, replayed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use dangol_server::webhooks::{Deliverer, sign};

use super::*;

/// What the receiver got.
#[derive(Clone, Debug)]
pub(super) struct Received {
    id: String,
    timestamp: i64,
    signature: String,
    pub(super) body: String,
}

/// A webhook receiver on a loopback socket, shared by the tests that
/// check what webhooks carry.
#[derive(Clone, Default)]
pub(super) struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer, in order; 200 once they run out.
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    pub(super) async fn start(script: &[u16]) -> (Receiver, String) {
        let receiver = Receiver::default();
        receiver.script.lock().unwrap().extend(script);
        let r = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let r = r.clone();
                async move {
                    let h = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    r.got.lock().unwrap().push(Received {
                        id: h("webhook-id"),
                        timestamp: h("webhook-timestamp").parse().unwrap_or(0),
                        signature: h("webhook-signature"),
                        body,
                    });
                    let status = r.script.lock().unwrap().pop_front().unwrap_or(200);
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    pub(super) fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The bodies received, as JSON.
    pub(super) fn bodies(&self) -> Vec<Value> {
        self.got()
            .iter()
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect()
    }
}

async fn make_endpoint(state: &AppState, url: &str, events: &[&str]) -> Value {
    let (status, _, body) = send(
        state,
        bearer(
            "POST",
            "/v1/admin/sites/demo/webhooks",
            &json!({"url": url, "events": events, "description": "the CRM"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// Rounds until nothing is due (retries at once: the schedule is zeros).
async fn deliver_all(state: &AppState, deliverer: &Deliverer) {
    for _ in 0..20 {
        if deliverer.round(state.store.as_ref()).await.unwrap() == 0 {
            return;
        }
    }
    panic!("deliveries never settled");
}

pub async fn webhooks_are_signed_queued_with_their_event_retried_and_replayed(state: AppState) {
    use sha2::{Digest, Sha256};
    // Endpoints are checked, every problem named.
    let (status, _, body) = send(
        &state,
        bearer(
            "POST",
            "/v1/admin/sites/demo/webhooks",
            &json!({"url": "ftp://x", "events": ["coupon.redeemed", "order.shipped"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let problems = body["error"]["problems"].to_string();
    assert!(problems.contains("`url` `ftp://x`"), "{problems}");
    assert!(
        problems.contains("`events[1]` `order.shipped`"),
        "{problems}"
    );

    // The receiver fails the first delivery, then takes everything.
    let (receiver, url) = Receiver::start(&[500]).await;
    let endpoint = make_endpoint(&state, &url, &["coupon.redeemed", "customer.erased"]).await;
    let id = endpoint["id"].as_str().unwrap().to_string();
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{endpoint}");

    // A redeemed coupon and an erased id each queue one message, in the
    // same transaction as what they report.
    publish_coupon_campaign(&state, 5).await;
    let key = "redeem-key-0123456789";
    state
        .store
        .set_redeem_key("demo", &hex::encode(Sha256::digest(key.as_bytes())))
        .await
        .unwrap();
    let (_, _, claimed) = send(
        &state,
        post_json(
            "/v1/sites/demo/coupons/claim",
            &json!({"anon": "anon-hook-aaaaaaaaaaaa", "campaign": "kurly", "variant": "a"}),
            None,
        ),
    )
    .await;
    let code = claimed["code"].as_str().unwrap().to_string();
    let redeem = |code: &str| {
        post_json(
            "/v1/sites/demo/coupons/redeem",
            &json!({"code": code}),
            Some(key),
        )
    };
    assert_eq!(send(&state, redeem(&code)).await.0, StatusCode::OK);
    // Redeeming again is refused and reports nothing.
    assert_eq!(send(&state, redeem(&code)).await.0, StatusCode::CONFLICT);
    let anon = "anon-hook-bbbbbbbbbbbb";
    assert_eq!(
        send(&state, erase(anon, None, true)).await.0,
        StatusCode::OK
    );
    let queued = state.store.messages("demo", &id, None, 10).await.unwrap();
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(queued.iter().all(|m| m.state == "pending"));

    let deliverer = Deliverer::new(vec![0, 0, 0], Duration::from_secs(5)).unwrap();
    deliver_all(&state, &deliverer).await;
    let got = receiver.got();
    assert_eq!(got.len(), 3, "one failed and was sent again: {got:?}");
    let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 2, "a retry keeps its webhook-id: {got:?}");
    for r in &got {
        assert!(r.id.starts_with("msg_"));
        assert!((r.timestamp - now_ms() / 1000).abs() < 60);
        assert_eq!(
            Some(r.signature.clone()),
            sign(&secret, &r.id, r.timestamp, &r.body),
            "signed as Standard Webhooks"
        );
    }
    let bodies: Vec<Value> = got
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    let redeemed = bodies
        .iter()
        .find(|b| b["type"] == "coupon.redeemed")
        .unwrap();
    assert_eq!(redeemed["data"]["code"], code.as_str());
    assert_eq!(redeemed["data"]["campaign"], "kurly");
    let erased = bodies
        .iter()
        .find(|b| b["type"] == "customer.erased")
        .unwrap();
    assert_eq!(erased["data"]["anon"], anon);

    // The log: every attempt, with its status.
    let (status, _, log) = send(
        &state,
        bearer(
            "GET",
            &format!("/v1/admin/sites/demo/webhooks/{id}/messages"),
            &Value::Null,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let messages = log["messages"].as_array().unwrap();
    assert!(messages.iter().all(|m| m["state"] == "delivered"), "{log}");
    let statuses: Vec<Vec<Value>> = messages
        .iter()
        .map(|m| {
            m["log"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["status"].clone())
                .collect()
        })
        .collect();
    assert!(
        statuses.contains(&vec![json!(500), json!(200)]),
        "{statuses:?}"
    );

    // A replay sends it again with the same id.
    let first = messages[0]["id"].as_str().unwrap().to_string();
    let (status, _, _) = send(
        &state,
        bearer(
            "POST",
            &format!("/v1/admin/sites/demo/webhooks/{id}/messages/{first}/replay"),
            &Value::Null,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    deliver_all(&state, &deliverer).await;
    assert_eq!(receiver.got().last().unwrap().id, first);

    // After a rotation both secrets sign, so the receiver can switch.
    let (_, _, rotated) = send(
        &state,
        bearer(
            "POST",
            &format!("/v1/admin/sites/demo/webhooks/{id}/secret"),
            &Value::Null,
        ),
    )
    .await;
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    let (status, _, _) = send(
        &state,
        bearer(
            "POST",
            &format!("/v1/admin/sites/demo/webhooks/{id}/test"),
            &Value::Null,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    deliver_all(&state, &deliverer).await;
    let test = receiver.got().last().unwrap().clone();
    assert!(test.body.contains("\"webhook.test\""), "{test:?}");
    let sigs: Vec<&str> = test.signature.split(' ').collect();
    assert_eq!(
        sigs,
        [
            sign(&new_secret, &test.id, test.timestamp, &test.body).unwrap(),
            sign(&secret, &test.id, test.timestamp, &test.body).unwrap()
        ]
    );
}

pub async fn a_webhook_endpoint_that_keeps_failing_is_disabled_and_loses_nothing(state: AppState) {
    // Nothing listens at this address: every attempt fails to connect.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let endpoint = make_endpoint(&state, &closed, &["customer.erased"]).await;
    let id = endpoint["id"].as_str().unwrap().to_string();
    assert_eq!(
        send(&state, erase("anon-hook-cccccccccccc", None, true))
            .await
            .0,
        StatusCode::OK
    );
    let deliverer = Deliverer::new(vec![0, 0], Duration::from_secs(2)).unwrap();
    deliver_all(&state, &deliverer).await;
    let (_, _, shown) = send(
        &state,
        bearer(
            "GET",
            &format!("/v1/admin/sites/demo/webhooks/{id}"),
            &Value::Null,
        ),
    )
    .await;
    assert_eq!(shown["enabled"], false, "{shown}");
    assert!(
        shown["disabled_reason"]
            .as_str()
            .unwrap()
            .starts_with("3 attempts failed"),
        "{shown}"
    );
    assert_eq!(shown["messages"]["failed"], 1, "{shown}");
    let (_, _, log) = send(
        &state,
        bearer(
            "GET",
            &format!("/v1/admin/sites/demo/webhooks/{id}/messages?state=failed"),
            &Value::Null,
        ),
    )
    .await;
    let attempts = log["messages"][0]["log"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{log}");
    assert!(
        attempts
            .iter()
            .all(|a| a["status"].is_null() && a["error"] == "could not connect"),
        "{log}"
    );

    // While disabled, new messages wait rather than being dropped.
    assert_eq!(
        send(&state, erase("anon-hook-dddddddddddd", None, true))
            .await
            .0,
        StatusCode::OK
    );
    deliver_all(&state, &deliverer).await;
    let waiting = state
        .store
        .messages("demo", &id, Some("pending"), 10)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].attempts, 0, "a disabled endpoint is not tried");

    // Pointed at a working receiver and enabled again, it gets what waited,
    // and the failed one on a replay.
    let (receiver, url) = Receiver::start(&[]).await;
    let (status, _, body) = send(
        &state,
        bearer(
            "PUT",
            &format!("/v1/admin/sites/demo/webhooks/{id}"),
            &json!({"url": url, "enabled": true}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let failed = log["messages"][0]["id"].as_str().unwrap().to_string();
    send(
        &state,
        bearer(
            "POST",
            &format!("/v1/admin/sites/demo/webhooks/{id}/messages/{failed}/replay"),
            &Value::Null,
        ),
    )
    .await;
    deliver_all(&state, &deliverer).await;
    let got = receiver.got();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().any(|r| r.id == failed));
    assert_eq!(
        state.store.message_counts("demo", &id).await.unwrap(),
        [0, 2, 0]
    );

    // Webhooks are the owner's: an editor cannot see or change them.
    let editor = admin_with_role(&state, "hooks-editor@shop.example", "demo", "editor").await;
    let (status, _, body) = send(
        &state,
        json_req(
            "GET",
            "/v1/admin/sites/demo/webhooks",
            &Value::Null,
            Some((editor.0.as_str(), Some(editor.1.as_str()))),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}
