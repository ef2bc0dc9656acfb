//! Order import: JSON lines and CSV, idempotent by order id, an error per
//! bad line naming it and its field, orders counting toward the customer's
//! profile, and an erased customer staying erased.

use dangol_server::identity::proof;
use dangol_server::orders::customer_anon;

use super::*;

fn orders(body: &str, content_type: &str) -> Request<Body> {
    Request::post("/v1/admin/sites/demo/orders")
        .header(header::CONTENT_TYPE, content_type)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub async fn orders_import_once_each_name_bad_lines_and_join_the_customers_profile(
    state: AppState,
) {
    let day = 86_400_000;
    let t = |days_ago: i64| now_ms() - days_ago * day;
    let lines = [
        json!({"customer_id": "c-1", "order_id": "A-1", "time": t(200), "value": 59000,
               "items": [{"item_id": "knit-01", "item_category": "knit"}]})
        .to_string(),
        json!({"customer_id": "c-1", "order_id": "A-2", "time": t(20), "value": 41000}).to_string(),
        String::new(),
        json!({"customer_id": "c-2", "order_id": "A-3", "time": t(5), "value": "12000"})
            .to_string(),
        json!({"customer_id": "c-2", "order_id": "A-3", "time": t(5), "value": 12000}).to_string(),
        json!({"customer_id": "c-3", "order_id": "A-4", "time": t(5), "value": -1}).to_string(),
        "{\"customer_id\": ".to_string(),
        json!({"customer_id": "c-3", "order_id": "A-5", "time": "2019-12-31", "value": 1})
            .to_string(),
    ]
    .join("\n");
    let (status, _, body) = send(&state, orders(&lines, "application/x-ndjson")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            &body["lines"],
            &body["imported"],
            &body["duplicates"],
            &body["rejected"],
            &body["customers"]
        ),
        (&json!(7), &json!(3), &json!(1), &json!(3), &json!(3)),
        "{body}"
    );
    let errors: Vec<(u64, String)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (6, "value".to_string()),
            (7, String::new()),
            (8, "time".to_string())
        ],
        "{body}"
    );
    // Again: nothing new.
    let (_, _, again) = send(&state, orders(&lines, "application/x-ndjson")).await;
    assert_eq!(
        (&again["imported"], &again["duplicates"]),
        (&json!(0), &json!(4)),
        "{again}"
    );

    // CSV, with a header and a quoted customer id.
    let csv = format!(
        "customer_id,order_id,time,value,category\r\n\"c-1\",B-1,{},30000,\"knit\"\r\nc-4,B-2,not a time,1,\r\n",
        t(2)
    );
    let (status, _, body) = send(&state, orders(&csv, "text/csv")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["imported"], &body["rejected"]),
        (&json!(1), &json!(1)),
        "{body}"
    );
    assert_eq!(body["errors"][0]["line"], 3, "{body}");
    assert_eq!(body["errors"][0]["field"], "time", "{body}");
    let (status, _, body) = send(
        &state,
        orders("customer,order_id,time,value\nc,1,1,1\n", "text/csv"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`customer_id`"),
        "{body}"
    );

    // A browser that signs in as c-1 gets the imported orders as the
    // customer's other devices: three orders.
    let (_, _, made) = send(
        &state,
        bearer("POST", "/v1/admin/sites/demo/identity-secret", &Value::Null),
    )
    .await;
    let secret = made["identity_secret"].as_str().unwrap().to_string();
    let req = Request::post("/v1/sites/demo/identify")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-dangol-key", "key-laptop-ord-0123456789")
        .body(Body::from(
            json!({"anon": "ordr-laptop-aaaaaaaaaa", "customer": "c-1",
                   "proof": proof(&secret, "c-1"), "profile": true})
            .to_string(),
        ))
        .unwrap();
    let (status, _, body) = send(&state, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["orders"], 3, "{body}");
    assert_eq!(body["profile"]["revenue"], 130_000.0, "{body}");

    // Erasing the customer takes the imported orders; a new import of them
    // is refused by name.
    let (status, _, body) = send(
        &state,
        bearer("DELETE", "/v1/admin/sites/demo/customers/c-1", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        state
            .store
            .events("demo", Some(&customer_anon("demo", "c-1")), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let (_, _, body) = send(&state, orders(&lines, "application/x-ndjson")).await;
    assert_eq!(body["imported"], 0, "{body}");
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["line"] == 1 && e["error"].as_str().unwrap().contains("was erased")),
        "{body}"
    );

    // Without a session or a token: refused.
    let (status, _, _) = send(&state, {
        let mut r = orders(&lines, "application/x-ndjson");
        r.headers_mut().remove(header::AUTHORIZATION);
        r
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// An upload larger than one batch (stored while the next is read) and a
/// batch larger than one statement (stored as one transaction): every order
/// once, a second upload of the same history all duplicates, and errors
/// from reading and from storing listed together in line order.
pub async fn a_large_order_history_is_stored_in_full_and_once(state: AppState) {
    let day = 86_400_000;
    let now = now_ms();
    let history = |from: u64, to: u64| -> String {
        (from..to)
            .map(|i| {
                if i == 7 {
                    // A line that is not an order, among the first.
                    "not json".to_string()
                } else if i == 24_000 {
                    // A time no event may have, refused when stored.
                    json!({"customer_id": "c-late", "order_id": "late",
                           "time": now + 400 * day, "value": 1})
                    .to_string()
                } else {
                    json!({"customer_id": format!("c-{}", i / 5), "order_id": format!("o-{i}"),
                           "time": now - (i as i64 % 700 + 1) * day, "value": 1000 + i})
                    .to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let lines = 25_000u64;
    let (status, _, body) = send(&state, orders(&history(0, lines), "application/x-ndjson")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            &body["lines"],
            &body["imported"],
            &body["duplicates"],
            &body["rejected"]
        ),
        (&json!(lines), &json!(lines - 2), &json!(0), &json!(2)),
        "{body}"
    );
    // 5,000 customers and `c-late`, linked before its order was refused.
    assert_eq!(body["customers"], json!(5_001), "{body}");
    let lines_of = |body: &Value| -> Vec<u64> {
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["line"].as_u64().unwrap())
            .collect()
    };
    // Line numbers count from 1.
    assert_eq!(lines_of(&body), vec![8, 24_001], "{body}");
    // The same history again, and a little more.
    let (status, _, body) = send(
        &state,
        orders(&history(0, lines + 10), "application/x-ndjson"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["imported"], &body["duplicates"], &body["rejected"]),
        (&json!(10), &json!(lines - 2), &json!(2)),
        "{body}"
    );
}

/// Orders stored before order ids were kept in event ids (under their
/// hashed ids) count as duplicates when imported again; new ones keep their
/// order id; and no page may send an event under an imported order's id.
pub async fn orders_stored_under_their_hashed_ids_are_not_imported_again(state: AppState) {
    use dangol_engine::event::Event;
    use dangol_server::orders::{hashed_order_event_id, order_event_id};

    let day = 86_400_000;
    let now = now_ms();
    let anon = customer_anon("demo", "c-9");
    // Three orders as an earlier version stored them.
    let earlier: Vec<Event> = (1..=3)
        .map(|i| Event {
            id: hashed_order_event_id(&format!("ord-00010{i}")),
            kind: "order".into(),
            ts: now - (40 - i) * day,
            anon: anon.clone(),
            campaign: None,
            variant: None,
            item: None,
            category: None,
            price: Some(10_000.0),
            answer: None,
        })
        .collect();
    state
        .store
        .store_events("demo", &earlier, now)
        .await
        .unwrap();
    // The same three and a fourth, imported now; and a line for a
    // customer new to the site, whose order id cannot be kept (`#`).
    let line = |customer: &str, order: &str, days_ago: i64| {
        json!({"customer_id": customer, "order_id": order,
               "time": now - days_ago * day, "value": 10000})
        .to_string()
    };
    let lines = [
        line("c-9", "ord-000101", 39),
        line("c-9", "ord-000102", 38),
        line("c-9", "ord-000103", 37),
        line("c-9", "ord-000104", 2),
        line("c-10", "#1001", 1),
    ]
    .join("\n");
    for (imported, duplicates) in [(2, 3), (0, 5)] {
        let (status, _, body) = send(&state, orders(&lines, "application/x-ndjson")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (&body["imported"], &body["duplicates"]),
            (&json!(imported), &json!(duplicates)),
            "{body}"
        );
    }
    let mut ids: Vec<String> = state
        .store
        .events("demo", Some(&anon), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event.id)
        .collect();
    ids.sort();
    let mut expected: Vec<String> = earlier.iter().map(|e| e.id.clone()).collect();
    expected.push("o-ord-000104".into());
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(order_event_id("ord-000104"), "o-ord-000104");
    assert_eq!(order_event_id("#1001"), hashed_order_event_id("#1001"));

    // A page's event under either form of an order's id is refused by name.
    for id in [order_event_id("ord-000105"), hashed_order_event_id("x")] {
        let batch = json!({"events": [
            {"id": id, "type": "purchase", "ts": now, "anon": "anon0123456789abcdef", "price": 1}
        ]});
        let req = Request::post("/v1/sites/demo/events")
            .header(header::HOST, "127.0.0.1:9")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(batch.to_string()))
            .unwrap();
        let (status, _, body) = send(&state, req).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (&body["accepted"], &body["stored"]),
            (&json!(0), &json!(0)),
            "{body}"
        );
        let error = body["rejected"][0]["error"].as_str().unwrap();
        assert!(
            error.contains(&id) && error.contains("imported orders"),
            "{body}"
        );
    }
}

pub async fn the_churn_model_is_fitted_on_the_sites_order_history(state: AppState) {
    use dangol_engine::churn::{BgNbd, GammaGamma};
    use dangol_server::churn::{fit_bgnbd, simulate};

    // Too few customers: refused by name.
    let (status, _, body) = send(
        &state,
        bearer("POST", "/v1/admin/sites/demo/churn-model", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "too_few_customers", "{body}");
    let (status, _, _) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/churn-model", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // 400 customers' histories, imported as their orders.
    let histories = simulate(
        &BgNbd {
            r: 0.4,
            alpha: 30.0,
            a: 0.7,
            b: 2.0,
        },
        &GammaGamma {
            p: 6.0,
            q: 4.0,
            v: 15.0,
        },
        400,
        11,
    );
    let day = 86_400_000i64;
    let now = now_ms();
    let mut lines = Vec::new();
    // What the holdout check must find: customers who bought before the
    // last 90 days, and their orders within them (the server's clock is a
    // little later: an order exactly 90 days ago is before its split).
    let split = now - 90 * day;
    let (mut calibration, mut in_holdout) = (0u64, 0u64);
    for (i, h) in histories.iter().enumerate() {
        let first = now - (h.t * day as f64) as i64;
        if first <= split {
            calibration += 1;
        }
        for k in 0..=h.x {
            let at = if h.x == 0 {
                first
            } else {
                first + (h.t_x * day as f64 * f64::from(k) / f64::from(h.x)) as i64
            };
            if first <= split && at > split {
                in_holdout += 1;
            }
            let value = if k == 0 {
                20_000.0
            } else {
                h.mean_value * 1000.0
            };
            lines.push(
                json!({"customer_id": format!("churn-{i:04}"), "order_id": format!("churn-{i:04}-{k}"),
                       "time": at, "value": value})
                .to_string(),
            );
        }
    }
    let (status, _, body) = send(&state, orders(&lines.join("\n"), "application/x-ndjson")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rejected"], 0, "{body}");

    let (status, _, model) = send(
        &state,
        bearer("POST", "/v1/admin/sites/demo/churn-model", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{model}");
    assert_eq!(model["bgnbd"]["customers"], 400, "{model}");
    // The same fit as on the histories themselves.
    let local = fit_bgnbd(&histories).params;
    for (name, want) in [
        ("r", local.r),
        ("alpha", local.alpha),
        ("a", local.a),
        ("b", local.b),
    ] {
        let got = model["bgnbd"][name].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-3 * want, "{name}: {got} vs {want}");
        assert!(
            model["bgnbd"]["std_errors"][name].as_f64().unwrap() > 0.0,
            "{model}"
        );
    }
    assert!(model["gamma_gamma"]["p"].as_f64().unwrap() > 0.0, "{model}");
    // The holdout check: fitted on the histories before the last 90 days,
    // its prediction for them set beside what they bought since.
    let holdout = &model["holdout"];
    assert_eq!(holdout["days"], 90, "{holdout}");
    assert_eq!(holdout["customers"], calibration, "{holdout}");
    assert_eq!(holdout["actual_purchases"], in_holdout, "{holdout}");
    assert!(
        holdout["predicted_purchases"].as_f64().unwrap() > 0.0,
        "{holdout}"
    );
    let rows = holdout["by_repeat_purchases"].as_array().unwrap();
    let customers: u64 = rows.iter().map(|r| r["customers"].as_u64().unwrap()).sum();
    assert_eq!(customers, calibration);
    // How P(alive) spreads, and the valuable customers most likely gone.
    let bins: u64 = model["p_alive_histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .sum();
    assert_eq!(bins, 400, "{model}");
    let at_risk = model["at_risk"].as_array().unwrap();
    assert!(!at_risk.is_empty() && at_risk.len() <= 20, "{model}");
    for pair in at_risk.windows(2) {
        assert!(pair[0]["revenue"].as_f64() >= pair[1]["revenue"].as_f64());
    }
    for c in at_risk {
        assert!(
            c["p_alive"].as_f64().unwrap() < 0.5 && c["orders"].as_u64().unwrap() >= 2,
            "{c}"
        );
        assert!(c["customer"].as_str().unwrap().starts_with("churn-"), "{c}");
    }
    // Kept: the dashboard reads it back.
    let (status, _, kept) = send(
        &state,
        bearer("GET", "/v1/admin/sites/demo/churn-model", &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // As stored text read back (a float printed and read again may move by
    // its last bit, so both sides make the same trip).
    assert_eq!(
        kept,
        serde_json::from_str::<Value>(&model.to_string()).unwrap()
    );

    // The widget's config carries the model as fitted, in both forms; the
    // compact one reads back to the model the server's segments use.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
    let (status, _, config) = send(
        &state,
        Request::get("/v1/sites/demo/config")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let churn = &config["profile"]["churn"];
    for (section, name) in [
        ("bgnbd", "r"),
        ("bgnbd", "alpha"),
        ("bgnbd", "a"),
        ("bgnbd", "b"),
        ("gamma_gamma", "p"),
        ("gamma_gamma", "q"),
        ("gamma_gamma", "v"),
    ] {
        let (got, want) = (churn[name].as_f64(), kept[section][name].as_f64());
        assert!(close(got.unwrap(), want.unwrap()), "{name}: {churn}");
    }
    let res = app(state.clone())
        .oneshot(
            Request::get("/v1/sites/demo/config/compact")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let text = res.into_body().collect().await.unwrap().to_bytes();
    let read = dangol_engine::config::compact::read(
        std::str::from_utf8(&text).unwrap(),
        &dangol_engine::condition::NativeRegex,
    )
    .unwrap();
    let stored = dangol_server::churn::stored_model(state.store.as_ref(), "demo")
        .await
        .unwrap()
        .unwrap();
    let served = read.config().profile.churn.unwrap();
    let (g, h) = (served.spend.unwrap(), stored.spend.unwrap());
    for (a, b) in [
        (served.bgnbd.r, stored.bgnbd.r),
        (served.bgnbd.alpha, stored.bgnbd.alpha),
        (served.bgnbd.a, stored.bgnbd.a),
        (served.bgnbd.b, stored.bgnbd.b),
        (g.p, h.p),
        (g.q, h.q),
        (g.v, h.v),
    ] {
        assert!(close(a, b), "{served:?} vs {stored:?}");
    }

    // Segments read the model's figures: the customers split into those
    // likely gone and those likely still buying.
    let mut sizes = Vec::new();
    for (id, condition) in [
        ("churn-gone", json!({"p_alive": {"$lt": 0.5}})),
        (
            "churn-alive",
            json!({"p_alive": {"$gte": 0.5}, "clv_90d": {"$gte": 0}}),
        ),
    ] {
        let (status, _, body) = send(
            &state,
            bearer(
                "POST",
                "/v1/admin/sites/demo/segments",
                &json!({"id": id, "name": id, "condition": condition}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, _, body) = send(
            &state,
            bearer(
                "POST",
                &format!("/v1/admin/sites/demo/segments/{id}/refresh"),
                &Value::Null,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        sizes.push(body["members"].as_u64().unwrap_or_else(|| panic!("{body}")));
    }
    assert!(sizes[0] > 0 && sizes[1] > 0, "{sizes:?}");
    assert_eq!(
        sizes[0] + sizes[1],
        400,
        "every imported customer is in one: {sizes:?}"
    );
}
