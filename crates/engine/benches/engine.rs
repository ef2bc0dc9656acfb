//! Engine benchmarks; `cargo xtask bench` copies the figures into
//! `target/bench/report.json`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and bench code: a panic is a failure

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use dangol_engine::condition::{Condition, NativeRegex, Paths};
use dangol_engine::config::SiteConfig;
use dangol_engine::consent::Consent;
use dangol_engine::decide::{Shopper, decide_page};
use dangol_engine::json;
use dangol_engine::json::Value;
use dangol_engine::ledger::Ledger;
use dangol_engine::random::SplitMix64;
use dangol_engine::time::Moment;

const NOW: i64 = 1_795_617_000_000;

/// Ten shapes of audience marketers actually write, varied by `i`.
fn realistic_condition(i: usize) -> Value {
    match i % 10 {
        0 => json!({"lifecycle": {"$in": ["at_risk", "dormant"]}, "orders": {"$gte": 1}}),
        1 => json!({"cart.value": {"$gte": 50000 + i as u64}, "cart.items": {"$gt": 0}}),
        2 => json!({"page.path": {"$regex": format!("^/demo/product/{}", i % 7)}}),
        3 => {
            json!({"$or": [{"declared.tier": "gold"}, {"declared.tier": "vip"}], "rfm.r": {"$lte": 2}})
        }
        4 => {
            json!({"affinity": {"$elemMatch": {"$eq": "knit"}}, "price_sensitivity": {"$gt": 0.5}})
        }
        5 => json!({"device": "mobile", "local_hour": {"$gte": 18, "$lt": 23}}),
        6 => json!({"utm.source": {"$ini": ["Newsletter", "kakao"]}, "visits": {"$gt": 3}}),
        7 => {
            json!({"$and": [{"days_since_last_visit": {"$gte": 30}}, {"$not": {"lifecycle": "new"}}]})
        }
        8 => json!({"declared.birthday_month": 11, "consent": "granted"}),
        _ => {
            json!({"page.type": "category", "page.category": {"$nin": ["sale", "outlet"]}, "viewed_without_buying": {"$gte": 2}})
        }
    }
}

fn attributes() -> Value {
    json!({
        "page": {"path": "/demo/product/3", "type": "product", "category": "knit", "url": "https://shop.example/demo/product/3"},
        "device": "mobile", "locale": "ko-KR", "local_hour": 21, "weekday": 3,
        "utm": {"source": "newsletter"}, "consent": "granted",
        "visits": 14, "sessions": 6, "days_since_last_visit": 2.5, "lifecycle": "at_risk",
        "rfm": {"r": 2, "f": 4, "m": 4}, "orders": 3, "revenue": 212000, "aov": 70666,
        "cart": {"items": 2, "value": 61000}, "affinity": ["knit", "outer"],
        "price_sensitivity": 0.7, "viewed_without_buying": 3,
        "declared": {"tier": "gold", "points": 1200, "name": "Minji", "birthday_month": 11}
    })
}

fn config_100() -> Value {
    let placements = [
        "home-hero",
        "category-top",
        "product-promo",
        "cart-note",
        "footer",
    ];
    let campaigns: Vec<Value> = (0..100)
        .map(|i| {
            json!({
                "id": format!("campaign-{i}"),
                "placements": [placements[i % placements.len()]],
                "priority": (i * 7) % 13,
                "condition": realistic_condition(i),
                "caps": {"per_day": 3, "per_week": 10, "min_gap_minutes": 30},
                "holdout": 0.05,
                "group": if i % 3 == 0 { Some("promo") } else { None },
                "variants": [
                    {"id": "a", "content": {"type": "banner", "headline": format!("Offer {i} A"), "cta": {"text": "Go", "url": "/demo/sale"}}},
                    {"id": "b", "content": {"type": "banner", "headline": format!("Offer {i} B")}}
                ]
            })
        })
        .collect();
    json!({"schema": 1, "site": "bench", "version": 1, "campaigns": campaigns,
           "pressure": {"per_session": 5, "per_day": 10}})
}

fn benches(c: &mut Criterion) {
    let attrs = attributes();
    let groups = json!({});
    // Compiled together and evaluated as a page's decision does: each round
    // looks every attribute path up once.
    let mut paths = Paths::default();
    let conditions: Vec<Condition> = (0..100)
        .map(|i| {
            Condition::compile_with(&realistic_condition(i), &NativeRegex, &mut paths)
                .expect("valid")
        })
        .collect();
    c.bench_function("engine_eval_100_conditions", |b| {
        b.iter(|| {
            let mut hits = 0;
            let attrs = black_box(&attrs);
            let resolved = paths.resolve(attrs);
            for cond in &conditions {
                if cond.eval_resolved(&resolved, attrs, &groups, &NativeRegex) {
                    hits += 1;
                }
            }
            hits
        })
    });

    let raw = config_100();
    c.bench_function("engine_compile_100_campaigns", |b| {
        b.iter(|| SiteConfig::compile_value(black_box(&raw), &NativeRegex).expect("valid"))
    });

    let config = SiteConfig::compile_value(&raw, &NativeRegex).expect("valid");
    // What a returning shopper's page does with the stored config (the
    // browser's figure is `config_load_us_100`).
    let text = dangol_engine::config::compact::write(&config, "bench");
    c.bench_function("engine_read_compact_100_campaigns", |b| {
        b.iter(|| {
            dangol_engine::config::compact::read(black_box(&text), &NativeRegex).expect("valid")
        })
    });

    let mut ledger = Ledger::default();
    for i in (0..100).step_by(9) {
        ledger.record_show(&format!("campaign-{i}"), "a", NOW - 3_600_000);
    }
    let placements = [
        "home-hero",
        "category-top",
        "product-promo",
        "cart-note",
        "footer",
    ];
    let moment = Moment {
        now_ms: NOW,
        utc_offset_minutes: 540,
        session_start_ms: NOW - 600_000,
    };
    c.bench_function("engine_decide_100_campaigns", |b| {
        let mut rng = SplitMix64::new(1);
        b.iter(|| {
            let shopper = Shopper {
                attributes: &attrs,
                id: Some("0123456789abcdef0123456789abcdef"),
                consent: Consent::Granted,
                ledger: &ledger,
            };
            decide_page(
                &config,
                black_box(&placements),
                &shopper,
                &moment,
                &mut rng,
                &NativeRegex,
            )
        })
    });

    // The churn model's figures for one shopper, as the widget works them
    // out: P(alive) and the purchases expected in 90 days.
    let model = dangol_engine::churn::BgNbd {
        r: 0.243,
        alpha: 30.9,
        a: 0.793,
        b: 2.426,
    };
    c.bench_function("engine_p_alive", |b| {
        b.iter(|| model.p_alive(black_box(4), black_box(180.0), black_box(260.0)))
    });
    // Ranking recommendations for one shopper (30 items of history) from a
    // model of 2,000 items, as the device will.
    let shape = dangol_engine::recs::eval::Shape::default();
    let (events, _) = dangol_engine::recs::eval::generate(&shape, NOW);
    let recs = dangol_engine::recs::Model::build(
        &events,
        shape.items as usize,
        NOW,
        &dangol_engine::recs::Params::default(),
    );
    let history: Vec<dangol_engine::recs::Touched> = events
        .iter()
        .take(30)
        .map(|x| dangol_engine::recs::Touched {
            item: x.item,
            kind: x.kind,
            ts_ms: x.ts_ms,
            excluded: x.kind == dangol_engine::recs::Kind::Purchase,
        })
        .collect();
    c.bench_function("engine_recs_rank", |b| {
        b.iter(|| {
            dangol_engine::recs::rank(
                &recs,
                black_box(&history),
                10,
                3,
                &|i| Some(i % 40),
                NOW,
                dangol_engine::recs::HISTORY_HALF_LIFE_DAYS,
            )
        })
    });
    c.bench_function("engine_expected_orders_90d", |b| {
        b.iter(|| model.expected_purchases(90.0, black_box(4), black_box(180.0), black_box(260.0)))
    });
}

criterion_group! {
    name = engine;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = benches
}
criterion_main!(engine);
