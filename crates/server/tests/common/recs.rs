//! The recommendations model: built from the catalog and the site's
//! events (here imported orders), items bought together as neighbours,
//! nothing out of stock ever recommended, published signed with a strong
//! ETag for the widget.

use dangol_engine::recs::published;

use super::*;

fn admin(method: &str, path: &str, body: String) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from(body))
        .unwrap()
}

/// The public model's text, ETag and signature.
async fn public_model(state: &AppState) -> (StatusCode, String, Option<String>, bool) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await });
    let res = reqwest_like(&format!("http://{addr}/v1/sites/demo/recs"), None).await;
    server.abort();
    res
}

async fn reqwest_like(url: &str, etag: Option<&str>) -> (StatusCode, String, Option<String>, bool) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Body>();
    let mut req = Request::get(url);
    if let Some(tag) = etag {
        req = req.header(header::IF_NONE_MATCH, tag);
    }
    let res = client
        .request(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let tag = res
        .headers()
        .get(header::ETAG)
        .map(|v| v.to_str().unwrap().to_string());
    let signed = res.headers().contains_key("x-dangol-signature");
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        String::from_utf8(bytes.to_vec()).unwrap(),
        tag,
        signed,
    )
}

pub async fn recommendations_are_built_from_the_catalog_and_events_and_published(state: AppState) {
    let (status, _, body) = send(
        &state,
        admin("POST", "/v1/admin/sites/demo/recs", String::new()),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::CONFLICT, &json!("no_catalog")),
        "{body}"
    );
    assert_eq!(public_model(&state).await.0, StatusCode::NOT_FOUND);

    let catalog: String = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|id| {
            format!(
                "{}\n",
                json!({"id": id, "name": format!("Item {id}"), "price": 1000, "category": "knit",
                       "in_stock": *id != "e"})
            )
        })
        .collect();
    let (status, _, body) = send(
        &state,
        admin("PUT", "/v1/admin/sites/demo/catalog", catalog),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Six customers bought a and b, two bought a and c, three also bought
    // e (out of stock now), and everyone bought d.
    let day = 86_400_000;
    let mut orders = String::new();
    let mut n = 0;
    let mut order = |customer: u32, item: &str, days_ago: i64| {
        n += 1;
        orders.push_str(&format!(
            "{}\n",
            json!({"customer_id": format!("r-{customer}"), "order_id": format!("R-{n}"),
                   "time": now_ms() - days_ago * day, "value": 1000, "item_id": item})
        ));
    };
    for c in 1..=6 {
        order(c, "a", 10);
        order(c, "b", 9);
    }
    for c in 7..=8 {
        order(c, "a", 10);
        order(c, "c", 9);
    }
    for c in 1..=3 {
        order(c, "e", 8);
    }
    for c in 1..=12 {
        order(c, "d", 7);
    }
    let (status, _, body) =
        send(&state, admin("POST", "/v1/admin/sites/demo/orders", orders)).await;
    assert_eq!(
        (status, &body["rejected"]),
        (StatusCode::OK, &json!(0)),
        "{body}"
    );

    let (status, _, built) = send(
        &state,
        admin("POST", "/v1/admin/sites/demo/recs", String::new()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{built}");
    assert_eq!(
        (&built["items"], &built["events"], &built["shoppers"]),
        (&json!(5), &json!(31), &json!(12)),
        "{built}"
    );

    let (status, text, etag, signed) = public_model(&state).await;
    assert_eq!(status, StatusCode::OK);
    assert!(signed, "the model is signed like the config");
    let model = published::read(&text).expect("the published model reads");
    let id = |i: u32| model.cards[i as usize].id.as_str();
    let place = |item: &str| model.cards.iter().position(|c| c.id == item).unwrap();
    let of_a: Vec<&str> = model.model.neighbours[place("a")]
        .iter()
        .map(|(i, _)| id(*i))
        .collect();
    assert_eq!(of_a.first(), Some(&"b"), "{of_a:?}");
    assert!(of_a.contains(&"c"));
    // e is out of stock: a card (it may lead to others) but never a
    // neighbour or a best-seller.
    assert!(
        model
            .model
            .neighbours
            .iter()
            .flatten()
            .all(|(i, _)| id(*i) != "e")
    );
    assert!(model.model.popular.iter().all(|i| id(*i) != "e"));
    assert_eq!(id(model.model.popular[0]), "d");
    assert!(!model.model.neighbours[place("e")].is_empty());
    assert_eq!(model.categories, ["knit"]);

    // Revalidation: 304 while the model is the same.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await });
    let (status, _, _, _) = reqwest_like(
        &format!("http://{addr}/v1/sites/demo/recs"),
        etag.as_deref(),
    )
    .await;
    server.abort();
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    let (status, _, info) = send(
        &state,
        Request::get("/v1/admin/sites/demo/recs")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, &info["items"], &info["events"]),
        (StatusCode::OK, &json!(5), &json!(31)),
        "{info}"
    );

    // The schedule leaves a fresh model alone and builds a day-old one
    // again (sites without a catalog have none to build).
    let built_ms = info["built_ms"].as_i64().unwrap();
    assert_eq!(
        dangol_server::recs::rebuild_due(&state, built_ms + 1000)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    let later = built_ms + dangol_server::recs::REBUILD_AFTER_MS;
    assert_eq!(
        dangol_server::recs::rebuild_due(&state, later)
            .await
            .unwrap(),
        ["demo"]
    );
    let stored = state.store.recs_model("demo").await.unwrap().unwrap();
    assert_eq!((stored.built_ms, stored.items), (later, 5));
}
