//! The catalog feed: a whole feed replaces the catalog (what it leaves out
//! goes out of stock, kept), an update changes only what it lists, the
//! same feed twice changes nothing, and a bad line is named by number and
//! field without taking its item out of stock.

use super::*;

fn feed(method: &str, lines: &[Value], extra: &str) -> Request<Body> {
    let mut body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    body.push_str(extra);
    Request::builder()
        .method(method)
        .uri("/v1/admin/sites/demo/catalog")
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from(body))
        .unwrap()
}

async fn catalog(state: &AppState, after: &str, limit: u32) -> Value {
    let (status, _, body) = send(
        state,
        Request::get(format!(
            "/v1/admin/sites/demo/catalog?after={after}&limit={limit}"
        ))
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn item(id: &str, price: u32) -> Value {
    json!({"id": id, "name": format!("Item {id}"), "url": format!("/demo/product.html?id={id}"),
           "image": format!("/demo/img/{id}.svg"), "price": price, "category": "knit"})
}

pub async fn a_catalog_feed_replaces_the_catalog_and_names_bad_lines(state: AppState) {
    let first = [item("a", 100), item("b", 200), item("c", 300)];
    let (status, _, body) = send(&state, feed("PUT", &first, "")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            &body["stored"],
            &body["added"],
            &body["retired"],
            &body["items"],
            &body["in_stock"]
        ),
        (&json!(3), &json!(3), &json!(0), &json!(3), &json!(3)),
        "{body}"
    );

    // The same feed again: nothing new, nothing retired.
    let (_, _, again) = send(&state, feed("PUT", &first, "")).await;
    assert_eq!(
        (&again["added"], &again["retired"]),
        (&json!(0), &json!(0)),
        "{again}"
    );

    // A whole feed without `c`, with a bad line for `b` and a new `d` on
    // sale: `c` goes out of stock, `b` keeps its old price and stays.
    let second = [
        item("a", 110),
        json!({"id": "b", "name": "Item b", "price": "cheap"}),
        json!({"id": "d", "name": "Item d", "price": 400, "sale_price": 350, "brand": "Dangol"}),
        json!({"id": "e", "name": "Item e", "price": 10, "url": "javascript:alert(1)"}),
    ];
    let (status, _, body) = send(&state, feed("PUT", &second, "{\"id\": \n")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            &body["lines"],
            &body["stored"],
            &body["added"],
            &body["rejected"],
            &body["retired"]
        ),
        (&json!(5), &json!(2), &json!(1), &json!(3), &json!(1)),
        "{body}"
    );
    let errors: Vec<(u64, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, [(2, "price"), (4, "url"), (5, "")], "{body}");
    assert_eq!(
        (&body["items"], &body["in_stock"]),
        (&json!(4), &json!(3)),
        "{body}"
    );

    let listed = catalog(&state, "", 100).await;
    let by_id = |id: &str| {
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_id("a")["price"], json!(110.0));
    assert_eq!(
        (&by_id("b")["price"], &by_id("b")["in_stock"]),
        (&json!(200.0), &json!(true))
    );
    assert_eq!(by_id("c")["in_stock"], json!(false));
    assert_eq!(
        (
            &by_id("d")["sale_price"],
            &by_id("d")["brand"],
            &by_id("d")["url"]
        ),
        (&json!(350.0), &json!("Dangol"), &Value::Null)
    );

    // An update changes only what it lists: `c` back in stock, nothing retired.
    let (_, _, update) = send(&state, feed("POST", &[item("c", 290)], "")).await;
    assert_eq!(
        (&update["retired"], &update["in_stock"]),
        (&json!(0), &json!(4)),
        "{update}"
    );

    // Pages by id.
    let page = catalog(&state, "", 2).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["next"], json!("b"));
    let rest = catalog(&state, "b", 2).await;
    let ids: Vec<&str> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c", "d"]);
}
