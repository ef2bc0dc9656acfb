//! A quarter of simulated shoppers for the demo, so a marketer opening the
//! dashboard sees results, insights and reach with meaningful numbers
//! instead of empty tables.
//!
//! Shoppers arrive over 90 days, browse, put things in their cart, buy,
//! claim and redeem coupons, come back or drift away. Every offer they see
//! is decided by the engine from the profile their own earlier events built
//! (the same code the widget runs, with holdouts, caps, pressure and the
//! bandit's allocation), and every event passes the same checks as a
//! widget's batch before it is stored; coupons are claimed and redeemed
//! through the store as the API does. A fixed seed makes the history the
//! same on every machine.

use dangol_engine::attributes::{self, PageContext};
use dangol_engine::condition::NativeRegex;
use dangol_engine::config::{CompiledConfig, SiteConfig};
use dangol_engine::consent::Consent;
use dangol_engine::decide::{Decision, Shopper, decide_page};
use dangol_engine::event::Event;
use dangol_engine::json::Map;
use dangol_engine::profile::{Input, Profile};
use dangol_engine::random::{Random, SplitMix64};
use dangol_engine::time::Moment;

use super::SITE;
use crate::store::{Claim, ClaimRequest, Store, StoreError};

const DAY_MS: i64 = 86_400_000;
/// Days of history.
pub const DAYS: i64 = 90;
/// Shoppers over those days.
pub const SHOPPERS: u64 = 1_200;
/// The shop's time zone (UTC+9), for evening visits.
const OFFSET_MIN: i32 = 540;

/// The demo shop's products: id, category, price.
const PRODUCTS: &[(&str, &str, f64)] = &[
    ("knit-01", "knit", 59_000.0),
    ("knit-02", "knit", 72_000.0),
    ("coat-01", "outer", 189_000.0),
    ("boot-01", "shoes", 129_000.0),
    ("scarf-01", "acc", 39_000.0),
    ("cap-01", "acc", 19_000.0),
];

/// One simulated shopper's habits.
struct Persona {
    /// Visits over the quarter.
    visits: u64,
    /// Chance of putting something in the cart on a visit.
    add: f64,
    /// Chance of buying what is in the cart.
    buy: f64,
    /// Days between visits, at most.
    gap: f64,
}

fn persona(rng: &mut SplitMix64) -> Persona {
    let roll = rng.next_f64();
    let many =
        |rng: &mut SplitMix64, base: u64, spread: f64| base + (rng.next_f64() * spread) as u64;
    if roll < 0.55 {
        // Browsers: look around once or twice.
        Persona {
            visits: many(rng, 1, 2.0),
            add: 0.15,
            buy: 0.25,
            gap: 30.0,
        }
    } else if roll < 0.85 {
        // Buyers: a few visits, an order now and then.
        Persona {
            visits: many(rng, 2, 5.0),
            add: 0.45,
            buy: 0.45,
            gap: 20.0,
        }
    } else {
        // Regulars: often, and they buy.
        Persona {
            visits: many(rng, 6, 8.0),
            add: 0.6,
            buy: 0.6,
            gap: 8.0,
        }
    }
}

/// A seed for another generator.
fn seed_from(rng: &mut SplitMix64) -> u64 {
    (rng.next_f64() * 4_294_967_296.0) as u64
}

/// One simulated shopper, building their profile as the widget would.
struct Sim<'a> {
    config: &'a CompiledConfig,
    anon: String,
    profile: Profile,
    events: Vec<Event>,
    rng: SplitMix64,
    seq: u64,
}

impl Sim<'_> {
    fn event(&mut self, kind: &str, ts: i64) -> Event {
        self.seq += 1;
        let mut e = Event::page_view(
            format!("hist{}x{:05}", self.anon, self.seq),
            ts,
            self.anon.clone(),
        );
        e.kind = kind.to_string();
        e
    }

    fn input(&mut self, input: Input, ts: i64) {
        let cfg = &self.config.config().profile;
        self.profile.apply(&input, cfg, ts, OFFSET_MIN);
    }

    /// A page view, and the offers the engine decides for its placements.
    fn page(
        &mut self,
        ts: i64,
        path: &str,
        category: Option<&str>,
        placements: &[&str],
    ) -> Vec<Decision> {
        let mut view = self.event("page_view", ts);
        view.category = category.map(str::to_string);
        self.events.push(view);
        self.input(
            Input::PageView {
                category: category.map(str::to_string),
                sale: false,
            },
            ts,
        );
        let moment = Moment {
            now_ms: ts,
            utc_offset_minutes: OFFSET_MIN,
            session_start_ms: ts,
        };
        let page = PageContext {
            url: format!("https://shop.example{path}"),
            path: path.split('?').next().unwrap_or(path).to_string(),
            category: category.map(str::to_string),
            device: "mobile".into(),
            locale: "ko-KR".into(),
            ..PageContext::default()
        };
        let facts = self.profile.facts(&self.config.config().profile, ts);
        let attrs = attributes::build(&page, &facts, &Map::new(), Consent::Granted, &moment);
        let shopper = Shopper {
            attributes: &attrs,
            id: Some(&self.anon),
            consent: Consent::Granted,
            ledger: &self.profile.ledger,
        };
        let decisions = decide_page(
            self.config,
            placements,
            &shopper,
            &moment,
            &mut self.rng,
            &NativeRegex,
        );
        for d in &decisions {
            for campaign in &d.held_out {
                let mut e = self.event("holdout", ts);
                e.campaign = Some(campaign.clone());
                self.events.push(e);
            }
            if let Some(chosen) = d.chosen() {
                let (c, v) = (chosen.campaign_id.clone(), chosen.variant_id.clone());
                let mut e = self.event("exposure", ts + 500);
                e.campaign = Some(c.clone());
                e.variant = Some(v.clone());
                self.events.push(e);
                self.input(
                    Input::Exposure {
                        campaign: c.clone(),
                        variant: v.clone(),
                    },
                    ts + 500,
                );
                // Some look closer.
                if self.rng.next_f64() < 0.08 {
                    let mut e = self.event("click", ts + 3_000);
                    e.campaign = Some(c);
                    e.variant = Some(v);
                    self.events.push(e);
                }
            }
        }
        decisions
    }
}

/// The variant of `campaign` the decisions showed, if any.
fn shows(decisions: &[Decision], campaign: &str) -> Option<String> {
    decisions
        .iter()
        .filter_map(Decision::chosen)
        .find(|c| c.campaign_id == campaign)
        .map(|c| c.variant_id.clone())
}

/// Seeds the history unless the demo has events already; returns how many
/// events went in.
pub async fn seed(store: &dyn Store, now_ms: i64) -> Result<u64, StoreError> {
    if !store.events(SITE, None, 1).await?.is_empty() {
        return Ok(0);
    }
    let Some(published) = store.published(SITE).await? else {
        return Ok(0);
    };
    let start = now_ms - DAYS * DAY_MS;
    let mut rng = SplitMix64::new(0x0da9_601d);
    let mut stored = 0;
    for n in 0..SHOPPERS {
        let anon = format!("demo{n:06}{:010}", seed_from(&mut rng));
        // Compiled per shopper: compiled conditions are not `Send`, and
        // the store calls below await.
        let (events, claims) = {
            let config = SiteConfig::from_json(&published.body)
                .and_then(|c| c.compile(&NativeRegex))
                .map_err(|e| StoreError::Corrupt(format!("the demo config: {e}")))?;
            let rng = SplitMix64::new(seed_from(&mut rng));
            simulate(&config, anon.clone(), start, now_ms, rng)
        };
        // The checks a widget's batch passes.
        let checked: Vec<Event> = events
            .into_iter()
            .filter(|e| e.check(now_ms).is_ok())
            .collect();
        let Some(first) = checked.first() else {
            continue;
        };
        store
            .register_subject(SITE, &anon, &format!("{n:064x}"), first.ts)
            .await?;
        for batch in checked.chunks(dangol_engine::event::MAX_BATCH) {
            let fresh = store.insert_events(SITE, batch, now_ms).await?;
            stored += fresh.iter().filter(|new| **new).count() as u64;
        }
        for (campaign, variant, ts, redeemed) in claims {
            let claim = store
                .claim_coupon(ClaimRequest {
                    site: SITE,
                    campaign: &campaign,
                    variant: &variant,
                    anon: &anon,
                    budget: 100_000,
                    valid_ms: 14 * DAY_MS,
                    code: crate::coupons::new_code("DEMO"),
                    now_ms: ts,
                })
                .await?;
            if let (Claim::New(c), Some(at)) = (claim, redeemed) {
                store.redeem_coupon(SITE, &c.code, at).await?;
            }
        }
    }
    Ok(stored)
}

/// A coupon claim: campaign, variant, when, and when it was redeemed.
type ClaimPlan = (String, String, i64, Option<i64>);

/// One shopper's quarter: their events and coupon claims.
fn simulate(
    config: &CompiledConfig,
    anon: String,
    start: i64,
    end: i64,
    mut rng: SplitMix64,
) -> (Vec<Event>, Vec<ClaimPlan>) {
    let persona = persona(&mut rng);
    let first = start + (rng.next_f64() * (DAYS - 1) as f64) as i64 * DAY_MS;
    let mut sim = Sim {
        config,
        anon,
        profile: Profile::default(),
        events: Vec::new(),
        rng,
        seq: 0,
    };
    let mut claims = Vec::new();
    let mut day = first;
    for _ in 0..persona.visits {
        if day >= end - DAY_MS {
            break;
        }
        // From morning to late evening.
        let ts = day + ((9.0 + sim.rng.next_f64() * 12.0) * 3_600_000.0) as i64;
        let pick = (sim.rng.next_f64() * PRODUCTS.len() as f64) as usize;
        let (item, category, price) = PRODUCTS[pick.min(PRODUCTS.len() - 1)];
        let home = sim.page(ts, "/demo/", None, &["home-hero"]);
        sim.page(
            ts + 30_000,
            "/demo/category.html",
            Some(category),
            &["category-top"],
        );
        let product = sim.page(
            ts + 60_000,
            &format!("/demo/product.html?id={item}"),
            Some(category),
            &["product-promo"],
        );
        let mut view = sim.event("view_item", ts + 61_000);
        view.item = Some(item.into());
        view.category = Some(category.into());
        sim.events.push(view);
        sim.input(
            Input::ViewItem {
                item: item.into(),
                category: Some(category.into()),
                brand: None,
            },
            ts + 61_000,
        );
        if sim.rng.next_f64() < persona.add {
            let mut add = sim.event("add_to_cart", ts + 90_000);
            add.item = Some(item.into());
            add.category = Some(category.into());
            add.price = Some(price);
            sim.events.push(add);
            sim.input(
                Input::AddToCart {
                    item: item.into(),
                    category: Some(category.into()),
                    price,
                    quantity: 1,
                },
                ts + 90_000,
            );
        }
        // Half check out through the cart page (where the coupon may show),
        // half buy straight from the product page.
        let cart = if sim.rng.next_f64() < 0.5 {
            sim.page(ts + 120_000, "/demo/cart.html", None, &["cart-offer"])
        } else {
            Vec::new()
        };
        let in_cart = sim
            .profile
            .facts(&config.config().profile, ts + 120_000)
            .cart_value;
        if in_cart > 0.0 {
            // Offers that fit help: a reminder or a coupon seen this visit,
            // and the shipping note's variant b, nudge the purchase.
            let mut chance = persona.buy;
            if shows(&home, "cart-reminder").is_some() {
                chance += 0.08;
            }
            if shows(&product, "product-shipping").as_deref() == Some("b") {
                chance += 0.06;
            }
            let coupon = shows(&cart, "cart-coupon");
            let claimed = coupon.is_some() && sim.rng.next_f64() < 0.4;
            if claimed {
                chance += 0.12;
            }
            let bought = sim.rng.next_f64() < chance.min(0.95);
            if let (true, Some(variant)) = (claimed, coupon) {
                let mut e = sim.event("claim", ts + 125_000);
                e.campaign = Some("cart-coupon".into());
                e.variant = Some(variant.clone());
                sim.events.push(e);
                let redeemed = bought.then_some(ts + 200_000);
                claims.push(("cart-coupon".to_string(), variant, ts + 125_000, redeemed));
            }
            if bought {
                let mut e = sim.event("purchase", ts + 180_000);
                e.price = Some(in_cart);
                e.category = Some(category.into());
                sim.events.push(e);
                // The last offer seen within the attribution window converts,
                // as the widget's session attributes it.
                let window = i64::from(config.config().attribution_hours) * 3_600_000;
                let last = sim
                    .profile
                    .ledger
                    .last_seen(ts + 180_000, window)
                    .map(|(c, v)| (c.to_string(), v.to_string()));
                if let Some((campaign, variant)) = last {
                    let mut e = sim.event("conversion", ts + 180_000);
                    e.campaign = Some(campaign.clone());
                    e.variant = Some(variant);
                    e.price = Some(in_cart);
                    sim.events.push(e);
                    sim.input(Input::Convert { campaign }, ts + 180_000);
                }
                let order = format!("{}-{}", sim.anon, sim.seq);
                sim.input(
                    Input::Purchase {
                        transaction_id: Some(order),
                        value: in_cart,
                        categories: vec![category.into()],
                        items: Vec::new(),
                        coupon: claimed,
                    },
                    ts + 180_000,
                );
            }
        }
        // The next visit: soon for regulars, later for others.
        day += (1.0 + sim.rng.next_f64() * persona.gap) as i64 * DAY_MS;
    }
    (sim.events, claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::SqliteStore;

    #[tokio::test]
    async fn a_quarter_of_shoppers_fills_results_once() {
        let store = SqliteStore::in_memory().await.unwrap();
        let now = crate::now_ms();
        super::super::seed(&store, now).await.unwrap();
        let started = std::time::Instant::now();
        let stored = seed(&store, now).await.unwrap();
        println!("{stored} events in {:?}", started.elapsed());
        assert!(stored > 10_000, "{stored} events");
        // Once: a demo with events keeps them.
        assert_eq!(seed(&store, now).await.unwrap(), 0);

        // What the server's rollup job does in the background.
        crate::rollups::catch_up(&store, std::time::Duration::from_secs(120))
            .await
            .unwrap();
        let results = crate::admin::publish::results_for(&store, SITE, DAYS)
            .await
            .unwrap();
        let campaign = |id: &str| {
            results
                .campaigns
                .iter()
                .find(|c| c.campaign == id)
                .unwrap_or_else(|| panic!("no results for {id}"))
        };
        // Offers were seen and bought after, across the quarter.
        let welcome = campaign("welcome-hero");
        assert!(welcome.treated.shoppers > 500, "{:?}", welcome.treated);
        assert!(welcome.treated.converted > 50, "{:?}", welcome.treated);
        assert!(welcome.daily.len() > 60, "{} days", welcome.daily.len());
        // The holdout kept a fifth of knit lovers out: an uplift to read.
        let knit = campaign("knit-lover");
        let share =
            knit.holdout.shoppers as f64 / (knit.holdout.shoppers + knit.treated.shoppers) as f64;
        assert!((0.1..0.3).contains(&share), "holdout share {share}");
        assert!(knit.uplift.is_some());
        // Purchases convert the last offer seen, as the widget attributes
        // them.
        let conversions: u64 = results
            .campaigns
            .iter()
            .flat_map(|c| &c.variants)
            .map(|v| v.conversions)
            .sum();
        assert!(conversions > 200, "{conversions} conversions");
        // The bandit's two variants both ran, and both converted.
        let shipping = campaign("product-shipping");
        assert!(
            shipping.variants.iter().all(|v| v.conversions > 10),
            "{:?}",
            shipping.variants
        );
        assert_eq!(shipping.variants.len(), 2);
        assert!(
            shipping.variants.iter().all(|v| v.exposures > 100),
            "{:?}",
            shipping.variants
        );
        // Coupons were claimed and some redeemed.
        let coupon = campaign("cart-coupon");
        let (claims, redemptions) = coupon
            .variants
            .iter()
            .fold((0, 0), |(c, r), v| (c + v.claims, r + v.redemptions));
        assert!(
            claims > 20 && redemptions > 5 && redemptions < claims,
            "{claims} claims, {redemptions} redeemed"
        );
    }
}
