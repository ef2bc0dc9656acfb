//! Consented identity: ids linked to a customer only with the shop's
//! proof, exports that name the customer, and erasure that follows them.

use std::time::Duration;

use dangol_server::identity::proof;
use dangol_server::webhooks::Deliverer;

use super::*;

/// A page view from `anon`, registering `key` as its erase key.
async fn visit(state: &AppState, anon: &str, key: &str, id: &str) {
    let mut e = results_event(id, "page_view", anon, None, None, None);
    e["ts"] = json!(now_ms() - 1000);
    let req = Request::post("/v1/sites/demo/events")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-dangol-key", key)
        .body(Body::from(json!({"events": [e]}).to_string()))
        .unwrap();
    let (status, _, body) = send(state, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn identify(anon: &str, key: Option<&str>, customer: &str, proof: &str) -> Request<Body> {
    let mut req =
        Request::post("/v1/sites/demo/identify").header(header::CONTENT_TYPE, "application/json");
    if let Some(k) = key {
        req = req.header("x-dangol-key", k);
    }
    req.body(Body::from(
        json!({"anon": anon, "customer": customer, "proof": proof}).to_string(),
    ))
    .unwrap()
}

/// [`identify`], asking for the profile of the customer's other devices.
fn identify_for_profile(anon: &str, key: &str, customer: &str, proof: &str) -> Request<Body> {
    Request::post("/v1/sites/demo/identify")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-dangol-key", key)
        .body(Body::from(
            json!({"anon": anon, "customer": customer, "proof": proof, "profile": true})
                .to_string(),
        ))
        .unwrap()
}

pub async fn identified_ids_are_linked_exported_by_customer_and_erased_together(state: AppState) {
    let (phone, laptop) = ("idnt-phone-aaaaaaaaaaaa", "idnt-laptop-bbbbbbbbbbb");
    let (phone_key, laptop_key) = ("key-phone-0123456789abcdef", "key-laptop-0123456789abcdef");
    visit(&state, phone, phone_key, "evt_idnt_0001").await;
    visit(&state, laptop, laptop_key, "evt_idnt_0002").await;

    // No secret yet: nothing can be proved.
    let (status, _, body) = send(&state, identify(phone, Some(phone_key), "c-42", "00")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _, made) = send(
        &state,
        bearer("POST", "/v1/admin/sites/demo/identity-secret", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let secret = made["identity_secret"].as_str().unwrap().to_string();
    let good = proof(&secret, "c-42");

    // Without the id's key, with another id's key, with a proof of someone
    // else or a malformed customer id: refused, by name.
    for (req, expected, code) in [
        (
            identify(phone, None, "c-42", &good),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            identify(phone, Some(laptop_key), "c-42", &good),
            StatusCode::FORBIDDEN,
            "wrong_key",
        ),
        (
            identify(phone, Some(phone_key), "c-43", &good),
            StatusCode::FORBIDDEN,
            "wrong_proof",
        ),
        (
            identify(phone, Some(phone_key), "c\u{7}", &good),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ] {
        let (status, _, body) = send(&state, req).await;
        assert_eq!(status, expected, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    assert_eq!(state.store.customer_of("demo", phone).await.unwrap(), None);

    // The phone and the laptop both identify as c-42: one customer.
    let (status, _, body) = send(&state, identify(phone, Some(phone_key), "c-42", &good)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, body) = send(&state, identify(laptop, Some(laptop_key), "c-42", &good)).await;
    assert_eq!(body["linked_ids"], 2, "{body}");
    assert_eq!(
        body["profile"],
        Value::Null,
        "a profile only when asked: {body}"
    );

    // Asked for, the profile is the customer's other devices, rebuilt from
    // their events: the phone's two visits, never the laptop's own.
    visit(&state, phone, phone_key, "evt_idnt_0003").await;
    let (status, _, body) = send(
        &state,
        identify_for_profile(laptop, laptop_key, "c-42", &good),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["visits"], 2, "{body}");
    let (_, _, body) = send(
        &state,
        identify_for_profile(phone, phone_key, "c-42", &good),
    )
    .await;
    assert_eq!(
        body["profile"]["visits"], 1,
        "the laptop's one visit: {body}"
    );

    // A browser that signs in before its first batch registers its key by
    // identifying; another key for it later is refused.
    let tablet = "idnt-tablet-ccccccccccc";
    let tablet_key = "key-tablet-0123456789abcdef";
    let (status, _, body) = send(&state, identify(tablet, Some(tablet_key), "c-42", &good)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["linked_ids"], 3, "{body}");
    let (status, _, body) = send(&state, identify(tablet, Some(phone_key), "c-42", &good)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "wrong_key", "{body}");

    // Exports name the customer of identified members.
    let (status, _, seg) = send(
        &state,
        bearer(
            "POST",
            "/v1/admin/sites/demo/segments",
            &json!({"id": "idnt-visitors", "name": "Visitors", "condition": {"visits": {"$gte": 1}}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{seg}");
    let req = Request::get("/v1/admin/sites/demo/segments/idnt-visitors/members")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let res = app(state.clone()).oneshot(req).await.unwrap();
    let text =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let named: Vec<(String, Value)> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|m| m["anon"].as_str().unwrap().starts_with("idnt-"))
        .map(|m| {
            (
                m["anon"].as_str().unwrap().to_string(),
                m["customer_id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            (laptop.to_string(), json!("c-42")),
            (phone.to_string(), json!("c-42"))
        ]
    );

    // Forgetting in one browser forgets the person: both ids, each sent on.
    let (receiver, url) = Receiver::start(&[]).await;
    let (status, _, body) = send(
        &state,
        bearer(
            "POST",
            "/v1/admin/sites/demo/webhooks",
            &json!({"url": url, "events": ["customer.erased"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, body) = send(&state, erase(phone, Some(phone_key), false)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["erased_ids"], 3, "{body}");
    assert!(
        state
            .store
            .events("demo", Some(laptop), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(state.store.customer_of("demo", laptop).await.unwrap(), None);
    Deliverer::new(vec![0], Duration::from_secs(5))
        .unwrap()
        .round(state.store.as_ref())
        .await
        .unwrap();
    let mut erased: Vec<(String, Value)> = receiver
        .bodies()
        .iter()
        .map(|b| {
            (
                b["data"]["anon"].as_str().unwrap().to_string(),
                b["data"]["customer_id"].clone(),
            )
        })
        .collect();
    erased.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        erased,
        [
            (laptop.to_string(), json!("c-42")),
            (phone.to_string(), json!("c-42")),
            (tablet.to_string(), json!("c-42"))
        ]
    );
    // An erased id cannot identify again (its browser makes a new one).
    let (status, _, body) = send(&state, identify(phone, Some(phone_key), "c-42", &good)).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(body["error"]["code"], "erased", "{body}");
    let (status, _, body) = send(
        &state,
        bearer(
            "DELETE",
            "/v1/admin/sites/demo/customers/c-42",
            &Value::Null,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
