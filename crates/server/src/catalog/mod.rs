//! The shop's catalog: the items recommendations may show, with what a
//! product card needs (name, link, image, price, sale price) and whether
//! each is in stock. A shop sends its feed as JSON lines, one item a line:
//!
//! ```text
//! {"id": "knit-01", "name": "Wool crew knit", "url": "/product/knit-01", "image": "/img/knit-01.jpg",
//!  "price": 59000, "sale_price": 49000, "category": "knit", "brand": "Dangol", "in_stock": true}
//! ```
//!
//! `PUT …/catalog` is the whole catalog: every item on it is stored (a new
//! one added, a known one replaced), and once the feed has been read to its
//! end every item it did not list is marked out of stock (kept, so names in
//! past reasons and reports still read, but never recommended). `POST
//! …/catalog` changes only the items it lists (a stock or price update).
//! Both are idempotent: sending the same feed again changes nothing. The
//! upload is read as it arrives; a bad line is named with its number and
//! field and the others are kept. An item on a bad line whose id can be
//! read counts as listed, so a typo never takes an item out of stock.

pub(crate) mod sql;

use std::collections::HashMap;

use async_trait::async_trait;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::store::StoreError;
use crate::upload::{Line, Lines, Rejected, fail, text_field};

pub(crate) const CATALOG: &str = "/v1/admin/sites/{site}/catalog";

/// Items stored per statement.
const BATCH: usize = 500;
/// The most items one page of `GET …/catalog` lists.
const MAX_PAGE: u32 = 1000;

/// One item of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    /// The shop's item id (GA4's `item_id`).
    pub id: String,
    /// Its name, as a product card shows it.
    pub name: String,
    /// Its page (absolute http(s) or a path on the shop).
    pub url: Option<String>,
    /// Its picture (absolute http(s) or a path on the shop).
    pub image: Option<String>,
    /// Its price in the site's currency.
    pub price: f64,
    /// Its price on sale, below `price`.
    pub sale_price: Option<f64>,
    /// Its category (GA4's `item_category`).
    pub category: Option<String>,
    /// Its brand.
    pub brand: Option<String>,
    /// Whether it can be bought now; an item out of stock is never
    /// recommended.
    pub in_stock: bool,
}

/// The catalog's store.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Stores `items` (ids unique), each stamped with the feed `feed_ms`;
    /// returns how many were not in the catalog before.
    async fn put_items(&self, site: &str, items: &[Item], feed_ms: i64) -> Result<u64, StoreError>;
    /// Stamps the known items among `ids` with the feed `feed_ms`, changing
    /// nothing else.
    async fn touch_items(&self, site: &str, ids: &[String], feed_ms: i64)
    -> Result<(), StoreError>;
    /// Marks out of stock every item in stock that no feed since `feed_ms`
    /// listed; returns how many.
    async fn retire_unlisted(&self, site: &str, feed_ms: i64) -> Result<u64, StoreError>;
    /// Up to `limit` items with ids after `after`, by id.
    async fn catalog_page(
        &self,
        site: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<Item>, StoreError>;
    /// The catalog's items, and how many of them are in stock.
    async fn catalog_counts(&self, site: &str) -> Result<(u64, u64), StoreError>;
}

fn url_field(v: Option<&Value>, field: &str) -> Result<Option<String>, (String, String)> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= 2048 && dangol_engine::config::is_safe_url(s) => {
            Ok(Some(s.trim().to_string()))
        }
        Some(Value::String(_)) => Err(fail(
            field,
            "must be an http(s) URL or a path on the shop, at most 2048 bytes",
        )),
        Some(_) => Err(fail(field, "must be a string")),
    }
}

fn price_field(v: Option<&Value>, field: &str) -> Result<Option<f64>, (String, String)> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .map(Some)
            .ok_or_else(|| fail(field, "must be a number of at least 0")),
        Some(_) => Err(fail(field, "must be a number of at least 0")),
    }
}

fn optional_text(v: Option<&Value>, field: &str) -> Result<Option<String>, (String, String)> {
    match v {
        None | Some(Value::Null) => Ok(None),
        v => text_field(v, field, 128).map(Some),
    }
}

/// One item from a JSON line of a feed.
pub fn item_of_json(line: &str) -> Result<Item, (String, String)> {
    const FIELDS: &[&str] = &[
        "id",
        "name",
        "url",
        "image",
        "price",
        "sale_price",
        "category",
        "brand",
        "in_stock",
    ];
    let v: Value =
        serde_json::from_str(line).map_err(|e| fail("", format!("is not JSON ({e})")))?;
    let Value::Object(o) = v else {
        return Err(fail("", "must be a JSON object"));
    };
    if let Some(k) = o.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(fail(k, "is not a field of a catalog item"));
    }
    let id = text_field(o.get("id"), "id", 128)?;
    let name = text_field(o.get("name"), "name", 300)?;
    let url = url_field(o.get("url"), "url")?;
    let image = url_field(o.get("image"), "image")?;
    let price = price_field(o.get("price"), "price")?.ok_or_else(|| fail("price", "is missing"))?;
    let sale_price = price_field(o.get("sale_price"), "sale_price")?;
    if sale_price.is_some_and(|sale| sale >= price) {
        return Err(fail("sale_price", "must be below `price`"));
    }
    let category = optional_text(o.get("category"), "category")?;
    let brand = optional_text(o.get("brand"), "brand")?;
    let in_stock = match o.get("in_stock") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(fail("in_stock", "must be true or false")),
    };
    Ok(Item {
        id,
        name,
        url,
        image,
        price,
        sale_price,
        category,
        brand,
        in_stock,
    })
}

/// The id of a line that is not a whole item, when it can be read.
fn id_of(line: &str) -> Option<String> {
    let v: Map<String, Value> = serde_json::from_str(line).ok()?;
    text_field(v.get("id"), "id", 128).ok()
}

/// What a feed did.
#[derive(Default)]
struct Tally {
    lines: u64,
    stored: u64,
    added: u64,
    rejected: Rejected,
}

/// Stores `batch` (the last line of an id wins) and empties it.
async fn store(
    state: &AppState,
    site: &str,
    batch: &mut Vec<Item>,
    feed_ms: i64,
    tally: &mut Tally,
) -> Result<(), ApiError> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, item) in batch.iter().enumerate() {
        last.insert(&item.id, i);
    }
    let unique: Vec<Item> = batch
        .iter()
        .enumerate()
        .filter(|(i, item)| last.get(item.id.as_str()) == Some(i))
        .map(|(_, item)| item.clone())
        .collect();
    tally.added += state.store.put_items(site, &unique, feed_ms).await?;
    tally.stored += batch.len() as u64;
    batch.clear();
    Ok(())
}

/// Reads a feed and stores its items; `whole` retires what it did not list.
async fn import(
    state: &AppState,
    site: &str,
    body: Body,
    whole: bool,
) -> Result<Json<Value>, ApiError> {
    // Every item this feed lists is stamped with the time it began.
    let feed_ms = crate::now_ms();
    let mut tally = Tally::default();
    let mut lines = Lines::new(body);
    let mut batch = Vec::with_capacity(BATCH);
    let mut listed_bad = Vec::new();
    while let Some((number, line)) = lines.next().await? {
        tally.lines += 1;
        let Line::Text(line) = line else {
            tally.rejected.add(number, fail("", "is not UTF-8 text"));
            continue;
        };
        match item_of_json(&line) {
            Ok(item) => batch.push(item),
            Err(e) => {
                tally.rejected.add(number, e);
                listed_bad.extend(id_of(&line));
            }
        }
        if batch.len() >= BATCH {
            store(state, site, &mut batch, feed_ms, &mut tally).await?;
        }
    }
    store(state, site, &mut batch, feed_ms, &mut tally).await?;
    let mut retired = 0;
    if whole {
        for chunk in listed_bad.chunks(BATCH) {
            state.store.touch_items(site, chunk, feed_ms).await?;
        }
        retired = state.store.retire_unlisted(site, feed_ms).await?;
    }
    let (items, in_stock) = state.store.catalog_counts(site).await?;
    Ok(Json(json!({
        "lines": tally.lines,
        "stored": tally.stored,
        "added": tally.added,
        "rejected": tally.rejected.count,
        "retired": retired,
        "errors": tally.rejected.errors,
        "errors_truncated": tally.rejected.truncated(),
        "items": items,
        "in_stock": in_stock,
    })))
}

/// `PUT /v1/admin/sites/{site}/catalog`: the whole catalog as JSON lines.
pub async fn put(
    State(state): State<AppState>,
    Path(site): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let site = crate::routes::known_site(&state, &site).await?.id;
    import(&state, &site, body, true).await
}

/// `POST /v1/admin/sites/{site}/catalog`: changes to the items listed.
pub async fn post(
    State(state): State<AppState>,
    Path(site): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let site = crate::routes::known_site(&state, &site).await?.id;
    import(&state, &site, body, false).await
}

#[derive(Deserialize)]
pub struct PageQuery {
    after: Option<String>,
    limit: Option<u32>,
}

/// `GET /v1/admin/sites/{site}/catalog?after=&limit=`: the items by id, a
/// page at a time (`next` is the `after` of the next page).
pub async fn get(
    State(state): State<AppState>,
    Path(site): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let site = crate::routes::known_site(&state, &site).await?.id;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let page = state
        .store
        .catalog_page(&site, q.after.as_deref().unwrap_or(""), limit)
        .await?;
    let (items, in_stock) = state.store.catalog_counts(&site).await?;
    let next = (page.len() == limit as usize)
        .then(|| page.last().map(|i| i.id.clone()))
        .flatten();
    Ok(Json(json!({
        "items": page,
        "next": next,
        "total": items,
        "in_stock": in_stock,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_line_is_an_item_or_names_its_field() {
        let item = item_of_json(
            r#"{"id": "knit-01", "name": "Wool crew knit", "url": "/p/knit-01", "image": "https://cdn.example/k.jpg", "price": 59000, "sale_price": 49000, "category": "knit", "brand": "Dangol"}"#,
        )
        .unwrap();
        assert_eq!(
            (item.id.as_str(), item.price, item.sale_price, item.in_stock),
            ("knit-01", 59000.0, Some(49000.0), true)
        );
        let field = |line: &str| item_of_json(line).unwrap_err().0;
        assert_eq!(field(r#"{"name": "x", "price": 1}"#), "id");
        assert_eq!(field(r#"{"id": "a", "price": 1}"#), "name");
        assert_eq!(field(r#"{"id": "a", "name": "x"}"#), "price");
        assert_eq!(field(r#"{"id": "a", "name": "x", "price": "1"}"#), "price");
        assert_eq!(field(r#"{"id": "a", "name": "x", "price": -1}"#), "price");
        assert_eq!(
            field(r#"{"id": "a", "name": "x", "price": 10, "sale_price": 10}"#),
            "sale_price"
        );
        assert_eq!(
            field(r#"{"id": "a", "name": "x", "price": 1, "url": "javascript:alert(1)"}"#),
            "url"
        );
        assert_eq!(
            field(r#"{"id": "a", "name": "x", "price": 1, "in_stock": "yes"}"#),
            "in_stock"
        );
        assert_eq!(
            field(r#"{"id": "a", "name": "x", "price": 1, "colour": "red"}"#),
            "colour"
        );
        assert_eq!(field("[1]"), "");
        assert_eq!(
            id_of(r#"{"id": "a", "price": "oops"}"#).as_deref(),
            Some("a")
        );
        assert_eq!(id_of("not json"), None);
    }
}
