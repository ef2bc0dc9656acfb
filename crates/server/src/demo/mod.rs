//! The demo site: a storefront under `/demo/` with a few campaigns, seeded
//! once so a second run reuses the same data.

use dangol_engine::condition::NativeRegex;
use dangol_engine::config::SiteConfig;
use serde_json::{Value, json};

use crate::store::{Site, Store, StoreError};

pub mod history;

/// The demo site's id, as in the storefront's script tag.
pub const SITE: &str = "demo";

/// The demo config at a given version: a few campaigns that show the
/// engine's gates (priority, consent, caps, pressure) on the storefront.
pub fn config(version: u64) -> Value {
    json!({
        "schema": 1,
        "site": SITE,
        "version": version,
        "pressure": {"per_session": 6, "per_day": 12},
        "global_holdout": 0.0,
        "currency": "KRW",
        "placements": [
            {"id": "leaving-modal", "kind": "modal", "trigger": {"type": "exit_intent"}},
            {"id": "welcome-back-bar", "kind": "bar", "trigger": {"type": "returning_with_cart"}},
            {"id": "help-toast", "kind": "toast", "trigger": {"type": "dwell", "seconds": 20}}
        ],
        "tiers": [
            {"id": "silver", "name": "Silver", "points": 0, "perks": "Birthday coupon"},
            {"id": "gold", "name": "Gold", "points": 2000, "perks": "Free shipping on every order"},
            {"id": "vip", "name": "VIP", "points": 5000, "perks": "Early access and 5% back"}
        ],
        "campaigns": [
            {
                "id": "vip-hero",
                "name": "VIP early access",
                "placements": ["home-hero"],
                "priority": 20,
                "condition": {"declared.tier": "vip"},
                "variants": [{"id": "a", "content": {
                    "type": "banner", "theme": "dark",
                    "headline": "VIP early access is open",
                    "body": "Your winter picks are waiting, a day before everyone else.",
                    "cta": {"text": "Shop early", "url": "/demo/category.html"}
                }}]
            },
            {
                "id": "cart-reminder",
                "name": "Abandoned-cart reminder",
                "placements": ["home-hero"],
                "priority": 15,
                "condition": {"cart.items": {"$gt": 0}},
                "caps": {"per_session": 3},
                "variants": [{"id": "a", "content": {
                    "type": "banner", "theme": "dark",
                    "headline": "Still thinking it over?",
                    "body": "Your cart is waiting for you.",
                    "cta": {"text": "Back to my cart", "url": "/demo/cart.html"}
                }}]
            },
            {
                "id": "welcome-hero",
                "name": "Welcome for every visitor",
                "placements": ["home-hero"],
                "priority": 10,
                "condition": {"page.path": {"$regex": "^/demo/(index\\.html)?$"}},
                "caps": {"per_day": 10},
                "variants": [{"id": "a", "content": {
                    "type": "banner", "theme": "accent",
                    "headline": "Welcome to Dangol Goods",
                    "body": "New arrivals every week. Free shipping over ₩50,000.",
                    "cta": {"text": "See what's new", "url": "/demo/category.html"}
                }}]
            },
            {
                "id": "knit-lover",
                "name": "Knitwear for shoppers who love knitwear",
                "placements": ["category-top"],
                "priority": 5,
                "holdout": 0.2,
                "condition": {"affinity": {"$in": ["knit"]}},
                "variants": [{"id": "a", "content": {
                    "type": "banner", "theme": "accent",
                    "headline": "New knits, picked for you",
                    "body": "You've been looking at knitwear: the new cable knits just arrived.",
                    "cta": {"text": "See the knits", "url": "/demo/category.html#knit"}
                }}]
            },
            {
                "id": "category-sale",
                "name": "Winter sale on the category page",
                "placements": ["category-top"],
                "condition": {"page.path": {"$regex": "category"}},
                "priority": 1,
                "variants": [{"id": "a", "content": {
                    "type": "banner", "theme": "light",
                    "headline": "Winter sale: up to 30% off knitwear",
                    "body": "Ends Sunday.",
                    "cta": {"text": "Shop knitwear", "url": "/demo/category.html#knit"}
                }}]
            },
            {
                "id": "price-hesitant",
                "name": "Coupon for the price-hesitant",
                "placements": ["product-promo"],
                "priority": 10,
                "condition": {"viewed_without_buying": {"$gte": 1}},
                "caps": {"per_day": 3},
                "coupon": {"budget": 500, "valid_days": 7, "prefix": "KNIT"},
                "variants": [{"id": "a", "content": {
                    "type": "coupon",
                    "headline": "Still deciding? This one's on us",
                    "value": "10% off",
                    "body": "For the item you keep coming back to.",
                    "reveal": "Show my code",
                    "terms": "One code per customer, valid for 7 days."
                }}]
            },
            {
                "id": "cart-coupon",
                "name": "Coupon on the cart page",
                "placements": ["cart-offer"],
                "condition": {"cart.items": {"$gt": 0}},
                "coupon": {"budget": 1000, "valid_days": 14, "prefix": "DANGOL"},
                "variants": [{"id": "a", "content": {
                    "type": "coupon",
                    "headline": "A little something for your cart",
                    "value": "₩5,000 off over ₩50,000",
                    "reveal": "Show my code",
                    "terms": "One code per customer, valid for 14 days."
                }}]
            },
            {
                "id": "leaving-cart",
                "name": "Exit intent with a full cart",
                "placements": ["leaving-modal"],
                "priority": 10,
                "condition": {"cart.items": {"$gt": 0}},
                "caps": {"per_session": 1, "dismiss_cooldown_hours": 24},
                "variants": [{"id": "a", "content": {
                    "type": "banner", "theme": "light",
                    "headline": "Leaving already?",
                    "body": "Your {{cart.items}} item(s) worth {{cart.value}} are saved in your cart.",
                    "cta": {"text": "Finish my order", "url": "/demo/cart.html"}
                }}]
            },
            {
                "id": "welcome-back-cart",
                "name": "Returning shopper with a saved cart",
                "placements": ["welcome-back-bar"],
                "priority": 10,
                "condition": {"cart.items": {"$gt": 0}},
                "caps": {"per_day": 1},
                "variants": [{"id": "a", "content": {
                    "type": "banner", "theme": "dark",
                    "headline": "Welcome back, {{declared.name | \"friend\"}}",
                    "body": "Your cart ({{cart.value}}) is right where you left it.",
                    "cta": {"text": "Open my cart", "url": "/demo/cart.html"}
                }}]
            },
            {
                "id": "product-help",
                "name": "Help for shoppers who linger on a product",
                "placements": ["help-toast"],
                "condition": {"page.type": "product"},
                "caps": {"per_day": 1, "dismiss_cooldown_hours": 72},
                "variants": [{"id": "a", "content": {
                    "type": "banner", "theme": "light",
                    "headline": "Need a hand choosing?",
                    "body": "Free returns within 30 days, and sizes run true.",
                    "cta": {"text": "Size guide", "url": "/demo/product.html#size"}
                }}]
            },
            {
                "id": "tier-progress",
                "name": "Tier-progress nudge for members",
                "placements": ["home-loyalty"],
                "condition": {"declared.points": {"$exists": true}},
                "variants": [{"id": "a", "content": {
                    "type": "loyalty_prompt",
                    "headline": "{{declared.name | \"You\"}}, you're getting close",
                    "body": "Points come with every order."
                }}]
            },
            {
                "id": "post-purchase-feedback",
                "name": "Post-purchase feedback question",
                "placements": ["checkout-feedback"],
                "condition": {"orders": {"$gte": 1}},
                "caps": {"lifetime": 1},
                "variants": [{"id": "a", "content": {
                    "type": "feedback_question",
                    "question": "How was shopping with us today?",
                    "scale": "rating"
                }}]
            },
            {
                "id": "product-shipping",
                "name": "Free shipping reminder on product pages",
                "placements": ["product-promo"],
                "condition": {"page.path": {"$regex": "product"}},
                "allocation": {"type": "bandit", "min_share": 0.1},
                "variants": [
                    {"id": "a", "content": {
                        "type": "banner", "theme": "light",
                        "headline": "Free shipping over ₩50,000",
                        "body": "Add one more item and shipping is on us."
                    }},
                    {"id": "b", "content": {
                        "type": "banner", "theme": "accent",
                        "headline": "One more item ships free",
                        "body": "Orders over ₩50,000 ship free, today too."
                    }}
                ]
            },
            {
                "id": "also-like",
                "name": "Recommendations on product pages",
                "placements": ["product-recs"],
                "variants": [{"id": "a", "content": {
                    "type": "recommendations",
                    "headline": "You might also like",
                    "count": 4,
                    "per_category": 2
                }}]
            }
        ]
    })
}

/// The storefront's products (as `www/demo/shop.js` lists them), the
/// demo's catalog feed.
pub const CATALOG: &[(&str, &str, &str, f64, Option<f64>)] = &[
    ("knit-01", "Wool crew knit", "knit", 59_000.0, None),
    (
        "knit-02",
        "Cable cardigan",
        "knit",
        72_000.0,
        Some(64_000.0),
    ),
    ("coat-01", "Wool blend coat", "outer", 189_000.0, None),
    ("scarf-01", "Cashmere scarf", "acc", 39_000.0, None),
    (
        "boot-01",
        "Chelsea boots",
        "shoes",
        129_000.0,
        Some(99_000.0),
    ),
    ("cap-01", "Knit beanie", "acc", 19_000.0, None),
];

/// Feeds the demo's catalog (once) and builds its recommendations model
/// from what the demo's shoppers did, so the product page's row has
/// something to show.
pub async fn seed_recs(state: &crate::AppState, now_ms: i64) -> Result<(), crate::error::ApiError> {
    let (items, _) = state.store.catalog_counts(SITE).await?;
    if items == 0 {
        let feed: Vec<crate::catalog::Item> = CATALOG
            .iter()
            .map(
                |&(id, name, category, price, sale_price)| crate::catalog::Item {
                    id: id.into(),
                    name: name.into(),
                    url: Some(format!("/demo/product.html?id={id}")),
                    image: None,
                    price,
                    sale_price,
                    category: Some(category.into()),
                    brand: None,
                    in_stock: true,
                },
            )
            .collect();
        state.store.put_items(SITE, &feed, now_ms).await?;
    }
    crate::recs::build(state, SITE, now_ms).await?;
    Ok(())
}

/// Whether a stored demo config is the one this build ships (so a demo
/// from an older build gets the new campaigns, keeping its data).
fn current(body: &str, version: u64) -> bool {
    // The bandit's posteriors are learned, not part of what ships.
    let without_posteriors = |mut config: Value| {
        if let Some(campaigns) = config["campaigns"].as_array_mut() {
            for c in campaigns {
                if let Some(allocation) = c.get_mut("allocation").and_then(Value::as_object_mut) {
                    allocation.remove("posteriors");
                }
            }
        }
        config
    };
    serde_json::from_str::<Value>(body)
        .is_ok_and(|stored| without_posteriors(stored) == config(version))
}

/// Whether a stored config still reads as a valid config of this engine.
fn usable(body: &str) -> bool {
    SiteConfig::from_json(body)
        .and_then(|c| c.compile(&NativeRegex))
        .is_ok_and(|c| c.problems().is_empty())
}

/// Creates the demo site and publishes its config unless it exists already.
/// Returns whether anything was seeded.
pub async fn seed(store: &dyn Store, now_ms: i64) -> Result<bool, StoreError> {
    if store.site(SITE).await?.is_some()
        && let Some(published) = store.published(SITE).await?
        && usable(&published.body)
        && current(&published.body, published.version)
    {
        return Ok(false);
    }
    let site = Site {
        id: SITE.to_string(),
        name: "Dangol Goods (demo)".to_string(),
        allowed_origins: Vec::new(),
    };
    store.put_site(&site, now_ms).await?;
    // A missing demo, or one published by an older engine, gets its
    // settings and campaigns as drafts and a new version.
    let mut settings = config(0);
    let campaigns = settings["campaigns"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Some(map) = settings.as_object_mut() {
        for key in ["site", "version", "schema", "campaigns"] {
            map.remove(key);
        }
    }
    store
        .put_site_settings(SITE, &settings.to_string(), 90)
        .await?;
    for d in store.campaigns(SITE).await? {
        store.delete_campaign(SITE, &d.id).await?;
    }
    for (i, c) in campaigns.iter().enumerate() {
        let id = c["id"].as_str().unwrap_or_default();
        store
            .put_campaign(SITE, id, &c.to_string(), now_ms + i as i64)
            .await?;
    }
    crate::admin::publish::publish_site(store, SITE)
        .await
        .map_err(|e| StoreError::Corrupt(format!("the demo config does not publish: {e:?}")))?;
    Ok(true)
}

/// The demo's admin account, with a fresh password each start: returns the
/// email and the password to print.
pub async fn seed_admin(store: &dyn Store, now_ms: i64) -> Result<(String, String), StoreError> {
    let email = "admin@demo.dangol".to_string();
    let password = std::env::var("DANGOL_DEMO_ADMIN_PASSWORD").unwrap_or_else(|_| {
        let mut buf = [0u8; 9];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut buf);
        hex::encode(buf)
    });
    let hash = crate::admin::auth::hash_password(&password).map_err(StoreError::Corrupt)?;
    store.put_admin(&email, &hash, now_ms).await?;
    store.set_role(&email, "*", Some("owner")).await?;
    Ok((email, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_passes_the_engines_checks() {
        let cfg = SiteConfig::compile_value(&config(1).into(), &NativeRegex).unwrap();
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
        assert_eq!(cfg.campaigns().len(), 14);
        assert!(usable(&config(3).to_string()));
        assert!(current(&config(3).to_string(), 3));
        // Learned posteriors do not make it another config.
        let mut learned = config(3);
        for c in learned["campaigns"].as_array_mut().unwrap() {
            if c["allocation"]["type"] == "bandit" {
                c["allocation"]["posteriors"] = json!([[3.0, 9.0], [5.0, 7.0]]);
            }
        }
        assert!(current(&learned.to_string(), 3));
        assert!(!current(&config(3).to_string(), 4));
        assert!(!usable(
            r#"{"site": "demo", "version": 1, "campaigns": [{"id": "x"}]}"#
        ));
    }
}
