//! "Why this offer?" in plain words, built from the attributes the winning
//! campaign's audience condition read. Nothing here leaves the browser: it
//! explains the shopper's own data back to them.

use serde_json::Value;

use crate::condition::Condition;

fn lookup<'v>(attrs: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(attrs, |v, key| v.get(key.as_str()))
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// One plain-words reason for one attribute path, if it says something
/// about the shopper.
fn phrase(path: &[String], attrs: &Value) -> Option<String> {
    let value = lookup(attrs, path);
    let joined = path.join(".");
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let count = |v: Option<&Value>| v.and_then(Value::as_f64).map(|n| n.max(0.0) as u64);
    Some(match joined.as_str() {
        "cart.items" | "cart.value" => {
            let items = count(lookup(attrs, &["cart".into(), "items".into()]))?;
            if items == 0 {
                return None;
            }
            format!("you have {} in your cart", plural(items, "item", "items"))
        }
        "cart.abandoned" => "you left items in your cart".to_string(),
        "lifecycle" => match text(value)?.as_str() {
            "new" => "you're new here".to_string(),
            "dormant" => "you're back after a while away".to_string(),
            "at_risk" => "it's been a while since your last order".to_string(),
            "loyal" => "you've ordered with us several times".to_string(),
            "vip" => "you're one of our best customers".to_string(),
            _ => "you've shopped with us before".to_string(),
        },
        "affinity" => {
            let top = value?.as_array()?.first()?.as_str()?.to_string();
            format!("you've been looking at {top}")
        }
        "viewed_without_buying" => format!(
            "you looked at {} more than once",
            plural(count(value)?.max(1), "item", "items")
        ),
        "price_sensitivity" => "you like a good deal".to_string(),
        "orders" => format!("you've placed {}", plural(count(value)?, "order", "orders")),
        "visits" | "sessions" => "you've visited us before".to_string(),
        "days_since_last_visit" => format!("you last visited {} days ago", count(value)?),
        "long_dwell_without_purchase" => "you've spent a while browsing".to_string(),
        "declared.tier" => format!("your membership tier is {}", text(value)?),
        "declared.points" => format!("you have {} points", count(value)?),
        "declared.birthday_month" => "it's your birthday month".to_string(),
        "utm.source" | "utm.medium" | "utm.campaign" => {
            "you came from one of our messages".to_string()
        }
        "device" => format!("you're on a {}", text(value)?),
        "local_hour" | "weekday" => "of the time of day".to_string(),
        _ if joined.starts_with("page.") => "of the page you're on".to_string(),
        _ if joined.starts_with("rfm.") => "of your order history".to_string(),
        _ if joined.starts_with("declared.") => "of what you told us".to_string(),
        _ => return None,
    })
}

/// Plain-words reasons why `condition` chose this shopper, without
/// repeats, most personal first. Empty for offers shown to everyone.
pub fn why(condition: &Condition, attributes: &Value) -> Vec<String> {
    let mut personal = Vec::new();
    let mut contextual = Vec::new();
    for path in condition.paths() {
        if let Some(p) = phrase(path, attributes) {
            let list = if p.starts_with("of ") {
                &mut contextual
            } else {
                &mut personal
            };
            if !list.contains(&p) {
                list.push(p);
            }
        }
    }
    personal.extend(contextual);
    personal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::NativeRegex;
    use serde_json::json;

    fn reasons(cond: Value, attrs: Value) -> Vec<String> {
        why(&Condition::compile(&cond, &NativeRegex).unwrap(), &attrs)
    }

    #[test]
    fn personal_reasons_come_first_in_plain_words() {
        let attrs = json!({"page": {"path": "/"}, "cart": {"items": 3, "value": 9}, "lifecycle": "dormant",
                           "affinity": ["running shoes", "socks"], "declared": {"tier": "gold"}});
        assert_eq!(
            reasons(
                json!({"page.path": "/", "cart.items": {"$gt": 0}, "$or": [{"lifecycle": "dormant"}, {"affinity": "running shoes"}], "declared.tier": "gold"}),
                attrs
            ),
            [
                "you're back after a while away",
                "you've been looking at running shoes",
                "you have 3 items in your cart",
                "your membership tier is gold",
                "of the page you're on",
            ]
        );
    }

    #[test]
    fn offers_for_everyone_have_no_personal_reason() {
        assert!(reasons(json!({}), json!({})).is_empty());
        assert_eq!(
            reasons(json!({"cart.items": 0}), json!({"cart": {"items": 0}})),
            Vec::<String>::new()
        );
        assert_eq!(
            reasons(
                json!({"cart.value": {"$gt": 5}}),
                json!({"cart": {"items": 1, "value": 9}})
            ),
            ["you have 1 item in your cart"]
        );
    }
}
