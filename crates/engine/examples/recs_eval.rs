//! The recommendations' offline figures for `cargo xtask bench`, as one
//! JSON object: hit rate and NDCG at 10 of the model, of a plain item-item
//! cosine (the reference) and of best-sellers on the generated event set
//! (each shopper's last purchase held out), and the seconds to build the
//! model from a million events. With a path, it also writes there the
//! published form of a model of 10,000 items (for its compressed size).
#![allow(clippy::print_stdout)] // the figures are this program's output

use dangol_engine::recs::eval::{Shape, evaluate, generate};
use dangol_engine::recs::published::{Card, MAX_ITEMS, MAX_NEIGHBOURS, Published, bounded, write};
use dangol_engine::recs::{Model, Params};

/// The published form of a model of 10,000 items with cards as a shop's
/// catalog has them, bounded for the widget as the server publishes it.
fn published_10k(now: i64) -> String {
    let shape = Shape {
        items: 10_000,
        group: 8,
        shoppers: 60_000,
        seed: 13,
    };
    let (events, _) = generate(&shape, now);
    let model = Model::build(&events, shape.items as usize, now, &Params::default());
    let mut touches = vec![0.0; shape.items as usize];
    for e in &events {
        touches[e.item as usize] += e.kind.weight();
    }
    let cards = (0..shape.items)
        .map(|i| Card {
            id: format!("item-{i:05}"),
            name: format!("Product {i} in wool and cotton"),
            url: Some(format!("/product/item-{i:05}")),
            image: Some(format!("/img/item-{i:05}.jpg")),
            price: f64::from(10_000 + (i * 37 % 90) * 1_000),
            sale_price: (i % 5 == 0).then(|| f64::from(9_000 + (i * 37 % 90) * 1_000)),
            category: Some(i % 40),
        })
        .collect();
    let published = Published {
        site: "bench".into(),
        built_ms: now,
        categories: (0..40).map(|c| format!("category-{c}")).collect(),
        cards,
        model,
    };
    write(&bounded(published, &touches, MAX_ITEMS, MAX_NEIGHBOURS))
}

fn main() {
    let scores = evaluate(&Shape::default(), 10);
    // About a million events: 94,000 shoppers over 20,000 items.
    let big = Shape {
        items: 20_000,
        group: 8,
        shoppers: 94_000,
        seed: 11,
    };
    let now = 1_800_000_000_000;
    let (events, _) = generate(&big, now);
    let start = std::time::Instant::now();
    let model = Model::build(&events, big.items as usize, now, &Params::default());
    let build_s = start.elapsed().as_secs_f64();
    if let Some(path) = std::env::args().nth(1)
        && let Err(e) = std::fs::write(&path, published_10k(now))
    {
        eprintln!("could not write {path}: {e}");
        std::process::exit(1);
    }
    let round = |x: f64| (x * 10_000.0).round() / 10_000.0;
    println!(
        "{{\"recs_hit_rate_10\": {}, \"recs_ndcg_10\": {}, \"recs_cosine_hit_rate_10\": {}, \"recs_cosine_ndcg_10\": {}, \"recs_popular_hit_rate_10\": {}, \"recs_popular_ndcg_10\": {}, \"recs_eval_shoppers\": {}, \"recs_build_events\": {}, \"recs_build_s_1m\": {}, \"recs_model_items_with_neighbours\": {}}}",
        round(scores.model.0),
        round(scores.model.1),
        round(scores.cosine.0),
        round(scores.cosine.1),
        round(scores.popular.0),
        round(scores.popular.1),
        scores.shoppers,
        events.len(),
        (build_s * 100.0).round() / 100.0,
        model.neighbours.iter().filter(|n| !n.is_empty()).count(),
    );
}
