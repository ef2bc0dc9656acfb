use super::*;

const NOW: i64 = 1_800_000_000_000;
const DAY: i64 = 86_400_000;

fn x(shopper: u32, item: u32, kind: Kind, days_ago: i64) -> Interaction {
    Interaction {
        shopper,
        item,
        kind,
        ts_ms: NOW - days_ago * DAY,
    }
}

/// Items 0 and 1 go together; item 9 is a best-seller everyone buys.
fn shop() -> Vec<Interaction> {
    let mut events = Vec::new();
    for s in 0..20 {
        events.push(x(s, 9, Kind::Purchase, 3));
    }
    for s in 0..6 {
        events.push(x(s, 0, Kind::View, 5));
        events.push(x(s, 1, Kind::Purchase, 4));
    }
    for s in 6..9 {
        events.push(x(s, 0, Kind::View, 5));
        events.push(x(s, 2, Kind::View, 5));
    }
    events
}

#[test]
fn items_bought_together_are_neighbours_above_a_best_seller() {
    let model = Model::build(&shop(), 10, NOW, &Params::default());
    let of_0: Vec<u32> = model.neighbours[0].iter().map(|n| n.0).collect();
    // 9 co-occurs with 0 as often as 1 does, but everyone buys it.
    assert_eq!(of_0[0], 1, "{:?}", model.neighbours[0]);
    assert_eq!(model.popular[0], 9);
    // An item nobody touched has no neighbours and is not popular.
    assert!(model.neighbours[5].is_empty());
    assert!(!model.popular.contains(&5));
}

#[test]
fn a_purchase_counts_more_than_a_view_and_old_interactions_fade() {
    let p = Params::default();
    // Shopper 0 bought 0 and 1 together; shopper 1 only viewed 0 and 2.
    let weighted = Model::build(
        &[
            x(0, 0, Kind::Purchase, 1),
            x(0, 1, Kind::Purchase, 1),
            x(1, 0, Kind::View, 1),
            x(1, 2, Kind::View, 1),
        ],
        3,
        NOW,
        &p,
    );
    assert_eq!(weighted.neighbours[0][0].0, 1);
    // The same, but the purchases were ten years ago (five half-lives).
    let faded = Model::build(
        &[
            x(0, 0, Kind::Purchase, 3650),
            x(0, 1, Kind::Purchase, 3650),
            x(1, 0, Kind::View, 1),
            x(1, 2, Kind::View, 1),
        ],
        3,
        NOW,
        &p,
    );
    assert_eq!(faded.neighbours[0][0].0, 2);
}

#[test]
fn the_ranking_leaves_out_what_was_bought_names_why_and_fills_with_best_sellers() {
    let model = Model::build(&shop(), 10, NOW, &Params::default());
    let viewed = Touched {
        item: 0,
        kind: Kind::View,
        ts_ms: NOW - DAY,
        excluded: false,
    };
    let picks = rank(&model, &[viewed], 4, 4, &|_| None, NOW, 90.0);
    assert_eq!(picks[0].item, 1);
    assert_eq!(picks[0].because, Some((0, Kind::View)));
    assert!(picks.iter().all(|p| p.item != 0 || p.because.is_none()));
    // Bought 1 already: it is never offered back.
    let bought = Touched {
        item: 1,
        kind: Kind::Purchase,
        ts_ms: NOW - DAY,
        excluded: true,
    };
    let picks = rank(&model, &[viewed, bought], 4, 4, &|_| None, NOW, 90.0);
    assert!(picks.iter().all(|p| p.item != 1), "{picks:?}");
    // No history (or no personalisation consent): best-sellers only.
    let picks = rank(&model, &[], 3, 3, &|_| None, NOW, 90.0);
    assert_eq!(
        picks.iter().map(|p| p.item).collect::<Vec<_>>(),
        model.popular[..3].to_vec()
    );
    assert!(picks.iter().all(|p| p.because.is_none() && p.score == 0.0));
}

#[test]
fn one_category_takes_at_most_its_share_of_the_row() {
    let model = Model::build(&shop(), 10, NOW, &Params::default());
    let viewed = Touched {
        item: 0,
        kind: Kind::View,
        ts_ms: NOW,
        excluded: false,
    };
    // Items 1 and 2 are one category; 9 another.
    let category = |i: u32| Some(u32::from(i == 9));
    let picks = rank(&model, &[viewed], 3, 1, &category, NOW, 90.0);
    let cats: Vec<Option<u32>> = picks.iter().map(|p| category(p.item)).collect();
    assert_eq!(picks.len(), 2, "{picks:?}");
    assert_eq!(cats, [Some(0), Some(1)]);
}

#[test]
fn offline_the_model_beats_the_reference_cosine_and_doubles_best_sellers() {
    let scores = eval::evaluate(&eval::Shape::default(), 10);
    assert!(scores.shoppers > 1000, "{scores:?}");
    assert!(scores.model.0 >= scores.cosine.0, "hit rate: {scores:?}");
    assert!(scores.model.1 >= scores.cosine.1, "NDCG: {scores:?}");
    assert!(
        scores.model.0 >= 2.0 * scores.popular.0,
        "hit rate: {scores:?}"
    );
    assert!(scores.model.1 >= 2.0 * scores.popular.1, "NDCG: {scores:?}");
}
