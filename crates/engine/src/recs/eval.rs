//! Offline evaluation of the recommendations: a generated event set with
//! planted structure (items come in groups that are bought together,
//! shoppers buy and cart within a group or two of their own and view more
//! widely, some move to another group halfway, best-sellers everywhere),
//! split by holding out each
//! shopper's last purchase, and hit rate and NDCG at 10 for the model,
//! for a plain item-item cosine similarity (the reference: binary
//! shopper-item vectors, no weights, no decay) and for best-sellers.
//! For the engine's tests and `cargo xtask bench`, not for the widget.

use std::collections::{HashMap, HashSet};

use super::{Interaction, Kind, Model, Params, Touched, rank};
use crate::random::{Random, SplitMix64};

const DAY_MS: i64 = 86_400_000;

/// The generated shop.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Items (in groups of `group`).
    pub items: u32,
    /// Items that go together.
    pub group: u32,
    /// Shoppers.
    pub shoppers: u32,
    /// The seed.
    pub seed: u64,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            items: 2_000,
            group: 8,
            shoppers: 6_000,
            seed: 7,
        }
    }
}

/// A Zipf-like draw in `0..n` (rank r with weight 1 / (r + 1)).
fn zipf(rng: &mut SplitMix64, n: u32) -> u32 {
    // Inverse of the continuous approximation: r = n^u - 1.
    let r = (f64::from(n) + 1.0).powf(rng.next_f64()) - 1.0;
    (r as u32).min(n - 1)
}

/// The generated events (time order per shopper) and, for each shopper
/// with at least two purchases, the last one: held out.
pub fn generate(shape: &Shape, now_ms: i64) -> (Vec<Interaction>, HashMap<u32, u32>) {
    let mut rng = SplitMix64::new(shape.seed);
    let groups = shape.items / shape.group;
    // Groups and items within them are shuffled so popularity is not the
    // item number.
    let mut order: Vec<u32> = (0..shape.items).collect();
    for i in (1..order.len()).rev() {
        let j = (rng.next_f64() * (i + 1) as f64) as usize;
        order.swap(i, j);
    }
    let item_in = |g: u32, k: u32| order[(g * shape.group + k) as usize];
    let mut events = Vec::new();
    let mut held = HashMap::new();
    for s in 0..shape.shoppers {
        let mut interests = [zipf(&mut rng, groups), zipf(&mut rng, groups)];
        // Some shoppers' taste moves on halfway through.
        let drift = rng.next_f64() < 0.3;
        let n = 6 + (rng.next_f64() * 14.0) as u32;
        let mut ts = now_ms - (120 + (rng.next_f64() * 240.0) as i64) * DAY_MS;
        let mut purchases = Vec::new();
        for e in 0..n {
            if drift && e == n / 2 {
                interests[0] = zipf(&mut rng, groups);
            }
            ts += (rng.next_f64() * 10.0 * DAY_MS as f64) as i64;
            let roll = rng.next_f64();
            let kind = if roll < 0.25 {
                Kind::Purchase
            } else if roll < 0.45 {
                Kind::Cart
            } else {
                Kind::View
            };
            // What a shopper buys or carts is mostly what they are into;
            // what they view, half the time anything (best-sellers most).
            let focus = if kind == Kind::View { 0.5 } else { 0.9 };
            let item = if rng.next_f64() < focus {
                let g = interests[usize::from(rng.next_f64() < 0.3)];
                item_in(g, zipf(&mut rng, shape.group))
            } else {
                item_in(zipf(&mut rng, groups), zipf(&mut rng, shape.group))
            };
            events.push(Interaction {
                shopper: s,
                item,
                kind,
                ts_ms: ts,
            });
            if kind == Kind::Purchase {
                purchases.push(events.len() - 1);
            }
        }
        if purchases.len() >= 2
            && let Some(&last) = purchases.last()
        {
            held.insert(s, events[last].item);
            // The held-out purchase is the shopper's last event: what came
            // after it is not known at prediction time.
            events.truncate(last + 1);
        }
    }
    (events, held)
}

/// Hit rate and NDCG at `k` of each method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// The model ([`Model::build`] and [`rank`]).
    pub model: (f64, f64),
    /// Plain item-item cosine.
    pub cosine: (f64, f64),
    /// Best-sellers.
    pub popular: (f64, f64),
    /// Shoppers evaluated.
    pub shoppers: usize,
}

fn ndcg(list: &[u32], target: u32) -> (f64, f64) {
    match list.iter().position(|&i| i == target) {
        Some(r) => (1.0, 1.0 / ((r + 2) as f64).log2()),
        None => (0.0, 0.0),
    }
}

/// The reference: cosine over binary shopper-item vectors, scores summed
/// over the shopper's items, what they bought left out.
fn cosine_lists(train: &[Interaction], items: u32, k: usize) -> HashMap<u32, Vec<u32>> {
    // Sorted sets, so sums are made in one order and the figures repeat.
    let mut by_shopper: std::collections::BTreeMap<u32, std::collections::BTreeSet<u32>> =
        std::collections::BTreeMap::new();
    for x in train {
        by_shopper.entry(x.shopper).or_default().insert(x.item);
    }
    let mut count = vec![0f64; items as usize];
    let mut co: Vec<std::collections::BTreeMap<u32, f64>> =
        vec![std::collections::BTreeMap::new(); items as usize];
    for set in by_shopper.values() {
        for &i in set {
            count[i as usize] += 1.0;
            for &j in set {
                if i != j {
                    *co[i as usize].entry(j).or_insert(0.0) += 1.0;
                }
            }
        }
    }
    let bought: HashMap<u32, HashSet<u32>> = train
        .iter()
        .filter(|x| x.kind == Kind::Purchase)
        .fold(HashMap::new(), |mut m, x| {
            m.entry(x.shopper).or_default().insert(x.item);
            m
        });
    by_shopper
        .iter()
        .map(|(&s, set)| {
            let mut score: std::collections::BTreeMap<u32, f64> = std::collections::BTreeMap::new();
            for &h in set {
                for (&c, &n) in &co[h as usize] {
                    *score.entry(c).or_insert(0.0) +=
                        n / (count[h as usize] * count[c as usize]).sqrt();
                }
            }
            let none = HashSet::new();
            let own = bought.get(&s).unwrap_or(&none);
            let mut list: Vec<(u32, f64)> = score
                .into_iter()
                .filter(|(c, _)| !own.contains(c))
                .collect();
            list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            (s, list.into_iter().take(k).map(|(c, _)| c).collect())
        })
        .collect()
}

/// Trains on everything but each shopper's held-out last purchase and
/// scores the three methods at `k`.
pub fn evaluate(shape: &Shape, k: usize) -> Scores {
    evaluate_with(shape, k, &Params::default())
}

/// [`evaluate`] with the model built with `params`.
pub fn evaluate_with(shape: &Shape, k: usize, params: &Params) -> Scores {
    let now_ms = 1_800_000_000_000;
    let (events, held) = generate(shape, now_ms);
    let train: Vec<Interaction> = events
        .iter()
        .enumerate()
        .filter(|(i, x)| {
            // Drop the held-out purchase: the shopper's last event.
            !(held.contains_key(&x.shopper)
                && events
                    .get(i + 1)
                    .is_none_or(|next| next.shopper != x.shopper))
        })
        .map(|(_, x)| *x)
        .collect();
    let model = Model::build(&train, shape.items as usize, now_ms, params);
    let cosine = cosine_lists(&train, shape.items, k);
    let mut histories: HashMap<u32, HashMap<u32, Touched>> = HashMap::new();
    for x in &train {
        let t = histories
            .entry(x.shopper)
            .or_default()
            .entry(x.item)
            .or_insert(Touched {
                item: x.item,
                kind: x.kind,
                ts_ms: x.ts_ms,
                excluded: false,
            });
        if x.kind.weight() > t.kind.weight() {
            t.kind = x.kind;
        }
        t.ts_ms = t.ts_ms.max(x.ts_ms);
        t.excluded |= x.kind == Kind::Purchase;
    }
    let mut shoppers: Vec<(u32, u32)> = held.iter().map(|(&s, &t)| (s, t)).collect();
    shoppers.sort();
    let mut sums = [0.0f64; 6];
    for &(s, target) in &shoppers {
        let mut history: Vec<Touched> = histories
            .get(&s)
            .map(|h| h.values().copied().collect())
            .unwrap_or_default();
        history.sort_by_key(|t| t.item);
        let ours: Vec<u32> = rank(
            &model,
            &history,
            k,
            k,
            &|_| None,
            now_ms,
            super::HISTORY_HALF_LIFE_DAYS,
        )
        .iter()
        .map(|p| p.item)
        .collect();
        let bought: HashSet<u32> = history
            .iter()
            .filter(|t| t.excluded)
            .map(|t| t.item)
            .collect();
        let popular: Vec<u32> = model
            .popular
            .iter()
            .copied()
            .filter(|i| !bought.contains(i))
            .take(k)
            .collect();
        let reference = cosine.get(&s).cloned().unwrap_or_default();
        for (slot, list) in [ours, reference, popular].iter().enumerate() {
            let (hit, gain) = ndcg(list, target);
            sums[2 * slot] += hit;
            sums[2 * slot + 1] += gain;
        }
    }
    let n = shoppers.len().max(1) as f64;
    Scores {
        model: (sums[0] / n, sums[1] / n),
        cosine: (sums[2] / n, sums[3] / n),
        popular: (sums[4] / n, sums[5] / n),
        shoppers: shoppers.len(),
    }
}
