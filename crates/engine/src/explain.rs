//! "Why this offer?" in plain words, built from the attributes the winning
//! campaign's audience condition read. Nothing here leaves the browser: it
//! explains the shopper's own data back to them.

use crate::json::Value;

use crate::condition::Condition;
use crate::i18n::Lang;

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
/// about the shopper, and whether it is about the context rather than the
/// shopper.
fn phrase(path: &[String], attrs: &Value, lang: Lang) -> Option<(String, bool)> {
    let value = lookup(attrs, path);
    let joined = path.join(".");
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let count = |v: Option<&Value>| v.and_then(Value::as_f64).map(|n| n.max(0.0) as u64);
    let ko = lang == Lang::Ko;
    let pick = |k: &str, e: &str| if ko { k.to_string() } else { e.to_string() };
    let personal = match joined.as_str() {
        "cart.items" | "cart.value" => {
            let items = count(lookup(attrs, &["cart".into(), "items".into()]))?;
            if items == 0 {
                return None;
            }
            if ko {
                format!("장바구니에 상품 {items}개가 있어서")
            } else {
                format!("you have {} in your cart", plural(items, "item", "items"))
            }
        }
        "cart.abandoned" => pick(
            "장바구니에 담아 두신 상품이 있어서",
            "you left items in your cart",
        ),
        "lifecycle" => match text(value)?.as_str() {
            "new" => pick("처음 오셔서", "you're new here"),
            "dormant" => pick("오랜만에 다시 오셔서", "you're back after a while away"),
            "at_risk" => pick(
                "마지막 주문 후 시간이 꽤 지나서",
                "it's been a while since your last order",
            ),
            "loyal" => pick(
                "여러 번 주문해 주셔서",
                "you've ordered with us several times",
            ),
            "vip" => pick("저희 우수 고객이셔서", "you're one of our best customers"),
            _ => pick("전에 쇼핑하신 적이 있어서", "you've shopped with us before"),
        },
        "affinity" => {
            let top = value?.as_array()?.first()?.as_str()?.to_string();
            if ko {
                format!("{top} 상품을 둘러보셔서")
            } else {
                format!("you've been looking at {top}")
            }
        }
        "viewed_without_buying" => {
            let n = count(value)?.max(1);
            if ko {
                format!("상품 {n}개를 여러 번 보셔서")
            } else {
                format!(
                    "you looked at {} more than once",
                    plural(n, "item", "items")
                )
            }
        }
        "price_sensitivity" => pick("할인 혜택을 좋아하셔서", "you like a good deal"),
        "orders" => {
            let n = count(value)?;
            if ko {
                format!("주문을 {n}번 하셔서")
            } else {
                format!("you've placed {}", plural(n, "order", "orders"))
            }
        }
        "visits" | "sessions" => pick("전에 방문하신 적이 있어서", "you've visited us before"),
        "days_since_last_visit" => {
            let n = count(value)?;
            if ko {
                format!("{n}일 만에 방문하셔서")
            } else {
                format!("you last visited {n} days ago")
            }
        }
        "days_since_last_purchase" => {
            let n = count(value)?;
            if ko {
                format!("{n}일 전에 주문하셔서")
            } else {
                format!("you ordered {n} days ago")
            }
        }
        "points_expire_in_days" | "declared.points_expiring" => {
            pick("포인트 소멸이 다가와서", "your points expire soon")
        }
        "long_dwell_without_purchase" => pick("한동안 둘러보셔서", "you've spent a while browsing"),
        "declared.tier" => {
            let tier = text(value)?;
            if ko {
                format!("회원 등급이 {tier}이셔서")
            } else {
                format!("your membership tier is {tier}")
            }
        }
        "declared.points" => {
            let n = count(value)?;
            if ko {
                format!("포인트가 {n}점 있어서")
            } else {
                format!("you have {n} points")
            }
        }
        "declared.birthday_month" | "birthday_this_month" => {
            pick("생일이 있는 달이어서", "it's your birthday month")
        }
        "utm.source" | "utm.medium" | "utm.campaign" => pick(
            "저희가 보낸 메시지를 통해 오셔서",
            "you came from one of our messages",
        ),
        "device" => {
            let device = text(value)?;
            if ko {
                format!("{device}에서 보고 계셔서")
            } else {
                format!("you're on a {device}")
            }
        }
        _ => String::new(),
    };
    if !personal.is_empty() {
        return Some((personal, false));
    }
    let contextual = match joined.as_str() {
        "local_hour" | "weekday" => pick("지금 시간대 때문에", "of the time of day"),
        _ if joined.starts_with("page.") => {
            pick("보고 계신 페이지 때문에", "of the page you're on")
        }
        _ if joined.starts_with("rfm.") => pick("주문 내역 때문에", "of your order history"),
        _ if joined.starts_with("declared.") => {
            pick("알려 주신 정보 때문에", "of what you told us")
        }
        _ => return None,
    };
    Some((contextual, true))
}

/// Plain-words reasons why `condition` chose this shopper, without
/// repeats, most personal first. Empty for offers shown to everyone.
/// [`Lang::because`] makes them a sentence.
pub fn why(condition: &Condition, attributes: &Value, lang: Lang) -> Vec<String> {
    let mut personal = Vec::new();
    let mut contextual = Vec::new();
    for path in condition.paths() {
        if let Some((p, is_context)) = phrase(path, attributes, lang) {
            let list = if is_context {
                &mut contextual
            } else {
                &mut personal
            };
            if !list.contains(&p) {
                list.push(p);
            }
        }
    }
    if personal.is_empty() {
        // Only the page or the time: nothing personal to explain.
        return personal;
    }
    personal.extend(contextual);
    personal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::NativeRegex;
    use crate::json;

    fn reasons(cond: Value, attrs: Value) -> Vec<String> {
        why(
            &Condition::compile(&cond, &NativeRegex).unwrap(),
            &attrs,
            Lang::En,
        )
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
            // In the order the condition says them.
            [
                "you have 3 items in your cart",
                "you're back after a while away",
                "you've been looking at running shoes",
                "your membership tier is gold",
                "of the page you're on",
            ]
        );
    }

    #[test]
    fn the_lifecycle_playbooks_say_why_in_words() {
        assert!(
            reasons(
                json!({"orders": 1, "days_since_last_purchase": {"$lte": 30}}),
                json!({"orders": 1, "days_since_last_purchase": 12.4})
            )
            .contains(&"you ordered 12 days ago".to_string())
        );
        assert_eq!(
            reasons(
                json!({"points_expire_in_days": {"$lte": 7}}),
                json!({"points_expire_in_days": 3})
            ),
            ["your points expire soon"]
        );
        assert_eq!(
            reasons(
                json!({"birthday_this_month": true}),
                json!({"birthday_this_month": true})
            ),
            ["it's your birthday month"]
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

    #[test]
    fn reasons_come_in_korean_for_korean_pages() {
        let attrs = json!({"cart": {"items": 2}, "lifecycle": "vip", "page": {"path": "/"}});
        let cond = Condition::compile(
            &json!({"cart.items": {"$gt": 0}, "lifecycle": "vip", "page.path": "/"}),
            &NativeRegex,
        )
        .unwrap();
        assert_eq!(
            why(&cond, &attrs, Lang::Ko),
            [
                "장바구니에 상품 2개가 있어서",
                "저희 우수 고객이셔서",
                "보고 계신 페이지 때문에"
            ]
        );
    }
}
