//! Order import: a shop's order history (years of it, on day one) as JSON
//! lines or CSV, streamed, idempotent by order id, with an error per bad
//! line that names the line and the field.
//!
//! Each order is stored as an `order` event of a pseudonymous id made for
//! the customer (`ord` and 29 hex digits of a hash of the site and the
//! customer id), linked to the customer as an identified browser is (see
//! [`crate::identity`]). So imported orders count toward the customer's
//! profile (RFM, lifecycle, the profile their browsers merge), appear in
//! segments under the customer id, and go when the customer is erased. An
//! `order` is not a purchase an offer could have caused: results never
//! attribute it, and retention keeps it (it is the shop's own history, not
//! a measurement). The same order id imported again is stored once; a
//! customer who was erased is refused, so an import cannot bring them back.

use std::collections::HashSet;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use dangol_engine::event::Event;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::upload::{Line, Lines, Rejected, fail, text_field};

pub(crate) const ORDERS: &str = "/v1/admin/sites/{site}/orders";

/// Orders stored per transaction.
const BATCH: usize = 20_000;

/// One order, as imported.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The shop's customer id.
    pub customer: String,
    /// The shop's order id.
    pub order: String,
    /// When it was placed (ms since the epoch).
    pub ts: i64,
    /// Its value in the site's currency.
    pub value: f64,
    /// The first item's category, if any.
    pub category: Option<String>,
    /// The first item's id, if any.
    pub item: Option<String>,
}

/// The pseudonymous id an imported customer's orders are stored under.
pub fn customer_anon(site: &str, customer: &str) -> String {
    let digest = Sha256::digest(format!("{site}\0{customer}").as_bytes());
    format!("ord{}", &hex::encode(digest)[..29])
}

/// The event id of an order: the same order id always gives the same id.
///
/// An order id of 6 to 62 letters, digits, `-` or `_` (an order number, as
/// most shops' are) is kept in it: `o-` and the order id. A history's ids
/// then go into the events' key index next to each other, in the order the
/// shop numbered them, rather than at random places, which makes a large
/// import about 1.6 times as fast. Any other order id is hashed: `ord_`
/// and 40 hex digits of its SHA-256, the one form before ids were kept
/// (see [`hashed_order_event_id`]). Both forms are kept for imports: the
/// ingest route refuses events whose id starts with either
/// ([`is_import_id`]), so no page can take an order's id first.
pub fn order_event_id(order: &str) -> String {
    if (6..=62).contains(&order.len())
        && order
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        format!("o-{order}")
    } else {
        hashed_order_event_id(order)
    }
}

/// An order's id in the hashed form: the form every order was stored
/// under before ids were kept, looked for when such an order is imported
/// again (see [`Stored::hashed`]).
pub fn hashed_order_event_id(order: &str) -> String {
    format!(
        "ord_{}",
        &hex::encode(Sha256::digest(order.as_bytes()))[..40]
    )
}

/// Whether an event id is of the forms kept for imported orders.
pub fn is_import_id(id: &str) -> bool {
    id.starts_with("o-") || id.starts_with("ord_")
}

/// A time as milliseconds since the epoch, or `YYYY-MM-DD`, optionally with
/// `THH:MM[:SS[.fff]]` and `Z` or `±HH:MM` (UTC without one).
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let day = dangol_engine::time::day_number(text.get(..10)?)?;
    let mut ms = day * 86_400_000;
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(ms);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let two = |s: &str, max: i64| -> Option<i64> {
        let n = dangol_engine::cat::digits(s.get(..2)?)? as i64;
        (s.len() >= 2 && n <= max).then_some(n)
    };
    let (hh, mm) = (two(rest, 23)?, two(rest.get(3..)?, 59)?);
    if rest.as_bytes().get(2) != Some(&b':') {
        return None;
    }
    ms += hh * 3_600_000 + mm * 60_000;
    let mut rest = &rest[5..];
    if let Some(s) = rest.strip_prefix(':') {
        ms += two(s, 60)? * 1000;
        rest = &s[2..];
        if let Some(f) = rest.strip_prefix('.') {
            let digits = f.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let frac: String = f[..digits].chars().chain("000".chars()).take(3).collect();
            ms += frac.parse::<i64>().ok()?;
            rest = &f[digits..];
        }
    }
    match rest {
        "" | "Z" | "z" => Some(ms),
        offset => {
            let sign = match offset.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = (two(&offset[1..], 23)?, two(offset.get(4..)?, 59)?);
            if offset.len() != 6 || offset.as_bytes()[3] != b':' {
                return None;
            }
            Some(ms - sign * (oh * 3_600_000 + om * 60_000))
        }
    }
}

fn value_field(v: Option<&Value>) -> Result<f64, (String, String)> {
    let x = match v {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        None | Some(Value::Null) => return Err(fail("value", "is missing")),
        Some(_) => None,
    };
    x.filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| fail("value", "must be a number of at least 0"))
}

fn time_field(v: Option<&Value>) -> Result<i64, (String, String)> {
    let ts = match v {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => parse_time(s),
        None | Some(Value::Null) => return Err(fail("time", "is missing")),
        Some(_) => None,
    };
    ts.ok_or_else(|| {
        fail(
            "time",
            "must be milliseconds since 1970 or a date and time like 2024-03-01T10:15:00Z",
        )
    })
}

/// One order from a JSON line: `{"customer_id", "order_id", "time",
/// "value", "items"?: [{"item_id", "item_category"?, ...}]}`.
pub fn order_of_json(line: &str) -> Result<Order, (String, String)> {
    let v: Value =
        serde_json::from_str(line).map_err(|e| fail("", format!("is not JSON ({e})")))?;
    let Value::Object(o) = v else {
        return Err(fail("", "must be a JSON object"));
    };
    order_of(&o)
}

fn order_of(o: &Map<String, Value>) -> Result<Order, (String, String)> {
    const FIELDS: &[&str] = &[
        "customer_id",
        "order_id",
        "time",
        "value",
        "items",
        "category",
        "item_id",
    ];
    if let Some(k) = o.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(fail(k, "is not a field of an order"));
    }
    let customer = text_field(o.get("customer_id"), "customer_id", 128)?;
    let order = text_field(o.get("order_id"), "order_id", 128)?;
    let ts = time_field(o.get("time"))?;
    let value = value_field(o.get("value"))?;
    let mut category = match o.get("category") {
        None | Some(Value::Null) => None,
        v => Some(text_field(v, "category", 64)?),
    };
    let mut item = match o.get("item_id") {
        None | Some(Value::Null) => None,
        v => Some(text_field(v, "item_id", 64)?),
    };
    match o.get("items") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, it) in items.iter().enumerate() {
                let Value::Object(it) = it else {
                    return Err(fail(&format!("items[{i}]"), "must be an object"));
                };
                if item.is_none() && it.contains_key("item_id") {
                    item = Some(text_field(
                        it.get("item_id"),
                        &format!("items[{i}].item_id"),
                        64,
                    )?);
                }
                if category.is_none() && it.contains_key("item_category") {
                    category = Some(text_field(
                        it.get("item_category"),
                        &format!("items[{i}].item_category"),
                        64,
                    )?);
                }
            }
        }
        Some(_) => return Err(fail("items", "must be an array")),
    }
    Ok(Order {
        customer,
        order,
        ts,
        value,
        category,
        item,
    })
}

/// The fields of one CSV line (RFC 4180 quoting, no line breaks inside).
pub fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut started = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if started && field.is_empty() => quoted = true,
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => {
                quoted = false;
                started = false;
            }
            (false, ',') => {
                out.push(std::mem::take(&mut field));
                started = true;
            }
            (false, _) if !started => return Err("text after a closing quote".into()),
            (_, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    out.push(field);
    Ok(out)
}

/// The columns a CSV import needs and may have.
const CSV_REQUIRED: &[&str] = &["customer_id", "order_id", "time", "value"];
const CSV_OPTIONAL: &[&str] = &["category", "item_id"];

fn csv_header(line: &str) -> Result<Vec<String>, ApiError> {
    let names = csv_fields(line)
        .map_err(|e| ApiError::bad_request(format!("the CSV header is not readable: {e}")))?;
    let names: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    for required in CSV_REQUIRED {
        if !names.iter().any(|n| n == required) {
            return Err(ApiError::bad_request(format!(
                "the CSV header has no `{required}` column (it needs customer_id, order_id, time and value; category and item_id may follow)"
            )));
        }
    }
    if let Some(other) = names
        .iter()
        .find(|n| !CSV_REQUIRED.contains(&n.as_str()) && !CSV_OPTIONAL.contains(&n.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "the CSV header names `{other}`, which is not a column of an order (customer_id, order_id, time, value, category, item_id)"
        )));
    }
    Ok(names)
}

fn order_of_csv(line: &str, header: &[String]) -> Result<Order, (String, String)> {
    let fields = csv_fields(line).map_err(|e| fail("", e))?;
    if fields.len() != header.len() {
        return Err(fail(
            "",
            format!(
                "has {} fields; the header has {}",
                fields.len(),
                header.len()
            ),
        ));
    }
    let mut o = Map::new();
    for (name, value) in header.iter().zip(fields) {
        if !value.is_empty() {
            o.insert(name.clone(), Value::String(value));
        }
    }
    order_of(&o)
}

/// What an import did.
#[derive(Debug, Default)]
struct Tally {
    lines: u64,
    /// Lines that are not an order.
    rejected: Rejected,
    /// What storing the orders found.
    stored: Stored,
}

/// What storing an import's orders found.
#[derive(Debug, Default)]
struct Stored {
    imported: u64,
    duplicates: u64,
    customers: HashSet<String>,
    /// The ids of customers with orders stored by this import, whose
    /// rollups are made again once it ends.
    changed: HashSet<String>,
    /// Orders refused when stored (an erased customer, a time out of range).
    rejected: Rejected,
    /// The hashed ids of orders this import's customers had stored before
    /// it began: an order stored under its hashed id before ids were kept
    /// is a duplicate when imported again.
    hashed: HashSet<String>,
}

/// Stores a batch: links each new customer's id, refuses erased customers,
/// stores the orders once per order id.
async fn store_batch(
    state: &AppState,
    site: &str,
    batch: &mut Vec<(u64, Order)>,
    tally: &mut Stored,
) -> Result<(), ApiError> {
    if batch.is_empty() {
        return Ok(());
    }
    let now = crate::now_ms();
    // Each order's customer id, worked out once.
    let anons: Vec<String> = batch
        .iter()
        .map(|(_, order)| customer_anon(site, &order.customer))
        .collect();
    // The batch's new customers, linked at once; erased ones stay out.
    let mut new: Vec<(String, String)> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for ((_, order), anon) in batch.iter().zip(&anons) {
        if !tally.customers.contains(&order.customer) && seen.insert(&order.customer) {
            new.push((anon.clone(), order.customer.clone()));
        }
    }
    let erased: HashSet<String> = state
        .store
        .link_unerased(site, &new, now)
        .await?
        .into_iter()
        .collect();
    // The orders that customers new to this import had stored already, by
    // their hashed ids (the ids of an earlier import may be of that form
    // only). A customer new to the site has none: the lookup finds nothing.
    let known: Vec<String> = new
        .iter()
        .filter(|(anon, _)| !erased.contains(anon))
        .map(|(anon, _)| anon.clone())
        .collect();
    for event in state.store.shopper_events(site, &known).await? {
        if event.id.starts_with("ord_") {
            tally.hashed.insert(event.id);
        }
    }
    for (anon, customer) in new {
        if !erased.contains(&anon) {
            tally.customers.insert(customer);
        }
    }
    let mut events = Vec::with_capacity(batch.len());
    let mut stored_before = 0;
    for ((line, order), anon) in batch.drain(..).zip(anons) {
        if erased.contains(&anon) {
            tally.rejected.add(
                line,
                fail(
                    "customer_id",
                    format!("customer `{}` was erased", order.customer),
                ),
            );
            continue;
        }
        let id = order_event_id(&order.order);
        if !tally.hashed.is_empty()
            && id.starts_with("o-")
            && tally.hashed.contains(&hashed_order_event_id(&order.order))
        {
            stored_before += 1;
            continue;
        }
        let event = Event {
            id,
            kind: "order".into(),
            ts: order.ts,
            anon,
            campaign: None,
            variant: None,
            item: order.item,
            category: order.category,
            price: Some(order.value),
            answer: None,
        };
        if let Err(e) = event.check(now) {
            let field = if e.starts_with("`ts`") { "time" } else { "" };
            tally.rejected.add(line, fail(field, e));
            continue;
        }
        events.push(event);
    }
    tally.duplicates += stored_before;
    if events.is_empty() {
        return Ok(());
    }
    let new = state.store.store_events(site, &events, now).await?;
    for (event, fresh) in events.iter().zip(&new) {
        if *fresh && !tally.changed.contains(&event.anon) {
            tally.changed.insert(event.anon.clone());
        }
    }
    let fresh = new.iter().filter(|n| **n).count() as u64;
    tally.imported += fresh;
    tally.duplicates += new.len() as u64 - fresh;
    Ok(())
}

/// `POST /v1/admin/sites/{site}/orders`: JSON lines (one order per line), or
/// CSV with a header when the content type is `text/csv`.
pub async fn import(
    State(state): State<AppState>,
    Path(site): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let site = crate::routes::known_site(&state, &site).await?.id;
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/csv"));
    let mut tally = Tally::default();
    // Orders are stored without marking their customers pending, so the
    // rollups do not compete with the import for the database; they are
    // marked once at the end, also when the upload breaks off.
    let read = read_orders(&state, &site, csv, body, &mut tally).await;
    let changed: Vec<&str> = tally.stored.changed.iter().map(String::as_str).collect();
    for chunk in changed.chunks(1000) {
        state.store.mark_pending(&site, chunk).await?;
    }
    read?;
    let stored = tally.stored;
    let rejected = tally.rejected.merge(stored.rejected);
    Ok(Json(json!({
        "lines": tally.lines,
        "imported": stored.imported,
        "duplicates": stored.duplicates,
        "rejected": rejected.count,
        "customers": stored.customers.len(),
        "errors": rejected.errors,
        "errors_truncated": rejected.truncated(),
    })))
}

/// Reads the upload line by line and stores its orders in batches, each
/// batch stored (on another thread) while the next is read and parsed.
async fn read_orders(
    state: &AppState,
    site: &str,
    csv: bool,
    body: Body,
    tally: &mut Tally,
) -> Result<(), ApiError> {
    let mut lines = Lines::new(body);
    let mut header_row: Option<Vec<String>> = None;
    let mut storing: Option<tokio::task::JoinHandle<(Stored, Result<(), ApiError>)>> = None;
    // What was stored comes back with each batch's result, also when it
    // failed, so the customers stored so far are still marked.
    async fn wait(
        storing: &mut Option<tokio::task::JoinHandle<(Stored, Result<(), ApiError>)>>,
        into: &mut Stored,
    ) -> Result<(), ApiError> {
        let Some(task) = storing.take() else {
            return Ok(());
        };
        let (stored, done) = task
            .await
            .map_err(|e| ApiError::internal(format!("storing a batch of orders failed: {e}")))?;
        *into = stored;
        done
    }
    loop {
        let next = next_batch(
            &mut lines,
            &mut header_row,
            csv,
            &mut tally.lines,
            &mut tally.rejected,
        )
        .await;
        wait(&mut storing, &mut tally.stored).await?;
        let (mut batch, more) = next?;
        let mut stored = std::mem::take(&mut tally.stored);
        let (state, site) = (state.clone(), site.to_string());
        storing = Some(tokio::spawn(async move {
            let done = store_batch(&state, &site, &mut batch, &mut stored).await;
            (stored, done)
        }));
        if !more {
            return wait(&mut storing, &mut tally.stored).await;
        }
    }
}

/// The next [`BATCH`] orders of the upload (fewer at its end), counting
/// its lines and rejecting those that are not an order; and whether the
/// upload goes on.
async fn next_batch(
    lines: &mut Lines,
    header_row: &mut Option<Vec<String>>,
    csv: bool,
    count: &mut u64,
    rejected: &mut Rejected,
) -> Result<(Vec<(u64, Order)>, bool), ApiError> {
    let mut batch: Vec<(u64, Order)> = Vec::with_capacity(BATCH);
    while let Some((line_no, line)) = lines.next().await? {
        let Line::Text(line) = line else {
            *count += 1;
            rejected.add(line_no, fail("", "is not UTF-8 text"));
            continue;
        };
        if csv && header_row.is_none() {
            *header_row = Some(csv_header(&line)?);
            continue;
        }
        *count += 1;
        let parsed = match header_row {
            Some(h) => order_of_csv(&line, h),
            None => order_of_json(&line),
        };
        match parsed {
            Ok(order) => batch.push((line_no, order)),
            Err(e) => rejected.add(line_no, e),
        }
        if batch.len() >= BATCH {
            return Ok((batch, true));
        }
    }
    Ok((batch, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_are_kept_in_their_event_ids_and_other_ids_hashed() {
        assert_eq!(order_event_id("100234"), "o-100234");
        assert_eq!(order_event_id("ord-000000123"), "o-ord-000000123");
        let longest = "a".repeat(62);
        assert_eq!(order_event_id(&longest), format!("o-{longest}"));
        // Too short, too long or other characters: hashed, as before.
        for other in ["12345", &"a".repeat(63), "#1001", "A 1", "주문-123456"] {
            let id = order_event_id(other);
            assert_eq!(id, hashed_order_event_id(other));
            assert!(id.starts_with("ord_") && id.len() == 44, "{id}");
        }
        // Either form is an event id, and kept for imports.
        for id in [order_event_id("100234"), order_event_id("#1001")] {
            assert!(is_import_id(&id));
            assert!(
                dangol_engine::event::Event {
                    id: id.clone(),
                    kind: "order".into(),
                    ts: 1_700_000_000_000,
                    anon: customer_anon("demo", "c"),
                    campaign: None,
                    variant: None,
                    item: None,
                    category: None,
                    price: Some(1.0),
                    answer: None,
                }
                .check(1_700_000_000_000)
                .is_ok()
            );
        }
        assert!(!is_import_id("e0123456789abcdef01234567"));
    }

    #[test]
    fn times_read_as_milliseconds_dates_or_date_times_with_offsets() {
        assert_eq!(parse_time("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_time("2024-03-01"), Some(1_709_251_200_000));
        assert_eq!(parse_time("2024-03-01T10:15:00Z"), Some(1_709_288_100_000));
        assert_eq!(parse_time("2024-03-01 10:15"), Some(1_709_288_100_000));
        assert_eq!(
            parse_time("2024-03-01T10:15:00.5Z"),
            Some(1_709_288_100_500)
        );
        assert_eq!(
            parse_time("2024-03-01T19:15:00+09:00"),
            Some(1_709_288_100_000)
        );
        assert_eq!(
            parse_time("2024-03-01T05:15:00-05:00"),
            Some(1_709_288_100_000)
        );
        for bad in [
            "",
            "yesterday",
            "2024-02-30",
            "2024-03-01T25:00",
            "2024-03-01T10:15+9",
            "2024-03-01X",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_json_line_is_an_order_or_names_its_field() {
        let o = order_of_json(
            r#"{"customer_id": "c-1", "order_id": 1001, "time": "2024-03-01", "value": "59000",
                "items": [{"item_id": "knit-01", "item_category": "knit"}]}"#,
        )
        .unwrap();
        assert_eq!(
            (
                o.customer.as_str(),
                o.order.as_str(),
                o.value,
                o.category.as_deref(),
                o.item.as_deref()
            ),
            ("c-1", "1001", 59000.0, Some("knit"), Some("knit-01"))
        );
        for (line, field) in [
            (r#"{"order_id": "1", "time": 1, "value": 1}"#, "customer_id"),
            (
                r#"{"customer_id": "c", "order_id": "1", "time": "soon", "value": 1}"#,
                "time",
            ),
            (
                r#"{"customer_id": "c", "order_id": "1", "time": "2024-03-01", "value": -3}"#,
                "value",
            ),
            (
                r#"{"customer_id": "c", "order_id": "1", "time": "2024-03-01", "value": 1, "colour": "red"}"#,
                "colour",
            ),
            (
                r#"{"customer_id": "c", "order_id": "1", "time": "2024-03-01", "value": 1, "items": [3]}"#,
                "items[0]",
            ),
            (r#"[1, 2]"#, ""),
            (r#"{"customer_id": "#, ""),
        ] {
            assert_eq!(order_of_json(line).unwrap_err().0, field, "{line}");
        }
    }

    #[test]
    fn csv_fields_follow_rfc_4180_quoting() {
        assert_eq!(csv_fields("a,b,,c").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(
            csv_fields(r#""Kim, Minji","say ""hi""",3"#).unwrap(),
            ["Kim, Minji", r#"say "hi""#, "3"]
        );
        assert!(csv_fields(r#""open,1"#).is_err());
        assert!(csv_fields(r#""a"b,1"#).is_err());
        let header = csv_header("customer_id,order_id,time,value,category").unwrap();
        let o = order_of_csv("c-1,A-1,2024-03-01T10:15:00Z,39000,knit", &header).unwrap();
        assert_eq!(
            (o.ts, o.category.as_deref()),
            (1_709_288_100_000, Some("knit"))
        );
        assert_eq!(
            order_of_csv("c-1,A-1,2024-03-01", &header).unwrap_err().0,
            ""
        );
        assert!(csv_header("customer_id,order_id,value").is_err());
        assert!(csv_header("customer_id,order_id,time,value,colour").is_err());
    }

    #[test]
    fn an_imported_customer_has_one_stable_id() {
        let a = customer_anon("demo", "c-1");
        assert_eq!(a, customer_anon("demo", "c-1"));
        assert_ne!(a, customer_anon("demo", "c-2"));
        assert_ne!(a, customer_anon("other", "c-1"));
        assert_eq!(a.len(), 32);
        assert!(a.starts_with("ord"));
        assert_eq!(order_event_id("A-1"), order_event_id("A-1"));
        assert!(order_event_id("A-1").len() <= 64);
    }
}
