//! The demo site: a storefront under `/demo/` with a few campaigns, seeded
//! once so a second run reuses the same data.

use dangol_engine::config::{Campaign, SiteConfig};
use serde_json::json;

use crate::store::{Site, Store, StoreError};

/// The demo site's id, as in the storefront's script tag.
pub const SITE: &str = "demo";

/// The demo campaigns, in priority order.
pub fn campaigns() -> Vec<Campaign> {
    let raw = json!([
        {
            "id": "vip-hero",
            "name": "VIP early access",
            "placement": "home-hero",
            "condition": {"declared.tier": "vip"},
            "variants": [{"id": "a", "content": {
                "type": "banner", "theme": "dark",
                "headline": "VIP early access is open",
                "body": "Your winter picks are waiting, a day before everyone else.",
                "cta": {"text": "Shop early", "url": "/demo/category.html"}
            }}]
        },
        {
            "id": "welcome-hero",
            "name": "Welcome for every visitor",
            "placement": "home-hero",
            "condition": {"page.path": {"$regex": "^/demo/(index\\.html)?$"}},
            "variants": [{"id": "a", "content": {
                "type": "banner", "theme": "accent",
                "headline": "Welcome to Dangol Goods",
                "body": "New arrivals every week. Free shipping over ₩50,000.",
                "cta": {"text": "See what's new", "url": "/demo/category.html"}
            }}]
        },
        {
            "id": "category-sale",
            "name": "Winter sale on the category page",
            "placement": "category-top",
            "condition": {"page.path": {"$regex": "category"}},
            "variants": [{"id": "a", "content": {
                "type": "banner", "theme": "light",
                "headline": "Winter sale: up to 30% off knitwear",
                "body": "Ends Sunday.",
                "cta": {"text": "Shop knitwear", "url": "/demo/category.html#knit"}
            }}]
        },
        {
            "id": "product-shipping",
            "name": "Free shipping reminder on product pages",
            "placement": "product-promo",
            "condition": {"page.path": {"$regex": "product"}},
            "variants": [{"id": "a", "content": {
                "type": "banner", "theme": "light",
                "headline": "Free shipping over ₩50,000",
                "body": "Add one more item and shipping is on us."
            }}]
        }
    ]);
    let wrapped = json!({"site": SITE, "version": 1, "campaigns": raw});
    SiteConfig::from_value(&wrapped)
        .map(|c| c.campaigns)
        .unwrap_or_default()
}

/// The demo config at a given version.
pub fn config(version: u64) -> SiteConfig {
    SiteConfig {
        site: SITE.to_string(),
        version,
        campaigns: campaigns(),
    }
}

/// Creates the demo site and publishes its config unless it exists already.
/// Returns whether anything was seeded.
pub async fn seed(store: &dyn Store, now_ms: i64) -> Result<bool, StoreError> {
    if store.site(SITE).await?.is_some() && store.published(SITE).await?.is_some() {
        return Ok(false);
    }
    let site = Site {
        id: SITE.to_string(),
        name: "Dangol Goods (demo)".to_string(),
        allowed_origins: Vec::new(),
    };
    store.put_site(&site, now_ms).await?;
    let render = |version: u64| serde_json::to_string(&config(version)).unwrap_or_default();
    store.publish(SITE, &render, now_ms).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_passes_the_engines_checks() {
        let cfg = config(1);
        assert_eq!(cfg.campaigns.len(), 4);
        cfg.compile().unwrap();
    }
}
