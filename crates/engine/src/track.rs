//! Reading the page's e-commerce calls: `dangol.track(name, props)` and
//! GA4 `dataLayer` pushes use the same names and fields (GA4's
//! `ecommerce.items[]` with `item_id`, `item_name`, `item_category`,
//! `item_brand`, `price`, `quantity`; `value`, `currency`,
//! `transaction_id`, `coupon`).
//!
//! A call becomes profile inputs (kept in the browser) and, with
//! measurement consent, events limited to what the privacy rules allow:
//! product and category ids and prices, never names, search terms or
//! anything declared.

use crate::cat::{cat, int, uint};
use crate::json::{Map, Value};

use crate::condition::type_name;
use crate::profile::Input;

/// Most items one call may carry.
pub const MAX_ITEMS: usize = 50;

/// The GA4 e-commerce events read from `dataLayer` (other pushes are the
/// tag manager's own business).
pub const DATA_LAYER_EVENTS: &[&str] = &[
    "view_item",
    "view_item_list",
    "add_to_cart",
    "remove_from_cart",
    "begin_checkout",
    "purchase",
];

/// The GA4 fields an item may carry; anything else is refused by name.
pub const ITEM_FIELDS: &[&str] = &[
    "item_id",
    "item_name",
    "item_brand",
    "item_category",
    "item_category2",
    "item_category3",
    "item_category4",
    "item_category5",
    "item_variant",
    "item_list_id",
    "item_list_name",
    "affiliation",
    "coupon",
    "discount",
    "index",
    "location_id",
    "price",
    "quantity",
];

/// The GA4 event-level fields a call may carry.
pub const EVENT_FIELDS: &[&str] = &[
    "items",
    "value",
    "currency",
    "transaction_id",
    "coupon",
    "shipping",
    "tax",
    "affiliation",
    "item_list_id",
    "item_list_name",
    "search_term",
    "method",
    "payment_type",
    "shipping_tier",
    "promotion_id",
    "promotion_name",
    "creative_name",
    "creative_slot",
    // Shorthand for one item without an `items` array.
    "item_id",
    "item_name",
    "item_brand",
    "item_category",
    "price",
    "quantity",
];

/// What may leave the browser for one tracked call (with measurement
/// consent): the type and the site's own ids and prices.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The event type.
    pub kind: String,
    /// The site's product id.
    pub item: Option<String>,
    /// The site's category id.
    pub category: Option<String>,
    /// A price (for a purchase, the order value).
    pub price: Option<f64>,
}

/// A tracked call, interpreted.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    /// Inputs for the local profile.
    pub inputs: Vec<Input>,
    /// Events to send with measurement consent.
    pub outgoing: Vec<Outgoing>,
}

#[derive(Debug, Clone)]
struct Item {
    id: String,
    category: Option<String>,
    brand: Option<String>,
    price: f64,
    quantity: u32,
}

fn text(obj: &Map, key: &str, path: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= 200 => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(cat(&["`", path, key, "` is longer than 200 characters"])),
        // GA4 ids are often numbers; read them as text.
        Some(Value::Number(n)) if key.ends_with("_id") => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Ok(Some(uint(u))),
            (None, Some(i)) => Ok(Some(int(i))),
            _ => Err(cat(&[
                "`",
                path,
                key,
                "` must be a string or a whole number",
            ])),
        },
        Some(other) => Err(cat(&[
            "`",
            path,
            key,
            "` must be a string, found ",
            type_name(other),
        ])),
    }
}

fn number(obj: &Map, key: &str, path: &str) -> Result<Option<f64>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(cat(&["`", path, key, "` must be a number of at least 0"])),
        },
        Some(other) => Err(cat(&[
            "`",
            path,
            key,
            "` must be a number, found ",
            type_name(other),
        ])),
    }
}

fn known(obj: &Map, allowed: &[&str], path: &str) -> Result<(), String> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(cat(&["unknown field `", path, k, "`"])),
        None => Ok(()),
    }
}

fn item(obj: &Map, path: &str) -> Result<Item, String> {
    known(obj, ITEM_FIELDS, path)?;
    let id = text(obj, "item_id", path)?
        .or(text(obj, "item_name", path)?)
        .ok_or_else(|| cat(&["`", path, "item_id` is missing"]))?;
    let quantity = number(obj, "quantity", path)?.unwrap_or(1.0);
    Ok(Item {
        id,
        category: text(obj, "item_category", path)?,
        brand: text(obj, "item_brand", path)?,
        price: number(obj, "price", path)?.unwrap_or(0.0),
        quantity: (quantity.round() as u32).clamp(1, 999),
    })
}

fn items(props: &Map) -> Result<Vec<Item>, String> {
    match props.get("items") {
        Some(Value::Array(list)) => {
            if list.len() > MAX_ITEMS {
                return Err(cat(&[
                    &uint(list.len() as u64),
                    " items; at most ",
                    &uint(MAX_ITEMS as u64),
                    " are allowed",
                ]));
            }
            list.iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Object(o) => item(o, &cat(&["items[", &uint(i as u64), "]."])),
                    other => Err(cat(&[
                        "`items[",
                        &uint(i as u64),
                        "]` must be an object, found ",
                        type_name(other),
                    ])),
                })
                .collect()
        }
        Some(other) => Err(cat(&["`items` must be an array, found ", type_name(other)])),
        None if props.contains_key("item_id") || props.contains_key("item_name") => {
            let mut one = Map::new();
            for key in [
                "item_id",
                "item_name",
                "item_brand",
                "item_category",
                "price",
                "quantity",
            ] {
                if let Some(v) = props.get(key) {
                    one.set(key, v.clone());
                }
            }
            Ok(vec![item(&one, "")?])
        }
        None => Ok(Vec::new()),
    }
}

fn out(kind: &str, item: Option<&Item>, price: Option<f64>) -> Outgoing {
    Outgoing {
        kind: kind.to_string(),
        item: item.map(|i| i.id.clone()),
        category: item.and_then(|i| i.category.clone()),
        price: price.or(item.map(|i| i.price)),
    }
}

/// Interprets one call. The error names the problem; the call is dropped.
///
/// ```
/// use dangol_engine::track::interpret;
/// use dangol_engine::json;
/// let t = interpret("add_to_cart", &json!({"items": [{"item_id": "knit-01", "price": 59000}]})).unwrap();
/// assert_eq!(t.outgoing[0].item.as_deref(), Some("knit-01"));
/// assert_eq!(
///     interpret("add_to_cart", &json!({"items": [{"item_id": "x", "colour": "red"}]})).unwrap_err(),
///     "unknown field `items[0].colour`"
/// );
/// ```
pub fn interpret(name: &str, props: &Value) -> Result<Tracked, String> {
    if name.is_empty()
        || name.len() > 40
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(cat(&[
            "event name `",
            name,
            "` must be 1-40 characters of a-z, 0-9 or `_`",
        ]));
    }
    let empty = Map::new();
    let props = match props {
        Value::Object(map) => map,
        Value::Null => &empty,
        other => {
            return Err(cat(&[
                "the properties must be an object, found ",
                type_name(other),
            ]));
        }
    };
    known(props, EVENT_FIELDS, "")?;
    let list = items(props)?;
    let value = number(props, "value", "")?;
    let mut inputs = Vec::new();
    let mut outgoing = Vec::new();
    match name {
        "view_item" => {
            for i in &list {
                inputs.push(Input::ViewItem {
                    item: i.id.clone(),
                    category: i.category.clone(),
                    brand: i.brand.clone(),
                });
                outgoing.push(out(name, Some(i), None));
            }
            if list.is_empty() {
                return Err("`view_item` needs `items` (or `item_id`)".into());
            }
        }
        "view_item_list" => {
            let category =
                text(props, "item_list_id", "")?.or(list.first().and_then(|i| i.category.clone()));
            inputs.push(Input::PageView {
                category: category.clone(),
                sale: false,
            });
            outgoing.push(Outgoing {
                kind: name.to_string(),
                item: None,
                category,
                price: None,
            });
        }
        "add_to_cart" | "remove_from_cart" => {
            if list.is_empty() {
                return Err(cat(&["`", name, "` needs `items` (or `item_id`)"]));
            }
            for i in &list {
                inputs.push(if name == "add_to_cart" {
                    Input::AddToCart {
                        item: i.id.clone(),
                        category: i.category.clone(),
                        price: i.price,
                        quantity: i.quantity,
                    }
                } else {
                    Input::RemoveFromCart { item: i.id.clone() }
                });
                outgoing.push(out(name, Some(i), None));
            }
        }
        "purchase" => {
            let total =
                value.unwrap_or_else(|| list.iter().map(|i| i.price * f64::from(i.quantity)).sum());
            let coupon = text(props, "coupon", "")?.is_some()
                || props
                    .get("items")
                    .and_then(Value::as_array)
                    .is_some_and(|l| {
                        l.iter()
                            .any(|i| i.get("coupon").is_some_and(|c| !c.is_null()))
                    });
            let (mut categories, mut items) = (Vec::new(), Vec::new());
            for i in &list {
                if let Some(c) = &i.category {
                    categories.push(c.clone());
                }
                items.push(i.id.clone());
            }
            inputs.push(Input::Purchase {
                transaction_id: text(props, "transaction_id", "")?,
                value: total,
                categories,
                items,
                coupon,
            });
            outgoing.push(out(name, None, Some(total)));
        }
        "search" => {
            // The search term stays in the browser.
            outgoing.push(out(name, None, None));
        }
        _ => outgoing.push(out(name, None, value)),
    }
    Ok(Tracked { inputs, outgoing })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn ga4_purchase_maps_to_one_order_with_categories_and_coupon() {
        let t = interpret(
            "purchase",
            &json!({"transaction_id": "T_12345", "value": 118000, "currency": "KRW", "coupon": "WINTER",
                    "items": [{"item_id": "knit-01", "item_name": "Wool crew knit", "item_category": "knit", "price": 59000, "quantity": 2}]}),
        )
        .unwrap();
        assert_eq!(
            t.inputs,
            [Input::Purchase {
                transaction_id: Some("T_12345".into()),
                value: 118000.0,
                categories: vec!["knit".into()],
                items: vec!["knit-01".into()],
                coupon: true
            }]
        );
        assert_eq!(
            t.outgoing,
            [Outgoing {
                kind: "purchase".into(),
                item: None,
                category: None,
                price: Some(118000.0)
            }]
        );
    }

    #[test]
    fn items_become_one_input_and_event_each_without_names() {
        let t = interpret("add_to_cart", &json!({"items": [
            {"item_id": 1001, "item_name": "Coat", "item_category": "outer", "price": 189000, "quantity": 1},
            {"item_id": "cap-01", "price": 19000, "quantity": 3}]})).unwrap();
        assert_eq!(t.inputs.len(), 2);
        assert_eq!(
            t.outgoing[0],
            Outgoing {
                kind: "add_to_cart".into(),
                item: Some("1001".into()),
                category: Some("outer".into()),
                price: Some(189000.0)
            }
        );
        assert_eq!(
            t.inputs[1],
            Input::AddToCart {
                item: "cap-01".into(),
                category: None,
                price: 19000.0,
                quantity: 3
            }
        );
    }

    #[test]
    fn shorthand_single_items_and_search_terms_that_stay_local() {
        let t = interpret(
            "view_item",
            &json!({"item_id": "knit-02", "item_category": "knit"}),
        )
        .unwrap();
        assert_eq!(t.outgoing[0].item.as_deref(), Some("knit-02"));
        let s = interpret("search", &json!({"search_term": "cashmere"})).unwrap();
        assert_eq!(
            s.outgoing,
            [Outgoing {
                kind: "search".into(),
                item: None,
                category: None,
                price: None
            }]
        );
    }

    #[test]
    fn bad_calls_are_refused_naming_the_problem() {
        let cases = [
            (
                "Add To Cart",
                json!({}),
                "event name `Add To Cart` must be 1-40 characters of a-z, 0-9 or `_`",
            ),
            (
                "add_to_cart",
                json!([]),
                "the properties must be an object, found array",
            ),
            (
                "add_to_cart",
                json!({"email": "a@b.c"}),
                "unknown field `email`",
            ),
            (
                "add_to_cart",
                json!({"items": "knit"}),
                "`items` must be an array, found string",
            ),
            (
                "add_to_cart",
                json!({"items": [{"price": 5}]}),
                "`items[0].item_id` is missing",
            ),
            (
                "add_to_cart",
                json!({"items": [{"item_id": "x", "price": -1}]}),
                "`items[0].price` must be a number of at least 0",
            ),
            (
                "add_to_cart",
                json!({}),
                "`add_to_cart` needs `items` (or `item_id`)",
            ),
            (
                "purchase",
                json!({"value": "59000"}),
                "`value` must be a number, found string",
            ),
        ];
        for (name, props, want) in cases {
            assert_eq!(interpret(name, &props).unwrap_err(), want, "{name} {props}");
        }
        let many: Vec<Value> = (0..=MAX_ITEMS)
            .map(|i| json!({"item_id": i.to_string()}))
            .collect();
        assert!(
            interpret("add_to_cart", &json!({"items": many}))
                .unwrap_err()
                .contains("at most 50")
        );
    }

    #[test]
    fn custom_events_carry_only_their_name_and_value() {
        let t = interpret("newsletter_signup", &json!({"value": 3})).unwrap();
        assert_eq!(
            t.outgoing,
            [Outgoing {
                kind: "newsletter_signup".into(),
                item: None,
                category: None,
                price: Some(3.0)
            }]
        );
        assert!(t.inputs.is_empty());
    }
}
