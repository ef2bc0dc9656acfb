//! What the dashboard shows beyond campaign results: the lifecycle mix of
//! shoppers over time, how many offers shoppers saw per day (the
//! over-messaging check), the variants' share of exposures per day (the
//! bandit's allocation over time) and the reach of an audience.
//!
//! The server never sees declared attributes, so it rebuilds each shopper's
//! profile by replaying their stored events through the engine's own
//! profile code; the lifecycle and facts are then the ones the widget would
//! compute from the same events. Conditions on what only the browser knows
//! (declared attributes, the page, the device) are reported as unknown.

use std::collections::BTreeMap;

use dangol_engine::attributes::{self, PageContext};
use dangol_engine::condition::{Condition, NativeRegex};
use dangol_engine::consent::Consent;
use dangol_engine::event::Event;
use dangol_engine::json::Map;
use dangol_engine::profile::{Input, Profile, ProfileConfig};
use dangol_engine::time::Moment;
use serde::Serialize;

use crate::results::utc_day;

const DAY_MS: i64 = 86_400_000;

/// Event types the replay reads.
pub const TYPES: &[&str] = &[
    "page_view",
    "view_item",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "order",
    "exposure",
    "dismiss",
    "click",
    "claim",
    "conversion",
];

/// The lifecycle stages, in the order charts stack them.
pub const STAGES: &[&str] = &["new", "active", "loyal", "vip", "at_risk", "dormant"];

/// Shoppers a reach estimate evaluates at most (about): beyond, a uniform
/// sample of this many, which puts the matched share within ±1 point
/// (95 %), as audience estimates usually are.
pub const SAMPLE: u64 = 10_000;

/// Offers seen per shopper-day are counted up to this; more go in the last bucket.
const MOST_PER_DAY: usize = 6;

/// One day of the lifecycle mix: shoppers active that day by the stage
/// they ended the day in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Shoppers per stage, in [`STAGES`] order.
    pub stages: Vec<u64>,
}

/// One day of a campaign's exposures split by variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllocationDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Exposures per variant id.
    pub exposures: BTreeMap<String, u64>,
}

/// What the dashboard charts besides the results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insights {
    /// Distinct shoppers in the window.
    pub shoppers: u64,
    /// The lifecycle mix per day.
    pub lifecycle: Vec<StageDay>,
    /// `frequency[n]`: shopper-days on which a shopper saw `n + 1` offers
    /// (the last bucket is that many or more).
    pub frequency: Vec<u64>,
    /// The busiest shopper-day's count of offers seen.
    pub most_offers_in_a_day: u64,
    /// Per campaign, the exposures of each variant per day.
    pub allocation: BTreeMap<String, Vec<AllocationDay>>,
}

/// How many shoppers an audience would have matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reach {
    /// Shoppers in the window.
    pub shoppers: u64,
    /// Of them, those the condition matches now: counted when every
    /// shopper was evaluated, else estimated from a uniform sample.
    pub matched: u64,
    /// Shoppers evaluated: all of them up to [`SAMPLE`], a uniform sample
    /// of about that many beyond.
    pub sampled: u64,
    /// The 95 % interval of `matched` (both equal to it when counted).
    pub matched_low: u64,
    /// Upper bound of the interval.
    pub matched_high: u64,
    /// Attribute paths the server cannot know (declared attributes, the
    /// page, the device...): the condition saw them as missing.
    pub unknown: Vec<String>,
}

/// Attribute roots the server can rebuild from events.
pub(crate) const KNOWN_ROOTS: &[&str] = &[
    "visits",
    "sessions",
    "days_since_last_visit",
    "lifecycle",
    "rfm",
    "orders",
    "revenue",
    "aov",
    "cart",
    "affinity",
    "price_sensitivity",
    "viewed_without_buying",
    "consent",
    "days_since_last_purchase",
    "lifecycle_previous",
    "usual_hour",
    "long_dwell_without_purchase",
    "bought_a_year_ago",
    "campaigns",
];

/// What segments know besides: the site's churn model's figures.
pub const CHURN_ROOTS: &[&str] = &["p_alive", "expected_orders_90d", "clv_90d"];

fn input(e: &Event) -> Option<Input> {
    Some(match e.kind.as_str() {
        "page_view" => Input::PageView {
            category: e.category.clone(),
            sale: false,
        },
        "view_item" => Input::ViewItem {
            item: e.item.clone()?,
            category: e.category.clone(),
            brand: None,
        },
        "add_to_cart" => Input::AddToCart {
            item: e.item.clone()?,
            category: e.category.clone(),
            price: e.price.unwrap_or(0.0),
            quantity: 1,
        },
        "remove_from_cart" => Input::RemoveFromCart {
            item: e.item.clone()?,
        },
        "purchase" | "order" => Input::Purchase {
            transaction_id: Some(e.id.clone()),
            value: e.price.unwrap_or(0.0),
            categories: e.category.iter().cloned().collect(),
            items: e.item.iter().cloned().collect(),
            coupon: false,
        },
        "exposure" => Input::Exposure {
            campaign: e.campaign.clone()?,
            variant: e.variant.clone().unwrap_or_default(),
        },
        "dismiss" => Input::Dismiss {
            campaign: e.campaign.clone()?,
        },
        "click" => Input::Click {
            campaign: e.campaign.clone()?,
        },
        "claim" => Input::Claim {
            campaign: e.campaign.clone()?,
        },
        "conversion" => Input::Convert {
            campaign: e.campaign.clone()?,
        },
        _ => return None,
    })
}

/// `events` ordered by shopper and then time, as the store pages them.
fn by_shopper(events: &[Event]) -> Vec<Event> {
    let mut sorted = events.to_vec();
    sorted.sort_by(|a, b| {
        (a.anon.as_str(), a.ts, a.id.as_str()).cmp(&(b.anon.as_str(), b.ts, b.id.as_str()))
    });
    sorted
}

/// Replays one shopper's events (in time order) into a profile.
fn replay(events: &[Event], cfg: &ProfileConfig) -> Profile {
    shopper_days(events, cfg).1
}

/// One shopper's UTC day: the lifecycle stage the day ended in and the
/// offers seen that day. Kept per shopper-day (see `rollups`), so the
/// insights cost what shoppers and days cost, not events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopperDay {
    /// The pseudonymous id.
    pub anon: String,
    /// Days since the Unix epoch (UTC).
    pub day: i64,
    /// The stage at the end of the day (one of [`STAGES`]).
    pub stage: &'static str,
    /// Offers seen that day.
    pub offers: u64,
}

/// One shopper's days and profile after all their events (in time order;
/// types the replay does not read are skipped).
pub fn shopper_days(events: &[Event], cfg: &ProfileConfig) -> (Vec<ShopperDay>, Profile) {
    let read: Vec<&Event> = events
        .iter()
        .filter(|e| TYPES.contains(&e.kind.as_str()))
        .collect();
    let mut days = Vec::new();
    let mut profile = Profile::default();
    let mut offers = 0;
    for (i, e) in read.iter().enumerate() {
        if let Some(input) = input(e) {
            profile.apply(&input, cfg, e.ts, 0);
        }
        offers += u64::from(e.kind == "exposure");
        let day = e.ts.div_euclid(DAY_MS);
        if read
            .get(i + 1)
            .is_none_or(|next| next.ts.div_euclid(DAY_MS) != day)
        {
            days.push(ShopperDay {
                anon: e.anon.clone(),
                day,
                stage: profile.stage_at(cfg, e.ts).name(),
                offers,
            });
            offers = 0;
        }
    }
    (days, profile)
}

/// What the insights add up, as the store counts it over a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Distinct shoppers.
    pub shoppers: u64,
    /// Shoppers per (day, stage).
    pub stages: Vec<(i64, String, u64)>,
    /// Shopper-days per number of offers seen (more than zero).
    pub offers: Vec<(u64, u64)>,
    /// Exposures per (campaign, day, variant).
    pub allocation: Vec<(String, i64, String, u64)>,
}

impl Counts {
    /// The insights' part of a window's per-day counts (see
    /// [`crate::rollups::counts`]).
    pub fn of(counts: &[crate::rollups::Count]) -> Counts {
        let shoppers = shoppers_in(counts);
        let mut stages: BTreeMap<(i64, &str), u64> = BTreeMap::new();
        let mut offers: BTreeMap<u64, u64> = BTreeMap::new();
        let mut allocation: BTreeMap<(&str, i64, &str), u64> = BTreeMap::new();
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        for c in counts {
            match c.kind.as_str() {
                "stage" => *stages.entry((c.day, c.a.as_str())).or_default() += n(c.n),
                "offers" => *offers.entry(c.a.parse().unwrap_or(0)).or_default() += n(c.n),
                "v.exposures" => {
                    *allocation
                        .entry((c.a.as_str(), c.day, c.b.as_str()))
                        .or_default() += n(c.n);
                }
                _ => {}
            }
        }
        Counts {
            shoppers,
            stages: stages
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|((day, stage), n)| (day, stage.to_string(), n))
                .collect(),
            offers: offers.into_iter().filter(|(_, n)| *n > 0).collect(),
            allocation: allocation
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|((c, day, v), n)| (c.to_string(), day, v.to_string(), n))
                .collect(),
        }
    }

    /// The insights these counts give.
    pub fn insights(&self) -> Insights {
        let mut lifecycle: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
        for (day, stage, n) in &self.stages {
            let row = lifecycle
                .entry(*day)
                .or_insert_with(|| vec![0; STAGES.len()]);
            if let Some(i) = STAGES.iter().position(|s| s == stage) {
                row[i] += n;
            }
        }
        let mut frequency = vec![0; MOST_PER_DAY];
        let mut most = 0;
        for (offers, n) in &self.offers {
            frequency[(*offers as usize).clamp(1, MOST_PER_DAY) - 1] += n;
            most = most.max(*offers);
        }
        let mut allocation: BTreeMap<String, BTreeMap<i64, BTreeMap<String, u64>>> =
            BTreeMap::new();
        for (campaign, day, variant, n) in &self.allocation {
            *allocation
                .entry(campaign.clone())
                .or_default()
                .entry(*day)
                .or_default()
                .entry(variant.clone())
                .or_default() += n;
        }
        Insights {
            shoppers: self.shoppers,
            lifecycle: lifecycle
                .into_iter()
                .map(|(day, stages)| StageDay {
                    day: utc_day(day * DAY_MS),
                    stages,
                })
                .collect(),
            frequency,
            most_offers_in_a_day: most,
            allocation: allocation
                .into_iter()
                .map(|(c, days)| {
                    let days = days
                        .into_iter()
                        .map(|(day, exposures)| AllocationDay {
                            day: utc_day(day * DAY_MS),
                            exposures,
                        })
                        .collect();
                    (c, days)
                })
                .collect(),
        }
    }
}

/// Distinct shoppers active in a window, from its per-day counts.
pub fn shoppers_in(counts: &[crate::rollups::Count]) -> u64 {
    let n: i64 = counts
        .iter()
        .filter(|c| c.kind == "shopper")
        .map(|c| c.n)
        .sum();
    u64::try_from(n).unwrap_or(0)
}

/// The lifecycle mix, offers per shopper-day and allocation over time of
/// `events` (any order): each shopper's days and touches, their counts,
/// then [`Counts`].
pub fn compute(events: &[Event], cfg: &ProfileConfig) -> Insights {
    let mut counts = Vec::new();
    for run in shoppers_of(&by_shopper(events)) {
        let (days, _) = shopper_days(run, cfg);
        let touches = crate::results::touches(&run[0].anon, run);
        counts.extend(crate::rollups::counts(&touches, &days, 0));
    }
    Counts::of(&counts).insights()
}

/// Counts the shoppers an audience matches, one shopper at a time.
pub struct ReachCount<'a> {
    cfg: &'a ProfileConfig,
    saved_groups: &'a dangol_engine::json::Value,
    now_ms: i64,
    shoppers: u64,
    matched: u64,
}

impl<'a> ReachCount<'a> {
    /// A count with the site's thresholds and saved groups, as of `now_ms`.
    pub fn new(
        cfg: &'a ProfileConfig,
        saved_groups: &'a dangol_engine::json::Value,
        now_ms: i64,
    ) -> Self {
        Self {
            cfg,
            saved_groups,
            now_ms,
            shoppers: 0,
            matched: 0,
        }
    }

    /// Adds one shopper's events (in time order): do the facts their
    /// events give now match `condition`?
    pub fn shopper(&mut self, events: &[Event], condition: &Condition) {
        if events.is_empty() {
            return;
        }
        let profile = replay(events, self.cfg);
        self.profile(&profile, condition);
    }

    /// Adds one shopper by the profile their events built: do its facts
    /// now match `condition`?
    pub fn profile(&mut self, profile: &Profile, condition: &Condition) {
        self.shoppers += 1;
        let facts = profile.facts(self.cfg, self.now_ms);
        let attrs = attributes::build(
            &PageContext::default(),
            &facts,
            &Map::new(),
            Consent::Granted,
            &Moment::utc(self.now_ms),
        );
        if condition.eval(&attrs, self.saved_groups, &NativeRegex) {
            self.matched += 1;
        }
    }

    /// The reach of every shopper added; `unknown` is what the condition
    /// reads that the server cannot know (see [`unknown_paths`]).
    pub fn finish(self, unknown: Vec<String>) -> Reach {
        let total = self.shoppers;
        self.finish_of(total, unknown)
    }

    /// The reach among `total` shoppers, of whom those added are a uniform
    /// sample: the matched share scaled up, with its Wilson interval.
    pub fn finish_of(self, total: u64, unknown: Vec<String>) -> Reach {
        let (n, k) = (self.shoppers, self.matched);
        if n >= total {
            return Reach {
                shoppers: n,
                matched: k,
                sampled: n,
                matched_low: k,
                matched_high: k,
                unknown,
            };
        }
        let scale = |share: f64| share * total as f64;
        let rate = crate::results::wilson(k, n);
        Reach {
            shoppers: total,
            matched: rate.map_or(0, |r| scale(r.value).round() as u64),
            sampled: n,
            matched_low: rate.map_or(0, |r| scale(r.low).floor() as u64),
            matched_high: rate.map_or(total, |r| scale(r.high).ceil() as u64),
            unknown,
        }
    }
}

/// The attribute paths `condition` reads that only the browser knows.
pub fn unknown_paths(condition: &Condition) -> Vec<String> {
    let mut unknown: Vec<String> = condition
        .paths()
        .into_iter()
        .map(|p| p.join("."))
        .filter(|p| !KNOWN_ROOTS.contains(&p.split('.').next().unwrap_or_default()))
        .collect();
    unknown.sort();
    unknown.dedup();
    unknown
}

/// How many of the shoppers of `events` (any order) `condition` matches,
/// each with the facts their events give at `now_ms`.
pub fn reach(
    events: &[Event],
    condition: &Condition,
    saved_groups: &dangol_engine::json::Value,
    cfg: &ProfileConfig,
    now_ms: i64,
) -> Reach {
    let mut count = ReachCount::new(cfg, saved_groups, now_ms);
    shoppers_of(&by_shopper(events)).for_each(|run| count.shopper(run, condition));
    count.finish(unknown_paths(condition))
}

/// Splits a page of events ordered by shopper into each shopper's run.
pub fn shoppers_of(page: &[Event]) -> impl Iterator<Item = &[Event]> {
    page.chunk_by(|a, b| a.anon == b.anon)
        .filter(|run| run.first().is_some_and(|e| !e.anon.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn ev(id: &str, kind: &str, anon: &str, ts: i64) -> Event {
        let mut e = Event::page_view(id.into(), ts, anon.into());
        e.kind = kind.into();
        e
    }

    fn exposure(id: &str, anon: &str, ts: i64, campaign: &str, variant: &str) -> Event {
        Event::exposure(id.into(), ts, anon.into(), campaign, variant)
    }

    fn purchase(id: &str, anon: &str, ts: i64, value: f64) -> Event {
        let mut e = ev(id, "purchase", anon, ts);
        e.price = Some(value);
        e
    }

    #[test]
    fn the_lifecycle_mix_follows_each_shopper_day_by_day() {
        let t0 = 20_000 * DAY;
        let events = vec![
            ev("1", "page_view", "a", t0),
            ev("2", "page_view", "b", t0 + 1000),
            purchase("3", "b", t0 + 2000, 30_000.0),
            ev("4", "page_view", "a", t0 + DAY),
        ];
        let i = compute(&events, &ProfileConfig::default());
        assert_eq!(i.shoppers, 2);
        assert_eq!(i.lifecycle.len(), 2);
        // Day one: a is new; b bought, so active.
        assert_eq!(i.lifecycle[0].stages, vec![1, 1, 0, 0, 0, 0]);
        // Day two: only a came, a returning visitor (active).
        assert_eq!(i.lifecycle[1].stages, vec![0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn offers_per_shopper_day_and_variant_shares_are_counted() {
        let t0 = 20_000 * DAY;
        let mut events = Vec::new();
        for n in 0..8 {
            events.push(exposure(
                &format!("x{n}"),
                "heavy",
                t0 + n,
                "c",
                if n % 2 == 0 { "a" } else { "b" },
            ));
        }
        events.push(exposure("y", "light", t0, "c", "a"));
        events.push(exposure("z", "light", t0 + DAY, "c", "a"));
        let i = compute(&events, &ProfileConfig::default());
        // light saw one offer on each of two days; heavy saw 8 on one day (6+ bucket).
        assert_eq!(i.frequency, vec![2, 0, 0, 0, 0, 1]);
        assert_eq!(i.most_offers_in_a_day, 8);
        let days = &i.allocation["c"];
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].exposures["a"], 5);
        assert_eq!(days[0].exposures["b"], 4);
        assert_eq!(days[1].exposures["a"], 1);
    }

    #[test]
    fn reach_counts_matching_shoppers_and_names_what_only_the_browser_knows() {
        let t0 = 20_000 * DAY;
        let events = vec![
            ev("1", "page_view", "a", t0),
            purchase("2", "a", t0 + 1000, 10_000.0),
            ev("3", "page_view", "b", t0),
            ev("4", "page_view", "c", t0),
        ];
        let cfg = ProfileConfig::default();
        let buyers =
            Condition::compile(&dangol_engine::json!({"orders": {"$gte": 1}}), &NativeRegex)
                .unwrap();
        let r = reach(&events, &buyers, &dangol_engine::json!({}), &cfg, t0 + DAY);
        assert_eq!((r.shoppers, r.matched), (3, 1));
        assert!(r.unknown.is_empty());
        let tier = Condition::compile(
            &dangol_engine::json!({"declared.tier": "vip", "page.path": "/", "orders": {"$gte": 0}}),
            &NativeRegex,
        )
        .unwrap();
        let r = reach(&events, &tier, &dangol_engine::json!({}), &cfg, t0 + DAY);
        assert_eq!(r.matched, 0);
        assert_eq!(
            r.unknown,
            vec!["declared.tier".to_string(), "page.path".to_string()]
        );
    }

    #[test]
    fn reach_knows_follow_ups_and_the_seasonal_repeat_from_events() {
        let t0 = 20_000 * DAY;
        let now = t0 + 365 * DAY;
        let mut coat = purchase("1", "a", t0, 90_000.0);
        coat.category = Some("coat".into());
        let mut click = exposure("3", "b", now - 8 * DAY, "win-back", "a");
        click.kind = "click".into();
        let mut converted = exposure("6", "c", now - 8 * DAY, "win-back", "a");
        converted.kind = "conversion".into();
        let events = vec![
            coat,
            exposure("2", "b", now - 8 * DAY, "win-back", "a"),
            click,
            exposure("4", "c", now - 9 * DAY, "win-back", "a"),
            purchase("5", "c", now - 8 * DAY, 10_000.0),
            converted,
        ];
        let cfg = ProfileConfig::default();
        let count = |condition: serde_json::Value| {
            let condition = dangol_engine::json::Value::from(condition);
            let c = Condition::compile(&condition, &NativeRegex).unwrap();
            let r = reach(&events, &c, &dangol_engine::json!({}), &cfg, now);
            assert!(r.unknown.is_empty(), "{:?}", r.unknown);
            r.matched
        };
        assert_eq!(
            count(serde_json::json!({"bought_a_year_ago": {"$in": ["coat"]}})),
            1
        );
        let follow_up = serde_json::json!({
            "campaigns.win-back.days_since_seen": {"$gte": 7},
            "campaigns.win-back.converted": {"$ne": true}
        });
        assert_eq!(count(follow_up), 1, "b saw it and did not buy; c bought");
        let clicked = serde_json::json!({"campaigns.win-back.days_since_clicked": {"$gte": 7}});
        assert_eq!(count(clicked), 1);
    }

    #[test]
    fn a_sampled_reach_scales_the_matched_share_with_its_interval() {
        let cfg = ProfileConfig::default();
        let groups = dangol_engine::json!({});
        let condition =
            Condition::compile(&dangol_engine::json!({"orders": {"$gte": 1}}), &NativeRegex)
                .unwrap();
        let mut count = ReachCount::new(&cfg, &groups, 20_000 * DAY);
        let buyer = replay(&[purchase("p", "a", 20_000 * DAY - 1000, 10.0)], &cfg);
        for i in 0..1000 {
            let profile = if i % 4 == 0 {
                buyer.clone()
            } else {
                Profile::default()
            };
            count.profile(&profile, &condition);
        }
        // A quarter of a sample of 1,000 among 100,000 shoppers.
        let r = count.finish_of(100_000, Vec::new());
        assert_eq!((r.shoppers, r.sampled, r.matched), (100_000, 1000, 25_000));
        assert!(r.matched_low < 25_000 && r.matched_low > 22_000, "{r:?}");
        assert!(r.matched_high > 25_000 && r.matched_high < 28_000, "{r:?}");
    }
}
