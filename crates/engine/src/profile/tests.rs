use super::*;

const DAY: i64 = 86_400_000;
const H: i64 = 3_600_000;
const T0: i64 = 1_795_617_000_000;

fn cfg() -> ProfileConfig {
    ProfileConfig::default()
}

fn view(p: &mut Profile, t: i64) -> Option<StageChange> {
    p.apply(
        &Input::PageView {
            category: None,
            sale: false,
        },
        &cfg(),
        t,
        540,
    )
}

fn buy(p: &mut Profile, t: i64, id: &str, value: f64) -> Option<StageChange> {
    p.apply(
        &Input::Purchase {
            transaction_id: Some(id.into()),
            value,
            categories: vec!["knit".into()],
            items: vec!["knit-01".into()],
            coupon: false,
        },
        &cfg(),
        t,
        540,
    )
}

#[test]
fn sessions_follow_the_thirty_minute_inactivity_rule() {
    let mut p = Profile::default();
    view(&mut p, T0);
    view(&mut p, T0 + 29 * 60_000);
    assert_eq!((p.visits, p.sessions), (2, 1));
    view(&mut p, T0 + 29 * 60_000 + 30 * 60_000);
    assert_eq!((p.visits, p.sessions), (3, 2));
    assert_eq!(p.previous_visit_ms, Some(T0 + 29 * 60_000));
    // 14:30 UTC is 23:30 in Seoul.
    assert_eq!(p.usual_hour(), Some(23));
}

#[test]
fn every_lifecycle_transition_over_simulated_months() {
    let mut p = Profile::default();
    let mut changes = Vec::new();
    let mut record = |c: Option<StageChange>| {
        if let Some(c) = c {
            changes.push((c.from.name(), c.to.name()));
        }
    };
    record(view(&mut p, T0));
    assert_eq!(p.stage, Stage::New);
    // A second session a day later: active.
    record(view(&mut p, T0 + DAY));
    // Orders every 10 days; the third makes a loyal shopper.
    record(buy(&mut p, T0 + DAY + 60_000, "o1", 30_000.0));
    record(buy(&mut p, T0 + 11 * DAY, "o2", 30_000.0));
    record(buy(&mut p, T0 + 21 * DAY, "o3", 30_000.0));
    assert_eq!(p.stage, Stage::Loyal);
    assert!((p.purchase_gap_days.unwrap() - 9.99).abs() < 0.1);
    // Big orders lift monetary and frequency: vip.
    record(buy(&mut p, T0 + 25 * DAY, "o4", 200_000.0));
    record(buy(&mut p, T0 + 27 * DAY, "o5", 300_000.0));
    assert_eq!(p.rfm(&cfg(), T0 + 27 * DAY), (5, 4, 4));
    assert_eq!(p.stage, Stage::Vip);
    // Three weeks later the usual gap (~6.5 days) is long past: at risk.
    record(view(&mut p, T0 + 50 * DAY));
    assert_eq!(p.stage, Stage::AtRisk);
    // Gone for 40 days, back without buying: dormant for this visit.
    record(view(&mut p, T0 + 90 * DAY));
    assert_eq!(p.stage, Stage::Dormant);
    assert_eq!(
        p.facts(&cfg(), T0 + 90 * DAY)
            .days_since_last_visit
            .map(f64::round),
        Some(40.0)
    );
    // Buying in that visit ends dormancy.
    record(buy(&mut p, T0 + 90 * DAY + H, "o6", 50_000.0));
    assert_ne!(p.stage, Stage::Dormant);
    assert_eq!(
        changes,
        [
            ("new", "active"),
            ("active", "loyal"),
            ("loyal", "vip"),
            ("vip", "at_risk"),
            ("at_risk", "dormant"),
            ("dormant", p.stage.name()),
        ]
    );
    let facts = p.facts(&cfg(), T0 + 90 * DAY + H);
    assert_eq!(facts.previous_lifecycle.as_deref(), Some("dormant"));
}

#[test]
fn a_purchase_with_a_seen_transaction_id_counts_once() {
    let mut p = Profile::default();
    buy(&mut p, T0, "order-1", 50_000.0);
    buy(&mut p, T0 + 1000, "order-1", 50_000.0);
    assert_eq!((p.orders, p.revenue), (1, 50_000.0));
    buy(&mut p, T0 + 2000, "order-2", 10_000.0);
    assert_eq!((p.orders, p.revenue), (2, 60_000.0));
}

#[test]
fn repeats_are_recognised_before_they_are_applied() {
    let mut p = Profile::default();
    let order = Input::Purchase {
        transaction_id: Some("T1".into()),
        value: 5.0,
        categories: vec![],
        items: vec![],
        coupon: false,
    };
    assert!(!p.is_repeat(&order));
    p.apply(&order, &cfg(), T0, 0);
    assert!(p.is_repeat(&order));
    let anonymous = Input::Purchase {
        transaction_id: None,
        value: 5.0,
        categories: vec![],
        items: vec![],
        coupon: false,
    };
    assert!(!p.is_repeat(&anonymous));
}

#[test]
fn rfm_scores_follow_the_thresholds() {
    let mut p = Profile::default();
    assert_eq!(p.rfm(&cfg(), T0), (1, 1, 1));
    buy(&mut p, T0, "a", 60_000.0);
    assert_eq!(p.rfm(&cfg(), T0 + DAY), (5, 2, 2));
    assert_eq!(p.rfm(&cfg(), T0 + 8 * DAY), (4, 2, 2));
    assert_eq!(p.rfm(&cfg(), T0 + 100 * DAY), (2, 2, 2));
    assert_eq!(p.rfm(&cfg(), T0 + 200 * DAY), (1, 2, 2));
}

#[test]
fn affinity_decays_with_the_half_life() {
    let mut p = Profile::default();
    let item = |c: &str| Input::ViewItem {
        item: format!("{c}-1"),
        category: Some(c.into()),
        brand: None,
    };
    for _ in 0..4 {
        p.apply(&item("knit"), &cfg(), T0, 0);
    }
    p.apply(&item("shoes"), &cfg(), T0 + 28 * DAY, 0);
    p.apply(&item("shoes"), &cfg(), T0 + 28 * DAY, 0);
    // Knit had 4 points, two half-lives ago: 1 point now. Shoes has 2.
    let facts = p.facts(&cfg(), T0 + 28 * DAY);
    assert_eq!(facts.affinity, ["shoes", "knit"]);
    let knit = p.categories.iter().find(|s| s.key == "knit").unwrap();
    let now = decayed(knit.value, knit.at_ms, T0 + 28 * DAY, 14.0);
    assert!((now - 1.0).abs() < 1e-9, "{now}");
    // Long after, nothing is strong enough to count.
    assert!(p.facts(&cfg(), T0 + 200 * DAY).affinity.is_empty());
}

#[test]
fn a_cart_left_alone_is_abandoned_and_a_purchase_clears_it() {
    let mut p = Profile::default();
    let add = Input::AddToCart {
        item: "knit-1".into(),
        category: Some("knit".into()),
        price: 59_000.0,
        quantity: 2,
    };
    p.apply(&add, &cfg(), T0, 0);
    let f = p.facts(&cfg(), T0 + 10 * 60_000);
    assert_eq!(
        (f.cart_items, f.cart_value, f.cart_abandoned),
        (2, 118_000.0, false)
    );
    assert!(p.facts(&cfg(), T0 + 31 * 60_000).cart_abandoned);
    buy(&mut p, T0 + DAY, "o", 118_000.0);
    let f = p.facts(&cfg(), T0 + 2 * DAY);
    assert_eq!((f.cart_items, f.cart_abandoned), (0, false));
}

#[test]
fn price_sensitivity_rises_with_coupons_sales_removals_and_repeat_views() {
    let mut p = Profile::default();
    assert_eq!(p.facts(&cfg(), T0).price_sensitivity, 0.0);
    let v = Input::ViewItem {
        item: "coat".into(),
        category: None,
        brand: None,
    };
    for i in 0..4 {
        p.apply(&v, &cfg(), T0 + i, 0);
    }
    let after_views = p.facts(&cfg(), T0 + 10).price_sensitivity;
    assert!(after_views > 0.0);
    assert_eq!(p.facts(&cfg(), T0 + 10).viewed_without_buying, 1);
    p.apply(
        &Input::PageView {
            category: None,
            sale: true,
        },
        &cfg(),
        T0 + 20,
        0,
    );
    p.apply(
        &Input::AddToCart {
            item: "coat".into(),
            category: None,
            price: 1.0,
            quantity: 1,
        },
        &cfg(),
        T0 + 30,
        0,
    );
    p.apply(
        &Input::RemoveFromCart {
            item: "coat".into(),
        },
        &cfg(),
        T0 + 40,
        0,
    );
    let later = p.facts(&cfg(), T0 + 50).price_sensitivity;
    assert!(later > after_views && later < 1.0, "{later}");
}

#[test]
fn long_dwell_without_purchase_is_flagged_per_session() {
    let mut p = Profile::default();
    view(&mut p, T0);
    p.apply(&Input::Engaged { seconds: 200 }, &cfg(), T0 + 60_000, 0);
    assert!(p.facts(&cfg(), T0 + 60_000).long_dwell_without_purchase);
    view(&mut p, T0 + DAY);
    assert!(!p.facts(&cfg(), T0 + DAY).long_dwell_without_purchase);
}

#[test]
fn offer_events_feed_the_ledger() {
    let mut p = Profile::default();
    p.apply(
        &Input::Exposure {
            campaign: "c".into(),
            variant: "a".into(),
        },
        &cfg(),
        T0,
        0,
    );
    p.apply(
        &Input::Dismiss {
            campaign: "c".into(),
        },
        &cfg(),
        T0 + 1,
        0,
    );
    p.apply(
        &Input::Convert {
            campaign: "c".into(),
        },
        &cfg(),
        T0 + 2,
        0,
    );
    let e = p.ledger.entry("c").unwrap();
    assert_eq!(
        (e.lifetime, e.last_dismiss_ms, e.converted),
        (1, Some(T0 + 1), true)
    );
}

#[test]
fn follow_up_facts_say_how_long_ago_each_campaign_was_seen_clicked_and_claimed() {
    let mut p = Profile::default();
    let offer = |p: &mut Profile, input: Input, t: i64| {
        p.apply(&input, &cfg(), t, 0);
    };
    let c = || "win-back".to_string();
    offer(
        &mut p,
        Input::Exposure {
            campaign: c(),
            variant: "a".into(),
        },
        T0,
    );
    offer(&mut p, Input::Click { campaign: c() }, T0 + H);
    offer(&mut p, Input::Claim { campaign: c() }, T0 + 2 * H);
    offer(
        &mut p,
        Input::Exposure {
            campaign: "other".into(),
            variant: "a".into(),
        },
        T0 + DAY,
    );
    // Thirty days on, past the week of impressions the caps keep.
    let now = T0 + 30 * DAY;
    view(&mut p, now);
    let stored = Profile::from_value(&p.to_value()).unwrap();
    let facts = stored.facts(&cfg(), now);
    let f = &facts.campaigns["win-back"];
    assert_eq!(f["days_since_seen"], 30.0);
    assert_eq!(f["days_since_clicked"], 30.0 - 1.0 / 24.0);
    assert_eq!(f["days_since_claimed"], 30.0 - 2.0 / 24.0);
    assert_eq!(f["converted"], false);
    let other = &facts.campaigns["other"];
    assert_eq!(other["days_since_seen"], 29.0);
    assert!(other.get("days_since_clicked").is_none());
    // The attribute a condition reads.
    let attrs = crate::attributes::build(
        &crate::attributes::PageContext::default(),
        &facts,
        &crate::json::Map::new(),
        crate::consent::Consent::Granted,
        &crate::time::Moment::utc(now),
    );
    assert_eq!(attrs["campaigns"]["win-back"]["days_since_seen"], 30.0);
    assert_eq!(attrs["campaigns"]["win-back"]["converted"], false);
    assert!(
        attrs["campaigns"]["other"]
            .get("days_since_claimed")
            .is_none()
    );
    // The follow-up playbook's condition: saw it a week ago or more, did
    // not convert.
    let follow_up = crate::json!({
        "campaigns.win-back.days_since_seen": {"$gte": 7},
        "campaigns.win-back.converted": {"$ne": true}
    });
    let null = crate::json::Value::Null;
    assert!(crate::condition::eval_condition(&attrs, &follow_up, &null));
    p.apply(&Input::Convert { campaign: c() }, &cfg(), now, 0);
    let converted = crate::attributes::build(
        &crate::attributes::PageContext::default(),
        &p.facts(&cfg(), now),
        &crate::json::Map::new(),
        crate::consent::Consent::Granted,
        &crate::time::Moment::utc(now),
    );
    assert!(!crate::condition::eval_condition(
        &converted, &follow_up, &null
    ));
}

#[test]
fn a_ledger_written_before_follow_ups_keeps_its_last_impression() {
    let old = crate::json!([{"c": "x", "s": [5, 9], "n": 2, "t": 9}]);
    let ledger = crate::ledger::Ledger::from_value(&old);
    let e = ledger.entry("x").unwrap();
    assert_eq!((e.seen_ms, e.click_ms, e.claim_ms), (9, 0, 0));
}

#[test]
fn a_category_bought_about_a_year_ago_and_not_since_is_due_again() {
    let mut p = Profile::default();
    let order = |p: &mut Profile, t: i64, id: &str, category: &str| {
        p.apply(
            &Input::Purchase {
                transaction_id: Some(id.into()),
                value: 10.0,
                categories: vec![category.into()],
                items: vec![],
                coupon: false,
            },
            &cfg(),
            t,
            0,
        );
    };
    order(&mut p, T0, "o1", "swimwear");
    order(&mut p, T0 + 5 * DAY, "o2", "coat");
    order(&mut p, T0 + 10 * DAY, "o3", "knit");
    // The knit bought again since.
    order(&mut p, T0 + 200 * DAY, "o4", "knit");
    let due = |p: &Profile, days: i64| p.facts(&cfg(), T0 + days * DAY).bought_a_year_ago;
    assert_eq!(due(&p, 300), crate::json!([]));
    assert_eq!(due(&p, 336), crate::json!(["swimwear"]));
    assert_eq!(due(&p, 365), crate::json!(["swimwear", "coat"]));
    assert_eq!(due(&p, 398), crate::json!(["coat"]));
    assert_eq!(due(&p, 420), crate::json!([]));
    // Kept in the stored form.
    let stored = Profile::from_value(&p.to_value()).unwrap();
    assert_eq!(due(&stored, 365), due(&p, 365));
}

#[test]
fn the_stored_form_round_trips_and_junk_is_an_error() {
    let mut p = Profile::default();
    view(&mut p, T0);
    buy(&mut p, T0 + H, "o1", 10_000.0);
    p.apply(
        &Input::AddToCart {
            item: "x".into(),
            category: Some("c".into()),
            price: 5.0,
            quantity: 1,
        },
        &cfg(),
        T0 + 2 * H,
        0,
    );
    p.apply(
        &Input::Exposure {
            campaign: "c".into(),
            variant: "a".into(),
        },
        &cfg(),
        T0 + 3 * H,
        0,
    );
    let back = Profile::from_value(&p.to_value()).unwrap();
    assert_eq!(back, p);
    assert!(Profile::from_value(&crate::json!("junk")).is_err());
    assert!(
        Profile::from_value(&crate::json!({"v": 99, "first": 1}))
            .unwrap_err()
            .contains("newer")
    );
    assert!(Profile::from_value(&crate::json!({"v": 1})).is_err());
}

fn show(p: &mut Profile, t: i64, campaign: &str) {
    p.apply(
        &Input::Exposure {
            campaign: campaign.into(),
            variant: "a".into(),
        },
        &cfg(),
        t,
        540,
    );
}

fn cart(p: &mut Profile, t: i64, item: &str) {
    p.apply(
        &Input::AddToCart {
            item: item.into(),
            category: Some("knit".into()),
            price: 39_000.0,
            quantity: 1,
        },
        &cfg(),
        t,
        540,
    );
}

#[test]
fn a_customer_back_on_a_new_device_is_known_by_what_their_other_device_did() {
    // The phone: two sessions and an order, 40 days ago.
    let mut phone = Profile::default();
    view(&mut phone, T0 - 45 * DAY);
    buy(&mut phone, T0 - 45 * DAY + H, "order-1", 80_000.0);
    view(&mut phone, T0 - 40 * DAY);
    // The laptop: this first visit.
    let mut laptop = Profile::default();
    view(&mut laptop, T0);
    assert_eq!(laptop.stage, Stage::New);

    let m = laptop.merged(&phone, &cfg(), T0);
    assert_eq!((m.visits, m.sessions, m.orders), (3, phone.sessions + 1, 1));
    assert_eq!(m.revenue, 80_000.0);
    assert_eq!(m.first_seen_ms, T0 - 45 * DAY);
    assert_eq!(m.last_seen_ms, T0);
    assert_eq!(m.previous_visit_ms, Some(T0 - 40 * DAY));
    assert_eq!(m.last_purchase_ms, Some(T0 - 45 * DAY + H));
    // Back after 40 days away: a dormant customer to welcome back, not a
    // new one; this session stays the laptop's.
    assert_eq!(m.stage, Stage::Dormant);
    assert_eq!(m.session_start_ms, laptop.session_start_ms);
    assert_eq!(m.session_views, 1);
    // Nothing from the phone changed the laptop's own profile.
    assert_eq!(laptop.visits, 1);
}

#[test]
fn offers_seen_on_any_device_count_toward_caps_and_a_shared_order_counts_once() {
    let mut phone = Profile::default();
    view(&mut phone, T0 - DAY);
    for i in 0..3 {
        show(&mut phone, T0 - DAY + i * H, "welcome");
    }
    buy(&mut phone, T0 - DAY + 4 * H, "order-7", 50_000.0);
    let mut laptop = Profile::default();
    view(&mut laptop, T0);
    show(&mut laptop, T0, "welcome");
    buy(&mut laptop, T0 + H, "order-7", 50_000.0);

    let m = laptop.merged(&phone, &cfg(), T0 + H);
    let entry = m.ledger.entry("welcome").unwrap();
    assert_eq!(entry.lifetime, 4);
    assert_eq!(entry.shows.len(), 4);
    assert_eq!(*entry.shows.first().unwrap(), T0 - DAY);
    assert_eq!(m.orders, 1, "order-7 was seen on both devices");
    assert_eq!(m.transactions, vec!["order-7".to_string()]);
}

#[test]
fn the_cart_touched_last_wins_and_affinities_add_up() {
    let mut phone = Profile::default();
    view(&mut phone, T0 - 2 * H);
    cart(&mut phone, T0 - H, "wool-knit");
    let mut laptop = Profile::default();
    view(&mut laptop, T0 - 3 * H);
    cart(&mut laptop, T0 - 3 * H, "linen-shirt");

    let m = laptop.merged(&phone, &cfg(), T0);
    let items: Vec<&str> = m.cart.iter().map(|l| l.item.as_str()).collect();
    assert_eq!(items, ["wool-knit"], "the phone's cart is newer");
    let knit = m.categories.iter().find(|s| s.key == "knit").unwrap();
    let alone = laptop.categories.iter().find(|s| s.key == "knit").unwrap();
    assert!(knit.value > alone.value, "{knit:?} vs {alone:?}");
    // The laptop's cart stays when it is the newer one.
    cart(&mut laptop, T0, "linen-shirt");
    let m = laptop.merged(&phone, &cfg(), T0);
    assert_eq!(m.cart.len(), 1);
    assert_eq!(m.cart[0].item, "linen-shirt");
}

#[test]
fn merging_nothing_changes_nothing() {
    let mut laptop = Profile::default();
    view(&mut laptop, T0);
    buy(&mut laptop, T0 + H, "order-1", 10_000.0);
    assert_eq!(laptop.merged(&Profile::default(), &cfg(), T0 + H), laptop);
}

#[test]
fn a_published_churn_model_gives_the_shoppers_figures_and_can_decide_at_risk() {
    use crate::churn::{BgNbd, ChurnModel, GammaGamma};
    let model = ChurnModel {
        bgnbd: BgNbd {
            r: 0.24,
            alpha: 4.4,
            a: 0.79,
            b: 2.4,
        },
        spend: Some(GammaGamma {
            p: 6.0,
            q: 4.0,
            v: 15.0,
        }),
    };
    // Three orders ten days apart, the last fifteen days ago: inside the
    // gap rule (2 x 10 days, at least 14), so not at risk by it.
    let mut p = Profile::default();
    for (i, days) in [35, 25].into_iter().enumerate() {
        buy(&mut p, T0 - days * DAY, &format!("t{i}"), 30_000.0);
    }
    buy(&mut p, T0 - 15 * DAY, "t2", 30_000.0);
    let now = T0;
    let plain = cfg();
    assert!(p.facts(&plain, now).churn.is_none(), "no model, no figures");
    assert_ne!(p.stage_at(&plain, now), Stage::AtRisk);

    let with_model = ProfileConfig {
        churn: Some(model),
        ..cfg()
    };
    // The browser's figures are the server's: the same history read the
    // same way.
    let figures = p.facts(&with_model, now).churn.unwrap();
    let server = model
        .figures(
            p.orders,
            p.revenue,
            p.last_purchase_ms,
            p.purchase_gap_days,
            now,
        )
        .unwrap();
    assert_eq!(figures, server);
    assert!(
        figures.p_alive > 0.0 && figures.p_alive < 1.0,
        "{figures:?}"
    );
    // A model alone changes no stage; with a threshold above this shopper's
    // P(alive) they are at risk, below it they are not.
    assert_eq!(p.stage_at(&with_model, now), p.stage_at(&plain, now));
    let threshold = |t: f64| ProfileConfig {
        at_risk_p_alive: Some(t),
        ..with_model.clone()
    };
    assert_eq!(
        p.stage_at(&threshold(figures.p_alive + 0.01), now),
        Stage::AtRisk
    );
    assert_ne!(
        p.stage_at(&threshold(figures.p_alive - 0.01), now),
        Stage::AtRisk
    );
    // A threshold without a model keeps the gap rule.
    let no_model = ProfileConfig {
        at_risk_p_alive: Some(0.99),
        ..cfg()
    };
    assert_eq!(p.stage_at(&no_model, now), p.stage_at(&plain, now));
}

/// A shopper with something in every field attributes read: categories
/// viewed, items viewed again and again, a cart, two orders a year apart,
/// offers seen, clicked, claimed and converted.
fn rich_profile() -> Profile {
    let mut p = Profile::default();
    let year_ago = T0 - 365 * DAY;
    buy(&mut p, year_ago, "t-1", 45_000.0);
    for (i, t) in [T0, T0 + 2 * H, T0 + 40 * DAY].into_iter().enumerate() {
        let inputs = [
            Input::PageView {
                category: Some("knit".into()),
                sale: i == 1,
            },
            Input::ViewItem {
                item: "knit-02".into(),
                category: Some("knit".into()),
                brand: Some("acme".into()),
            },
            Input::ViewItem {
                item: "denim-9".into(),
                category: Some("denim".into()),
                brand: None,
            },
            Input::AddToCart {
                item: format!("knit-0{i}"),
                category: Some("knit".into()),
                price: 39_000.5,
                quantity: 2,
            },
            Input::Engaged { seconds: 200 },
            Input::Exposure {
                campaign: "welcome-hero".into(),
                variant: "b".into(),
            },
            Input::Click {
                campaign: "welcome-hero".into(),
            },
            Input::Claim {
                campaign: "cart-coupon".into(),
            },
            Input::Convert {
                campaign: "welcome-hero".into(),
            },
        ];
        for input in &inputs {
            p.apply(input, &cfg(), t, 540);
        }
    }
    buy(&mut p, T0 + 41 * DAY, "t-2", 78_000.0);
    p.apply(
        &Input::AddToCart {
            item: "bag-1".into(),
            category: Some("bags".into()),
            price: 120_000.0,
            quantity: 1,
        },
        &cfg(),
        T0 + 42 * DAY,
        540,
    );
    p
}

fn attributes_at(p: &Profile, now: i64) -> Value {
    crate::attributes::build(
        &crate::attributes::PageContext::default(),
        &p.facts(&cfg(), now),
        &Map::new(),
        crate::consent::Consent::Granted,
        &crate::time::Moment::utc(now),
    )
}

#[test]
fn the_segment_form_gives_the_attributes_the_profile_gives() {
    for p in [Profile::default(), rich_profile()] {
        let bytes = p.segment_form();
        let back = Profile::from_segment_form(&bytes).expect("its own form reads");
        for now in [T0 + 42 * DAY + H, T0 + 100 * DAY, T0 + 365 * DAY + 41 * DAY] {
            assert_eq!(
                attributes_at(&back, now),
                attributes_at(&p, now),
                "at {now}"
            );
            assert_eq!(back.stage_at(&cfg(), now), p.stage_at(&cfg(), now));
        }
    }
    let p = rich_profile();
    assert!(p.orders == 2 && !p.cart.is_empty() && !p.ledger.entries().is_empty());
    let json_len = p.to_value().to_string().len();
    let form_len = p.segment_form().len();
    assert!(
        form_len * 2 < json_len,
        "{form_len} bytes against {json_len} as JSON"
    );
}

#[test]
fn every_stage_reads_back_from_the_segment_form() {
    for name in ["new", "active", "loyal", "vip", "at_risk", "dormant"] {
        let stage = Stage::parse(name).unwrap();
        let p = Profile {
            stage,
            previous_stage: Some(stage),
            ..Profile::default()
        };
        let back = Profile::from_segment_form(&p.segment_form()).unwrap();
        assert_eq!((back.stage, back.previous_stage), (stage, Some(stage)));
    }
}

#[test]
fn a_cut_or_changed_segment_form_reads_as_nothing() {
    let bytes = rich_profile().segment_form();
    for end in 0..bytes.len() {
        assert_eq!(
            Profile::from_segment_form(&bytes[..end]),
            None,
            "cut at {end}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(Profile::from_segment_form(&longer), None);
    let mut other = bytes;
    other[0] = 2;
    assert_eq!(
        Profile::from_segment_form(&other),
        None,
        "another form version"
    );
}

proptest::proptest! {
    #[test]
    fn any_segment_form_bytes_read_without_a_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let _ = Profile::from_segment_form(&bytes);
    }
}

#[test]
fn a_shopper_who_left_ages_into_dormant_as_if_coming_back() {
    let mut p = Profile::default();
    view(&mut p, T0);
    view(&mut p, T0 + 3 * DAY);
    assert_eq!(p.stage, Stage::Active);
    // Still in the session: nothing changes.
    let mut same = p.clone();
    same.return_at(&cfg(), T0 + 3 * DAY + 10 * 60_000);
    assert_eq!(same, p);
    // Nine days on: a session ago, not yet dormant.
    let mut later = p.clone();
    later.return_at(&cfg(), T0 + 12 * DAY);
    let facts = later.facts(&cfg(), T0 + 12 * DAY);
    assert_eq!(facts.days_since_last_visit, Some(9.0));
    assert_eq!(facts.lifecycle.as_deref(), Some("active"));
    assert_eq!(
        (later.visits, later.sessions),
        (p.visits, p.sessions),
        "no visit counted"
    );
    // Forty days on: dormant, and the stage it left is the previous one.
    let mut gone = p.clone();
    gone.return_at(&cfg(), T0 + 43 * DAY);
    let facts = gone.facts(&cfg(), T0 + 43 * DAY);
    assert_eq!(facts.days_since_last_visit, Some(40.0));
    assert_eq!(facts.lifecycle.as_deref(), Some("dormant"));
    assert_eq!(facts.previous_lifecycle.as_deref(), Some("active"));
    // A shopper with no activity stays as they are.
    let mut none = Profile::default();
    none.return_at(&cfg(), T0);
    assert_eq!(none, Profile::default());
}

#[test]
fn the_compact_stored_form_keeps_every_field_and_refuses_anything_else() {
    let mut p = rich_profile();
    p.apply(
        &Input::Dismiss {
            campaign: "welcome-hero".into(),
        },
        &cfg(),
        T0 + 43 * DAY,
        540,
    );
    p.previous_stage = Some(Stage::Dormant);
    p.purchase_gap_days = Some(40.5);
    let text = p.to_text();
    assert_eq!(Profile::from_text(&text).as_ref(), Some(&p));
    // Every field the JSON form kept, in a fraction of its bytes.
    let json = serde_json::to_string(&p.to_value()).unwrap();
    assert!(
        text.len() * 2 < json.len(),
        "{} against {}",
        text.len(),
        json.len()
    );
    assert_eq!(
        Profile::from_text(&Profile::default().to_text()),
        Some(Profile::default())
    );
    // Not this form: JSON, other base64, cut short, a byte more, a later
    // version.
    assert_eq!(Profile::from_text(&json), None);
    assert_eq!(Profile::from_text("AAAA"), None);
    let mut bytes = crate::wire::unbase64(&text).unwrap();
    assert_eq!(
        Profile::from_text(&crate::wire::base64(&bytes[..bytes.len() - 1])),
        None
    );
    bytes.push(0);
    assert_eq!(Profile::from_text(&crate::wire::base64(&bytes)), None);
    bytes.pop();
    bytes[0] = 2;
    assert_eq!(Profile::from_text(&crate::wire::base64(&bytes)), None);
}

#[test]
fn a_stored_form_beyond_the_profiles_bounds_is_refused() {
    let too_many = |n: usize, long: usize| {
        Profile {
            categories: (0..n)
                .map(|i| Score {
                    key: format!("{i}{}", "x".repeat(long)),
                    value: 1.0,
                    at_ms: T0,
                })
                .collect(),
            ..Profile::default()
        }
        .to_text()
    };
    assert!(Profile::from_text(&too_many(MAX_SCORES, 10)).is_some());
    assert_eq!(Profile::from_text(&too_many(MAX_SCORES + 1, 10)), None);
    assert_eq!(Profile::from_text(&too_many(1, MAX_ID_LEN)), None);
    let nan = Profile {
        revenue: f64::NAN,
        ..Profile::default()
    };
    assert_eq!(Profile::from_text(&nan.to_text()), None);
    let transactions = Profile {
        transactions: (0..=MAX_TRANSACTIONS).map(|i| i.to_string()).collect(),
        ..Profile::default()
    };
    assert_eq!(Profile::from_text(&transactions.to_text()), None);
}
