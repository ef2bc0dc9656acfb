//! `catalog_import_ms_100k` for `cargo xtask bench`: a release
//! `dangol-server` takes a whole catalog feed of [`ITEMS`] items in one
//! streamed `PUT`, then the same feed again (every item known: all
//! updates).

use anyhow::{Result, bail};
use serde_json::json;

use crate::orders::upload;

/// Items in the feed.
const ITEMS: u64 = 100_000;

fn feed() -> String {
    let mut out = String::with_capacity(ITEMS as usize * 200);
    for i in 0..ITEMS {
        let price = 10_000 + (i * 37 % 90) * 1_000;
        let mut item = json!({
            "id": format!("item-{i:06}"),
            "name": format!("Item {i}"),
            "url": format!("/demo/product.html?id=item-{i:06}"),
            "image": format!("/demo/img/item-{}.svg", i % 500),
            "price": price,
            "category": format!("cat-{}", i % 40),
            "brand": format!("brand-{}", i % 120),
            "in_stock": i % 17 != 0,
        });
        if i % 5 == 0 {
            item["sale_price"] = json!(price - 1_000);
        }
        out.push_str(&item.to_string());
        out.push('\n');
    }
    out
}

/// Milliseconds for the first feed and for the same feed again.
pub async fn import_ms(url: &str) -> Result<(f64, f64)> {
    let body = feed();
    let (first, first_s) = upload(url, "PUT", "catalog", body.clone()).await?;
    let (again, again_s) = upload(url, "PUT", "catalog", body).await?;
    for answer in [&first, &again] {
        if answer["stored"].as_u64() != Some(ITEMS) || answer["rejected"].as_u64() != Some(0) {
            bail!("catalog feed: {answer}");
        }
    }
    if again["added"].as_u64() != Some(0) {
        bail!("the same catalog feed again added items: {again}");
    }
    Ok((first_s * 1000.0, again_s * 1000.0))
}
