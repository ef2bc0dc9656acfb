//! The attribute contract: the one object a condition sees, built from the
//! shopper's profile facts, declared attributes and the page context.
//!
//! | attribute | from | needs consent |
//! |---|---|---|
//! | `page.type`, `page.url`, `page.path`, `page.category`, `page.search`, `page.referrer` | the page | no |
//! | `device` (`mobile`, `tablet`, `desktop`), `locale`, `local_hour` (0–23), `weekday` (1 = Monday), `month` (1–12), `day` (1–31) | the browser and the clock, in the shopper's time zone | no |
//! | `utm.source`, `utm.medium`, `utm.campaign`, `utm.term`, `utm.content` | the page URL | no |
//! | `consent` (`unknown`, `granted`, `denied`) | the consent state | no |
//! | `visits`, `sessions`, `days_since_last_visit` | the profile | yes |
//! | `lifecycle` (`new`, `active`, `loyal`, `vip`, `at_risk`, `dormant`), `lifecycle_previous` | the profile | yes |
//! | `rfm.r`, `rfm.f`, `rfm.m` (1–5), `orders`, `revenue`, `aov` | the profile | yes |
//! | `cart.items`, `cart.value`, `cart.abandoned` | the profile | yes |
//! | `usual_hour`, `long_dwell_without_purchase` | the profile | yes |
//! | `affinity` (top categories, best first), `price_sensitivity` (0–1), `viewed_without_buying` | the profile | yes |
//! | `declared.*` (e.g. `tier`, `points`, `name`, `birthday_month`) | `dangol.set()` on the page | yes |
//! | `birthday_this_month` (`declared.birthday_month`, 1–12, is this month) | the page and the clock | yes |
//! | `points_expire_in_days` (from `declared.points_expire_on`, `YYYY-MM-DD`) | the page and the clock | yes |
//! | `days_since_last_purchase` | the profile | yes |
//! | `bought_a_year_ago` (categories last bought 11 to 13 months ago and not since) | the profile | yes |
//! | `campaigns.<id>.days_since_seen`, `.days_since_clicked`, `.days_since_claimed` (each present once it happened), `.converted` (for the campaigns the shopper's ledger remembers, at most 24) | the profile | yes |
//! | `p_alive`, `expected_orders_90d`, `clv_90d` | the profile and the site's fitted churn model, published with the config (the widget and server-side segments alike) | yes |
//!
//! Without consent only the contextual attributes are present, so a
//! behavioural condition cannot match by accident.

use crate::json::{Map, Value};

use crate::consent::Consent;
use crate::time::Moment;

/// What the page and browser say (contextual: usable before consent).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageContext {
    /// The page's type as the shop marks it (`home`, `product`, `category`, `cart`...).
    pub page_type: Option<String>,
    /// The full URL.
    pub url: String,
    /// The path.
    pub path: String,
    /// The query string, with its `?`.
    pub search: String,
    /// The referrer URL.
    pub referrer: String,
    /// The category the page belongs to, as the shop marks it.
    pub category: Option<String>,
    /// `mobile`, `tablet` or `desktop`.
    pub device: String,
    /// The browser's language, e.g. `ko-KR`.
    pub locale: String,
    /// `utm_*` parameters of the URL, without the `utm_` prefix.
    pub utm: Vec<(String, String)>,
}

/// What the profile knows (behavioural: only with consent).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Page views ever.
    pub visits: u32,
    /// Sessions ever.
    pub sessions: u32,
    /// Days since the previous visit, if any.
    pub days_since_last_visit: Option<f64>,
    /// Days since the last order, if any.
    pub days_since_last_purchase: Option<f64>,
    /// The lifecycle stage.
    pub lifecycle: Option<String>,
    /// RFM scores, 1–5 each.
    pub rfm: Option<(u8, u8, u8)>,
    /// Orders placed.
    pub orders: u32,
    /// Revenue in the site's currency.
    pub revenue: f64,
    /// Average order value.
    pub aov: f64,
    /// Items in the cart.
    pub cart_items: u32,
    /// Value of the cart.
    pub cart_value: f64,
    /// Top categories, best first.
    pub affinity: Vec<String>,
    /// 0 (never) to 1 (always waits for a deal).
    pub price_sensitivity: f64,
    /// Items viewed repeatedly without buying.
    pub viewed_without_buying: u32,
    /// The cart is not empty and untouched for a while.
    pub cart_abandoned: bool,
    /// Long engaged time this session without an order.
    pub long_dwell_without_purchase: bool,
    /// The stage before the last lifecycle change.
    pub previous_lifecycle: Option<String>,
    /// The usual local hour of visits.
    pub usual_hour: Option<u8>,
    /// What the site's churn model says of this customer, where one is fitted.
    pub churn: Option<crate::churn::ChurnFigures>,
    /// `bought_a_year_ago`: the categories last bought about a year ago
    /// (11 to 13 months) and not since, due for the seasonal repeat (an
    /// array of strings).
    pub bought_a_year_ago: Value,
    /// `campaigns`: per campaign the shopper's ledger remembers, what they
    /// did with it (`days_since_seen`, `days_since_clicked`,
    /// `days_since_claimed`, `converted`), for
    /// follow-ups ("saw X a week ago and did not convert"). Built as the
    /// condition reads it: an object keyed by campaign id.
    pub campaigns: Value,
}

fn put(map: &mut Map, key: &str, value: impl Into<Value>) {
    map.set(key, value.into());
}

/// Adds the attributes of the shopper's facts to `attrs`: what the server
/// can work out from events too, so its segments read exactly these.
pub fn put_facts(attrs: &mut Map, facts: &Facts) {
    put_facts_where(attrs, facts, |_| true);
}

/// Adds the attributes of the shopper's facts whose top-level name `want`
/// accepts (what a set of conditions reads), leaving the others unbuilt.
#[inline(always)]
pub fn put_facts_where(attrs: &mut Map, facts: &Facts, want: impl Fn(&str) -> bool) {
    // Each value is made only when wanted: most of them allocate.
    macro_rules! put {
        ($key:literal, $value:expr) => {
            if want($key) {
                put(attrs, $key, $value);
            }
        };
    }
    put!("visits", facts.visits);
    put!("sessions", facts.sessions);
    if let Some(d) = facts.days_since_last_visit {
        put!("days_since_last_visit", d);
    }
    if let Some(d) = facts.days_since_last_purchase {
        put!("days_since_last_purchase", d);
    }
    if let Some(l) = &facts.lifecycle {
        put!("lifecycle", l.as_str());
    }
    if let Some((r, f, m)) = facts.rfm {
        put!("rfm", {
            let mut rfm = Map::new();
            put(&mut rfm, "r", r);
            put(&mut rfm, "f", f);
            put(&mut rfm, "m", m);
            rfm
        });
    }
    put!("orders", facts.orders);
    put!("revenue", facts.revenue);
    put!("aov", facts.aov);
    put!("cart", {
        let mut cart = Map::new();
        put(&mut cart, "items", facts.cart_items);
        put(&mut cart, "value", facts.cart_value);
        put(&mut cart, "abandoned", facts.cart_abandoned);
        cart
    });
    put!(
        "affinity",
        Value::Array(
            facts
                .affinity
                .iter()
                .map(|c| Value::from(c.as_str()))
                .collect(),
        )
    );
    put!("price_sensitivity", facts.price_sensitivity);
    put!("viewed_without_buying", facts.viewed_without_buying);
    put!(
        "long_dwell_without_purchase",
        facts.long_dwell_without_purchase
    );
    if let Some(h) = facts.usual_hour {
        put!("usual_hour", h);
    }
    if let Some(l) = &facts.previous_lifecycle {
        put!("lifecycle_previous", l.as_str());
    }
    if let Some(c) = &facts.churn {
        put!("p_alive", c.p_alive);
        put!("expected_orders_90d", c.expected_orders_90d);
        put!("clv_90d", c.clv_90d);
    }
    put!("bought_a_year_ago", facts.bought_a_year_ago.clone());
    put!("campaigns", facts.campaigns.clone());
}

/// Builds the attributes a condition sees. Without consent the facts and
/// declared attributes are left out.
pub fn build(
    page: &PageContext,
    facts: &Facts,
    declared: &Map,
    consent: Consent,
    moment: &Moment,
) -> Value {
    let mut attrs = Map::new();
    let mut p = Map::new();
    if let Some(t) = &page.page_type {
        put(&mut p, "type", t.as_str());
    }
    put(&mut p, "url", page.url.as_str());
    put(&mut p, "path", page.path.as_str());
    put(&mut p, "search", page.search.as_str());
    put(&mut p, "referrer", page.referrer.as_str());
    if let Some(c) = &page.category {
        put(&mut p, "category", c.as_str());
    }
    put(&mut attrs, "page", p);
    put(&mut attrs, "device", page.device.as_str());
    put(&mut attrs, "locale", page.locale.as_str());
    put(&mut attrs, "local_hour", moment.local_hour());
    put(&mut attrs, "weekday", moment.weekday());
    let (_, month, day) = moment.local_date();
    put(&mut attrs, "month", month);
    put(&mut attrs, "day", day);
    // Inserted one by one: collecting into a map would ship a sort.
    let mut utm = Map::new();
    for (k, v) in &page.utm {
        utm.set(k, Value::from(v.as_str()));
    }
    put(&mut attrs, "utm", utm);
    put(&mut attrs, "consent", consent.as_str());
    if consent != Consent::Granted {
        return Value::Object(attrs);
    }
    put_facts(&mut attrs, facts);
    // A birthday month the shop declared (a number, or a numeric string),
    // compared with this month on the shopper's clock.
    let birthday = match declared.get("birthday_month") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => crate::cat::digits(s.trim_ascii()),
        _ => None,
    };
    put(
        &mut attrs,
        "birthday_this_month",
        birthday == Some(u64::from(month)),
    );
    // Points the shop says expire on a date (`YYYY-MM-DD`): days until then
    // on the shopper's clock (0 today, negative once past).
    if let Some(Value::String(on)) = declared.get("points_expire_on")
        && let Some(day) = crate::time::day_number(on)
    {
        let today = moment.day_of(moment.now_ms);
        put(&mut attrs, "points_expire_in_days", day - today);
    }
    put(&mut attrs, "declared", declared.clone());
    Value::Object(attrs)
}

/// The `utm_*` parameters of a query string, without the prefix.
pub fn utm_from_query(search: &str) -> Vec<(String, String)> {
    crate::cat::split(crate::cat::trim_start(search, b'?'), b'&')
        .filter_map(|pair| {
            let (k, v) = crate::cat::split_once(pair, b'=')?;
            let key = k.strip_prefix("utm_")?;
            matches!(key, "source" | "medium" | "campaign" | "term" | "content")
                .then(|| (key.to_string(), crate::cat::replace(v, b'+', " ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn page() -> PageContext {
        PageContext {
            page_type: Some("product".into()),
            path: "/p/1".into(),
            device: "mobile".into(),
            locale: "ko-KR".into(),
            utm: utm_from_query("?utm_source=mail&x=1&utm_campaign=winter+sale"),
            ..PageContext::default()
        }
    }

    fn facts() -> Facts {
        Facts {
            visits: 12,
            lifecycle: Some("at_risk".into()),
            rfm: Some((2, 4, 5)),
            cart_items: 2,
            cart_value: 52000.0,
            affinity: vec!["knit".into()],
            ..Facts::default()
        }
    }

    #[test]
    fn the_profile_facts_the_contract_promises_are_all_there() {
        let f = Facts {
            long_dwell_without_purchase: true,
            usual_hour: Some(21),
            previous_lifecycle: Some("active".into()),
            ..facts()
        };
        let attrs = build(&page(), &f, &Map::new(), Consent::Granted, &Moment::utc(0));
        assert_eq!(attrs["long_dwell_without_purchase"], true);
        assert_eq!(attrs["usual_hour"], 21);
        assert_eq!(attrs["lifecycle_previous"], "active");
        // The Amorepacific case: a long stay without buying matches.
        let cond = crate::condition::Condition::compile(
            &json!({"long_dwell_without_purchase": true}),
            &crate::condition::NativeRegex,
        )
        .unwrap();
        assert!(cond.eval(&attrs, &json!({}), &crate::condition::NativeRegex));
    }

    #[test]
    fn days_since_the_last_purchase_and_until_points_expire() {
        // 2026-12-01 08:30 in Seoul.
        let now = 1_796_081_400_000;
        let seoul = Moment {
            now_ms: now,
            utc_offset_minutes: 540,
            session_start_ms: now,
        };
        let f = Facts {
            days_since_last_purchase: Some(12.5),
            ..facts()
        };
        for (expire_on, expected) in [
            (json!("2026-12-08"), Some(7)),
            (json!("2026-12-01"), Some(0)),
            (json!("2026-11-30"), Some(-1)),
            (json!("2027-03-01"), Some(90)),
            (json!("2026-13-01"), None),
            (json!("soon"), None),
            (json!(20261208), None),
        ] {
            let declared = json!({"points_expiring": 3000, "points_expire_on": expire_on});
            let attrs = build(
                &page(),
                &f,
                declared.as_object().unwrap(),
                Consent::Granted,
                &seoul,
            );
            assert_eq!(attrs["days_since_last_purchase"], 12.5);
            assert_eq!(
                attrs.get("points_expire_in_days").and_then(Value::as_i64),
                expected,
                "{expire_on}"
            );
        }
        // No purchase yet: no such attribute.
        let attrs = build(&page(), &facts(), &Map::new(), Consent::Granted, &seoul);
        assert!(attrs.get("days_since_last_purchase").is_none());
    }

    #[test]
    fn the_local_date_and_a_birthday_this_month_come_from_the_shoppers_clock() {
        // 2026-11-30 23:30 UTC is 2026-12-01 08:30 in Seoul.
        let now = 1_796_081_400_000;
        let seoul = Moment {
            now_ms: now,
            utc_offset_minutes: 540,
            session_start_ms: now,
        };
        for (birthday, expected) in [
            (json!(12), true),
            (json!("12"), true),
            (json!(11), false),
            (json!(true), false),
        ] {
            let declared = json!({"birthday_month": birthday});
            let attrs = build(
                &page(),
                &facts(),
                declared.as_object().unwrap(),
                Consent::Granted,
                &seoul,
            );
            assert_eq!(attrs["month"], 12);
            assert_eq!(attrs["day"], 1);
            assert_eq!(attrs["birthday_this_month"], expected, "{birthday}");
        }
        let utc = build(
            &page(),
            &facts(),
            &Map::new(),
            Consent::Granted,
            &Moment::utc(now),
        );
        assert_eq!(
            (utc["month"].clone(), utc["day"].clone()),
            (json!(11), json!(30))
        );
        assert_eq!(utc["birthday_this_month"], false);
        // Without consent the date is there, the birthday is not.
        let declared = json!({"birthday_month": 12});
        let anon = build(
            &page(),
            &facts(),
            declared.as_object().unwrap(),
            Consent::Unknown,
            &seoul,
        );
        assert_eq!(anon["month"], 12);
        assert!(anon.get("birthday_this_month").is_none());
    }

    #[test]
    fn with_consent_the_contract_holds_profile_and_declared_attributes() {
        let declared = json!({"tier": "gold", "points": 1200});
        let attrs = build(
            &page(),
            &facts(),
            declared.as_object().unwrap(),
            Consent::Granted,
            &Moment::utc(1_795_617_000_000),
        );
        assert_eq!(attrs["page"]["type"], "product");
        assert_eq!(
            attrs["utm"],
            json!({"source": "mail", "campaign": "winter sale"})
        );
        assert_eq!(
            (attrs["local_hour"].as_u64(), attrs["weekday"].as_u64()),
            (Some(14), Some(3))
        );
        assert_eq!(attrs["lifecycle"], "at_risk");
        assert_eq!(attrs["rfm"], json!({"r": 2, "f": 4, "m": 5}));
        assert_eq!(attrs["cart"]["value"], 52000.0);
        assert_eq!(attrs["declared"]["tier"], "gold");
        assert_eq!(attrs["affinity"], json!(["knit"]));
    }

    #[test]
    fn without_consent_only_contextual_attributes_are_present() {
        let declared = json!({"tier": "gold"});
        let attrs = build(
            &page(),
            &facts(),
            declared.as_object().unwrap(),
            Consent::Unknown,
            &Moment::utc(0),
        );
        let mut keys: Vec<&str> = attrs
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "consent",
                "day",
                "device",
                "local_hour",
                "locale",
                "month",
                "page",
                "utm",
                "weekday"
            ]
        );
        for root in keys {
            assert!(crate::config::CONTEXTUAL_ROOTS.contains(&root), "{root}");
        }
    }
}
