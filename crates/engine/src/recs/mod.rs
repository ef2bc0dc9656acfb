//! Recommendations: which items go together, learned on the server from
//! everyone's consented events, and the ranking for one shopper, worked
//! out on their device from their own history.
//!
//! The model is item-to-item collaborative filtering (Linden, Smith & York
//! 2003, "Amazon.com recommendations: item-to-item collaborative
//! filtering"): two items are related when the same shoppers touch both.
//! Each shopper's items count by what they did (a purchase more than a
//! cart, a cart more than a view) and how long ago (halving every
//! [`Params::half_life_days`]); the similarity of `i` to `j` is their
//! co-occurrence divided by `n_i^(1-p) · n_j^p`, where `n` is an item's
//! weighted reach: with `p` ([`Params::popularity`]) at ½ that is the
//! cosine of the weighted vectors, so a best-seller that co-occurs with
//! everything does not crowd out what really goes with an item (above ½
//! best-sellers are discounted further). Each item keeps its
//! [`Params::neighbours`] best.
//!
//! Items are numbered `0..items` by the caller (the server maps its
//! catalog ids to numbers).

use std::collections::HashMap;

pub mod device;
#[doc(hidden)]
pub mod eval;
pub mod published;

/// What a shopper did with an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Viewed it.
    View,
    /// Put it in the cart.
    Cart,
    /// Bought it.
    Purchase,
}

impl Kind {
    /// How much it says about the shopper's taste.
    pub fn weight(self) -> f64 {
        match self {
            Kind::View => 1.0,
            Kind::Cart => 3.0,
            Kind::Purchase => 5.0,
        }
    }
}

/// One thing one shopper did with one item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interaction {
    /// The shopper, numbered by the caller.
    pub shopper: u32,
    /// The item, numbered `0..items`.
    pub item: u32,
    /// What they did.
    pub kind: Kind,
    /// When (ms since the epoch).
    pub ts_ms: i64,
}

/// How the model is built.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Neighbours kept per item.
    pub neighbours: usize,
    /// An interaction counts half after this many days (which items go
    /// together changes slowly: two years).
    pub half_life_days: f64,
    /// The exponent on a neighbour's reach (½: cosine; more: best-sellers
    /// discounted further).
    pub popularity: f64,
    /// The most items of one shopper paired with each other (their
    /// weightiest), which bounds the work per shopper.
    pub max_basket: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            neighbours: 20,
            half_life_days: 730.0,
            popularity: 0.5,
            max_basket: 50,
        }
    }
}

/// The model the server publishes: each item's best neighbours with their
/// similarity, and the items by reach (the fallback).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Model {
    /// For each item, its neighbours, most similar first.
    pub neighbours: Vec<Vec<(u32, f32)>>,
    /// The items by weighted reach, most first (only those with any).
    pub popular: Vec<u32>,
}

const DAY_MS: f64 = 86_400_000.0;

/// ½ to the power of the age in half-lives (as `exp`: a general `pow`
/// would add 2 KB to the wasm that ranks).
fn decay(ts_ms: i64, now_ms: i64, half_life_days: f64) -> f64 {
    let age = ((now_ms - ts_ms) as f64 / DAY_MS).max(0.0);
    (-age / half_life_days * std::f64::consts::LN_2).exp()
}

/// Each shopper's items with their weight (the weightiest interaction,
/// decayed), heaviest first, at most `max_basket`.
fn baskets(
    interactions: &[Interaction],
    items: usize,
    now_ms: i64,
    p: &Params,
) -> Vec<Vec<(u32, f64)>> {
    let mut by_shopper: HashMap<u32, HashMap<u32, f64>> = HashMap::new();
    for x in interactions {
        if x.item as usize >= items {
            continue;
        }
        let w = x.kind.weight() * decay(x.ts_ms, now_ms, p.half_life_days);
        let slot = by_shopper
            .entry(x.shopper)
            .or_default()
            .entry(x.item)
            .or_insert(0.0);
        *slot = slot.max(w);
    }
    let mut shoppers: Vec<(u32, HashMap<u32, f64>)> = by_shopper.into_iter().collect();
    shoppers.sort_by_key(|(s, _)| *s);
    shoppers
        .into_iter()
        .map(|(_, basket)| {
            let mut basket: Vec<(u32, f64)> = basket.into_iter().collect();
            basket.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            basket.truncate(p.max_basket);
            basket
        })
        .collect()
}

impl Model {
    /// Builds the model from `interactions` over items `0..items`, as of
    /// `now_ms`.
    pub fn build(interactions: &[Interaction], items: usize, now_ms: i64, p: &Params) -> Model {
        let baskets = baskets(interactions, items, now_ms, p);
        let mut reach = vec![0.0f64; items];
        let mut co: Vec<HashMap<u32, f64>> = vec![HashMap::new(); items];
        for basket in &baskets {
            for &(i, wi) in basket {
                reach[i as usize] += wi;
                for &(j, wj) in basket {
                    if i != j {
                        *co[i as usize].entry(j).or_insert(0.0) += wi * wj;
                    }
                }
            }
        }
        let neighbours = co
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let ni = reach[i].powf(1.0 - p.popularity);
                let mut row: Vec<(u32, f32)> = row
                    .into_iter()
                    .map(|(j, c)| (j, (c / (ni * reach[j as usize].powf(p.popularity))) as f32))
                    .collect();
                row.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                row.truncate(p.neighbours);
                row
            })
            .collect();
        let mut popular: Vec<u32> = (0..items as u32)
            .filter(|&i| reach[i as usize] > 0.0)
            .collect();
        popular.sort_by(|&a, &b| {
            reach[b as usize]
                .total_cmp(&reach[a as usize])
                .then(a.cmp(&b))
        });
        popular.truncate(200);
        Model {
            neighbours,
            popular,
        }
    }
}

/// How fast the shopper's own history fades in [`rank`]: what they looked
/// at this season says more about today than what they bought last year.
pub const HISTORY_HALF_LIFE_DAYS: f64 = 90.0;

/// One item of the shopper's own history, as the ranking reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Touched {
    /// The item.
    pub item: u32,
    /// The weightiest thing they did with it.
    pub kind: Kind,
    /// When they last did something with it (ms since the epoch).
    pub ts_ms: i64,
    /// Bought or in the cart now: never recommended back.
    pub excluded: bool,
}

/// One recommended item and why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pick {
    /// The item.
    pub item: u32,
    /// Its score (0 for a best-seller filling the row).
    pub score: f64,
    /// The item of the shopper's own that contributed most ("because you
    /// viewed …"), and what they did with it; `None` for a best-seller.
    pub because: Option<(u32, Kind)>,
}

/// The `n` items to recommend to a shopper with `history`: each candidate
/// scored by the neighbours of what they touched (weighted by what they did
/// and how long ago), what they bought or have in the cart left out, at
/// most `per_category` of one category (`category` of an item, if known),
/// and best-sellers after those. A shopper without history (or without
/// personalisation consent: pass none) gets best-sellers only.
pub fn rank(
    model: &Model,
    history: &[Touched],
    n: usize,
    per_category: usize,
    category: &dyn Fn(u32) -> Option<u32>,
    now_ms: i64,
    half_life_days: f64,
) -> Vec<Pick> {
    rank_from(
        &model.neighbours,
        &model.popular,
        history,
        None,
        n,
        per_category,
        category,
        now_ms,
        half_life_days,
    )
}

/// [`rank`] with the best-sellers given apart (the page's category's
/// first, say), and `skip` (the item the page is about) never in the row.
#[allow(clippy::too_many_arguments)]
pub fn rank_from(
    neighbours: &[Vec<(u32, f32)>],
    popular: &[u32],
    history: &[Touched],
    skip: Option<u32>,
    n: usize,
    per_category: usize,
    category: &dyn Fn(u32) -> Option<u32>,
    now_ms: i64,
    half_life_days: f64,
) -> Vec<Pick> {
    let excluded =
        |item: u32| skip == Some(item) || history.iter().any(|t| t.item == item && t.excluded);
    // Each candidate once, found by its item (no hashing: this runs in the
    // browser, where a hash map costs kilobytes of wasm): its score, and
    // the history item that contributed most, with how much.
    let mut place = vec![u32::MAX; neighbours.len()];
    let mut found: Vec<(Pick, f64)> = Vec::new();
    for t in history {
        let Some(row) = neighbours.get(t.item as usize) else {
            continue;
        };
        let w = t.kind.weight() * decay(t.ts_ms, now_ms, half_life_days);
        for &(c, s) in row {
            let Some(at) = place.get_mut(c as usize) else {
                continue;
            };
            if *at == u32::MAX {
                *at = found.len() as u32;
                found.push((
                    Pick {
                        item: c,
                        score: 0.0,
                        because: Some((t.item, t.kind)),
                    },
                    0.0,
                ));
            }
            let (pick, best) = &mut found[*at as usize];
            let add = w * f64::from(s);
            pick.score += add;
            if add > *best {
                (pick.because, *best) = (Some((t.item, t.kind)), add);
            }
        }
    }
    let mut ranked: Vec<Pick> = Vec::with_capacity(found.len() + popular.len());
    for (pick, _) in found {
        if !excluded(pick.item) {
            ranked.push(pick);
        }
    }
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
    for &item in popular {
        if !excluded(item) {
            ranked.push(Pick {
                item,
                score: 0.0,
                because: None,
            });
        }
    }
    let mut out: Vec<Pick> = Vec::with_capacity(n);
    // Cards taken per category, by category.
    let mut per: Vec<(u32, usize)> = Vec::new();
    for pick in ranked {
        if out.len() == n {
            break;
        }
        if out.iter().any(|p| p.item == pick.item) {
            continue;
        }
        if let Some(c) = category(pick.item) {
            let i = match per.iter().position(|(k, _)| *k == c) {
                Some(i) => i,
                None => {
                    per.push((c, 0));
                    per.len() - 1
                }
            };
            if per[i].1 >= per_category {
                continue;
            }
            per[i].1 += 1;
        }
        out.push(pick);
    }
    out
}

#[cfg(test)]
mod tests;
